/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-command.c: one command in the worker's I/O thread.
 *
 * The helper passes the parent ends of the child's pipes to the library
 * (SCM_RIGHTS), so output never travels through the helper: this file
 * reads stdout and stderr straight into their result buffers, writes the
 * input to stdin, enforces the output limit and, once the helper reports
 * the exit, builds the SaResult and hands it to the caller's main context.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sa-command-private.h"
#include "sa-connection-private.h"
#include "sa-debug-private.h"
#include "sa-protocol.h"
#include "sa-result-private.h"

#define FIRST_READ        (4 * 1024)      /* a stream's first buffer */
#define READ_CHUNK        (64 * 1024)     /* free room before each later read() */
#define WRITE_CHUNK       (1024 * 1024)
#define GROW_PIPE_AFTER   (256 * 1024)    /* a big producer gets... */
#define BIG_PIPE_SIZE     (1024 * 1024)   /* ...a bigger pipe */
#define DRAIN_TIMEOUT_MS  100             /* see docs: daemonizing children */
#define DRAIN_MAX_READS   16

typedef struct
{
  GTask    *task;
  SaResult *result;
  GError   *error;
} Completion;

static void maybe_complete (SaCommand *self);

SaCommand *
sa_command_new (GTask      *task,
                const char *program,
                const char *cwd,
                guint8     *frame,
                gsize       frame_len,
                GBytes     *input,
                guint64     max_output,
                int         kill_signal)
{
  SaCommand *self = g_new0 (SaCommand, 1);

  self->task = g_object_ref (task);
  /* Only for messages, which must be UTF-8 whatever the bytes were. */
  self->program = g_utf8_make_valid (program, -1);
  self->cwd = cwd != NULL ? g_utf8_make_valid (cwd, -1) : NULL;
  self->frame = frame;
  self->frame_len = frame_len;
  self->input = input ? g_bytes_ref (input) : NULL;
  self->max_output = max_output;
  self->kill_signal = kill_signal;
  self->streams[0].fd = -1;
  self->streams[1].fd = -1;
  self->stdin_fd = -1;
  self->streams[0].watch.epoll_fd = -1;
  self->streams[1].watch.epoll_fd = -1;
  self->stdin_watch.epoll_fd = -1;

  return self;
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
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

/* Takes fd out of the epoll set before it is closed: closing alone would
 * not when another descriptor shares the open file (a misbehaving helper
 * can send one pipe twice). Clearing func drops an event for it that is
 * still in the batch being dispatched. */
static void
unwatch_and_close (SaWatch *watch,
                   int     *fd)
{
  if (watch->epoll_fd >= 0 && *fd >= 0)
    epoll_ctl (watch->epoll_fd, EPOLL_CTL_DEL, *fd, NULL);
  watch->epoll_fd = -1;
  watch->func = NULL;
  close_fd (fd);
}

static void
stream_close (SaStream *stream)
{
  unwatch_and_close (&stream->watch, &stream->fd);
}

static void
close_stdin (SaCommand *self)
{
  unwatch_and_close (&self->stdin_watch, &self->stdin_fd);
}

static void
close_everything (SaCommand *self)
{
  stream_close (&self->streams[0]);
  stream_close (&self->streams[1]);
  close_stdin (self);
  clear_source (&self->drain_source);
}

void
sa_command_free (SaCommand *self)
{
  /* A task left here would never call back: fail it rather than lose it. */
  if (self->task != NULL)
    sa_command_fail (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                                _("The command was lost")));

  close_everything (self);
  /* Waits for a handler running in another thread; none runs after. An
   * already cancelled cancellable ran it at once and gave no handler id,
   * so the queue is cleared whatever the id. */
  if (self->cancel_handler != 0)
    g_cancellable_disconnect (self->cancellable, self->cancel_handler);
  if (self->cancellable != NULL)
    sa_connection_forget_cancel (self->connection, self);
  g_clear_object (&self->cancellable);
  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    sa_buffer_clear (&self->streams[i].buffer);
  g_clear_pointer (&self->input, g_bytes_unref);
  g_free (self->frame);
  g_free (self->program);
  g_free (self->cwd);
  g_free (self);
}

