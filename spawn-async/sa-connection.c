/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-connection.c: the worker's private I/O thread and its helper.
 *
 * One thread per worker owns the socket to spawn-async-helper, the table
 * of commands in flight and every pipe; callers only hand commands over
 * (sa_connection_submit(), from any thread) and get their answers in
 * their own main context. So the caller never blocks on the helper and
 * its main loop never runs the I/O.
 *
 * The one exception is the SPAWN frame itself: when nothing is waiting
 * to be sent, the caller sends it straight to the helper (one
 * non-blocking send() of one datagram, under the lock) and queues the
 * command as already sent, without waking this thread. The helper's
 * answer is what makes this thread take the command in, so a command
 * costs one thread hop less on its way to the helper.
 *
 * Every pipe of every command sits in one epoll set, watched by a single
 * GSource: with hundreds of commands in flight a loop iteration stays
 * O(ready descriptors), and adding or closing a pipe wakes nothing.
 *
 * The helper is started with posix_spawn (no fork of the caller), from
 * this thread, so that its PR_SET_PDEATHSIG follows the worker. When it
 * dies the commands in flight fail with SA_WORKER_ERROR_EXITED, their
 * process groups are killed, and a new helper is started; helpers that
 * die right after their start are restarted with a growing delay, and
 * after MAX_EARLY_DEATHS of them in a row the connection gives up.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sa-connection-private.h"
#include "sa-debug-private.h"
#include "sa-error.h"
#include "sa-protocol.h"

#define HELPER_SOCKET_FD            3
#define HANDSHAKE_TIMEOUT_MS        5000
#define EARLY_DEATH_MS              1000
#define MAX_EARLY_DEATHS            5
#define RESTART_BACKOFF_MS          100
#define SHUTDOWN_WAIT_MS            1000
#define MAX_MESSAGES_PER_DISPATCH   256
#define MAX_EVENTS_PER_DISPATCH     64
#define SHRINK_OUTPUT_ABOVE         (256 * 1024)


typedef enum
{
  STATE_RUNNING,
  STATE_FAILED,
  STATE_DESTROYED,
} State;

struct _SaConnection
{
  char                  *helper_path;
  SaConnectionCallbacks  callbacks;
  gpointer               user_data;
  GMainContext          *context;
  GMainLoop             *loop;
  GThread               *thread;
  GSource               *wake_source;

  /* Guarded by lock: what other threads touch. */
  GMutex                 lock;
  GCond                  cond;
  State                  state;
  GError                *failure;
  GQueue                 incoming;
  guint                  incoming_unsent; /* commands in incoming not sent yet */
  int                    direct_fd;      /* the socket, when callers may send */
  GQueue                 cancelled;      /* commands whose cancellable fired */
  gboolean               startup_done;
  GError                *startup_error;
  gboolean               startup_failed;  /* the I/O thread's own copy */

  /* The I/O thread's own. */
  GPid                   helper_pid;
  GSocket               *socket;
  GSource               *in_source;
  GSource               *out_source;
  GSource               *timer_source;   /* handshake timeout or restart delay */
  GByteArray            *out;
  gsize                  out_offset;
  gboolean               greeted;
  gboolean               spawned_any;
  gint64                 started_at;
  guint                  early_deaths;
  guint                  last_id;        /* atomic: callers take ids too */
  GHashTable            *commands;       /* id -> SaCommand sent to the helper */
  GQueue                 waiting;        /* to send once a helper is ready */
  int                    epoll_fd;       /* every pipe of every command */
  GSource               *epoll_source;
  gboolean               dispatching;    /* in an epoll batch: frees wait */
  GPtrArray             *graveyard;      /* commands to free after the batch */
  GError                *last_start_error;
};

static void helper_lost      (SaConnection *self,
                              const char   *why);
