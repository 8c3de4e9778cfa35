/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-relay-pipe.c: a relayed stream of a live process, into a pipe.
 *
 * When the helper keeps a process's pipes (its channel cannot carry
 * descriptors: a launcher over ssh), the SaProcess still gets a pipe:
 * the I/O thread writes what OUTPUT frames bring into its write end,
 * and the caller reads the other, as it would the child's own. What the
 * pipe cannot take yet waits here, and goes when it is writable; when
 * the reader has closed its end, what comes is dropped.
 *
 * The command holds the pipe until it is freed, then finishes it
 * (sa_relay_pipe_finish()): the pipe closes once what waits is written,
 * or at once when nothing does. A finished pipe that still has bytes to
 * write belongs to its GSource, which frees it when it is done or its
 * context goes (the worker is destroyed). I/O thread only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <unistd.h>

#include "sa-command-private.h"
#include "sa-relay-pipe-private.h"

struct _SaRelayPipe
{
  int           fd;          /* -1 once the reader is gone */
  GMainContext *context;
  GByteArray   *pending;     /* not in the pipe yet */
  GSource      *source;      /* while pending is not empty */
  gboolean      finished;    /* the command let go: the source owns it */
};

SaRelayPipe *
sa_relay_pipe_new (int           fd,
                   GMainContext *context)
{
  SaRelayPipe *self = g_new0 (SaRelayPipe, 1);

  self->fd = fd;
  self->context = context;
  self->pending = g_byte_array_new ();
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  return self;
}

static void
relay_pipe_free (SaRelayPipe *self)
{
  if (self->fd >= 0)
    close (self->fd);
  g_byte_array_unref (self->pending);
  g_free (self);
}

/* Writes what it can of data; returns how much. The reader gone, the
 * pipe drops everything. */
static gsize
write_some (SaRelayPipe  *self,
            const guint8 *data,
            gsize         n)
{
  gsize done = 0;

  while (self->fd >= 0 && done < n)
    {
      gssize written = write (self->fd, data + done, n - done);

      if (written < 0 && errno == EINTR)
        continue;
      if (written < 0 && errno == EAGAIN)
        break;
      if (written < 0)
        {
          /* EPIPE: the caller closed the stream (SIGPIPE is blocked in
           * this thread, and must not stay pending). */
          sa_consume_sigpipe ();
          close (self->fd);
          self->fd = -1;
          g_byte_array_set_size (self->pending, 0);
          return n;
        }
      done += (gsize)written;
    }
  return self->fd >= 0 ? done : n;
}

static gboolean
pipe_writable (int          fd,
               GIOCondition condition,
               gpointer     user_data)
{
  SaRelayPipe *self = user_data;
  gsize done = write_some (self, self->pending->data, self->pending->len);

  if (self->fd >= 0)
    g_byte_array_remove_range (self->pending, 0, (guint)done);
  if (self->pending->len > 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
source_gone (gpointer user_data)
{
  SaRelayPipe *self = user_data;

  if (self->finished)
    relay_pipe_free (self);
}

void
sa_relay_pipe_write (SaRelayPipe  *self,
                     const guint8 *data,
                     gsize         n)
{
  gsize done = 0;

  if (self->pending->len == 0)
    done = write_some (self, data, n);
  if (done == n || self->fd < 0)
    return;

  g_byte_array_append (self->pending, data + done, (guint)(n - done));
  if (self->source == NULL)
    {
      self->source = g_unix_fd_source_new (self->fd, G_IO_OUT);
      g_source_set_callback (self->source, G_SOURCE_FUNC (pipe_writable), self, source_gone);
      g_source_attach (self->source, self->context);
    }
}

/* The stream has ended, or the command is freed: the reader gets its end
 * of file once what waits is written. */
void
sa_relay_pipe_finish (SaRelayPipe *self)
{
  if (self->source == NULL)
    {
      relay_pipe_free (self);
      return;
    }
  /* From here the source owns it (source_gone()). */
  self->finished = TRUE;
  g_source_unref (g_steal_pointer (&self->source));
}
