/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-command.c: one command's pipes, buffers and answer.
 *
 * The helper passes the parent ends of the child's pipes to the library
 * (SCM_RIGHTS), so output never travels through the helper: this file
 * reads stdout and stderr straight into their result buffers, writes the
 * input to stdin, notices the output limit and, when asked, builds the
 * SaResult and hands it to the caller's main context.
 *
 * Past the process's pipe budget (sa-inbox.c) a command is relayed: the
 * helper keeps its pipes, and its output comes in OUTPUT frames, its
 * input goes in INPUT frames (sa_command_relay_*()). The buffers, the
 * limit and the result are the same.
 *
 * It never calls the connection and never frees a command on its own:
 * a pipe handler returns a verdict (SaVerdict) and sa-connection.c acts
 * on it; which state a command is in, and when it is freed, is decided
 * there alone. The one thing that runs outside the I/O thread is the
 * cancel handler, which only posts the command's id to the inbox.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <sys/epoll.h>
#include <string.h>
#include <unistd.h>

#include "sa-command-private.h"
#include "sa-tsan-private.h"
#include "sa-debug-private.h"
#include "sa-inbox-private.h"
#include "sa-pipe-stream-private.h"
#include "sa-process-private.h"
#include "sa-protocol.h"
#include "sa-result-private.h"
#include "sa-task-private.h"

#define FIRST_READ        (4 * 1024)      /* a stream's first buffer */
#define READ_CHUNK        (64 * 1024)     /* free room before each later read() */
#define WRITE_CHUNK       (1024 * 1024)
#define DRAIN_MAX_READS   16              /* per stream, when the drain time is up */

SaCommand *
sa_command_new (GTask      *task,
                const char *program,
                const char *cwd,
                guint8     *frame,
                gsize       head_len,
                GBytes     *env,
                GBytes     *input,
                guint64     max_output,
                int         kill_signal)
{
  SaCommand *self = g_new0 (SaCommand, 1);

  self->state = SA_COMMAND_SUBMITTED;
  self->link.data = self;
  self->task = g_object_ref (task);
  /* Only for messages, which must be UTF-8 whatever the bytes were. */
  self->program = g_utf8_make_valid (program, -1);
  self->cwd = cwd != NULL ? g_utf8_make_valid (cwd, -1) : NULL;
  self->frame = frame;
  self->head_len = head_len;
  self->env = g_bytes_ref (env);
  self->frame_len = head_len + g_bytes_get_size (env);
  self->input = input ? g_bytes_ref (input) : NULL;
  self->max_output = max_output;
  self->kill_signal = kill_signal;
  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    {
      self->streams[i].fd = -1;
      self->streams[i].watch.epoll_fd = -1;
    }
  self->stdin_fd = -1;
  self->stdin_watch.epoll_fd = -1;
  self->terminal_fd = -1;
  self->relay_stdin_fd = -1;

  return self;
}

/* -- cancellation -------------------------------------------------------- */

static void
cancel_link_free (gpointer  data,
                  GClosure *closure)
{
  sa_cancel_link_free (data);
}

/* Runs in the thread that cancels, maybe while the I/O thread
 * disconnects it: it only posts the command's id to the inbox. */
static void
on_cancelled (GCancellable *cancellable,
              SaCancelLink *link)
{
  sa_cancel_link_fire (link);
}

/* Caller's thread, before submission. A plain signal handler with data of
 * its own, not g_cancellable_connect(): its disconnection never waits for
 * an emission in progress (which may be in a thread that waits for the I/O
 * thread: a destroy from a `cancelled` handler). */
void
sa_command_connect_cancel (SaCommand *self,
                           SaInbox   *inbox)
{
  GCancellable *cancellable = g_task_get_cancellable (self->task);

  if (cancellable == NULL)
    return;

  self->cancellable = g_object_ref (cancellable);
  self->cancel_link = sa_cancel_link_new (inbox);
  self->cancel_handler = g_signal_connect_data (cancellable, "cancelled",
                                                G_CALLBACK (on_cancelled), self->cancel_link,
                                                cancel_link_free, 0);
}

static void
disconnect_cancel (SaCommand *self)
{
  if (self->cancel_handler != 0)
    {
      g_signal_handler_disconnect (self->cancellable, self->cancel_handler);
      self->cancel_handler = 0;
      self->cancel_link = NULL;      /* the closure frees it */
    }
}

/* -- pipes --------------------------------------------------------------- */

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Takes fd out of the epoll set before it is closed: closing alone would
 * not when another descriptor shares the open file (a misbehaving helper
 * can send one pipe twice). Clearing func drops an event for it that is
 * still in the batch being dispatched. */