gboolean
sa_command_is_finished (SaCommand *self)
{
  return self->task == NULL &&
         !self->awaiting_helper &&
         self->streams[0].fd < 0 &&
         self->streams[1].fd < 0 &&
         self->stdin_fd < 0;
}

gboolean
sa_command_wants_stdin (SaCommand *self)
{
  return self->input != NULL;
}

static void
release_if_finished (SaCommand *self)
{
  if (self->connection != NULL && sa_command_is_finished (self))
    sa_connection_release (self->connection, self);
}

/* -- completion --------------------------------------------------------- */

static gboolean
complete_in_task_context (gpointer data)
{
  Completion *completion = data;

  if (completion->error != NULL)
    g_task_return_error (completion->task, g_steal_pointer (&completion->error));
  else
    g_task_return_pointer (completion->task,
                           g_steal_pointer (&completion->result),
                           g_object_unref);

  return G_SOURCE_REMOVE;
}

static void
completion_free (gpointer data)
{
  Completion *completion = data;

  g_clear_object (&completion->task);
  g_clear_object (&completion->result);
  g_clear_error (&completion->error);
  g_free (completion);
}

/* The task, and with it the last reference to the worker, is always let
 * go in the caller's context, never in the I/O thread. */
static void
complete (SaCommand *self,
          SaResult  *result,
          GError    *error)
{
  Completion *completion = g_new0 (Completion, 1);

  g_assert (self->task != NULL);

  completion->task = g_steal_pointer (&self->task);
  completion->result = result;
  completion->error = error;
  g_main_context_invoke_full (g_task_get_context (completion->task),
                              G_PRIORITY_DEFAULT,
                              complete_in_task_context,
                              completion,
                              completion_free);
}

void
sa_command_fail (SaCommand *self,
                 GError    *error)
{
  if (self->task != NULL)
    complete (self, NULL, error);
  else
    g_error_free (error);

  close_everything (self);
}

static void
maybe_complete (SaCommand *self)
{
  GBytes *out, *err;

  if (self->task == NULL || !self->exited ||
      self->streams[0].fd >= 0 || self->streams[1].fd >= 0)
    return;

  out = sa_buffer_steal (&self->streams[0].buffer);
  err = sa_buffer_steal (&self->streams[1].buffer);

  SA_DEBUG ("command %u (%s, pid %d) done: status 0x%x, %" G_GSIZE_FORMAT
            " + %" G_GSIZE_FORMAT " bytes of output",
            self->id, self->program, self->pid, self->wait_status,
            g_bytes_get_size (out), g_bytes_get_size (err));

  complete (self,
            sa_result_new (self->pid, self->wait_status, out, err,
                           self->timed_out, self->truncated),
            NULL);
}

/* -- output ------------------------------------------------------------- */

static void
request_kill (SaCommand *self,
              int        signum)
{
  if (!self->kill_sent && self->connection != NULL)
    {
      self->kill_sent = TRUE;
      sa_connection_kill_command (self->connection, self, signum);
    }
}

/* Reads once into the stream's buffer; FALSE when the stream is done
 * (end of file, an error, or the output limit reached). */
static gboolean
stream_read (SaCommand *self,
             SaStream  *stream)
{
  /* Most commands write little or nothing: a small first buffer keeps
   * 2 x 64 KiB per command from fragmenting the heap. */
  SaBuffer *buffer = &stream->buffer;
  gsize room;
  char *at = sa_buffer_reserve (buffer, buffer->data == NULL ? FIRST_READ : READ_CHUNK, &room);
  gssize n;

  /* Read one byte past the limit, to know whether there was more. */
  if (self->max_output > 0 && self->max_output - buffer->len < room)
    room = (gsize) (self->max_output - buffer->len) + 1;

  do
    n = read (stream->fd, at, room);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK;
  if (n == 0)
    return FALSE;

  buffer->len += (gsize) n;

  if (self->max_output > 0 && buffer->len > self->max_output)
    {
      buffer->len = (gsize) self->max_output;
      self->truncated = TRUE;
      request_kill (self, self->kill_signal);
      return FALSE;
    }

  if (!stream->pipe_grown && buffer->len > GROW_PIPE_AFTER)
    {
      stream->pipe_grown = TRUE;
      fcntl (stream->fd, F_SETPIPE_SZ, BIG_PIPE_SIZE);  /* a hint: may fail */
    }

  return TRUE;
}