static void schedule_restart (SaConnection *self,
                              gboolean      early);

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
attach_timeout (SaConnection *self,
                guint         ms,
                GSourceFunc   func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

/* -- startup report ------------------------------------------------------ */

static void
report_startup (SaConnection *self,
                const GError *error)
{
  self->startup_failed = error != NULL;

  g_mutex_lock (&self->lock);
  self->startup_done = TRUE;
  if (error != NULL)
    self->startup_error = g_error_copy (error);
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

static gboolean
startup_is_done (SaConnection *self)
{
  gboolean done;

  g_mutex_lock (&self->lock);
  done = self->startup_done;
  g_mutex_unlock (&self->lock);
  return done;
}

/* -- output to the helper ------------------------------------------------ */

static gboolean
socket_writable (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data);

/* Empties the output buffer, and gives its memory back when it grew big
 * (a burst of commands, a helper that stopped reading). */
static void
reset_output (SaConnection *self)
{
  if (self->out->len > SHRINK_OUTPUT_ABOVE)
    {
      g_byte_array_unref (self->out);
      self->out = g_byte_array_new ();
    }
  g_byte_array_set_size (self->out, 0);
  self->out_offset = 0;
}

/* Sends what this thread queued. Under the lock, because a frame may take
 * several datagrams and the helper reads them as one stream: a caller's
 * direct send must never land in between. Once everything is out, with
 * a helper greeted and nothing waiting for one, callers may send their
 * SPAWN frames themselves again. */
static void
flush_output (SaConnection *self)
{
  g_autoptr(GError) error = NULL;
  gboolean blocked = FALSE;

  g_mutex_lock (&self->lock);
  while (self->socket != NULL && self->out_offset < self->out->len)
    {
      gsize chunk = MIN (self->out->len - self->out_offset, SA_PROTO_MAX_MESSAGE);
      gssize n = g_socket_send (self->socket,
                                (const char *)self->out->data + self->out_offset,
                                chunk, NULL, &error);

      if (n < 0)
        {
          blocked = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          break;
        }
      self->out_offset += (gsize)n;
    }
  self->direct_fd = self->socket != NULL && error == NULL && self->greeted &&
                    g_queue_is_empty (&self->waiting) ?
                    g_socket_get_fd (self->socket) : -1;
  g_mutex_unlock (&self->lock);

  if (blocked)
    {
      if (self->out_source == NULL)
        {
          self->out_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
          g_source_set_callback (self->out_source, G_SOURCE_FUNC (socket_writable),
                                 self, NULL);
          g_source_attach (self->out_source, self->context);
        }
      return;
    }
  if (error != NULL)
    {
      helper_lost (self, error->message);
      return;
    }

  clear_source (&self->out_source);
  reset_output (self);
}

static gboolean
socket_writable (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  SaConnection *self = user_data;

  g_clear_pointer (&self->out_source, g_source_unref);
  flush_output (self);
  return G_SOURCE_REMOVE;
}

static void
queue_words (SaConnection   *self,
             SaMsgType       type,
             guint32         id,
             const guint32  *words,
             gsize           n_words)
{
  guint8 frame[SA_PROTO_REPLY_MAX_SIZE];
  gsize len = sa_proto_encode_words (frame, type, 0, id, words, n_words);

  g_byte_array_append (self->out, frame, len);
}

/* Frees a command, or, during an epoll batch that may still hold events
 * for its pipes, right after the batch. */
static void
dispose_command (SaConnection *self,
                 SaCommand    *command)
{
  if (self->dispatching)
    g_ptr_array_add (self->graveyard, command);
  else
    sa_command_free (command);
}

gboolean
sa_connection_watch (SaConnection *self,
                     int           fd,
                     guint32       events,
                     SaWatch      *watch)
{
  struct epoll_event event = { .events = events, .data.ptr = watch };

  if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0)
    return FALSE;
  watch->epoll_fd = self->epoll_fd;
  return TRUE;
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

  self->dispatching = TRUE;
  for (int i = 0; i < n; i++)
    {
      SaWatch *watch = events[i].data.ptr;

      /* func is NULL when the descriptor was closed earlier in this batch. */
      if (watch->func != NULL)
        watch->func (watch, events[i].events);
    }
  self->dispatching = FALSE;

  g_ptr_array_set_size (self->graveyard, 0);
  return G_SOURCE_CONTINUE;
}

/* Any thread: writes the next id into the header of the command's SPAWN
 * frame, and returns it. */
static guint32
stamp_frame (SaConnection *self,
             SaCommand    *command)
{
  guint32 id;

  do
    id = (guint32)g_atomic_int_add ((gint *)&self->last_id, 1) + 1;
  while (id == 0);
  sa_proto_header_encode (command->frame, SA_MSG_SPAWN, 0, id,
                          (guint32)(command->frame_len - SA_PROTO_HEADER_SIZE));
  return id;
}

/* The frame has gone to the helper (or into the output buffer). */
static void
frame_sent (SaCommand *command,
            guint32    id)
{
  command->id = id;
  command->awaiting_helper = TRUE;
  g_clear_pointer (&command->frame, g_free);
}

static void
send_command (SaConnection *self,
              SaCommand    *command)
{
  guint32 id;

  if (command->task != NULL && g_cancellable_is_cancelled (command->cancellable))
    sa_command_fail (command, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                   _("Operation was cancelled")));
  if (command->task == NULL)
    {
      /* Cancelled before it could be sent: it never starts. */
      dispose_command (self, command);
      return;
    }

  id = stamp_frame (self, command);
  g_byte_array_append (self->out, command->frame, command->frame_len);
  frame_sent (command, id);
  g_hash_table_insert (self->commands, GUINT_TO_POINTER (command->id), command);
}

