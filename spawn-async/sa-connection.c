/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-connection.c: a worker's I/O thread, and where every command is.
 *
 * THREADS
 *
 * One thread per worker, the I/O thread, owns the helper link
 * (sa-helper-link.c), every command it has taken in, every pipe and every
 * timer. Callers' threads reach it only through the inbox (sa-inbox.c):
 * they submit commands, cancel them by id and close the inbox; they never
 * touch a command after submitting it. The thread starts with every
 * signal blocked and runs no code of the application: answers go to the
 * callers' main contexts (sa-command.c), events to the worker's.
 *
 * THE STATE OF A COMMAND
 *
 *                      (sent directly by the caller)
 *              ┌──────────────────────────────────┐
 *              │                                  ▼
 *   SUBMITTED ─┴─► WAITING ───────────────────► SENT ──► RUNNING ──► DRAINING
 *       │             │                          │          │           │
 *       └─────────────┴──────────────────────────┴──────────┴───────────┴──► DEAD ──► freed
 *
 *   state      held by               moved on by
 *   SUBMITTED  the inbox             take_command(): WAITING, SENT or DEAD
 *   WAITING    self->waiting         a greeted helper with room (SENT); cancel, give-up, shut-down (DEAD)
 *   SENT       self->commands[id]    SPAWNED (RUNNING); SPAWN_FAILED, fault, shut-down (DEAD);
 *                                    STARTING, from the child, gives it its pid on the way
 *   RUNNING    self->commands[id]    EXITED (DRAINING, or DEAD when no pipe is open); fault, shut-down (DEAD)
 *   DRAINING   self->commands[id]    both pipes closed, the drain timer, cancel, shut-down (DEAD);
 *                                    relayed: both streams ended (OUTPUT), fault, shut-down (DEAD)
 *   DEAD       self->dead            reap_dead(), at the top of the loop: freed
 *
 * command_move() is the only function that writes a command's state: it
 * asserts that it runs in the I/O thread and that the move is legal, moves
 * the command to the container of its new state and, on entering DEAD,
 * answers it if nobody has yet and closes its pipes. Only reap_dead() frees
 * commands, after a whole iteration of the loop, so that no event still
 * being dispatched can point to a freed command.
 *
 * Being answered is apart from the state. A cancelled SENT or RUNNING
 * command is answered at once and its pipes closed, but it stays until the
 * helper's last word about it (SPAWN_FAILED or EXITED): its id must not be
 * reused while the helper still knows it. Nor while its process group
 * lingers after it (EXITED's LINGERS flag): such groups are kept in
 * self->lingering until GROUP_GONE, to be killed if the helper dies.
 *
 * A relayed command (sa-inbox.c: past the pipe budget) has no pipes here:
 * its output comes in OUTPUT frames, its input goes in INPUT frames, and
 * the helper drains its streams after its exit. It stays (DRAINING) until
 * the helper has said that both streams ended, also once answered: no
 * frame about it may come once its id is given back. Cancelling it or
 * reaching its output limit asks the helper to CLOSE the pipes, which
 * ends them.
 *
 * FAULTS
 *
 * Whatever goes wrong with the helper (a send or receive error, the end
 * of the socket, a malformed message, a missing handshake) is recorded by
 * the link and returned to: the I/O thread's loop handles it between two
 * iterations (handle_fault()), never from inside the handling of one
 * message or pipe. Per-command code only queues frames (SPAWN, KILL);
 * they are sent by the loop (flush).
 *
 * Commands wait (WAITING) while MAX_BACKLOG bytes are queued for a helper
 * that does not keep up: a waiting command holds its frame and a share of
 * one environment block (sa-request.c), the output buffer a copy of both.
 *
 * The loop, after every iteration of the context: take what the inbox
 * holds; handle a fault; send (what waits, while there is room); handle
 * a fault the send found; free the dead.
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <unistd.h>

#include "sa-connection-private.h"
#include "sa-tsan-private.h"
#include "sa-debug-private.h"
#include "sa-error.h"
#include "sa-helper-link-private.h"
#include "sa-inbox-private.h"
#include "sa-process-private.h"
#include "sa-protocol.h"

#define EARLY_DEATH_MS              1000
#define MAX_EARLY_DEATHS            5
#define RESTART_BACKOFF_MS          100
#define DRAIN_TIMEOUT_MS            100     /* see docs: daemonizing children */
#define MAX_EVENTS_PER_DISPATCH     64
#define MAX_BACKLOG                 (256 * 1024)  /* queued for the helper: the rest waits */
#define LAUNCHER_GRACE_MS           1000    /* a helper through a launcher ends its
                                             * children itself once its socket closes */

struct _SaConnection
{
  SaConnectionCallbacks  callbacks;
  gpointer               user_data;
  GPid                   owner_pid;       /* the process that created it */
  GMainContext          *context;
  GThread               *thread;          /* NULL once joined */
  GThread               *io_thread;       /* the same, as the thread sees itself */
  GMutex                 shutdown_lock;
  SaInbox               *inbox;

  /* The I/O thread's own. */
  SaHelperLink          *link;
  gboolean               closing;         /* the inbox is closed: shut down */
  gboolean               stopped;         /* the loop ends */
  gboolean               ready_reported;
  gboolean               gave_up;
  GError                *fatal;           /* give up rather than restart */
  gboolean               spawned_any;     /* by the current helper */
  gint64                 started_at;
  guint                  early_deaths;
  GError                *last_start_error;
  GSource               *restart_source;
  GHashTable            *commands;        /* id -> SaCommand: SENT, RUNNING, DRAINING */
  GQueue                 waiting;         /* WAITING, in order */
  GQueue                 dead;            /* DEAD, to free */
  GHashTable            *lingering;       /* id -> pgid of groups that outlived a dead command */
  GArray                *cancels;         /* ids taken from the inbox */
  GArray                *signals;         /* SaSignalRequest taken from the inbox */
  GArray                *released;        /* ids to give back to the inbox */
  int                    epoll_fd;        /* every pipe of every command */
  GSource               *epoll_source;
};

static const gboolean legal_moves[SA_COMMAND_N_STATES][SA_COMMAND_N_STATES] = {
  [SA_COMMAND_SUBMITTED] = { [SA_COMMAND_WAITING] = TRUE, [SA_COMMAND_SENT] = TRUE, [SA_COMMAND_DEAD] = TRUE },
  [SA_COMMAND_WAITING]   = { [SA_COMMAND_SENT] = TRUE, [SA_COMMAND_DEAD] = TRUE },
  [SA_COMMAND_SENT]      = { [SA_COMMAND_RUNNING] = TRUE, [SA_COMMAND_DEAD] = TRUE },
  [SA_COMMAND_RUNNING]   = { [SA_COMMAND_DRAINING] = TRUE, [SA_COMMAND_DEAD] = TRUE },
  [SA_COMMAND_DRAINING]  = { [SA_COMMAND_DEAD] = TRUE },
};

static gboolean handle_message (const guint8 *data,
                                gsize         len,
                                int          *fds,
                                guint         n_fds,
                                gboolean      fds_lost,
                                gpointer      user_data);

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GError *
exited_error (void)
{
  return g_error_new_literal (SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED,
                              _("worker process exited unexpectedly"));
}

static GError *
cancelled_error (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                              _("Operation was cancelled"));
}

