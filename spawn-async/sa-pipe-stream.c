/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The read end of a live process's stdout or stderr pipe: a
 * GUnixInputStream that grows its pipe once a big producer shows.
 *
 * Or the master of its terminal (SA_STDIO_PTY), whose reads fail with
 * EIO once every descriptor of the child's side is closed: that is its
 * end of file, and reads of it return 0 as a pipe's would.
 *
 * Every read of a GUnixInputStream, blocking or not (its pollable
 * read_nonblocking, and so every read_async, ends in read_fn), goes
 * through sa_pipe_input_stream_read(). GIO allows one operation at a
 * time on a stream, so the count needs no lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "sa-pipe-stream-private.h"

struct _SaPipeInputStream
{
  GUnixInputStream parent_instance;

  guint64  bytes_read;
  gboolean grown;
  gboolean terminal;
};

G_DEFINE_FINAL_TYPE (SaPipeInputStream, sa_pipe_input_stream, G_TYPE_UNIX_INPUT_STREAM)

/* GUnixInputStream's read, with EIO as the end: poll (with the
 * cancellable), then read. */
static gssize
terminal_read (SaPipeInputStream  *self,
               void               *buffer,
               gsize               count,
               GCancellable       *cancellable,
               GError            **error)
{
  int fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (self));

  for (;;)
    {
      GPollFD poll_fds[2] = { { fd, G_IO_IN, 0 } };
      gssize n = read (fd, buffer, count);
      int errsv = errno;
      guint n_fds;

      if (n >= 0)
        return n;
      if (errsv == EIO)
        return 0;
      if (errsv != EAGAIN && errsv != EINTR)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Error reading from file descriptor: %s", g_strerror (errsv));
          return -1;
        }
      if (errsv == EAGAIN)
        {
          n_fds = g_cancellable_make_pollfd (cancellable, &poll_fds[1]) ? 2 : 1;
          g_poll (poll_fds, n_fds, -1);
          if (n_fds == 2)
            g_cancellable_release_fd (cancellable);
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return -1;
    }
}

static gssize
sa_pipe_input_stream_read (GInputStream  *stream,
                           void          *buffer,
                           gsize          count,
                           GCancellable  *cancellable,
                           GError       **error)
{
  SaPipeInputStream *self = SA_PIPE_INPUT_STREAM (stream);
  gssize n;

  if (self->terminal)
    return terminal_read (self, buffer, count, cancellable, error);

  n = G_INPUT_STREAM_CLASS (sa_pipe_input_stream_parent_class)->read_fn (stream, buffer, count,
                                                                         cancellable, error);

  if (n > 0 && !self->grown)
    {
      self->bytes_read += (guint64)n;
      if (self->bytes_read > SA_GROW_PIPE_AFTER)
        {
          self->grown = TRUE;
          fcntl (g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (self)), F_SETPIPE_SZ,
                 SA_BIG_PIPE_SIZE);
        }
    }
  return n;
}

static void
sa_pipe_input_stream_class_init (SaPipeInputStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = sa_pipe_input_stream_read;
}

static void
sa_pipe_input_stream_init (SaPipeInputStream *self)
{
}

/* Takes @fd, which is non-blocking already. */
GInputStream *
sa_pipe_input_stream_new (int fd)
{
  return g_object_new (SA_TYPE_PIPE_INPUT_STREAM, "fd", fd, "close-fd", TRUE, NULL);
}

/* Takes @fd, a terminal's master, which is non-blocking already. */
GInputStream *
sa_terminal_input_stream_new (int fd)
{
  SaPipeInputStream *self = g_object_new (SA_TYPE_PIPE_INPUT_STREAM,
                                          "fd", fd, "close-fd", TRUE, NULL);

  self->terminal = TRUE;
  return G_INPUT_STREAM (self);
}