/* Takes in what callers handed over: commands they sent themselves join
 * the table, the others are sent now or wait for a helper. */
static void
take_incoming (SaConnection *self)
{
  GQueue incoming;
  SaCommand *command;

  g_mutex_lock (&self->lock);
  incoming = self->incoming;
  g_queue_init (&self->incoming);
  self->incoming_unsent = 0;
  g_mutex_unlock (&self->lock);

  while ((command = g_queue_pop_head (&incoming)) != NULL)
    {
      if (command->awaiting_helper)
        g_hash_table_insert (self->commands, GUINT_TO_POINTER (command->id), command);
      else if (self->greeted)
        send_command (self, command);
      else
        g_queue_push_tail (&self->waiting, command);
    }
}

/* Any thread: the I/O thread cancels the command at its next wake-up. */
void
sa_connection_queue_cancel (SaConnection *self,
                            SaCommand    *command)
{
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->cancelled, command);
  g_mutex_unlock (&self->lock);

  g_source_set_ready_time (self->wake_source, 0);
}

/* The command is being freed: no cancellation of it may be left queued. */
void
sa_connection_forget_cancel (SaConnection *self,
                             SaCommand    *command)
{
  g_mutex_lock (&self->lock);
  while (g_queue_remove (&self->cancelled, command))
    ;
  g_mutex_unlock (&self->lock);
}

static SaCommand *
pop_cancelled (SaConnection *self)
{
  SaCommand *command;

  g_mutex_lock (&self->lock);
  command = g_queue_pop_head (&self->cancelled);
  g_mutex_unlock (&self->lock);
  return command;
}

void
sa_connection_kill_command (SaConnection *self,
                            SaCommand    *command,
                            int           signum)
{
  guint32 word = (guint32)signum;

  if (self->socket == NULL || !command->awaiting_helper)
    return;

  queue_words (self, SA_MSG_KILL, command->id, &word, 1);
  flush_output (self);
}

void
sa_connection_release (SaConnection *self,
                       SaCommand    *command)
{
  if (command->awaiting_helper ||
      g_hash_table_lookup (self->commands, GUINT_TO_POINTER (command->id)) == command)
    g_hash_table_remove (self->commands, GUINT_TO_POINTER (command->id));
  else
    g_queue_remove (&self->waiting, command);

  dispose_command (self, command);
}

/* -- commands ending without an answer from the helper ---------------------- */

static void
fail_commands_in_flight (SaConnection *self,
                         const GError *error)
{
  GHashTableIter iter;
  gpointer value;
  GPtrArray *commands = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, self->commands);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (commands, value);
  g_hash_table_remove_all (self->commands);

  for (guint i = 0; i < commands->len; i++)
    {
      SaCommand *command = g_ptr_array_index (commands, i);

      /* PR_SET_PDEATHSIG took the child itself; this takes its group. */
      if (command->pid > 0 && !command->exited)
        kill (-command->pid, SIGKILL);
      command->awaiting_helper = FALSE;
      sa_command_fail (command, g_error_copy (error));
      dispose_command (self, command);
    }
  g_ptr_array_unref (commands);
}