static void
unwatch (SaWatch *watch,
         int      fd)
{
  if (watch->epoll_fd >= 0 && fd >= 0)
    epoll_ctl (watch->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
  watch->epoll_fd = -1;
  watch->func = NULL;
}

static void
unwatch_and_close (SaWatch *watch,
                   int     *fd)
{
  unwatch (watch, *fd);
  if (*fd >= 0)
    {
      close (*fd);
      *fd = -1;
    }
}

/* The terminal's master, once nothing reads it. */
static void
close_terminal (SaCommand *self)
{
  if (self->terminal_fd >= 0)
    {
      close (self->terminal_fd);
      self->terminal_fd = -1;
    }
}

/* A stream whose fd is the terminal's master only stops being watched
 * while the child runs: closing the master hangs the terminal up, and
 * the child, which may live on after closing its side (`exec >&-`),
 * would get SIGHUP. The master is closed once the child has exited. */
static void
stream_close (SaCommand *self,
              SaStream  *stream)
{
  if (stream->fd >= 0 && stream->fd == self->terminal_fd)
    {
      unwatch (&stream->watch, stream->fd);
      stream->fd = -1;
      if (self->exited)
        close_terminal (self);
      return;
    }
  unwatch_and_close (&stream->watch, &stream->fd);
}

static void
close_stdin (SaCommand *self)
{
  unwatch_and_close (&self->stdin_watch, &self->stdin_fd);
}

void
sa_command_close (SaCommand *self)
{
  self->exited = TRUE;    /* or never will: nothing is left to hang up */
  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    stream_close (self, &self->streams[i]);
  close_stdin (self);
  close_terminal (self);
  clear_source (&self->drain_source);
  sa_command_relay_close_stdin (self);
  for (guint i = 0; i < G_N_ELEMENTS (self->relay_pipes); i++)
    g_clear_pointer (&self->relay_pipes[i], sa_relay_pipe_finish);
}

gboolean
sa_command_pipes_open (SaCommand *self)
{
  return self->streams[0].fd >= 0 || self->streams[1].fd >= 0 || self->relay_open != 0;
}

gboolean
sa_command_wants_stdin (SaCommand *self)
{
  return self->stdio[0] == SA_PROTO_STDIO_PIPE;
}

/* -- the answer ---------------------------------------------------------- */

/* Stealing the task is the exactly-once token. The task, and with it
 * perhaps the last reference to the worker, is let go in the caller's
 * context, never in the I/O thread (sa-task.c). */
static void
answer (SaCommand      *self,
        gpointer        result,
        GDestroyNotify  result_free,
        GError         *error)
{
  g_assert (self->task != NULL);

  disconnect_cancel (self);
  if (error != NULL)
    sa_task_return_error_later (g_steal_pointer (&self->task), error);
  else
    sa_task_return_pointer_later (g_steal_pointer (&self->task), result, result_free);
}

/* Answers with a result other than an SaResult (a started process). */
void
sa_command_complete_with (SaCommand      *self,
                          gpointer        result,
                          GDestroyNotify  result_free)
{
  answer (self, result, result_free, NULL);
}

gboolean
sa_command_is_answered (SaCommand *self)
{
  return self->task == NULL;
}

/* Answers with error, unless answered already, and closes the pipes: no
 * one will read them now. */
void
sa_command_answer (SaCommand *self,
                   GError    *error)
{
  if (self->task != NULL)
    answer (self, NULL, NULL, error);
  else
    g_error_free (error);

  sa_command_close (self);
}

/* The child has exited and the pipes are closed (or given up on): the
 * result goes to the caller. */
void
sa_command_complete (SaCommand *self)
{
  GBytes *out, *err;

  g_assert (self->task != NULL);

  out = sa_buffer_steal (&self->streams[0].buffer);
  err = sa_buffer_steal (&self->streams[1].buffer);

  SA_DEBUG ("command %u (%s, pid %d) done: status 0x%x, %" G_GSIZE_FORMAT
            " + %" G_GSIZE_FORMAT " bytes of output",
            self->id, self->program, self->pid, self->wait_status,
            g_bytes_get_size (out), g_bytes_get_size (err));

  answer (self,
          sa_result_new (self->pid, self->wait_status, out, err,
                         self->timed_out, self->truncated),
          g_object_unref, NULL);
}

void
sa_command_free (SaCommand *self)
{
  /* A task left here would never call back: fail it rather than lose it. */
  if (self->task != NULL)
    answer (self, NULL, NULL, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                                   _("The command was lost")));

  sa_command_close (self);
  disconnect_cancel (self);
  g_clear_object (&self->cancellable);
  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    sa_buffer_clear (&self->streams[i].buffer);
  g_clear_pointer (&self->input, g_bytes_unref);
  for (guint i = 0; i < self->n_send_fds; i++)
    close (self->send_fds[i]);
  g_clear_pointer (&self->send_fds, g_free);
  g_clear_pointer (&self->process_shared, sa_process_shared_unref);
  sa_inbox_release_pipes (self->pipes_reserved);
  self->pipes_reserved = 0;
  g_free (self->frame);
  g_clear_pointer (&self->env, g_bytes_unref);
  g_free (self->program);
  g_free (self->cwd);
  g_free (self);
}

