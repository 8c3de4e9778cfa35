/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-process.c: a live child, started with sa_worker_spawn_async().
 *
 * The caller reads and writes the child's pipes itself: the helper passes
 * their parent ends to the library (SCM_RIGHTS), and they go straight into
 * this object's streams, so no byte passes through the helper or the
 * worker's I/O thread.
 *
 * The I/O thread still follows the child (a command in RUNNING state,
 * without pipes) until the helper reports its end. It must never hold a
 * reference to this object: what the two share is an SaProcessShared,
 * reference counted and locked, which holds the exit status and the
 * pending waits. Whoever takes a wait out of its queue (the I/O thread
 * when the child ends, a cancellable's handler when the wait is
 * cancelled) returns it, in the wait's own context (sa-task.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sa-process-private.h"
#include "sa-pipe-stream-private.h"
#include "sa-protocol.h"
#include "sa-result-private.h"
#include "sa-task-private.h"
#include "sa-tsan-private.h"

/**
 * SaProcess:
 *
 * A child that runs while the caller talks to it, started with
 * [method@Sa.Worker.spawn_async] or [method@Sa.Worker.spawn].
 *
 * Its pid is known from the start ([method@Sa.Process.get_pid]). With
 * %SA_STDIO_PIPE, [method@Sa.Process.get_stdin_pipe],
 * [method@Sa.Process.get_stdout_pipe] and
 * [method@Sa.Process.get_stderr_pipe] are pollable GIO streams on the
 * pipes themselves: read them line by line with a `GDataInputStream`,
 * splice them into a file, write requests and read answers. Wait for the
 * end with [method@Sa.Process.wait_async] or
 * [method@Sa.Process.wait_check_async], then read its status.
 *
 * The helper, not the caller, is the child's parent: it reaps it, and
 * [method@Sa.Process.send_signal] and [method@Sa.Process.force_exit] go
 * through it, so they never reach a reused pid. [property@Sa.SpawnOptions:timeout-ms]
 * and [property@Sa.SpawnOptions:kill-signal] apply;
 * [property@Sa.SpawnOptions:max-output] does not (the caller reads the
 * output).
 *
 * Dropping the last reference closes the caller's ends of the pipes (the
 * child sees the end of its stdin) and does not kill the child: it runs
 * on and is reaped by the helper. A terminal of %SA_STDIO_PTY is closed
 * too, which hangs it up: the child gets `SIGHUP`, as when a terminal
 * window closes. Destroying the worker, or the death of
 * its helper, kills the child's process group, and pending waits fail
 * with %SA_WORKER_ERROR_DESTROYED or %SA_WORKER_ERROR_EXITED.
 *
 * Since: 1.2
 */
struct _SaProcess
{
  GObject          parent_instance;

  GPid             pid;
  char            *identifier;
  GOutputStream   *stdin_pipe;
  GInputStream    *stdout_pipe;
  GInputStream    *stderr_pipe;
  GIOStream       *pty;
  SaProcessShared *shared;
  SaInbox         *inbox;
};

G_DEFINE_FINAL_TYPE (SaProcess, sa_process, G_TYPE_OBJECT)

/* -- what the process and the I/O thread share ------------------------------- */

struct _SaProcessShared
{
  gatomicrefcount  ref_count;
  GMutex           lock;
  guint32          id;          /* its command's; set before the process exists */
  /* Under the lock: */
  gboolean         done;        /* exited, or failed */
  int              wait_status;
  gboolean         timed_out;
  GError          *error;       /* failed: why */
  GQueue           waits;       /* Wait */
};

/* One pending wait. The queue holds a reference, and so does the handler
 * of its cancellable, which may run in any thread. The wait holds no
 * reference to the cancellable (its task does, while it has one): the
 * handler stays connected after a cancel, and the cancellable would keep
 * the wait that keeps it. */
typedef struct
{
  gatomicrefcount  ref_count;
  SaProcessShared *shared;
  GTask           *task;        /* the queue's: taken by whoever dequeues */
  gulong           handler;
} Wait;