static void
fail_queue (SaConnection *self,
            GQueue       *queue,
            const GError *error)
{
  SaCommand *command;

  while ((command = g_queue_pop_head (queue)) != NULL)
    {
      sa_command_fail (command, g_error_copy (error));
      dispose_command (self, command);
    }
}

/* -- the helper process ---------------------------------------------------- */

static gboolean
socket_readable (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data);

static gboolean
handshake_timeout (gpointer user_data)
{
  SaConnection *self = user_data;

  g_clear_pointer (&self->timer_source, g_source_unref);
  helper_lost (self, _("it did not answer within 5 seconds"));
  return G_SOURCE_REMOVE;
}

static gboolean
start_helper (SaConnection  *self,
              GError       **error)
{
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t signals;
  char parent[32];
  char *argv[] = { self->helper_path, parent, NULL };
  guint32 hello[2] = { SA_PROTO_VERSION, 0 };
  int fds[2];
  GPid pid;
  int ret;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int errsv = errno;

      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to create a socket for the helper: %s"),
                   g_strerror (errsv));
      return FALSE;
    }

  g_snprintf (parent, sizeof parent, "%d", (int)getpid ());

  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], HELPER_SOCKET_FD);
  posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
  posix_spawn_file_actions_addclosefrom_np (&actions, HELPER_SOCKET_FD + 1);
#endif

  posix_spawnattr_init (&attr);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP |
                                   POSIX_SPAWN_SETSIGMASK |
                                   POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup (&attr, 0);
  sigemptyset (&signals);
  posix_spawnattr_setsigmask (&attr, &signals);
  sigfillset (&signals);
  posix_spawnattr_setsigdefault (&attr, &signals);

  ret = posix_spawn (&pid, self->helper_path, &actions, &attr, argv, environ);

  posix_spawnattr_destroy (&attr);
  posix_spawn_file_actions_destroy (&actions);
  close (fds[1]);

  if (ret != 0)
    {
      close (fds[0]);
      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to start the helper “%s”: %s"),
                   self->helper_path, g_strerror (ret));
      return FALSE;
    }

  self->socket = g_socket_new_from_fd (fds[0], error);
  if (self->socket == NULL)
    {
      close (fds[0]);
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      return FALSE;
    }
  g_socket_set_blocking (self->socket, FALSE);

  self->helper_pid = pid;
  self->greeted = FALSE;
  self->spawned_any = FALSE;
  self->started_at = g_get_monotonic_time ();

  self->in_source = g_socket_create_source (self->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->in_source, G_SOURCE_FUNC (socket_readable), self, NULL);
  g_source_attach (self->in_source, self->context);

  clear_source (&self->timer_source);
  self->timer_source = attach_timeout (self, HANDSHAKE_TIMEOUT_MS, handshake_timeout);

  SA_DEBUG ("started helper %s as pid %d", self->helper_path, pid);

  queue_words (self, SA_MSG_HELLO, 0, hello, 2);
  flush_output (self);
  return TRUE;
}

/* Waits for the helper to exit after its socket was closed; a helper
 * that does not (stopped, say) is killed. */
static void
reap_helper (SaConnection *self,
             guint         grace_ms)
{
  GPid pid = self->helper_pid;
  int pidfd;

  if (pid <= 0)
    return;
  self->helper_pid = 0;

  pidfd = grace_ms > 0 ? (int)syscall (SYS_pidfd_open, pid, 0) : -1;
  if (pidfd >= 0)
    {
      struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

      while (poll (&pfd, 1, (int)grace_ms) < 0 && errno == EINTR)
        ;
      close (pidfd);
    }
  else if (grace_ms > 0)
    {
      /* No pidfd (old kernel, valgrind): poll for the exit. */
      gint64 deadline = g_get_monotonic_time () + grace_ms * G_TIME_SPAN_MILLISECOND;

      while (waitpid (pid, NULL, WNOHANG) == 0 && g_get_monotonic_time () < deadline)
        g_usleep (G_TIME_SPAN_MILLISECOND);
    }

  if (waitpid (pid, NULL, WNOHANG) == 0)
    {
      kill (pid, SIGKILL);
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
    }
}