/* -- output -------------------------------------------------------------- */

/* n more bytes are in the stream's buffer: FALSE when they pass the
 * output limit, which truncates them and adds SA_VERDICT_KILL to
 * *verdict the first time. */
static gboolean
stream_took (SaCommand *self,
             SaStream  *stream,
             gsize      n,
             SaVerdict *verdict)
{
  SaBuffer *buffer = &stream->buffer;

  buffer->len += n;
  if (self->max_output > 0 && buffer->len > self->max_output)
    {
      buffer->len = (gsize) self->max_output;
      self->truncated = TRUE;
      if (!self->kill_sent)
        {
          self->kill_sent = TRUE;
          *verdict |= SA_VERDICT_KILL;
        }
      return FALSE;
    }
  return TRUE;
}

/* Room in the stream's buffer for the next read, never more than one
 * byte past the output limit (to know whether there was more). Most
 * commands write little or nothing: a small first buffer keeps 2 x 64 KiB
 * per command from fragmenting the heap. */
static char *
stream_room (SaCommand *self,
             SaStream  *stream,
             gsize     *room)
{
  SaBuffer *buffer = &stream->buffer;
  char *at = sa_buffer_reserve (buffer, buffer->data == NULL ? FIRST_READ : READ_CHUNK, room);

  if (self->max_output > 0 && self->max_output - buffer->len < *room)
    *room = (gsize) (self->max_output - buffer->len) + 1;
  return at;
}

/* Reads once into the stream's buffer; FALSE when the stream is done
 * (end of file, an error, or the output limit reached). */
static gboolean
stream_read (SaCommand *self,
             SaStream  *stream,
             SaVerdict *verdict)
{
  SaBuffer *buffer = &stream->buffer;
  gsize room;
  char *at = stream_room (self, stream, &room);
  gssize n;

  do
    n = read (stream->fd, at, room);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK;
  if (n == 0)
    return FALSE;

  if (!stream_took (self, stream, (gsize) n, verdict))
    return FALSE;

  if (!stream->pipe_grown && buffer->len > SA_GROW_PIPE_AFTER)
    {
      stream->pipe_grown = TRUE;
      fcntl (stream->fd, F_SETPIPE_SZ, SA_BIG_PIPE_SIZE);  /* a hint: may fail */
    }

  return TRUE;
}

static SaVerdict
stream_readable (SaWatch *watch,
                 guint32  events)
{
  SaStream *stream = (SaStream *)watch;
  SaCommand *self = watch->command;
  SaVerdict verdict = SA_VERDICT_NONE;

  if (stream_read (self, stream, &verdict))
    return verdict;

  stream_close (self, stream);
  if (!sa_command_pipes_open (self))
    verdict |= SA_VERDICT_PIPES_DONE;
  return verdict;
}

/* The direct child has exited but something (a background grandchild)
 * still holds a pipe open: keep what is there and stop waiting. */
void
sa_command_read_rest (SaCommand *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    {
      SaStream *stream = &self->streams[i];
      SaVerdict ignored = SA_VERDICT_NONE;

      /* Non-blocking: only what is there. The child has exited, so the
       * kill an output limit asks for is moot. */
      for (guint reads = 0; stream->fd >= 0 && reads < DRAIN_MAX_READS; reads++)
        {
          gsize before = stream->buffer.len;

          if (!stream_read (self, stream, &ignored) || stream->buffer.len == before)
            break;
        }
      if (stream->fd >= 0)
        SA_DEBUG ("command %u (%s): a descendant still holds its output open; "
                  "not waiting for it", self->id, self->program);
      stream_close (self, stream);
    }
}

/* -- the relay ----------------------------------------------------------- */