/* -- moving commands ---------------------------------------------------------- */

/* The one writer of command->state. Entering DEAD answers the command with
 * error unless it has been answered (error is then dropped), and closes it. */
static void
command_move (SaConnection   *self,
              SaCommand      *command,
              SaCommandState  to,
              GError         *error)
{
  SaCommandState from = command->state;

  g_assert (g_thread_self () == self->io_thread);
  g_assert (legal_moves[from][to]);

  if (from == SA_COMMAND_WAITING)
    g_queue_unlink (&self->waiting, &command->link);
  else if (from >= SA_COMMAND_SENT && to == SA_COMMAND_DEAD)
    g_hash_table_remove (self->commands, GUINT_TO_POINTER (command->id));

  command->state = to;

  switch (to)
    {
    case SA_COMMAND_WAITING:
      g_queue_push_tail_link (&self->waiting, &command->link);
      break;

    case SA_COMMAND_SENT:
      g_assert (!g_hash_table_contains (self->commands, GUINT_TO_POINTER (command->id)));
      g_hash_table_insert (self->commands, GUINT_TO_POINTER (command->id), command);
      break;

    case SA_COMMAND_RUNNING:
    case SA_COMMAND_DRAINING:
      break;

    case SA_COMMAND_DEAD:
      /* A live process's waits learn why there will be no exit status. */
      if (error != NULL && command->process_shared != NULL)
        sa_process_shared_failed (command->process_shared, error);
      if (error != NULL)
        sa_command_answer (command, g_steal_pointer (&error));
      g_assert (sa_command_is_answered (command));
      sa_command_close (command);
      if (command->group_lingers)
        g_hash_table_insert (self->lingering, GUINT_TO_POINTER (command->id),
                             GINT_TO_POINTER (command->pid));
      g_queue_push_tail_link (&self->dead, &command->link);
      break;

    case SA_COMMAND_SUBMITTED:
    case SA_COMMAND_N_STATES:
    default:
      g_assert_not_reached ();
    }

  g_clear_error (&error);
}

static void
queue_signal (SaConnection *self,
              SaCommand    *command,
              int           signum,
              guint32       flags)
{
  guint32 words[2] = { (guint32)signum, flags };

  sa_helper_link_queue_words (self->link, SA_MSG_KILL, command->id, words, 2);
}

/* A relayed command's pipes (SA_CLOSE_*): the helper ends their streams. */
static void
queue_close (SaConnection *self,
             SaCommand    *command,
             guint32       which)
{
  sa_helper_link_queue_words (self->link, SA_MSG_CLOSE, command->id, &which, 1);
}

/* A relayed command's next INPUT, if one may go now. */
static void
queue_input (SaConnection *self,
             SaCommand    *command)
{
  const guint8 *data;
  gsize n;

  if (command->relayed && sa_command_relay_next_input (command, &data, &n))
    {
      guint8 header[SA_PROTO_HEADER_SIZE];

      sa_proto_header_encode (header, SA_MSG_INPUT, 0, command->id, (guint32)n);
      sa_helper_link_queue (self->link, header, sizeof header);
      if (n > 0)
        sa_helper_link_queue (self->link, data, n);
    }
}

/* The command's whole process group, also once the child is reaped. */
static void
queue_kill (SaConnection *self,
            SaCommand    *command,
            int           signum)
{
  queue_signal (self, command, signum, 0);
}

/* A helper over a byte stream (ssh) takes no descriptor and gives none
 * back: the command's pipes are relayed, and one that needs descriptors
 * here fails. FALSE: it did (DEAD). */
static gboolean
prepare_for_stream (SaConnection *self,
                    SaCommand    *command)
{
  if (command->n_send_fds > 0 || sa_proto_spawn_has_pty (command->stdio))
    {
      command_move (self, command, SA_COMMAND_DEAD,
                    g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                 _("Failed to execute “%s”: the helper “%s” is reached over "
                                   "a byte stream, which carries no file descriptors "
                                   "(descriptors of the caller, INHERIT, terminals)"),
                                 command->program, sa_helper_link_get_path (self->link)));
      return FALSE;
    }
  if (command->relayed || sa_proto_spawn_n_pipes (command->stdio) == 0)
    return TRUE;

  sa_inbox_release_pipes (command->pipes_reserved);
  command->pipes_reserved = 0;
  sa_command_set_relayed (command);
  return TRUE;
}

/* A WAITING (or just taken) command goes to the greeted helper. */
static void
send_command (SaConnection *self,
              SaCommand    *command)
{
  if (g_cancellable_is_cancelled (command->cancellable))
    {
      /* Cancelled before it could be sent: it never starts. */
      command_move (self, command, SA_COMMAND_DEAD, cancelled_error ());
      return;
    }
  if (!sa_helper_link_carries_fds (self->link) && !prepare_for_stream (self, command))
    return;

  sa_helper_link_queue_with_fds (self->link, command->frame, command->head_len,
                                 g_steal_pointer (&command->send_fds), command->n_send_fds);
  sa_helper_link_queue (self->link, g_bytes_get_data (command->env, NULL),
                        g_bytes_get_size (command->env));
  command->n_send_fds = 0;
  g_clear_pointer (&command->frame, g_free);
  g_clear_pointer (&command->env, g_bytes_unref);
  command_move (self, command, SA_COMMAND_SENT, NULL);
}