static void
stop_helper (SaConnection *self,
             guint         grace_ms)
{
  clear_source (&self->in_source);
  clear_source (&self->out_source);
  clear_source (&self->timer_source);
  /* Close, not just unref: a destroyed source that is still in this
   * iteration's pending dispatches keeps the GSocket alive, and the
   * helper must see the end of the socket now. */
  g_mutex_lock (&self->lock);
  self->direct_fd = -1;
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_mutex_unlock (&self->lock);
  g_clear_object (&self->socket);
  reset_output (self);
  self->greeted = FALSE;
  reap_helper (self, grace_ms);
}

static void
fail_permanently (SaConnection *self,
                  const GError *error)
{
  GQueue incoming = G_QUEUE_INIT;

  SA_DEBUG ("giving up on the helper: %s", error->message);

  stop_helper (self, 0);

  g_mutex_lock (&self->lock);
  if (self->state == STATE_RUNNING)
    {
      self->state = STATE_FAILED;
      self->failure = g_error_copy (error);
    }
  incoming = self->incoming;
  g_queue_init (&self->incoming);
  self->incoming_unsent = 0;
  g_mutex_unlock (&self->lock);

  fail_queue (self, &self->waiting, error);
  fail_queue (self, &incoming, error);

  if (self->callbacks.failed != NULL)
    self->callbacks.failed (error, self->user_data);
}

static void
helper_lost (SaConnection *self,
             const char   *why)
{
  g_autoptr(GError) error = NULL;
  gboolean was_greeted = self->greeted;
  gboolean early;

  if (self->socket == NULL)
    return;

  early = !self->spawned_any &&
          g_get_monotonic_time () - self->started_at < EARLY_DEATH_MS * G_TIME_SPAN_MILLISECOND;

  SA_DEBUG ("helper %d lost: %s", self->helper_pid, why);

  stop_helper (self, 0);
  /* Commands their callers sent went to this helper: they are in flight. */
  take_incoming (self);

  error = g_error_new_literal (SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED,
                               _("worker process exited unexpectedly"));
  fail_commands_in_flight (self, error);

  if (!startup_is_done (self))
    {
      g_autoptr(GError) startup_error =
        g_error_new (SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                     _("The helper “%s” did not start: %s"),
                     self->helper_path, why);

      report_startup (self, startup_error);
      g_main_loop_quit (self->loop);
      return;
    }

  if (was_greeted && self->callbacks.helper_exited != NULL)
    self->callbacks.helper_exited (error, self->user_data);

  g_clear_error (&self->last_start_error);
  schedule_restart (self, early);
}

static gboolean
restart_timeout (gpointer user_data)
{
  SaConnection *self = user_data;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->timer_source, g_source_unref);

  if (!start_helper (self, &error))
    {
      SA_DEBUG ("restarting the helper failed: %s", error->message);
      g_clear_error (&self->last_start_error);
      self->last_start_error = g_steal_pointer (&error);
      schedule_restart (self, TRUE);
    }
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
                                 self->helper_path, self->early_deaths);
          fail_permanently (self, error);
          return;
        }
      delay_ms = RESTART_BACKOFF_MS << (self->early_deaths - 1);
    }
  else
    self->early_deaths = 0;

  clear_source (&self->timer_source);
  self->timer_source = attach_timeout (self, delay_ms, restart_timeout);
}

/* -- input from the helper -------------------------------------------------- */

static SaCommand *
lookup_command (SaConnection *self,
                guint32       id)
{
  SaCommand *command = g_hash_table_lookup (self->commands, GUINT_TO_POINTER (id));

  return command != NULL && command->awaiting_helper ? command : NULL;
}