/* SPAWNED without descriptors: the helper relays the pipes. */
void
sa_command_relay_spawned (SaCommand *self,
                          GPid       pid)
{
  self->pid = pid;
  self->relay_open = (self->stdio[1] == SA_PROTO_STDIO_PIPE ? 1 : 0) |
                     (self->stdio[2] == SA_PROTO_STDIO_PIPE ? 2 : 0);
  self->input_ended = self->stdio[0] != SA_PROTO_STDIO_PIPE;
  SA_DEBUG ("command %u (%s) started as pid %d, its pipes relayed",
            self->id, self->program, pid);
}

/* OUTPUT: n bytes of stdout (stream 1) or stderr (2), or its end (n 0).
 * The caller checked that the stream is relayed and open. After the
 * limit, or once answered, the bytes are dropped: the stream is kept
 * until the helper says it has ended, so that no frame outlives the id. */
SaVerdict
sa_command_relay_output (SaCommand    *self,
                         guint         stream_number,
                         const guint8 *data,
                         gsize         n)
{
  guint bit = stream_number == SA_OUTPUT_STDOUT ? 1 : 2;
  SaStream *stream = &self->streams[bit - 1];
  SaVerdict verdict = SA_VERDICT_NONE;

  g_assert ((self->relay_open & bit) != 0);

  /* A live process's: into the pipe its SaProcess reads. */
  if (self->relay_pipes[bit - 1] != NULL && n > 0)
    sa_relay_pipe_write (self->relay_pipes[bit - 1], data, n);
  else if (self->relay_pipes[bit - 1] != NULL)
    g_clear_pointer (&self->relay_pipes[bit - 1], sa_relay_pipe_finish);

  if (n == 0)
    {
      self->relay_open &= ~bit;
      return self->relay_open == 0 ? SA_VERDICT_PIPES_DONE : SA_VERDICT_NONE;
    }
  if (self->task == NULL || (self->truncated && self->max_output > 0 &&
                             stream->buffer.len >= self->max_output))
    return SA_VERDICT_NONE;

  while (n > 0)
    {
      gsize room;
      char *at = stream_room (self, stream, &room);
      gsize take = MIN (room, n);

      memcpy (at, data, take);
      data += take;
      n -= take;
      if (!stream_took (self, stream, take, &verdict))
        {
          verdict |= bit == 1 ? SA_VERDICT_CLOSE_OUT : SA_VERDICT_CLOSE_ERR;
          break;
        }
    }
  return verdict;
}

/* The next INPUT to send, at most SA_PROTO_MAX_RELAY bytes, or its end
 * (*n 0); FALSE when nothing is to be sent now (one waits for its WROTE,
 * or all of it, and its end, went out). */
gboolean
sa_command_relay_next_input (SaCommand     *self,
                             const guint8 **data,
                             gsize         *n)
{
  gsize size = 0;
  const guint8 *bytes = self->input ? g_bytes_get_data (self->input, &size) : NULL;

  if (self->input_in_flight || self->input_ended || self->exited || self->task == NULL)
    return FALSE;

  *data = bytes + self->input_offset;
  *n = MIN (size - self->input_offset, SA_PROTO_MAX_RELAY);
  self->input_offset += *n;
  if (*n == 0)
    self->input_ended = TRUE;        /* an empty INPUT closes stdin */
  else
    self->input_in_flight = TRUE;
  return TRUE;
}

/* WROTE: the last INPUT is in the pipe, or stdin is closed. */
void
sa_command_relay_wrote (SaCommand *self,
                        gboolean   closed)
{
  self->input_in_flight = FALSE;
  if (closed)
    self->input_ended = TRUE;
}

/* Sets relayed and the RELAY flag of the frame not sent yet: under the
 * inbox lock at submission, or in the I/O thread before a send over a
 * byte stream. */
void
sa_command_set_relayed (SaCommand *self)
{
  guint32 flags;

  g_assert (self->frame != NULL);
  self->relayed = TRUE;
  memcpy (&flags, self->frame + SA_PROTO_SPAWN_FLAGS_OFFSET, sizeof flags);
  flags |= SA_SPAWN_FLAG_RELAY;
  memcpy (self->frame + SA_PROTO_SPAWN_FLAGS_OFFSET, &flags, sizeof flags);
}

/* A relayed live process's stdin: the caller's writes stop here. */
void
sa_command_relay_close_stdin (SaCommand *self)
{
  clear_source (&self->relay_stdin_source);
  if (self->relay_stdin_fd >= 0)
    {
      close (self->relay_stdin_fd);
      self->relay_stdin_fd = -1;
    }
}

/* -- input --------------------------------------------------------------- */