static void
stream_readable (SaWatch *watch,
                 guint32  events)
{
  SaStream *stream = (SaStream *)watch;
  SaCommand *self = watch->data;

  if (stream_read (self, stream))
    return;

  stream_close (stream);
  maybe_complete (self);
  release_if_finished (self);
}

/* The direct child has exited but something (a background grandchild)
 * still holds a pipe open: keep what is there and stop waiting. */
static gboolean
drain_timeout (gpointer user_data)
{
  SaCommand *self = user_data;

  clear_source (&self->drain_source);

  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    {
      SaStream *stream = &self->streams[i];

      /* Read only what is there: the pipe is blocking and its writer
       * still has it open. */
      for (guint reads = 0; stream->fd >= 0 && reads < DRAIN_MAX_READS; reads++)
        {
          int available = 0;

          if (ioctl (stream->fd, FIONREAD, &available) != 0 || available <= 0 ||
              !stream_read (self, stream))
            break;
        }
      if (stream->fd >= 0)
        SA_DEBUG ("command %u (%s): a descendant still holds its output open; "
                  "not waiting for it", self->id, self->program);
      stream_close (stream);
    }

  maybe_complete (self);
  release_if_finished (self);
  return G_SOURCE_REMOVE;
}

/* -- input -------------------------------------------------------------- */

/* The I/O thread blocks SIGPIPE: a write to a pipe whose reader is gone
 * fails with EPIPE and leaves the signal pending on the thread. */
static void
consume_sigpipe (void)
{
  sigset_t pending, sigpipe_only;
  struct timespec zero = { 0, 0 };

  sigemptyset (&pending);
  if (sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE))
    {
      sigemptyset (&sigpipe_only);
      sigaddset (&sigpipe_only, SIGPIPE);
      sigtimedwait (&sigpipe_only, NULL, &zero);
    }
}

/* FALSE once the input is written or can no longer be. */
static gboolean
write_input (SaCommand *self)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (self->input, &size);

  while (self->input_offset < size)
    {
      gssize n = write (self->stdin_fd, data + self->input_offset,
                        MIN (size - self->input_offset, WRITE_CHUNK));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return TRUE;
      if (n < 0)
        {
          /* EPIPE: the child does not read its input; that is its right. */
          if (errno == EPIPE)
            consume_sigpipe ();
          break;
        }
      self->input_offset += (gsize) n;
    }

  return FALSE;
}

static void
stdin_writable (SaWatch *watch,
                guint32  events)
{
  SaCommand *self = watch->data;

  if (write_input (self))
    return;

  close_stdin (self);
  release_if_finished (self);
}

/* -- events from the helper ---------------------------------------------- */

/* In the I/O thread, for a command whose cancellable was cancelled. */
void
sa_command_cancel (SaCommand *self)
{
  if (self->task != NULL)
    {
      SA_DEBUG ("command %u (%s) cancelled", self->id, self->program);
      if (self->awaiting_helper)
        request_kill (self, SIGKILL);
      sa_command_fail (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                  _("Operation was cancelled")));
    }

  release_if_finished (self);
}

/* Runs in the thread that cancels (or at once, in the I/O thread, when
 * the cancellable already is): it only hands the command over. A
 * signal handler rather than a GCancellableSource, which GLib 2.74 can
 * leak when its last reference goes while another thread cancels. */
static void
cancelled (GCancellable *cancellable,
           SaCommand    *self)
{
  sa_connection_queue_cancel (self->connection, self);
}

void
sa_command_attach (SaCommand    *self,
                   SaConnection *connection)
{
  GCancellable *cancellable = g_task_get_cancellable (self->task);

  self->connection = connection;

  if (cancellable != NULL)
    {
      self->cancellable = g_object_ref (cancellable);
      self->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (cancelled),
                                                    self, NULL);
    }
}