SaProcessShared *
sa_process_shared_new (void)
{
  SaProcessShared *shared = g_new0 (SaProcessShared, 1);

  g_atomic_ref_count_init (&shared->ref_count);
  g_mutex_init (&shared->lock);
  g_queue_init (&shared->waits);
  return shared;
}

SaProcessShared *
sa_process_shared_ref (SaProcessShared *shared)
{
  g_atomic_ref_count_inc (&shared->ref_count);
  return shared;
}

void
sa_process_shared_unref (SaProcessShared *shared)
{
  if (!g_atomic_ref_count_dec (&shared->ref_count))
    return;

  SA_TSAN_ACQUIRE (shared);
  g_assert (g_queue_is_empty (&shared->waits));
  g_clear_error (&shared->error);
  g_mutex_clear (&shared->lock);
  g_free (shared);
}

void
sa_process_shared_set_id (SaProcessShared *shared,
                          guint32          id)
{
  shared->id = id;
}

guint32
sa_process_shared_get_id (SaProcessShared *shared)
{
  return shared->id;
}

static Wait *
wait_ref (Wait *wait)
{
  g_atomic_ref_count_inc (&wait->ref_count);
  return wait;
}

static void
wait_unref (Wait *wait)
{
  if (!g_atomic_ref_count_dec (&wait->ref_count))
    return;

  SA_TSAN_ACQUIRE (wait);
  g_assert (wait->task == NULL);
  sa_process_shared_unref (wait->shared);
  g_free (wait);
}

static void
wait_unref_closure (gpointer  data,
                    GClosure *closure)
{
  wait_unref (data);
}

/* Returns a dequeued wait: its end, or the error. */
static void
wait_complete (Wait         *wait,
               const GError *error)
{
  GTask *task = g_steal_pointer (&wait->task);

  if (wait->handler != 0)
    {
      /* Never waits for an emission in progress. */
      g_signal_handler_disconnect (g_task_get_cancellable (task), wait->handler);
      wait->handler = 0;
    }
  if (error != NULL)
    sa_task_return_error_later (task, g_error_copy (error));
  else
    sa_task_return_boolean_later (task, TRUE);
  wait_unref (wait);
}

static void
shared_done (SaProcessShared *shared,
             int              wait_status,
             gboolean         timed_out,
             const GError    *error)
{
  GQueue waits;
  Wait *wait;

  sa_mutex_lock (&shared->lock);
  if (shared->done)
    {
      sa_mutex_unlock (&shared->lock);
      return;
    }
  shared->done = TRUE;
  shared->wait_status = wait_status;
  shared->timed_out = timed_out;
  shared->error = error ? g_error_copy (error) : NULL;
  waits = shared->waits;
  g_queue_init (&shared->waits);
  sa_mutex_unlock (&shared->lock);

  while ((wait = g_queue_pop_head (&waits)) != NULL)
    wait_complete (wait, error);
}

void
sa_process_shared_exited (SaProcessShared *shared,
                          int              wait_status,
                          gboolean         timed_out)
{
  shared_done (shared, wait_status, timed_out, NULL);
}

void
sa_process_shared_failed (SaProcessShared *shared,
                          const GError    *error)
{
  shared_done (shared, 0, FALSE, error);
}

/* In the cancelling thread: the wait is over if it still waits. */
static void
on_wait_cancelled (GCancellable *cancellable,
                   Wait         *wait)
{
  SaProcessShared *shared = wait->shared;
  gboolean dequeued;

  SA_TSAN_ACQUIRE (wait);
  sa_mutex_lock (&shared->lock);
  dequeued = g_queue_remove (&shared->waits, wait);
  sa_mutex_unlock (&shared->lock);

  if (dequeued)
    {
      GTask *task = g_steal_pointer (&wait->task);

      /* The handler stays connected (disconnecting here could race the
       * id being stored): it finds nothing to do again, and goes with
       * the cancellable. */
      sa_task_return_error_later (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                             _("Operation was cancelled")));
      wait_unref (wait);
    }
}

/* -- the object ------------------------------------------------------------------ */