/* The I/O thread blocks every signal: a write to a pipe whose reader is
 * gone fails with EPIPE and leaves SIGPIPE pending on the thread. */
void
sa_consume_sigpipe (void)
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
            sa_consume_sigpipe ();
          break;
        }
      self->input_offset += (gsize) n;
    }

  return FALSE;
}

static SaVerdict
stdin_writable (SaWatch *watch,
                guint32  events)
{
  SaCommand *self = watch->command;

  if (!write_input (self))
    close_stdin (self);
  return SA_VERDICT_NONE;
}

/* -- what the helper says ------------------------------------------------- */

static gboolean
set_nonblocking (int fd)
{
  /* F_SETFL ignores the access mode bits: one call, not two. */
  return fcntl (fd, F_SETFL, O_NONBLOCK) == 0;
}

static gboolean
watch (SaWatch     *watch,
       SaWatchFunc  func,
       SaCommand   *command,
       int          epoll_fd,
       int          fd,
       guint32      events)
{
  struct epoll_event event = { .events = events, .data.ptr = watch };

  *watch = (SaWatch) { func, command, -1 };
  if (epoll_ctl (epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0)
    return FALSE;
  watch->epoll_fd = epoll_fd;
  return TRUE;
}

/* SPAWNED: fds are the parent ends of the pipes, taken: stdout, stderr,
 * stdin, those that are pipes, then a terminal's master
 * (sa_proto_spawn_n_pipes() of them). With a terminal, stdout is one
 * (sa-request.c): its master is read as stdout, and a read that fails
 * with EIO once the child's side is closed ends it as EOF would. Every
 * one is made non-blocking: what the helper sent is not trusted to be
 * what it should be (one pipe twice, say), and a read must never hang
 * the I/O thread. */
void
sa_command_spawned (SaCommand *self,
                    GPid       pid,
                    const int *fds,
                    guint      n_fds,
                    int        epoll_fd)
{
  int *slots[3] = { &self->streams[0].fd, &self->streams[1].fd, &self->stdin_fd };
  const guint32 modes[3] = { self->stdio[1], self->stdio[2], self->stdio[0] };
  guint next = 0;

  self->pid = pid;
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    if (modes[i] == SA_PROTO_STDIO_PIPE && next < n_fds)
      *slots[i] = fds[next++];
  if (self->stdio[1] == SA_PROTO_STDIO_PTY && next < n_fds)
    self->streams[0].fd = self->terminal_fd = fds[next++];
  for (; next < n_fds; next++)
    close (fds[next]);

  SA_DEBUG ("command %u (%s) started as pid %d", self->id, self->program, pid);

  if (self->task == NULL)
    {
      /* Answered already (cancelled): the kill is on its way. */
      sa_command_close (self);
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    {
      SaStream *stream = &self->streams[i];

      if (stream->fd < 0)
        continue;             /* not a pipe: nothing to read */
      if (!set_nonblocking (stream->fd) ||
          !watch (&stream->watch, stream_readable, self, epoll_fd, stream->fd, EPOLLIN))
        stream_close (self, stream);
    }

  if (self->stdin_fd >= 0 &&
      (!set_nonblocking (self->stdin_fd) ||
       !write_input (self) ||
       !watch (&self->stdin_watch, stdin_writable, self, epoll_fd, self->stdin_fd, EPOLLOUT)))
    close_stdin (self);
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

/* SPAWN_FAILED: the error to answer with. */
GError *
sa_command_spawn_error (SaCommand *self,
                        int        stage,
                        int        errsv)
{
  GError *error;

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
    case SA_SPAWN_STAGE_SETUP:
      error = g_error_new (G_SPAWN_ERROR, spawn_error_code (errsv),
                           _("Failed to set up “%s” (its terminal or resource limits): %s"),
                           self->program, g_strerror (errsv));
      break;
    default:
      error = g_error_new (G_SPAWN_ERROR, spawn_error_code (errsv),
                           _("Failed to start “%s”: %s"),
                           self->program, g_strerror (errsv));
      break;
    }

  SA_DEBUG ("command %u (%s) failed to start: %s", self->id, self->program, error->message);
  return error;
}

/* EXITED. Nobody reads what is left of the input now. */
void
sa_command_exited (SaCommand *self,
                   int        wait_status,
                   gboolean   timed_out)
{
  self->wait_status = wait_status;
  self->timed_out = !!timed_out;
  self->exited = TRUE;
  close_stdin (self);
  /* Read to its end already: the master can go. */
  if (self->streams[0].fd != self->terminal_fd)
    close_terminal (self);
}