static gboolean
handle_hello (SaConnection        *self,
              const SaProtoHeader *header,
              const guint8        *payload)
{
  guint32 words[2];
  SaCommand *command;

  if (self->greeted || header->id != 0 ||
      sa_proto_decode_words (header, payload, words, 2) != SA_PROTO_OK ||
      (GPid)words[1] != self->helper_pid)
    return FALSE;

  if (words[0] != SA_PROTO_VERSION)
    {
      g_autoptr(GError) error =
        g_error_new (SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                     _("The helper “%s” speaks protocol version %u, not %u"),
                     self->helper_path, words[0], SA_PROTO_VERSION);

      if (!startup_is_done (self))
        {
          stop_helper (self, 0);
          report_startup (self, error);
          g_main_loop_quit (self->loop);
        }
      else
        fail_permanently (self, error);
      return TRUE;
    }

  self->greeted = TRUE;
  clear_source (&self->timer_source);
  SA_DEBUG ("helper %d ready", self->helper_pid);

  if (self->callbacks.helper_started != NULL)
    self->callbacks.helper_started (self->helper_pid, self->user_data);
  if (!startup_is_done (self))
    report_startup (self, NULL);

  while ((command = g_queue_pop_head (&self->waiting)) != NULL)
    send_command (self, command);
  flush_output (self);
  return TRUE;
}

/* One message from the helper: exactly one frame, with its fds. */
static gboolean
handle_message (SaConnection *self,
                const guint8 *data,
                gsize         len,
                int          *fds,
                guint         n_fds,
                gboolean      fds_lost)
{
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

  if (!self->greeted)
    return FALSE;
  command = lookup_command (self, header.id);
  if (command == NULL)
    {
      /* The first answer about a command its caller sent directly. */
      take_incoming (self);
      command = lookup_command (self, header.id);
    }
  if (command == NULL)
    return FALSE;

  switch (header.type)
    {
    case SA_MSG_SPAWNED:
      if (command->pid != 0 ||
          header.n_fds != (sa_command_wants_stdin (command) ? 3 : 2) ||
          sa_proto_decode_words (&header, payload, words, 1) != SA_PROTO_OK ||
          (GPid)words[0] <= 1)   /* its group is killed: never kill(-1) */
        return FALSE;
      self->spawned_any = TRUE;
      if (fds_lost)
        {
          /* We are out of file descriptors: this command cannot have its
           * pipes. Stop it; the worker goes on. */
          for (guint i = 0; i < n_fds; i++)
            close (fds[i]);
          command->pid = (GPid)words[0];
          sa_connection_kill_command (self, command, SIGKILL);
          sa_command_fail (command,
                           g_error_new (G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE,
                                        _("Failed to receive the pipes of “%s”: %s"),
                                        command->program, g_strerror (EMFILE)));
        }
      else
        sa_command_spawned (command, (GPid)words[0], fds, n_fds);
      break;

    case SA_MSG_SPAWN_FAILED:
      if (command->pid != 0 ||
          sa_proto_decode_words (&header, payload, words, 2) != SA_PROTO_OK)
        return FALSE;
      sa_command_spawn_failed (command, (int)words[0], (int)words[1]);
      break;

    case SA_MSG_EXITED:
      if (command->pid == 0 ||
          sa_proto_decode_words (&header, payload, words, 2) != SA_PROTO_OK)
        return FALSE;
      sa_command_exited (command, self->context, (int)words[0],
                         (words[1] & SA_EXITED_FLAG_TIMED_OUT) != 0);
      break;

    default:
      return FALSE;
    }

  if (sa_command_is_finished (command))
    sa_connection_release (self, command);
  return TRUE;
}

/* The descriptors that came with a message (close-on-exec already);
 * more than max_fds are closed. */
static guint
take_fds (struct msghdr *msg,
          int           *fds,
          guint          max_fds)
{
  guint n_fds = 0;

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (msg); cmsg != NULL; cmsg = CMSG_NXTHDR (msg, cmsg))
    {
      const guint8 *data = CMSG_DATA (cmsg);
      gsize n;

      if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
        continue;
      n = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      for (gsize j = 0; j < n; j++)
        {
          int fd;

          memcpy (&fd, data + j * sizeof (int), sizeof (int));
          if (n_fds < max_fds)
            fds[n_fds++] = fd;
          else
            close (fd);
        }
    }
  return n_fds;
}