static void
sa_process_finalize (GObject *object)
{
  SaProcess *self = (SaProcess *)object;

  g_clear_object (&self->stdin_pipe);
  g_clear_object (&self->stdout_pipe);
  g_clear_object (&self->stderr_pipe);
  g_clear_object (&self->pty);
  g_clear_pointer (&self->identifier, g_free);
  g_clear_pointer (&self->shared, sa_process_shared_unref);
  g_clear_pointer (&self->inbox, sa_inbox_unref);

  G_OBJECT_CLASS (sa_process_parent_class)->finalize (object);
}

static void
sa_process_class_init (SaProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = sa_process_finalize;
}

static void
sa_process_init (SaProcess *self)
{
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    {
      close (*fd);
      *fd = -1;
    }
}

void
sa_spawned_free (SaSpawned *spawned)
{
  /* Not taken: the spawn was cancelled after the child started, and
   * nobody will ever see it. */
  if (spawned->shared != NULL)
    {
      sa_inbox_signal (spawned->inbox, spawned->shared, SIGKILL, SA_KILL_FLAG_UNLESS_EXITED);
      sa_process_shared_unref (spawned->shared);
    }
  for (guint i = 0; i < G_N_ELEMENTS (spawned->fds); i++)
    close_fd (&spawned->fds[i]);
  close_fd (&spawned->pty_fd);
  g_clear_pointer (&spawned->inbox, sa_inbox_unref);
  g_free (spawned);
}

/* Non-blocking: GIO's unix streams poll before each read and write, so
 * blocking calls work as before, and async ones never block. */
static int
nonblocking (int fd)
{
  fcntl (fd, F_SETFL, O_NONBLOCK);
  return fd;
}

SaProcess *
sa_process_new_take (SaSpawned *spawned)
{
  SaProcess *self = g_object_new (SA_TYPE_PROCESS, NULL);

  self->pid = spawned->pid;
  self->identifier = g_strdup_printf ("%d", (int)spawned->pid);
  self->shared = g_steal_pointer (&spawned->shared);
  self->inbox = g_steal_pointer (&spawned->inbox);
  if (spawned->fds[0] >= 0)
    self->stdin_pipe = g_unix_output_stream_new (nonblocking (spawned->fds[0]), TRUE);
  if (spawned->fds[1] >= 0)
    self->stdout_pipe = sa_pipe_input_stream_new (nonblocking (spawned->fds[1]));
  if (spawned->fds[2] >= 0)
    self->stderr_pipe = sa_pipe_input_stream_new (nonblocking (spawned->fds[2]));
  spawned->fds[0] = spawned->fds[1] = spawned->fds[2] = -1;
  if (spawned->pty_fd >= 0)
    {
      /* The input stream owns the master; GSimpleIOStream closes both. */
      g_autoptr(GInputStream) input = sa_terminal_input_stream_new (nonblocking (spawned->pty_fd));
      g_autoptr(GOutputStream) output = g_unix_output_stream_new (spawned->pty_fd, FALSE);

      self->pty = g_simple_io_stream_new (input, output);
      spawned->pty_fd = -1;
    }
  sa_spawned_free (spawned);
  return self;
}

/* Whether the child has ended (or can no longer be waited for). */
static gboolean
is_done (SaProcess *self)
{
  gboolean done;

  sa_mutex_lock (&self->shared->lock);
  done = self->shared->done;
  sa_mutex_unlock (&self->shared->lock);
  return done;
}

/**
 * sa_process_get_pid:
 * @self: a #SaProcess
 *
 * Gets the child's process id, which is also its process group id.
 *
 * Returns: the pid
 *
 * Since: 1.2
 */
GPid
sa_process_get_pid (SaProcess *self)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), 0);

  return self->pid;
}

/**
 * sa_process_get_identifier:
 * @self: a #SaProcess
 *
 * Gets the pid as a string, as `g_subprocess_get_identifier()`: %NULL
 * once the child has ended and its end has been seen.
 *
 * Returns: (nullable): the pid, or %NULL
 *
 * Since: 1.2
 */
