/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-inbox.c: everything other threads hand to a connection's I/O thread.
 *
 * Callers never touch a command once it is submitted, and never free
 * one; what crosses from their threads to the I/O thread is a message in
 * this locked inbox plus a wake-up:
 *
 *  - SUBMIT: the command itself (owned by the inbox until the I/O thread
 *    takes it), with its id already chosen;
 *  - CANCEL: an id, posted by a GCancellable's `cancelled` handler from
 *    any thread; an id that names no live command is ignored;
 *  - SIGNAL: a signal for a live process (SaProcess), with a reference
 *    to what the process shares with its command, which names it;
 *  - CLOSE: the worker is being destroyed; later submits fail at once.
 *
 * The inbox is reference counted because a `cancelled` handler may still
 * be running when the connection is gone: each handler's SaCancelLink
 * holds a reference, and so does the connection.
 *
 * Ids: the inbox hands out command ids and keeps the set of those in use
 * (from submission until the I/O thread has freed the command and the
 * helper has forgotten it), so that an id never names two live commands,
 * whatever the counter has wrapped.
 *
 * The pipe budget: every command that captures its output holds its
 * pipes in the caller's process while it runs, until the process holds
 * pipe_budget() of them; later commands are relayed (their frame gets the
 * RELAY flag here, at submission): the helper keeps their pipes, and the
 * caller's descriptors do not grow with the load. The budget is the
 * process's, whatever the number of workers.
 *
 * The direct send: when the I/O thread has said it may (a greeted helper,
 * nothing queued before it, no partial frame on the wire), a caller sends
 * its SPAWN frame itself under this lock, which the I/O thread also
 * holds while it sends. The command then records which helper it went
 * to, so that one sent to a helper that has since died is failed, never
 * forgotten.
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sa-error.h"
#include "sa-helper-link-private.h"
#include "sa-inbox-private.h"
#include "sa-process-private.h"
#include "sa-tsan-private.h"
#include "sa-protocol.h"

typedef enum
{
  INBOX_OPEN,
  INBOX_FAILED,     /* the helper cannot be started: submits fail */
  INBOX_CLOSED,     /* destroyed: submits fail, cancels are dropped */
} InboxState;

struct _SaInbox
{
  gatomicrefcount  ref_count;
  GMutex           lock;

  /* All under the lock. */
  InboxState       state;
  GError          *failure;        /* INBOX_FAILED: why */
  GQueue           commands;       /* submitted, not taken yet */
  guint            unsent;         /* of those, not sent directly */
  GArray          *cancels;        /* ids */
  GArray          *signals;        /* SaSignalRequest */
  GSource         *wake;           /* NULL once detached */
  guint32          last_id;
  GHashTable      *ids;            /* in use */
  int              direct_fd;      /* -1: callers may not send */
  guint            direct_generation;
};

#define PIPE_BUDGET_MAX 192   /* pipes; the process's, not a worker's */

static gint pipes_held;      /* reserved by commands not freed yet */

/* PIPE_BUDGET_MAX, less with a low descriptor limit: a quarter of it.
 * SPAWN_ASYNC_PIPE_BUDGET sets it (tests; 0: relay every command). */
static guint
pipe_budget (void)
{
  static gsize budget;

  if (g_once_init_enter (&budget))
    {
      const char *env = g_getenv ("SPAWN_ASYNC_PIPE_BUDGET");
      struct rlimit limit;
      guint64 value = PIPE_BUDGET_MAX;

      if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        value = MIN (value, limit.rlim_cur / 4);
      if (env != NULL && !g_ascii_string_to_unsigned (env, 10, 0, G_MAXINT, &value, NULL))
        g_warning ("SPAWN_ASYNC_PIPE_BUDGET is not a number: “%s”", env);
      g_once_init_leave (&budget, value + 1);    /* 0 means unset */
    }
  return (guint)(budget - 1);
}

/* n pipes from the budget, if it has them. */
static gboolean
reserve_pipes (guint n)
{
  gint held = g_atomic_int_get (&pipes_held);
  guint budget = pipe_budget ();

  do
    if ((guint)held + n > budget)
      return FALSE;
  while (!g_atomic_int_compare_and_exchange_full (&pipes_held, held, held + (gint)n, &held));
  return TRUE;
}

/* Any thread: a command is freed (sa_command_free()). */
void
sa_inbox_release_pipes (guint n)
{
  if (n > 0)
    g_atomic_int_add (&pipes_held, -(gint)n);
}

/* A command's `cancelled` handler's data, owned by the handler's closure. */
struct _SaCancelLink
{
  SaInbox *inbox;
  guint32  id;              /* under the inbox lock; 0 until submitted */
};

static gboolean
wake_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  /* Nothing to do here: the I/O thread looks at the inbox after every
   * iteration of its loop. */
  g_source_set_ready_time (source, -1);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs wake_funcs = {
  .dispatch = wake_dispatch,
};