static SaCommand *
find_command (SaConnection *self,
              guint32       id)
{
  SaCommand *command = g_hash_table_lookup (self->commands, GUINT_TO_POINTER (id));

  for (GList *l = self->waiting.head; command == NULL && l != NULL; l = l->next)
    if (((SaCommand *)l->data)->id == id)
      command = l->data;
  return command;
}

/* In the I/O thread, for a command whose cancellable was cancelled. */
static void
cancel_command (SaConnection *self,
                SaCommand    *command)
{
  if (command == NULL || sa_command_is_answered (command))
    return;

  SA_DEBUG ("command %u (%s) cancelled", command->id, command->program);

  switch (command->state)
    {
    case SA_COMMAND_WAITING:
      command_move (self, command, SA_COMMAND_DEAD, cancelled_error ());
      break;

    case SA_COMMAND_SENT:
    case SA_COMMAND_RUNNING:
      /* Answered now; it stays until the helper reports its end. */
      queue_kill (self, command, SIGKILL);
      if (command->relayed)
        queue_close (self, command, SA_CLOSE_ALL);
      command->kill_sent = TRUE;
      sa_command_answer (command, cancelled_error ());
      break;

    case SA_COMMAND_DRAINING:
      /* The child has exited; what holds its pipes is in its group. */
      if (command->group_lingers)
        queue_kill (self, command, SIGKILL);
      if (command->relayed)
        {
          /* Answered now; it stays until its streams have ended. */
          queue_close (self, command, SA_CLOSE_ALL);
          sa_command_answer (command, cancelled_error ());
        }
      else
        command_move (self, command, SA_COMMAND_DEAD, cancelled_error ());
      break;

    case SA_COMMAND_SUBMITTED:
    case SA_COMMAND_DEAD:
    case SA_COMMAND_N_STATES:
    default:
      g_assert_not_reached ();
    }
}

static void
take_command (SaConnection *self,
              SaCommand    *command)
{
  command->connection = self;

  if (command->sent_directly)
    {
      if (sa_helper_link_is_greeted (self->link) &&
          command->sent_generation == sa_helper_link_get_generation (self->link))
        command_move (self, command, SA_COMMAND_SENT, NULL);
      else
        {
          /* It went to a helper that has died since. */
          command_move (self, command, SA_COMMAND_DEAD, exited_error ());
          return;
        }
    }
  else if (self->gave_up)
    {
      command_move (self, command, SA_COMMAND_DEAD, g_error_copy (self->fatal));
      return;
    }
  else if (sa_helper_link_is_greeted (self->link) && g_queue_is_empty (&self->waiting) &&
           sa_helper_link_get_backlog (self->link) < MAX_BACKLOG)
    send_command (self, command);
  else
    command_move (self, command, SA_COMMAND_WAITING, NULL);

  /* Cancelled before the handler could know its id (sa-inbox.c). */
  if (command->state != SA_COMMAND_DEAD && g_cancellable_is_cancelled (command->cancellable))
    cancel_command (self, command);
}

/* A signal for a live process: only while its child runs; the helper
 * checks again, since only it knows whether the child is reaped. */
static void
signal_process (SaConnection    *self,
                SaSignalRequest *request)
{
  guint32 id = sa_process_shared_get_id (request->shared);
  SaCommand *command = g_hash_table_lookup (self->commands, GUINT_TO_POINTER (id));

  if (command != NULL && command->process_shared == request->shared &&
      command->state == SA_COMMAND_RUNNING)
    queue_signal (self, command, request->signum, request->flags);
  sa_process_shared_unref (request->shared);
}

/* Takes in what callers handed over. */
static void
take_inbox (SaConnection *self)
{
  GQueue commands;
  SaCommand *command;

  if (sa_inbox_take (self->inbox, &commands, self->cancels, self->signals))
    self->closing = TRUE;

  while ((command = g_queue_pop_head (&commands)) != NULL)
    take_command (self, command);

  for (guint i = 0; i < self->cancels->len; i++)
    cancel_command (self, find_command (self, g_array_index (self->cancels, guint32, i)));
  g_array_set_size (self->cancels, 0);

  for (guint i = 0; i < self->signals->len; i++)
    signal_process (self, &g_array_index (self->signals, SaSignalRequest, i));
  g_array_set_size (self->signals, 0);
}

static void
reap_dead (SaConnection *self)
{
  GList *link;

  while ((link = g_queue_pop_head_link (&self->dead)) != NULL)
    {
      SaCommand *command = link->data;

      /* A lingering group holds the id until GROUP_GONE. */
      if (!command->group_lingers)
        g_array_append_val (self->released, command->id);
      sa_command_free (command);
    }

  sa_inbox_release_ids (self->inbox, (const guint32 *)(gpointer)self->released->data,
                        self->released->len);
  g_array_set_size (self->released, 0);
}

/* -- pipes ----------------------------------------------------------------------- */

static gboolean
drain_timeout (gpointer user_data)
{
  SaCommand *command = user_data;
  SaConnection *self = command->connection;

  g_clear_pointer (&command->drain_source, g_source_unref);
  sa_command_read_rest (command);
  sa_command_complete (command);
  command_move (self, command, SA_COMMAND_DEAD, NULL);
  return G_SOURCE_REMOVE;
}

static void
act_on_verdict (SaConnection *self,
                SaCommand    *command,
                SaVerdict     verdict)
{
  guint32 close = ((verdict & SA_VERDICT_CLOSE_OUT) ? SA_CLOSE_STDOUT : 0) |
                  ((verdict & SA_VERDICT_CLOSE_ERR) ? SA_CLOSE_STDERR : 0);

  if ((verdict & SA_VERDICT_KILL) != 0 && command->state == SA_COMMAND_RUNNING)
    queue_kill (self, command, command->kill_signal);
  if (close != 0)
    queue_close (self, command, close);

  if ((verdict & SA_VERDICT_PIPES_DONE) != 0 && command->state == SA_COMMAND_DRAINING)
    {
      /* A relayed command may have been answered (cancelled) meanwhile. */
      if (!sa_command_is_answered (command))
        sa_command_complete (command);
      command_move (self, command, SA_COMMAND_DEAD, NULL);
    }
}