const char *
sa_process_get_identifier (SaProcess *self)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), NULL);

  return is_done (self) ? NULL : self->identifier;
}

/**
 * sa_process_get_stdin_pipe:
 * @self: a #SaProcess
 *
 * Gets a stream that writes to the child's stdin, with
 * [property@Sa.SpawnOptions:stdin-mode] %SA_STDIO_PIPE. Close it to let
 * the child see the end of its input.
 *
 * Returns: (nullable) (transfer none): the stream, or %NULL
 *
 * Since: 1.2
 */
GOutputStream *
sa_process_get_stdin_pipe (SaProcess *self)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), NULL);

  return self->stdin_pipe;
}

/**
 * sa_process_get_pty:
 * @self: a #SaProcess
 *
 * Gets the terminal the helper made for the child, with a stdio mode of
 * %SA_STDIO_PTY: what is written to its output stream is typed at the
 * child's terminal (`"\x03"` is Ctrl+C), and its input stream reads what
 * the child shows there, `\r\n` line ends and all. Both streams are
 * pollable (a `GUnixInputStream` and a `GUnixOutputStream` over the
 * terminal's master); the input stream ends once nothing of the child's
 * holds the terminal any more.
 *
 * Change its size with [method@Sa.Process.set_window_size]. A terminal
 * of [method@Sa.SpawnOptions.take_pty_fd] is the caller's own: this is
 * %NULL then.
 *
 * Returns: (nullable) (transfer none): the terminal, or %NULL
 *
 * Since: 1.2
 */
GIOStream *
sa_process_get_pty (SaProcess *self)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), NULL);

  return self->pty;
}

/**
 * sa_process_set_window_size:
 * @self: a #SaProcess
 * @rows: the terminal's height, in characters (1 to 65535)
 * @columns: its width, in characters (1 to 65535)
 * @error: return location for a #GError
 *
 * Resizes the terminal of [method@Sa.Process.get_pty]; the child's
 * foreground process group gets `SIGWINCH`, and `stty size` shows the
 * new size. A new terminal is 24 rows by 80 columns.
 *
 * Fails with `G_IO_ERROR_NOT_SUPPORTED` when the process has no such
 * terminal, `G_IO_ERROR_CLOSED` once it has been closed, and
 * `G_IO_ERROR_INVALID_ARGUMENT` for a size out of range.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.2
 */
gboolean
sa_process_set_window_size (SaProcess  *self,
                            guint       rows,
                            guint       columns,
                            GError    **error)
{
  struct winsize size = { 0 };
  int fd;

  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->pty == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("The process has no terminal of its helper (SA_STDIO_PTY)"));
      return FALSE;
    }
  /* A closed master's number may be another terminal's now. */
  if (g_io_stream_is_closed (self->pty) ||
      g_input_stream_is_closed (g_io_stream_get_input_stream (self->pty)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           _("The process's terminal is closed"));
      return FALSE;
    }
  if (rows == 0 || rows > G_MAXUINT16 || columns == 0 || columns > G_MAXUINT16)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%u by %u is not a terminal size (1 to 65535 each)"), rows, columns);
      return FALSE;
    }

  fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (g_io_stream_get_input_stream (self->pty)));
  size.ws_row = (unsigned short)rows;
  size.ws_col = (unsigned short)columns;
  if (ioctl (fd, TIOCSWINSZ, &size) != 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Failed to resize the terminal: %s"), g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/**
 * sa_process_get_stdout_pipe:
 * @self: a #SaProcess
 *
 * Gets a stream that reads the child's stdout, with
 * [property@Sa.SpawnOptions:stdout-mode] %SA_STDIO_PIPE (and its stderr
 * too, with [property@Sa.SpawnOptions:stderr-mode] %SA_STDIO_MERGE). It
 * is a pollable `GUnixInputStream`.
 *
 * Returns: (nullable) (transfer none): the stream, or %NULL
 *
 * Since: 1.2
 */
GInputStream *
sa_process_get_stdout_pipe (SaProcess *self)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), NULL);

  return self->stdout_pipe;
}

