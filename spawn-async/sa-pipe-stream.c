/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The read end of a live process's stdout or stderr pipe: a
 * GUnixInputStream that grows its pipe once a big producer shows.
 *
 * Every read of a GUnixInputStream, blocking or not (its pollable
 * read_nonblocking, and so every read_async, ends in read_fn), goes
 * through sa_pipe_input_stream_read(). GIO allows one operation at a
 * time on a stream, so the count needs no lock.
 */
#include "config.h"

#include <fcntl.h>

#include "sa-pipe-stream-private.h"

struct _SaPipeInputStream
{
  GUnixInputStream parent_instance;

  guint64  bytes_read;
  gboolean grown;
};

G_DEFINE_FINAL_TYPE (SaPipeInputStream, sa_pipe_input_stream, G_TYPE_UNIX_INPUT_STREAM)

static gssize
sa_pipe_input_stream_read (GInputStream  *stream,
                           void          *buffer,
                           gsize          count,
                           GCancellable  *cancellable,
                           GError       **error)
{
  SaPipeInputStream *self = SA_PIPE_INPUT_STREAM (stream);
  gssize n = G_INPUT_STREAM_CLASS (sa_pipe_input_stream_parent_class)->read_fn (stream, buffer, count,
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