static gboolean
epoll_ready (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  SaConnection *self = user_data;
  struct epoll_event events[MAX_EVENTS_PER_DISPATCH];
  int n;

  do
    n = epoll_wait (self->epoll_fd, events, G_N_ELEMENTS (events), 0);
  while (n < 0 && errno == EINTR);

  for (int i = 0; i < n; i++)
    {
      SaWatch *watch = events[i].data.ptr;

      /* func is NULL when the descriptor was closed earlier in this
       * batch; the command itself is freed only after the iteration. */
      if (watch->func != NULL)
        act_on_verdict (self, watch->command, watch->func (watch, events[i].events));
    }

  return G_SOURCE_CONTINUE;
}

/* -- the helper ------------------------------------------------------------------- */

static void schedule_restart (SaConnection *self,
                              gboolean      early);

static void
report_ready (SaConnection *self,
              const GError *error)
{
  if (!self->ready_reported)
    {
      self->ready_reported = TRUE;
      self->callbacks.ready (error, self->user_data);
    }
}

/* The commands in the table (SENT, RUNNING, DRAINING), to move while
 * iterating. */
static GPtrArray *
commands_in_flight (SaConnection *self)
{
  GPtrArray *commands = g_ptr_array_sized_new (g_hash_table_size (self->commands));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->commands);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (commands, value);
  return commands;
}

/* Every process group the helper started dies with it: those of the
 * commands in flight (PR_SET_PDEATHSIG took only the children
 * themselves), of the draining ones, and those that outlived their
 * command. Draining commands keep their results: their pipes reach the
 * end now. The others fail with error. */
static void
lose_helper (SaConnection *self,
             const GError *error)
{
  g_autoptr(GPtrArray) in_flight = NULL;
  GHashTableIter iter;
  gpointer key, value;
  /* Through a launcher, the pids are another namespace's: never ours to
   * kill. The helper's children die with it then (PR_SET_PDEATHSIG),
   * their groups with its socket, the helper with its launcher. */
  gboolean foreign = sa_helper_link_has_launcher (self->link);

  /* What it said before the end may name groups to kill (STARTING). */
  sa_helper_link_close_and_drain (self->link);
  g_free (sa_helper_link_take_fault (self->link));
  sa_helper_link_stop (self->link, foreign ? LAUNCHER_GRACE_MS : 0);

  in_flight = commands_in_flight (self);

  for (guint i = 0; i < in_flight->len; i++)
    {
      SaCommand *command = g_ptr_array_index (in_flight, i);

      if (command->pid > 0 && !command->detached && !foreign)
        kill (-command->pid, SIGKILL);
      command->group_lingers = FALSE;   /* no helper knows its id now */
      if (command->state != SA_COMMAND_DRAINING)
        command_move (self, command, SA_COMMAND_DEAD, g_error_copy (error));
      else if (command->relayed)
        {
          /* Its exit status is known; what the helper had not relayed
           * yet is lost with it. */
          if (!sa_command_is_answered (command))
            sa_command_complete (command);
          command_move (self, command, SA_COMMAND_DEAD, NULL);
        }
    }

  g_hash_table_iter_init (&iter, self->lingering);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      guint32 id = GPOINTER_TO_UINT (key);

      if (!foreign)
        kill (-GPOINTER_TO_INT (value), SIGKILL);
      g_array_append_val (self->released, id);
    }
  g_hash_table_remove_all (self->lingering);
}

/* No helper can be started: every command, now and later, fails with
 * error. */
static void
give_up (SaConnection *self,
         const GError *error)
{
  SaCommand *command;

  SA_DEBUG ("giving up on the helper: %s", error->message);

  self->gave_up = TRUE;
  if (self->fatal != error)
    {
      g_clear_error (&self->fatal);
      self->fatal = g_error_copy (error);
    }
  sa_inbox_fail (self->inbox, error);
  take_inbox (self);
  while ((command = g_queue_peek_head (&self->waiting)) != NULL)
    command_move (self, command, SA_COMMAND_DEAD, g_error_copy (error));

  if (!self->ready_reported)
    report_ready (self, error);
  else if (self->callbacks.failed != NULL)
    self->callbacks.failed (error, self->user_data);
}

static void
start_helper (SaConnection *self)
{
  g_autoptr(GError) error = NULL;

  if (!sa_helper_link_start (self->link, &error))
    {
      SA_DEBUG ("starting the helper failed: %s", error->message);
      if (!self->ready_reported)
        {
          give_up (self, error);
          return;
        }
      g_clear_error (&self->last_start_error);
      self->last_start_error = g_steal_pointer (&error);
      schedule_restart (self, TRUE);
      return;
    }

  self->spawned_any = FALSE;
  self->started_at = g_get_monotonic_time ();
}