/**
 * sa_process_get_stderr_pipe:
 * @self: a #SaProcess
 *
 * Gets a stream that reads the child's stderr, with
 * [property@Sa.SpawnOptions:stderr-mode] %SA_STDIO_PIPE.
 *
 * Returns: (nullable) (transfer none): the stream, or %NULL
 *
 * Since: 1.2
 */
GInputStream *
sa_process_get_stderr_pipe (SaProcess *self)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), NULL);

  return self->stderr_pipe;
}

/**
 * sa_process_send_signal:
 * @self: a #SaProcess
 * @signum: a signal number
 *
 * Sends @signum to the child (not to its process group). The helper
 * sends it, and only while the child has not been reaped: after the
 * child has exited this does nothing, and it never reaches another
 * process that got the pid since.
 *
 * Since: 1.2
 */
void
sa_process_send_signal (SaProcess *self,
                        int        signum)
{
  g_return_if_fail (SA_IS_PROCESS (self));
  g_return_if_fail (signum > 0 && signum < NSIG);

  if (!is_done (self))
    sa_inbox_signal (self->inbox, self->shared, signum, SA_KILL_FLAG_CHILD_ONLY);
}

/**
 * sa_process_force_exit:
 * @self: a #SaProcess
 *
 * Kills the child and its whole process group (its own children
 * included) with `SIGKILL`. After the child has exited this does
 * nothing.
 *
 * Since: 1.2
 */
void
sa_process_force_exit (SaProcess *self)
{
  g_return_if_fail (SA_IS_PROCESS (self));

  if (!is_done (self))
    sa_inbox_signal (self->inbox, self->shared, SIGKILL, SA_KILL_FLAG_UNLESS_EXITED);
}

/* -- waiting ------------------------------------------------------------------ */

static void
start_wait (SaProcess           *self,
            gpointer             source_tag,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  SaProcessShared *shared = self->shared;
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  Wait *wait, *queued;

  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[spawn-async] wait");

  if (g_task_return_error_if_cancelled (task))
    return;

  wait = g_new0 (Wait, 1);
  g_atomic_ref_count_init (&wait->ref_count);
  wait->shared = sa_process_shared_ref (shared);
  wait->task = g_object_ref (task);
  if (cancellable != NULL)
    {
      /* Connected before the wait is queued, so that whoever dequeues it
       * can disconnect it. */
      SA_TSAN_RELEASE (wait);
      wait->handler = g_signal_connect_data (cancellable, "cancelled",
                                             G_CALLBACK (on_wait_cancelled), wait_ref (wait),
                                             wait_unref_closure, 0);
    }

  /* Ours until the end: once queued, the wait may be answered and let
   * go by another thread at any moment. */
  queued = wait_ref (wait);
  sa_mutex_lock (&shared->lock);
  if (!shared->done)
    {
      g_queue_push_tail (&shared->waits, wait);
      wait = NULL;
    }
  else if (shared->error != NULL)
    error = g_error_copy (shared->error);
  sa_mutex_unlock (&shared->lock);

  if (wait != NULL)
    {
      /* Ended already. */
      g_clear_object (&wait->task);
      if (wait->handler != 0)
        g_signal_handler_disconnect (cancellable, wait->handler);
      wait->handler = 0;
      wait_unref (wait);
      wait_unref (queued);
      if (error != NULL)
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_boolean (task, TRUE);
      return;
    }

  /* Cancelled between the first check and the connection, the handler
   * did not run: if the wait still waits, it is over. */
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    on_wait_cancelled (cancellable, queued);
  wait_unref (queued);
}

/**
 * sa_process_wait_async:
 * @self: a #SaProcess
 * @cancellable: (nullable): a #GCancellable; cancelling it cancels the
 *   wait, not the child
 * @callback: (scope async): called when the child has ended, in the
 *   thread-default main context of the calling thread
 * @user_data: (closure): data for @callback
 *
 * Waits for the child to end (and for the helper to reap it). Then the
 * status getters, [method@Sa.Process.get_if_exited] and the others, may
 * be called. Any number of waits may be pending.
 *
 * Since: 1.2
 */