static gboolean
socket_readable (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  SaConnection *self = user_data;

  for (guint i = 0; i < MAX_MESSAGES_PER_DISPATCH && self->socket != NULL; i++)
    {
      guint8 buffer[SA_PROTO_REPLY_MAX_SIZE + 1];
      union {
        char buf[CMSG_SPACE (sizeof (int) * (SA_PROTO_MAX_FDS + 1))];
        struct cmsghdr align;
      } control;
      struct iovec iov = { buffer, sizeof buffer };
      struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof control.buf,
      };
      int fds[SA_PROTO_MAX_FDS + 1];
      guint n_fds;
      gssize n;

      /* recvmsg() on the GSocket's descriptor: no GObject per message,
       * and the descriptors arrive close-on-exec. */
      n = recvmsg (g_socket_get_fd (self->socket), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        {
          helper_lost (self, n < 0 ? g_strerror (errno) : _("it exited"));
          return G_SOURCE_REMOVE;
        }

      n_fds = take_fds (&msg, fds, G_N_ELEMENTS (fds));

      if ((msg.msg_flags & MSG_TRUNC) != 0 ||
          !handle_message (self, buffer, (gsize)n, fds, n_fds, (msg.msg_flags & MSG_CTRUNC) != 0))
        {
          for (guint j = 0; j < n_fds; j++)
            close (fds[j]);
          helper_lost (self, _("it sent a malformed message"));
          return G_SOURCE_REMOVE;
        }
    }

  /* take_incoming() may have queued frames of commands taken in. */
  if (self->socket != NULL && self->out_offset < self->out->len)
    flush_output (self);
  return self->socket != NULL ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* -- the thread ---------------------------------------------------------- */

static void
shut_down (SaConnection *self)
{
  g_autoptr(GError) error =
    g_error_new_literal (SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED,
                         _("worker process was destroyed"));
  GQueue incoming;

  g_mutex_lock (&self->lock);
  incoming = self->incoming;
  g_queue_init (&self->incoming);
  self->incoming_unsent = 0;
  g_mutex_unlock (&self->lock);

  fail_queue (self, &incoming, error);
  fail_queue (self, &self->waiting, error);
  fail_commands_in_flight (self, error);

  /* Closing the socket tells the helper to kill what is left and exit. */
  stop_helper (self, SHUTDOWN_WAIT_MS);

  g_main_loop_quit (self->loop);
}

static gboolean
wake_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  SaConnection *self = user_data;
  gboolean destroyed;
  SaCommand *command;

  g_source_set_ready_time (source, -1);

  g_mutex_lock (&self->lock);
  destroyed = self->state == STATE_DESTROYED;
  g_mutex_unlock (&self->lock);

  take_incoming (self);

  /* One at a time: cancelling may free a command, which takes it out
   * of the queue. */
  while ((command = pop_cancelled (self)) != NULL)
    sa_command_cancel (command);

  flush_output (self);

  if (destroyed)
    shut_down (self);

  return G_SOURCE_CONTINUE;
}

static GSourceFuncs wake_funcs = {
  .dispatch = wake_dispatch,
};

static gpointer
io_thread (gpointer data)
{
  SaConnection *self = data;
  g_autoptr(GError) error = NULL;
  sigset_t sigpipe;

  /* Writes to a closed stdin pipe fail with EPIPE instead of killing
   * the caller (see consume_sigpipe()). */
  sigemptyset (&sigpipe);
  sigaddset (&sigpipe, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &sigpipe, NULL);

  g_main_context_push_thread_default (self->context);

  if (!start_helper (self, &error))
    report_startup (self, error);

  /* The helper may also have failed inside start_helper(), before the
   * loop could run (it died before the HELLO was written): helper_lost()
   * has then reported it, and quit a loop that was not running yet. */
  if (!self->startup_failed)
    g_main_loop_run (self->loop);

  g_main_context_pop_thread_default (self->context);
  return NULL;
}