SaInbox *
sa_inbox_new (GMainContext *context)
{
  SaInbox *self = g_new0 (SaInbox, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  g_queue_init (&self->commands);
  self->cancels = g_array_new (FALSE, FALSE, sizeof (guint32));
  self->signals = g_array_new (FALSE, FALSE, sizeof (SaSignalRequest));
  self->ids = g_hash_table_new (NULL, NULL);
  self->direct_fd = -1;

  self->wake = g_source_new (&wake_funcs, sizeof (GSource));
  g_source_set_name (self->wake, "[spawn-async] inbox");
  g_source_attach (self->wake, context);

  return self;
}

SaInbox *
sa_inbox_ref (SaInbox *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
sa_inbox_unref (SaInbox *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_assert (self->wake == NULL);
  g_assert (g_queue_is_empty (&self->commands));
  g_clear_error (&self->failure);
  g_array_unref (self->cancels);
  for (guint i = 0; i < self->signals->len; i++)
    sa_process_shared_unref (g_array_index (self->signals, SaSignalRequest, i).shared);
  g_array_unref (self->signals);
  g_hash_table_unref (self->ids);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Under the lock. */
static void
wake_locked (SaInbox *self)
{
  if (self->wake != NULL)
    g_source_set_ready_time (self->wake, 0);
}

/* -- callers ----------------------------------------------------------------- */

/* Under the lock: the next id that names no live command. */
static guint32
take_id (SaInbox *self)
{
  guint32 id;

  do
    id = ++self->last_id;
  while (id == 0 || g_hash_table_contains (self->ids, GUINT_TO_POINTER (id)));
  g_hash_table_add (self->ids, GUINT_TO_POINTER (id));
  return id;
}

/* Under the lock: sends the command's SPAWN frame from the caller's thread
 * when the I/O thread allows it, the frame fits one datagram and the
 * socket takes it now. A datagram goes whole or not at all. */
static gboolean
send_direct (SaInbox   *self,
             SaCommand *command)
{
  gssize n;

  if (self->direct_fd < 0 || self->unsent > 0 ||
      command->frame_len > SA_PROTO_MAX_MESSAGE ||
      g_cancellable_is_cancelled (command->cancellable))
    return FALSE;

  n = sa_helper_sendv (self->direct_fd, command->frame, command->head_len,
                       g_bytes_get_data (command->env, NULL), g_bytes_get_size (command->env),
                       command->send_fds, command->n_send_fds);
  /* A full socket or a gone helper: the I/O thread sends it, or finds out. */
  if (n != (gssize)command->frame_len)
    return FALSE;

  /* The helper has its own copies now. */
  for (guint i = 0; i < command->n_send_fds; i++)
    close (command->send_fds[i]);
  g_clear_pointer (&command->send_fds, g_free);
  command->n_send_fds = 0;
  command->sent_directly = TRUE;
  command->sent_generation = self->direct_generation;
  g_clear_pointer (&command->frame, g_free);
  g_clear_pointer (&command->env, g_bytes_unref);
  return TRUE;
}

/* Hands the command over: from here on the caller must not touch it. On
 * FALSE (the worker is destroyed or has failed) the caller keeps it. */
gboolean
sa_inbox_submit (SaInbox    *self,
                 SaCommand  *command,
                 GError    **error)
{
  sa_mutex_lock (&self->lock);

  if (self->state != INBOX_OPEN)
    {
      if (self->state == INBOX_FAILED)
        g_propagate_error (error, g_error_copy (self->failure));
      else
        g_set_error_literal (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED,
                             _("worker process was destroyed"));
      sa_mutex_unlock (&self->lock);
      return FALSE;
    }

  command->id = take_id (self);
  if (command->cancel_link != NULL)
    command->cancel_link->id = command->id;
  if (command->n_pipes > 0 && reserve_pipes (command->n_pipes))
    command->pipes_reserved = command->n_pipes;
  else if (command->n_pipes > 0)
    sa_command_set_relayed (command);
  sa_proto_header_encode (command->frame, SA_MSG_SPAWN, (guint16)command->n_send_fds,
                          command->id, (guint32)(command->frame_len - SA_PROTO_HEADER_SIZE));

  /* Sent directly, the command needs no wake-up: the helper's answer
   * makes the I/O thread take it in. */
  if (!send_direct (self, command))
    {
      self->unsent++;
      wake_locked (self);
    }
  g_queue_push_tail (&self->commands, command);

  sa_mutex_unlock (&self->lock);
  return TRUE;
}

/* Later submits fail with SA_WORKER_ERROR_DESTROYED; the I/O thread sees
 * it at its next wake-up, fails what it holds and ends. */
void
sa_inbox_close (SaInbox *self)
{
  sa_mutex_lock (&self->lock);
  self->state = INBOX_CLOSED;
  self->direct_fd = -1;
  wake_locked (self);
  sa_mutex_unlock (&self->lock);
}

SaCancelLink *
sa_cancel_link_new (SaInbox *inbox)
{
  SaCancelLink *link = g_new0 (SaCancelLink, 1);

  link->inbox = sa_inbox_ref (inbox);
  SA_TSAN_RELEASE (link);    /* the handler runs in any thread */
  return link;
}

void
sa_cancel_link_free (SaCancelLink *link)
{
  SA_TSAN_ACQUIRE (link);
  sa_inbox_unref (link->inbox);
  g_free (link);
}

/* The `cancelled` handler, in the thread that cancels. Reading the id
 * under the lock that submission sets it under closes the gap: either
 * the id is there, or the submission, which comes later, sees the
 * cancellable cancelled and the I/O thread cancels the command when it
 * takes it in. */
void
sa_cancel_link_fire (SaCancelLink *link)
{
  SaInbox *self;

  SA_TSAN_ACQUIRE (link);
  self = link->inbox;
  sa_mutex_lock (&self->lock);
  if (link->id != 0 && self->state != INBOX_CLOSED)
    {
      g_array_append_val (self->cancels, link->id);
      wake_locked (self);
    }
  sa_mutex_unlock (&self->lock);
}

void
sa_inbox_signal (SaInbox         *self,
                 SaProcessShared *shared,
                 int              signum,
                 guint32          flags)
{
  SaSignalRequest request = { sa_process_shared_ref (shared), signum, flags };

  sa_mutex_lock (&self->lock);
  if (self->state == INBOX_CLOSED)
    {
      sa_mutex_unlock (&self->lock);
      sa_process_shared_unref (request.shared);
      return;
    }
  g_array_append_val (self->signals, request);
  wake_locked (self);
  sa_mutex_unlock (&self->lock);
}

/* -- the I/O thread ----------------------------------------------------------- */

/* Moves what was handed over into commands (SaCommand *, in order),
 * cancels (ids) and signals (SaSignalRequest, whose references go with
 * them). Returns TRUE once the inbox is closed. */
gboolean
sa_inbox_take (SaInbox *self,
               GQueue  *commands,
               GArray  *cancels,
               GArray  *signals)
{
  gboolean closed;

  sa_mutex_lock (&self->lock);
  *commands = self->commands;
  g_queue_init (&self->commands);
  self->unsent = 0;
  if (self->cancels->len > 0)
    {
      g_array_append_vals (cancels, self->cancels->data, self->cancels->len);
      g_array_set_size (self->cancels, 0);
    }
  if (self->signals->len > 0)
    {
      g_array_append_vals (signals, self->signals->data, self->signals->len);
      g_array_set_size (self->signals, 0);
    }
  closed = self->state == INBOX_CLOSED;
  sa_mutex_unlock (&self->lock);

  return closed;
}

void
sa_inbox_fail (SaInbox      *self,
               const GError *error)
{
  sa_mutex_lock (&self->lock);
  if (self->state == INBOX_OPEN)
    {
      self->state = INBOX_FAILED;
      self->failure = g_error_copy (error);
    }
  self->direct_fd = -1;
  sa_mutex_unlock (&self->lock);
}

/* The ids no longer name a command here nor in the helper. */
void
sa_inbox_release_ids (SaInbox       *self,
                      const guint32 *ids,
                      guint          n_ids)
{
  if (n_ids == 0)
    return;

  sa_mutex_lock (&self->lock);
  for (guint i = 0; i < n_ids; i++)
    g_hash_table_remove (self->ids, GUINT_TO_POINTER (ids[i]));
  sa_mutex_unlock (&self->lock);
}

/* The connection is going away: nothing may wake it any more. */
void
sa_inbox_detach (SaInbox *self)
{
  sa_mutex_lock (&self->lock);
  self->state = INBOX_CLOSED;
  self->direct_fd = -1;
  if (self->wake != NULL)
    {
      g_source_destroy (self->wake);
      g_clear_pointer (&self->wake, g_source_unref);
    }
  sa_mutex_unlock (&self->lock);
}

void
sa_inbox_lock (SaInbox *self)
{
  sa_mutex_lock (&self->lock);
}

void
sa_inbox_unlock (SaInbox *self)
{
  sa_mutex_unlock (&self->lock);
}

/* fd -1: callers queue their commands for the I/O thread. */
void
sa_inbox_allow_direct_locked (SaInbox *self,
                              int      fd,
                              guint    generation)
{
  self->direct_fd = self->state == INBOX_OPEN ? fd : -1;
  self->direct_generation = generation;
}

void
sa_inbox_set_last_id (SaInbox *self,
                      guint32  id)
{
  sa_mutex_lock (&self->lock);
  self->last_id = id;
  sa_mutex_unlock (&self->lock);
}