void
sa_command_spawned (SaCommand    *self,
                    GPid          pid,
                    const int    *fds,
                    guint         n_fds)
{
  /* stdout and stderr stay blocking: they are read once each time epoll
   * says they are readable (or hung up), which never blocks for a pipe
   * with one reader; see drain_timeout() for the exception. */
  self->pid = pid;
  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    self->streams[i].fd = fds[i];
  if (n_fds > 2)
    {
      self->stdin_fd = fds[2];
      g_unix_set_fd_nonblocking (self->stdin_fd, TRUE, NULL);
    }

  SA_DEBUG ("command %u (%s) started as pid %d", self->id, self->program, pid);

  if (self->task == NULL)
    {
      /* Cancelled in the meantime; the kill is on its way. */
      close_everything (self);
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    {
      SaStream *stream = &self->streams[i];

      stream->watch = (SaWatch) { stream_readable, self, -1 };
      if (!sa_connection_watch (self->connection, stream->fd, EPOLLIN, &stream->watch))
        stream_close (stream);
    }

  if (self->stdin_fd >= 0)
    {
      self->stdin_watch = (SaWatch) { stdin_writable, self, -1 };
      if (!write_input (self) ||
          !sa_connection_watch (self->connection, self->stdin_fd, EPOLLOUT,
                                &self->stdin_watch))
        close_stdin (self);
    }
}

static GSpawnError
spawn_error_code (int errsv)
{
  switch (errsv)
    {
    case EACCES:       return G_SPAWN_ERROR_ACCES;
    case EPERM:        return G_SPAWN_ERROR_PERM;
    case E2BIG:        return G_SPAWN_ERROR_TOO_BIG;
    case ENOEXEC:      return G_SPAWN_ERROR_NOEXEC;
    case ENAMETOOLONG: return G_SPAWN_ERROR_NAMETOOLONG;
    case ENOENT:       return G_SPAWN_ERROR_NOENT;
    case ENOMEM:       return G_SPAWN_ERROR_NOMEM;
    case ENOTDIR:      return G_SPAWN_ERROR_NOTDIR;
    case ELOOP:        return G_SPAWN_ERROR_LOOP;
    case ETXTBSY:      return G_SPAWN_ERROR_TXTBUSY;
    case EIO:          return G_SPAWN_ERROR_IO;
    case ENFILE:       return G_SPAWN_ERROR_NFILE;
    case EMFILE:       return G_SPAWN_ERROR_MFILE;
    case EINVAL:       return G_SPAWN_ERROR_INVAL;
    case EISDIR:       return G_SPAWN_ERROR_ISDIR;
    case ELIBBAD:      return G_SPAWN_ERROR_LIBBAD;
    case EAGAIN:       return G_SPAWN_ERROR_FORK;
    default:           return G_SPAWN_ERROR_FAILED;
    }
}

void
sa_command_spawn_failed (SaCommand *self,
                         int        stage,
                         int        errsv)
{
  GError *error;

  self->awaiting_helper = FALSE;

  switch (stage)
    {
    case SA_SPAWN_STAGE_CHDIR:
      error = g_error_new (G_SPAWN_ERROR, G_SPAWN_ERROR_CHDIR,
                           _("Failed to change to directory “%s” to run “%s”: %s"),
                           self->cwd, self->program, g_strerror (errsv));
      break;
    case SA_SPAWN_STAGE_EXEC:
      error = g_error_new (G_SPAWN_ERROR, spawn_error_code (errsv),
                           _("Failed to execute “%s”: %s"),
                           self->program, g_strerror (errsv));
      break;
    default:
      error = g_error_new (G_SPAWN_ERROR, spawn_error_code (errsv),
                           _("Failed to start “%s”: %s"),
                           self->program, g_strerror (errsv));
      break;
    }

  SA_DEBUG ("command %u (%s) failed to start: %s", self->id, self->program, error->message);
  sa_command_fail (self, error);
}

void
sa_command_exited (SaCommand    *self,
                   GMainContext *context,
                   int           wait_status,
                   gboolean      timed_out)
{
  self->awaiting_helper = FALSE;
  self->exited = TRUE;
  self->wait_status = wait_status;
  self->timed_out = !!timed_out;

  /* Nobody reads what is left of the input now. */
  close_stdin (self);

  if (self->task != NULL &&
      (self->streams[0].fd >= 0 || self->streams[1].fd >= 0))
    {
      self->drain_source = g_timeout_source_new (DRAIN_TIMEOUT_MS);
      g_source_set_callback (self->drain_source, drain_timeout, self, NULL);
      g_source_attach (self->drain_source, context);
    }

  maybe_complete (self);
}