SaConnection *
sa_connection_new (const char                   *helper_path,
                   const SaConnectionCallbacks  *callbacks,
                   gpointer                      user_data,
                   GError                      **error)
{
  SaConnection *self = g_new0 (SaConnection, 1);
  g_autoptr(GError) startup_error = NULL;

  self->epoll_fd = -1;
  self->direct_fd = -1;
  self->helper_path = g_strdup (helper_path);
  self->callbacks = *callbacks;
  self->user_data = user_data;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->out = g_byte_array_new ();
  self->commands = g_hash_table_new (NULL, NULL);
  self->graveyard = g_ptr_array_new_with_free_func ((GDestroyNotify)sa_command_free);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);

  self->wake_source = g_source_new (&wake_funcs, sizeof (GSource));
  g_source_set_callback (self->wake_source, NULL, self, NULL);
  g_source_set_name (self->wake_source, "[spawn-async] wake");
  g_source_attach (self->wake_source, self->context);

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

  self->thread = g_thread_try_new ("spawn-async", io_thread, self, error);
  if (self->thread == NULL)
    {
      sa_connection_free (self);
      return NULL;
    }

  g_mutex_lock (&self->lock);
  while (!self->startup_done)
    g_cond_wait (&self->cond, &self->lock);
  startup_error = g_steal_pointer (&self->startup_error);
  g_mutex_unlock (&self->lock);

  if (startup_error != NULL)
    {
      g_thread_join (g_steal_pointer (&self->thread));
      sa_connection_free (self);
      g_propagate_error (error, g_steal_pointer (&startup_error));
      return NULL;
    }

  return self;
}

/* Under the lock: sends the command's SPAWN frame from the caller's
 * thread, when it fits one datagram and the socket takes it now. */
static gboolean
send_direct (SaConnection *self,
             SaCommand    *command)
{
  guint32 id;
  gssize n;

  if (self->direct_fd < 0 || self->incoming_unsent > 0 ||
      command->frame_len > SA_PROTO_MAX_MESSAGE ||
      g_cancellable_is_cancelled (command->cancellable))
    return FALSE;

  id = stamp_frame (self, command);
  do
    n = send (self->direct_fd, command->frame, command->frame_len,
              MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  /* A full socket or a gone helper: the I/O thread sends it, or finds
   * out. A datagram is sent whole or not at all. */
  if (n != (gssize)command->frame_len)
    return FALSE;

  frame_sent (command, id);
  return TRUE;
}

gboolean
sa_connection_submit (SaConnection  *self,
                      SaCommand     *command,
                      GError       **error)
{
  gboolean wake = FALSE;

  /* Here, in the caller's thread: the command may reach the helper
   * before the I/O thread knows of it, and must be cancellable then. */
  sa_command_attach (command, self);

  g_mutex_lock (&self->lock);
  switch (self->state)
    {
    case STATE_DESTROYED:
      g_mutex_unlock (&self->lock);
      g_set_error_literal (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED,
                           _("worker process was destroyed"));
      return FALSE;
    case STATE_FAILED:
      if (error != NULL)
        *error = g_error_copy (self->failure);
      g_mutex_unlock (&self->lock);
      return FALSE;
    case STATE_RUNNING:
    default:
      /* Sent directly, the command needs no wake-up: the helper's
       * answer makes the I/O thread take it in. */
      if (!send_direct (self, command))
        {
          self->incoming_unsent++;
          wake = TRUE;
        }
      g_queue_push_tail (&self->incoming, command);
      break;
    }
  g_mutex_unlock (&self->lock);

  if (wake)
    g_source_set_ready_time (self->wake_source, 0);
  return TRUE;
}

/* Fails what is pending with SA_WORKER_ERROR_DESTROYED, stops the helper
 * and its children, and ends the I/O thread. */
void
sa_connection_shutdown (SaConnection *self)
{
  g_mutex_lock (&self->lock);
  self->state = STATE_DESTROYED;
  g_mutex_unlock (&self->lock);

  if (self->thread != NULL)
    {
      g_source_set_ready_time (self->wake_source, 0);
      g_thread_join (g_steal_pointer (&self->thread));
    }
}

void
sa_connection_free (SaConnection *self)
{
  g_assert (self->thread == NULL);

  if (self->wake_source != NULL)
    {
      g_source_destroy (self->wake_source);
      g_source_unref (self->wake_source);
    }
  if (self->epoll_source != NULL)
    {
      g_source_destroy (self->epoll_source);
      g_source_unref (self->epoll_source);
    }
  if (self->epoll_fd >= 0)
    close (self->epoll_fd);
  g_clear_pointer (&self->graveyard, g_ptr_array_unref);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->commands, g_hash_table_unref);
  g_clear_pointer (&self->out, g_byte_array_unref);
  g_clear_error (&self->failure);
  g_clear_error (&self->startup_error);
  g_clear_error (&self->last_start_error);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self->helper_path);
  g_free (self);
}