void
sa_process_wait_async (SaProcess           *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (SA_IS_PROCESS (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_wait (self, sa_process_wait_async, cancellable, callback, user_data);
}

/**
 * sa_process_wait_finish:
 * @self: a #SaProcess
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the end of [method@Sa.Process.wait_async]. It fails only when
 * there is no exit status to wait for: `G_IO_ERROR_CANCELLED` (the wait
 * was cancelled; the child runs on), %SA_WORKER_ERROR_DESTROYED (the
 * worker was destroyed: the child was killed) or %SA_WORKER_ERROR_EXITED
 * (the helper died: the child was killed).
 *
 * Returns: %TRUE once the child has ended
 *
 * Since: 1.2
 */
gboolean
sa_process_wait_finish (SaProcess     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sa_process_wait_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * sa_process_wait_check_async:
 * @self: a #SaProcess
 * @cancellable: (nullable): a #GCancellable; cancelling it cancels the
 *   wait, not the child
 * @callback: (scope async): called when the child has ended, in the
 *   thread-default main context of the calling thread
 * @user_data: (closure): data for @callback
 *
 * As [method@Sa.Process.wait_async], and then
 * [method@Sa.Process.wait_check_finish] fails unless the child exited
 * with status 0.
 *
 * Since: 1.2
 */
void
sa_process_wait_check_async (SaProcess           *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (SA_IS_PROCESS (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_wait (self, sa_process_wait_check_async, cancellable, callback, user_data);
}

static gboolean
check_status (SaProcess  *self,
              GError    **error)
{
  gboolean ok;

  sa_mutex_lock (&self->shared->lock);
  ok = sa_check_wait_status (self->shared->wait_status, self->shared->timed_out, FALSE, error);
  sa_mutex_unlock (&self->shared->lock);
  return ok;
}

/**
 * sa_process_wait_check_finish:
 * @self: a #SaProcess
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the end of [method@Sa.Process.wait_check_async]. It fails as
 * [method@Sa.Process.wait_finish] does, and then as
 * [method@Sa.Result.check] does: `G_SPAWN_EXIT_ERROR` for a non-zero
 * exit status, %SA_SPAWN_ERROR_SIGNALED for a signal,
 * `G_IO_ERROR_TIMED_OUT` after [property@Sa.SpawnOptions:timeout-ms].
 *
 * Returns: %TRUE when the child exited with status 0
 *
 * Since: 1.2
 */
gboolean
sa_process_wait_check_finish (SaProcess     *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sa_process_wait_check_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error) && check_status (self, error);
}

static void
on_sync_wait (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

/* Runs the async wait in a private main context until it is done. */
static GAsyncResult *
wait_sync (SaProcess    *self,
           gboolean      check,
           GCancellable *cancellable)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  GAsyncResult *result = NULL;

  g_main_context_push_thread_default (context);
  if (check)
    sa_process_wait_check_async (self, cancellable, on_sync_wait, &result);
  else
    sa_process_wait_async (self, cancellable, on_sync_wait, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  return result;
}

/**
 * sa_process_wait:
 * @self: a #SaProcess
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Blocks until the child has ended; the blocking form of
 * [method@Sa.Process.wait_async], with its errors.
 *
 * Returns: %TRUE once the child has ended
 *
 * Since: 1.2
 */
gboolean
sa_process_wait (SaProcess     *self,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);

  result = wait_sync (self, FALSE, cancellable);
  return sa_process_wait_finish (self, result, error);
}

/**
 * sa_process_wait_check:
 * @self: a #SaProcess
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Blocks until the child has ended; the blocking form of
 * [method@Sa.Process.wait_check_async], with its errors.
 *
 * Returns: %TRUE when the child exited with status 0
 *
 * Since: 1.2
 */
gboolean
sa_process_wait_check (SaProcess     *self,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);

  result = wait_sync (self, TRUE, cancellable);
  return sa_process_wait_check_finish (self, result, error);
}

/* -- the status, once waited for ----------------------------------------------- */

/* The wait status; FALSE (with a critical) before the end was seen. */
static gboolean
get_status (SaProcess *self,
            int       *wait_status,
            gboolean  *timed_out)
{
  gboolean done;

  sa_mutex_lock (&self->shared->lock);
  done = self->shared->done && self->shared->error == NULL;
  *wait_status = self->shared->wait_status;
  *timed_out = self->shared->timed_out;
  sa_mutex_unlock (&self->shared->lock);

  if (!done)
    g_critical ("%s: the process has not been waited for (sa_process_wait_async())",
                G_STRFUNC);
  return done;
}

/**
 * sa_process_get_if_exited:
 * @self: a #SaProcess
 *
 * Whether the child exited normally (`WIFEXITED()`). Call it after a
 * wait has succeeded.
 *
 * Returns: %TRUE if the child exited
 *
 * Since: 1.2
 */
gboolean
sa_process_get_if_exited (SaProcess *self)
{
  int status;
  gboolean timed_out;

  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);

  return get_status (self, &status, &timed_out) && WIFEXITED (status);
}

/**
 * sa_process_get_exit_status:
 * @self: a #SaProcess
 *
 * Gets the child's exit status (`WEXITSTATUS()`), when it exited.
 *
 * Returns: the exit status, or -1 when it was killed by a signal
 *
 * Since: 1.2
 */
int
sa_process_get_exit_status (SaProcess *self)
{
  int status;
  gboolean timed_out;

  g_return_val_if_fail (SA_IS_PROCESS (self), -1);

  if (!get_status (self, &status, &timed_out))
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/**
 * sa_process_get_if_signaled:
 * @self: a #SaProcess
 *
 * Whether a signal killed the child (`WIFSIGNALED()`).
 *
 * Returns: %TRUE if the child was killed by a signal
 *
 * Since: 1.2
 */
gboolean
sa_process_get_if_signaled (SaProcess *self)
{
  int status;
  gboolean timed_out;

  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);

  return get_status (self, &status, &timed_out) && WIFSIGNALED (status);
}

/**
 * sa_process_get_term_sig:
 * @self: a #SaProcess
 *
 * Gets the signal that killed the child (`WTERMSIG()`).
 *
 * Returns: the signal, or 0 when it exited
 *
 * Since: 1.2
 */
int
sa_process_get_term_sig (SaProcess *self)
{
  int status;
  gboolean timed_out;

  g_return_val_if_fail (SA_IS_PROCESS (self), 0);

  if (!get_status (self, &status, &timed_out))
    return 0;
  return WIFSIGNALED (status) ? WTERMSIG (status) : 0;
}

/**
 * sa_process_get_successful:
 * @self: a #SaProcess
 *
 * Whether the child exited with status 0 (and did not time out).
 *
 * Returns: %TRUE for a clean exit
 *
 * Since: 1.2
 */
gboolean
sa_process_get_successful (SaProcess *self)
{
  int status;
  gboolean timed_out;

  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);

  return get_status (self, &status, &timed_out) &&
         sa_check_wait_status (status, timed_out, FALSE, NULL);
}

/**
 * sa_process_get_status:
 * @self: a #SaProcess
 *
 * Gets the raw wait status, as `waitpid()` gives it.
 *
 * Returns: the wait status
 *
 * Since: 1.2
 */
int
sa_process_get_status (SaProcess *self)
{
  int status;
  gboolean timed_out;

  g_return_val_if_fail (SA_IS_PROCESS (self), 0);

  get_status (self, &status, &timed_out);
  return status;
}

/**
 * sa_process_get_timed_out:
 * @self: a #SaProcess
 *
 * Whether [property@Sa.SpawnOptions:timeout-ms] expired and the helper
 * signalled the child's group.
 *
 * Returns: %TRUE if it timed out
 *
 * Since: 1.2
 */
gboolean
sa_process_get_timed_out (SaProcess *self)
{
  int status;
  gboolean timed_out;

  g_return_val_if_fail (SA_IS_PROCESS (self), FALSE);

  return get_status (self, &status, &timed_out) && timed_out;
}