static gboolean
restart_timeout (gpointer user_data)
{
  SaConnection *self = user_data;

  g_clear_pointer (&self->restart_source, g_source_unref);
  start_helper (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_restart (SaConnection *self,
                  gboolean      early)
{
  guint delay_ms = 0;

  if (early)
    {
      if (++self->early_deaths >= MAX_EARLY_DEATHS)
        {
          g_autoptr(GError) error = NULL;

          if (self->last_start_error != NULL)
            error = g_error_new (SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                                 _("The helper could not be restarted: %s"),
                                 self->last_start_error->message);
          else
            error = g_error_new (SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                                 _("The helper “%s” exited right after it started, %u times in a row"),
                                 sa_helper_link_get_path (self->link), self->early_deaths);
          give_up (self, error);
          return;
        }
      delay_ms = RESTART_BACKOFF_MS << (self->early_deaths - 1);
    }
  else
    self->early_deaths = 0;

  clear_source (&self->restart_source);
  self->restart_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (self->restart_source, restart_timeout, self, NULL);
  g_source_attach (self->restart_source, self->context);
}

/* The top of the loop: the link recorded a fault. */
static void
handle_fault (SaConnection *self)
{
  g_autofree char *why = sa_helper_link_take_fault (self->link);
  g_autoptr(GError) error = NULL;
  SaCommand *command;
  gboolean was_greeted;
  gboolean early;

  if (why == NULL)
    return;

  was_greeted = sa_helper_link_is_greeted (self->link);
  early = !self->spawned_any &&
          g_get_monotonic_time () - self->started_at < EARLY_DEATH_MS * G_TIME_SPAN_MILLISECOND;

  /* Commands their callers sent went to this helper: they are in flight. */
  take_inbox (self);
  error = exited_error ();
  lose_helper (self, error);

  /* Those waiting for room (MAX_BACKLOG) were this helper's too: they
   * fail with the others, as if they had been queued, never to run after
   * the helper they were given to has died. Before the handshake they
   * wait for the next helper. */
  if (was_greeted)
    while ((command = g_queue_peek_head (&self->waiting)) != NULL)
      command_move (self, command, SA_COMMAND_DEAD, g_error_copy (error));

  if (self->fatal != NULL)
    {
      give_up (self, self->fatal);
      return;
    }

  if (!self->ready_reported)
    {
      g_autoptr(GError) startup_error =
        g_error_new (SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                     _("The helper “%s” did not start: %s"),
                     sa_helper_link_get_path (self->link), why);

      give_up (self, startup_error);
      return;
    }

  if (was_greeted && self->callbacks.helper_exited != NULL)
    self->callbacks.helper_exited (error, self->user_data);

  g_clear_error (&self->last_start_error);
  schedule_restart (self, early);
}

/* -- messages from the helper ----------------------------------------------------- */

static gboolean
handle_hello (SaConnection        *self,
              const SaProtoHeader *header,
              const guint8        *payload)
{
  guint32 words[2];

  if (sa_helper_link_is_greeted (self->link) || header->id != 0 ||
      sa_proto_decode_words (header, payload, words, 2) != SA_PROTO_OK ||
      (GPid)words[1] <= 0 ||
      /* through a launcher, its pid is another namespace's */
      (!sa_helper_link_has_launcher (self->link) &&
       (GPid)words[1] != sa_helper_link_get_pid (self->link)))
    return FALSE;

  if (words[0] == GUINT32_SWAP_LE_BE (SA_PROTO_VERSION))
    {
      /* A helper on another machine (ssh) of the other byte order. */
      self->fatal = g_error_new (SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                                 _("The helper “%s” runs on a machine of the other byte order"),
                                 sa_helper_link_get_path (self->link));
      return FALSE;
    }
  if (words[0] != SA_PROTO_VERSION)
    {
      /* The connection ends (a fault) and is not restarted. */
      self->fatal = g_error_new (SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                                 _("The helper “%s” speaks protocol version %u, not %u"),
                                 sa_helper_link_get_path (self->link), words[0], SA_PROTO_VERSION);
      return FALSE;
    }

  sa_helper_link_greeted (self->link);
  if (self->callbacks.helper_started != NULL)
    self->callbacks.helper_started (sa_helper_link_get_pid (self->link), self->user_data);
  report_ready (self, NULL);
  return TRUE;   /* what waits goes out in send_waiting() */
}

static gboolean
handle_group_gone (SaConnection *self,
                   guint32       id)
{
  SaCommand *command = g_hash_table_lookup (self->commands, GUINT_TO_POINTER (id));

  if (g_hash_table_remove (self->lingering, GUINT_TO_POINTER (id)))
    g_array_append_val (self->released, id);
  else if (command != NULL && command->group_lingers)
    command->group_lingers = FALSE;
  else
    return FALSE;
  return TRUE;
}

/* A live process has started: its pipes go to the caller, in an
 * SaSpawned that spawn_finish() makes an SaProcess of. The command stays
 * (RUNNING, without pipes) until the helper reports the end. */
static void
answer_process (SaConnection *self,
                SaCommand    *command,
                GPid          pid,
                int          *fds,
                guint         n_fds)
{
  SaSpawned *spawned = g_new0 (SaSpawned, 1);
  const guint32 modes[3] = { command->stdio[1], command->stdio[2], command->stdio[0] };
  int *slots[3] = { &spawned->fds[1], &spawned->fds[2], &spawned->fds[0] };
  guint next = 0;

  command->pid = pid;
  sa_process_shared_set_id (command->process_shared, command->id);
  spawned->shared = sa_process_shared_ref (command->process_shared);
  spawned->inbox = sa_inbox_ref (self->inbox);
  spawned->pid = pid;
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    *slots[i] = modes[i] == SA_PROTO_STDIO_PIPE && next < n_fds ? fds[next++] : -1;
  spawned->pty_fd = next < n_fds ? fds[next++] : -1;   /* the terminal's master */

  if (sa_command_is_answered (command))
    {
      /* Cancelled meanwhile: the kill is on its way. */
      sa_process_shared_unref (g_steal_pointer (&spawned->shared));
      sa_spawned_free (spawned);
      return;
    }
  SA_DEBUG ("process %u (%s) started as pid %d", command->id, command->program, pid);
  sa_command_complete_with (command, spawned, (GDestroyNotify)sa_spawned_free);
}

static void watch_relay_stdin (SaConnection *self,
                               SaCommand    *command);

/* A child whose pipes the caller cannot have: killed, and its command
 * answered with error (it stays until the helper reports the end). */
static void
stop_without_pipes (SaConnection *self,
                    SaCommand    *command,
                    GPid          pid,
                    int          *fds,
                    guint         n_fds,
                    GError       *error)
{
  for (guint i = 0; i < n_fds; i++)
    close (fds[i]);
  command->pid = pid;
  queue_kill (self, command, SIGKILL);
  command->kill_sent = TRUE;
  sa_command_answer (command, error);
}

/* A relayed stdin's reader: what the caller wrote goes in an INPUT, one
 * at a time (the next once WROTE has come); its end of file, in an
 * empty one. */
static gboolean
relay_stdin_readable (int          fd,
                      GIOCondition condition,
                      gpointer     user_data)
{
  SaCommand *command = user_data;
  SaConnection *self = command->connection;
  guint8 header[SA_PROTO_HEADER_SIZE];
  guint8 buffer[SA_PROTO_MAX_RELAY];
  gssize n;

  do
    n = read (fd, buffer, sizeof buffer);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return G_SOURCE_CONTINUE;

  g_clear_pointer (&command->relay_stdin_source, g_source_unref);
  sa_proto_header_encode (header, SA_MSG_INPUT, 0, command->id, (guint32)MAX (n, 0));
  sa_helper_link_queue (self->link, header, sizeof header);
  if (n > 0)
    {
      sa_helper_link_queue (self->link, buffer, (gsize)n);
      command->input_in_flight = TRUE;
    }
  else
    {
      /* Closed by the caller (or unreadable): the child's stdin closes. */
      command->input_ended = TRUE;
      sa_command_relay_close_stdin (command);
    }
  return G_SOURCE_REMOVE;
}

static void
watch_relay_stdin (SaConnection *self,
                   SaCommand    *command)
{
  if (command->relay_stdin_fd < 0 || command->relay_stdin_source != NULL)
    return;
  if (command->input_ended || command->exited)
    {
      sa_command_relay_close_stdin (command);
      return;
    }
  if (command->input_in_flight || command->state != SA_COMMAND_RUNNING)
    return;
  command->relay_stdin_source = g_unix_fd_source_new (command->relay_stdin_fd, G_IO_IN);
  g_source_set_callback (command->relay_stdin_source, G_SOURCE_FUNC (relay_stdin_readable),
                         command, NULL);
  g_source_attach (command->relay_stdin_source, self->context);
}

/* A live process whose pipes the helper relays still gets pipes: the I/O
 * thread writes what OUTPUT brings into them (sa-relay-pipe.c) and reads
 * what the caller writes to its stdin. */
static void
answer_relayed_process (SaConnection *self,
                        SaCommand    *command,
                        GPid          pid)
{
  int fds[3];          /* the caller's ends: stdout, stderr, stdin */
  guint n_fds = 0;
  int p[2];

  for (guint i = 0; i < 2; i++)
    if (command->stdio[i + 1] == SA_PROTO_STDIO_PIPE)
      {
        if (pipe2 (p, O_CLOEXEC) != 0)
          goto failed;
        fds[n_fds++] = p[0];
        command->relay_pipes[i] = sa_relay_pipe_new (p[1], self->context);
      }
  if (command->stdio[0] == SA_PROTO_STDIO_PIPE)
    {
      if (pipe2 (p, O_CLOEXEC) != 0)
        goto failed;
      fds[n_fds++] = p[1];
      command->relay_stdin_fd = p[0];
      g_unix_set_fd_nonblocking (p[0], TRUE, NULL);
    }
  answer_process (self, command, pid, fds, n_fds);
  /* (Before RUNNING: the caller's first write is watched from there.) */
  return;

failed:
  stop_without_pipes (self, command, pid, fds, n_fds,
                      g_error_new (G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE,
                                   _("Failed to make the pipes of “%s”: %s"),
                                   command->program, g_strerror (errno)));
}

static gboolean
handle_spawned (SaConnection *self,
                SaCommand    *command,
                GPid          pid,
                int          *fds,
                guint         n_fds,
                gboolean      fds_lost)
{
  self->spawned_any = TRUE;

  if (command->relayed)
    {
      /* Also when cancelled meanwhile: the helper ends its streams. */
      sa_command_relay_spawned (command, pid);
      if (command->process_shared != NULL)
        answer_relayed_process (self, command, pid);
      else
        queue_input (self, command);
    }
  else if (fds_lost)
    {
      /* We are out of file descriptors: this command cannot have its
       * pipes. Stop it; the worker goes on. */
      stop_without_pipes (self, command, pid, fds, n_fds,
                          g_error_new (G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE,
                                       _("Failed to receive the pipes of “%s”: %s"),
                                       command->program, g_strerror (EMFILE)));
    }
  else if (command->process_shared != NULL)
    answer_process (self, command, pid, fds, n_fds);
  else
    sa_command_spawned (command, pid, fds, n_fds, self->epoll_fd);

  command_move (self, command, SA_COMMAND_RUNNING, NULL);
  watch_relay_stdin (self, command);
  return TRUE;
}

static void
handle_exited (SaConnection *self,
               SaCommand    *command,
               int           wait_status,
               guint32       flags)
{
  sa_command_exited (command, wait_status, (flags & SA_EXITED_FLAG_TIMED_OUT) != 0);
  command->group_lingers = (flags & SA_EXITED_FLAG_LINGERS) != 0;

  if (command->process_shared != NULL)
    sa_process_shared_exited (command->process_shared, wait_status,
                              (flags & SA_EXITED_FLAG_TIMED_OUT) != 0);
  /* Its stdin is gone with it (the helper sends no WROTE now). */
  sa_command_relay_close_stdin (command);

  if (command->relayed && sa_command_pipes_open (command))
    {
      /* The helper drains its streams and says when they end. */
      command_move (self, command, SA_COMMAND_DRAINING, NULL);
    }
  else if (sa_command_is_answered (command))
    command_move (self, command, SA_COMMAND_DEAD, NULL);
  else if (sa_command_pipes_open (command))
    {
      /* Something in its group may hold them open: give it a moment. */
      command->drain_source = g_timeout_source_new (DRAIN_TIMEOUT_MS);
      g_source_set_callback (command->drain_source, drain_timeout, command, NULL);
      g_source_attach (command->drain_source, self->context);
      command_move (self, command, SA_COMMAND_DRAINING, NULL);
    }
  else
    {
      sa_command_complete (command);
      command_move (self, command, SA_COMMAND_DEAD, NULL);
    }
}

/* OUTPUT: some of a relayed stream, or its end. */
static gboolean
handle_output (SaConnection        *self,
               SaCommand           *command,
               const SaProtoHeader *header,
               const guint8        *payload)
{
  const guint8 *data;
  guint32 stream;
  gsize n;

  if (!command->relayed ||
      (command->state != SA_COMMAND_RUNNING && command->state != SA_COMMAND_DRAINING) ||
      sa_proto_output_decode (header, payload, &stream, &data, &n) != SA_PROTO_OK ||
      (command->relay_open & (stream == SA_OUTPUT_STDOUT ? 1 : 2)) == 0)
    return FALSE;
  act_on_verdict (self, command, sa_command_relay_output (command, stream, data, n));
  return TRUE;
}

/* One message from the helper (SaLinkMessageFunc). FALSE: it is
 * malformed, and the link records a fault; the link then closes the fds. */
static gboolean
handle_message (const guint8 *data,
                gsize         len,
                int          *fds,
                guint         n_fds,
                gboolean      fds_lost,
                gpointer      user_data)
{
  SaConnection *self = user_data;
  SaProtoHeader header;
  const guint8 *payload;
  SaCommand *command;
  guint32 words[2];

  if (sa_proto_next_frame (data, len, &header, &payload) != SA_PROTO_OK ||
      SA_PROTO_HEADER_SIZE + header.length != len ||
      n_fds > header.n_fds || (!fds_lost && n_fds != header.n_fds))
    return FALSE;

  if (header.type == SA_MSG_HELLO)
    return handle_hello (self, &header, payload);
  if (!sa_helper_link_is_greeted (self->link))
    return FALSE;
  if (header.type == SA_MSG_GROUP_GONE)
    return handle_group_gone (self, header.id);

  command = g_hash_table_lookup (self->commands, GUINT_TO_POINTER (header.id));
  if (command == NULL)
    {
      /* The first answer about a command its caller sent directly. */
      take_inbox (self);
      command = g_hash_table_lookup (self->commands, GUINT_TO_POINTER (header.id));
    }
  if (command == NULL)
    return FALSE;

  switch (header.type)
    {
    case SA_MSG_STARTING:
      /* From the child, before it runs: its group is known from now on. */
      if (command->state != SA_COMMAND_SENT || command->pid != 0 ||
          sa_proto_decode_words (&header, payload, words, 1) != SA_PROTO_OK ||
          (GPid)words[0] <= 1)   /* its group is killed: never kill(-1) */
        return FALSE;
      command->pid = (GPid)words[0];
      return TRUE;

    case SA_MSG_SPAWNED:
      if (command->state != SA_COMMAND_SENT ||
          header.n_fds != (command->relayed ? 0 : sa_proto_spawn_n_pipes (command->stdio)) ||
          sa_proto_decode_words (&header, payload, words, 1) != SA_PROTO_OK ||
          (GPid)words[0] <= 1 ||
          (command->pid != 0 && command->pid != (GPid)words[0]))
        return FALSE;
      return handle_spawned (self, command, (GPid)words[0], fds, n_fds, fds_lost);

    case SA_MSG_SPAWN_FAILED:
      if (command->state != SA_COMMAND_SENT ||
          sa_proto_decode_words (&header, payload, words, 2) != SA_PROTO_OK)
        return FALSE;
      command_move (self, command, SA_COMMAND_DEAD,
                    sa_command_spawn_error (command, (int)words[0], (int)words[1]));
      return TRUE;

    case SA_MSG_EXITED:
      if (command->state != SA_COMMAND_RUNNING ||
          sa_proto_decode_words (&header, payload, words, 2) != SA_PROTO_OK)
        return FALSE;
      handle_exited (self, command, (int)words[0], words[1]);
      return TRUE;

    case SA_MSG_OUTPUT:
      return handle_output (self, command, &header, payload);

    case SA_MSG_WROTE:
      /* Only for an INPUT that waits, before EXITED. */
      if (!command->relayed || !command->input_in_flight ||
          command->state != SA_COMMAND_RUNNING ||
          sa_proto_decode_words (&header, payload, words, 1) != SA_PROTO_OK ||
          (words[0] & ~SA_WROTE_FLAG_CLOSED) != 0)
        return FALSE;
      sa_command_relay_wrote (command, (words[0] & SA_WROTE_FLAG_CLOSED) != 0);
      queue_input (self, command);
      watch_relay_stdin (self, command);
      return TRUE;

    default:
      return FALSE;
    }
}

/* -- the thread ---------------------------------------------------------------- */

/* The worker is being destroyed: everything pending fails with
 * SA_WORKER_ERROR_DESTROYED, and nothing the helper started survives,
 * whatever state the helper is in. */
static void
shut_down (SaConnection *self)
{
  g_autoptr(GError) error =
    g_error_new_literal (SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED,
                         _("worker process was destroyed"));
  g_autoptr(GPtrArray) in_flight = NULL;
  GHashTableIter iter;
  gpointer value;
  SaCommand *command;
  gboolean foreign = sa_helper_link_has_launcher (self->link);   /* see lose_helper() */

  take_inbox (self);

  /* From here on no child of the helper can start (its STARTING cannot
   * be sent), and every one that did has said so: their groups are
   * killed now, while the helper lives and their pids are pinned, so
   * that nothing depends on a helper that may be stopped or slow. The
   * helper itself is then killed. */
  sa_helper_link_close_and_drain (self->link);
  g_free (sa_helper_link_take_fault (self->link));
  in_flight = commands_in_flight (self);
  for (guint i = 0; i < in_flight->len && !foreign; i++)
    {
      command = g_ptr_array_index (in_flight, i);
      if (command->pid > 0 && !command->detached)
        kill (-command->pid, SIGKILL);
    }
  g_hash_table_iter_init (&iter, self->lingering);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!foreign)
      kill (-GPOINTER_TO_INT (value), SIGKILL);
  g_hash_table_remove_all (self->lingering);

  sa_helper_link_stop (self->link, foreign ? LAUNCHER_GRACE_MS : 0);
  clear_source (&self->restart_source);

  for (guint i = 0; i < in_flight->len; i++)
    {
      command = g_ptr_array_index (in_flight, i);
      command->group_lingers = FALSE;
      if (command->state == SA_COMMAND_DRAINING)
        {
          /* Its result is complete but for what a killed background
           * job might still have written. */
          sa_command_read_rest (command);
          if (!sa_command_is_answered (command))   /* relayed, cancelled */
            sa_command_complete (command);
          command_move (self, command, SA_COMMAND_DEAD, NULL);
        }
      else
        command_move (self, command, SA_COMMAND_DEAD, g_error_copy (error));
    }
  while ((command = g_queue_peek_head (&self->waiting)) != NULL)
    command_move (self, command, SA_COMMAND_DEAD, g_error_copy (error));

  report_ready (self, error);
  reap_dead (self);
  self->stopped = TRUE;
}

/* Sends waiting commands, in order, while the helper keeps up: until
 * MAX_BACKLOG bytes wait in the output buffer, or the socket is full. */
static void
send_waiting (SaConnection *self)
{
  SaCommand *command;

  do
    {
      while (sa_helper_link_is_greeted (self->link) &&
             sa_helper_link_get_backlog (self->link) < MAX_BACKLOG &&
             (command = g_queue_peek_head (&self->waiting)) != NULL)
        send_command (self, command);
      sa_helper_link_flush (self->link, g_queue_is_empty (&self->waiting));
    }
  while (!g_queue_is_empty (&self->waiting) && sa_helper_link_is_greeted (self->link) &&
         sa_helper_link_get_backlog (self->link) == 0 && sa_helper_link_is_up (self->link));
}

static void
process (SaConnection *self)
{
  take_inbox (self);
  if (self->closing)
    {
      shut_down (self);
      return;
    }
  handle_fault (self);
  send_waiting (self);
  handle_fault (self);
  reap_dead (self);
}

static gpointer
io_thread (gpointer data)
{
  SaConnection *self = data;

  self->io_thread = g_thread_self ();
  g_main_context_push_thread_default (self->context);

  start_helper (self);
  for (;;)
    {
      process (self);
      if (self->stopped)
        break;
      g_main_context_iteration (self->context, TRUE);
    }

  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* Returns at once: callbacks->ready says when the helper is ready. */
SaConnection *
sa_connection_new (const char                   *helper_path,
                   const char * const           *launcher,
                   const SaConnectionCallbacks  *callbacks,
                   gpointer                      user_data,
                   GError                      **error)
{
  SaConnection *self = g_new0 (SaConnection, 1);
  sigset_t all, old;

  self->callbacks = *callbacks;
  self->user_data = user_data;
  self->owner_pid = getpid ();
  g_mutex_init (&self->shutdown_lock);
  self->context = g_main_context_new ();
  self->inbox = sa_inbox_new (self->context);
  self->link = sa_helper_link_new (helper_path, launcher, self->context, self->inbox,
                                   handle_message, self);
  self->commands = g_hash_table_new (NULL, NULL);
  self->lingering = g_hash_table_new (NULL, NULL);
  self->cancels = g_array_new (FALSE, FALSE, sizeof (guint32));
  self->signals = g_array_new (FALSE, FALSE, sizeof (SaSignalRequest));
  self->released = g_array_new (FALSE, FALSE, sizeof (guint32));

  self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epoll_fd < 0)
    {
      int errsv = errno;

      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to create an epoll instance: %s"), g_strerror (errsv));
      sa_connection_free (self);
      return NULL;
    }
  self->epoll_source = g_unix_fd_source_new (self->epoll_fd, G_IO_IN);
  g_source_set_callback (self->epoll_source, G_SOURCE_FUNC (epoll_ready), self, NULL);
  g_source_set_name (self->epoll_source, "[spawn-async] pipes");
  g_source_attach (self->epoll_source, self->context);

  /* The thread starts with every signal blocked, with no window in which
   * one could land on it: a signal the application blocks and waits for
   * (sigwait(), a signalfd) must never be delivered to it. */
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  self->thread = g_thread_try_new ("spawn-async", io_thread, self, error);
  pthread_sigmask (SIG_SETMASK, &old, NULL);

  if (self->thread == NULL)
    {
      sa_connection_free (self);
      return NULL;
    }

  return self;
}

/* Any thread: hands the command over. FALSE (the worker is destroyed, has
 * failed, or belongs to the process this one forked from): the caller
 * keeps the command and answers it. */
gboolean
sa_connection_submit (SaConnection  *self,
                      SaCommand     *command,
                      GError       **error)
{
  if (sa_connection_is_foreign (self))
    {
      g_set_error_literal (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                           _("The worker belongs to another process: it cannot be used after fork()"));
      return FALSE;
    }

  sa_command_connect_cancel (command, self->inbox);
  return sa_inbox_submit (self->inbox, command, error);
}

/* The process forked: this copy has no I/O thread, and its socket is the
 * parent's. It must not be used, nor even shut down. */
gboolean
sa_connection_is_foreign (SaConnection *self)
{
  return getpid () != self->owner_pid;
}

/* Any thread but the I/O thread, any number of times, also at once: the
 * first call closes the inbox and joins the I/O thread, the others wait
 * for it to be done. */
void
sa_connection_shutdown (SaConnection *self)
{
  sa_mutex_lock (&self->shutdown_lock);
  if (self->thread != NULL)
    {
      g_assert (g_thread_self () != self->thread);
      sa_inbox_close (self->inbox);
      g_thread_join (g_steal_pointer (&self->thread));
    }
  sa_mutex_unlock (&self->shutdown_lock);
}

void
sa_connection_free (SaConnection *self)
{
  g_assert (self->thread == NULL);

  sa_inbox_detach (self->inbox);
  sa_helper_link_free (self->link);
  if (self->epoll_source != NULL)
    {
      g_source_destroy (self->epoll_source);
      g_source_unref (self->epoll_source);
    }
  if (self->epoll_fd >= 0)
    close (self->epoll_fd);
  g_assert (g_hash_table_size (self->commands) == 0);
  g_assert (g_queue_is_empty (&self->waiting) && g_queue_is_empty (&self->dead));
  g_clear_pointer (&self->commands, g_hash_table_unref);
  g_clear_pointer (&self->lingering, g_hash_table_unref);
  g_clear_pointer (&self->cancels, g_array_unref);
  g_clear_pointer (&self->signals, g_array_unref);
  g_clear_pointer (&self->released, g_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_error (&self->fatal);
  g_clear_error (&self->last_start_error);
  g_clear_pointer (&self->restart_source, g_source_unref);
  sa_inbox_unref (self->inbox);
  g_mutex_clear (&self->shutdown_lock);
  g_free (self);
}

void
sa_connection_set_last_id (SaConnection *self,
                           guint32       id)
{
  sa_inbox_set_last_id (self->inbox, id);
}
