/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-helper-link.c: the helper process and the socket to it.
 *
 * Starts spawn-async-helper with posix_spawn (the caller never forks),
 * sends the handshake, queues and sends frames, receives the helper's
 * messages and stops and reaps the helper. It knows nothing of commands:
 * each message goes to the connection's SaLinkMessageFunc, and anything
 * that goes wrong with the helper (a send or receive error, the end of
 * the socket, a malformed message, no handshake in time) is recorded as
 * the link's fault (the first one wins) for the connection to handle at
 * the top of its loop. Nothing here calls back into the connection from
 * the middle of something else.
 *
 * Everything here runs in the connection's I/O thread. The one thing
 * other threads use is the socket itself, for direct sends, under the
 * inbox lock, and only while this file says they may.
 *
 * THE STREAM
 *
 * A launcher may not pass the helper's fd 3 on (ssh cannot carry
 * descriptors at all). Through a launcher, the helper also gets one end
 * of a SOCK_STREAM socketpair as its stdin and stdout, and the HELLO goes
 * out on both channels: the helper answers on fd 3 when it has a
 * SOCK_SEQPACKET socket there, else on stdout, and the channel its HELLO
 * comes on is the link from then on (the other is closed; one that ends
 * before then is dropped quietly). Over the stream, frames follow each
 * other as bytes (reassembled here, one at a time to the connection), no
 * descriptor travels either way, and callers never send directly: a
 * partial write of theirs could split a frame.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sa-debug-private.h"
#include "sa-error.h"
#include "sa-helper-link-private.h"
#include "sa-protocol.h"

#define HELPER_SOCKET_FD            3
#define HANDSHAKE_TIMEOUT_MS        5000
#define LAUNCHER_HANDSHAKE_TIMEOUT_MS 30000   /* ssh to a slow host, a container */
#define MAX_MESSAGES_PER_DISPATCH   256
#define SHRINK_OUTPUT_ABOVE         (256 * 1024)

struct _SaHelperLink
{
  char              *helper_path;
  GStrv              launcher;       /* NULL: the helper is started itself */
  char              *display_path;   /* for messages: the launcher's name too */
  GMainContext      *context;
  SaInbox           *inbox;
  SaLinkMessageFunc  func;
  gpointer           user_data;

  GPid               pid;            /* 0: no helper */
  guint              generation;     /* counts the helpers started */
  GSocket           *socket;         /* NULL once stopped */
  gboolean           stream;         /* socket is the stream (greeted over it) */
  GSocket           *candidate;      /* through a launcher, until greeted: the
                                      * stream, while socket is fd 3's */
  GSource           *candidate_source;
  gboolean           socket_ended;   /* fd 3's ended before the greeting */
  gboolean           from_stream;    /* the message being handled came on it */
  GByteArray        *in_stream;      /* the stream's bytes, not a whole frame yet */
  GSource           *in_source;
  GSource           *out_source;
  GSource           *handshake_source;
  GByteArray        *out;
  gsize              out_offset;
  GQueue             out_fds;        /* FdMark: descriptors for frames in out */
  gboolean           greeted;
  char              *fault;          /* what went wrong first, or NULL */
  guint8            *in;             /* SA_PROTO_MAX_REPLY + 1: one message */
};

/* Descriptors that go with the frame that starts at offset in out: the
 * datagram that carries them starts there (the helper takes them for
 * the frame its datagram starts). */
typedef struct
{
  gsize  offset;
  int   *fds;
  guint  n_fds;
} FdMark;

static void
fd_mark_free (FdMark *mark)
{
  for (guint i = 0; i < mark->n_fds; i++)
    close (mark->fds[i]);
  g_free (mark->fds);
  g_free (mark);
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
record_fault (SaHelperLink *self,
              const char   *why)
{
  if (self->fault == NULL)
    {
      SA_DEBUG ("helper %d lost: %s", self->pid, why);
      self->fault = g_strdup (why);
    }
}

SaHelperLink *
sa_helper_link_new (const char         *helper_path,
                    const char * const *launcher,
                    GMainContext       *context,
                    SaInbox           *inbox,
                    SaLinkMessageFunc  func,
                    gpointer           user_data)
{
  SaHelperLink *self = g_new0 (SaHelperLink, 1);

  self->helper_path = g_strdup (helper_path);
  self->launcher = g_strdupv ((GStrv)launcher);
  self->display_path = sa_helper_link_has_launcher (self) ?
                       g_strdup_printf ("%s … %s", self->launcher[0], helper_path) :
                       g_strdup (helper_path);
  self->context = g_main_context_ref (context);
  self->inbox = sa_inbox_ref (inbox);
  self->func = func;
  self->user_data = user_data;
  self->out = g_byte_array_new ();
  self->in = g_malloc (SA_PROTO_MAX_REPLY + 1);
  self->in_stream = g_byte_array_new ();
  g_queue_init (&self->out_fds);
  return self;
}

void
sa_helper_link_free (SaHelperLink *self)
{
  sa_helper_link_stop (self, 0);
  g_byte_array_unref (self->out);
  g_byte_array_unref (self->in_stream);
  g_free (self->in);
  g_free (self->fault);
  sa_inbox_unref (self->inbox);
  g_main_context_unref (self->context);
  g_free (self->helper_path);
  g_strfreev (self->launcher);
  g_free (self->display_path);
  g_free (self);
}

/* -- sending ---------------------------------------------------------------- */

/* Empties the output buffer, and gives its memory back when it grew big
 * (a burst of commands, a helper that stopped reading). */
static void
reset_output (SaHelperLink *self)
{
  g_queue_clear_full (&self->out_fds, (GDestroyNotify)fd_mark_free);
  if (self->out->len > SHRINK_OUTPUT_ABOVE)
    {
      g_byte_array_unref (self->out);
      self->out = g_byte_array_new ();
    }
  g_byte_array_set_size (self->out, 0);
  self->out_offset = 0;
}

/* Drops what has been sent from the start of out. */
static void
compact_output (SaHelperLink *self)
{
  gsize sent = self->out_offset;

  g_byte_array_remove_range (self->out, 0, (guint)sent);
  for (GList *l = self->out_fds.head; l != NULL; l = l->next)
    ((FdMark *)l->data)->offset -= sent;
  self->out_offset = 0;
}

/* Appends a frame; it goes out at the next flush. */
void
sa_helper_link_queue (SaHelperLink *self,
                      const guint8 *frame,
                      gsize         len)
{
  if (self->socket != NULL && self->fault == NULL)
    g_byte_array_append (self->out, frame, len);
}

/* The same with descriptors (taken, closed once sent or dropped). */
void
sa_helper_link_queue_with_fds (SaHelperLink *self,
                               const guint8 *frame,
                               gsize         len,
                               int          *fds,
                               guint         n_fds)
{
  FdMark *mark;

  if (n_fds == 0 || self->socket == NULL || self->fault != NULL)
    {
      for (guint i = 0; i < n_fds; i++)
        close (fds[i]);
      g_free (fds);
      sa_helper_link_queue (self, frame, len);
      return;
    }

  if (self->stream)
    {
      /* The connection sends no descriptors over the stream. */
      g_critical ("spawn-async: descriptors for a helper over a byte stream");
      for (guint i = 0; i < n_fds; i++)
        close (fds[i]);
      g_free (fds);
      record_fault (self, _("it cannot take file descriptors"));
      return;
    }

  mark = g_new0 (FdMark, 1);
  mark->offset = self->out->len;
  mark->fds = fds;
  mark->n_fds = n_fds;
  g_queue_push_tail (&self->out_fds, mark);
  sa_helper_link_queue (self, frame, len);
}

gssize
sa_helper_send (int         fd,
                const void *data,
                gsize       len,
                const int  *fds,
                guint       n_fds)
{
  return sa_helper_sendv (fd, data, len, NULL, 0, fds, n_fds);
}

gssize
sa_helper_sendv (int         fd,
                 const void *data,
                 gsize       len,
                 const void *more,
                 gsize       more_len,
                 const int  *fds,
                 guint       n_fds)
{
  union {
    char buf[CMSG_SPACE (sizeof (int) * SA_PROTO_MAX_SPAWN_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov[2] = { { (void *)data, len }, { (void *)more, more_len } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = more_len > 0 ? 2 : 1 };
  gssize n;

  g_assert (n_fds <= SA_PROTO_MAX_SPAWN_FDS);
  if (n_fds > 0)
    {
      struct cmsghdr *cmsg;

      memset (&control, 0, sizeof control);
      msg.msg_control = control.buf;
      msg.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
      cmsg = CMSG_FIRSTHDR (&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
      memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
    }

  do
    n = sendmsg (fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

void
sa_helper_link_queue_words (SaHelperLink  *self,
                            guint16        type,
                            guint32        id,
                            const guint32 *words,
                            gsize          n_words)
{
  guint8 frame[SA_PROTO_REPLY_MAX_SIZE];
  gsize len = sa_proto_encode_words (frame, type, 0, id, words, n_words);

  sa_helper_link_queue (self, frame, len);
}

static gboolean
socket_writable (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  SaHelperLink *self = user_data;

  /* The connection flushes after every iteration of its loop. */
  g_clear_pointer (&self->out_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Sends what is queued, under the inbox lock: a frame may take several
 * datagrams and the helper reads them as one stream, so a caller's direct
 * send must never land in between. Once everything is out, to a greeted
 * helper, callers may send their SPAWN frames themselves if allow_direct
 * (nothing waits to be sent before theirs). */
void
sa_helper_link_flush (SaHelperLink *self,
                      gboolean      allow_direct)
{
  g_autoptr(GError) error = NULL;
  gboolean blocked = FALSE;
  gboolean done;

  sa_inbox_lock (self->inbox);
  while (self->socket != NULL && self->fault == NULL && self->out_offset < self->out->len)
    {
      gsize end = MIN (self->out->len, self->out_offset + SA_PROTO_MAX_MESSAGE);
      FdMark *mark = g_queue_peek_head (&self->out_fds);
      FdMark *next = mark;
      gssize n;

      /* A frame with descriptors starts its own datagram, which ends
       * where the next such frame starts. */
      if (mark != NULL && mark->offset == self->out_offset)
        next = g_queue_peek_nth (&self->out_fds, 1);
      else
        mark = NULL;
      if (next != NULL && next->offset < end)
        end = next->offset;

      n = sa_helper_send (g_socket_get_fd (self->socket),
                          self->out->data + self->out_offset, end - self->out_offset,
                          mark ? mark->fds : NULL, mark ? mark->n_fds : 0);
      if (n < 0)
        {
          int errsv = errno;

          blocked = errsv == EAGAIN || errsv == EWOULDBLOCK;
          if (!blocked)
            g_set_error_literal (&error, G_IO_ERROR, g_io_error_from_errno (errsv),
                                 g_strerror (errsv));
          break;
        }
      if (mark != NULL)
        fd_mark_free (g_queue_pop_head (&self->out_fds));
      self->out_offset += (gsize)n;
    }
  done = self->out_offset >= self->out->len;
  sa_inbox_allow_direct_locked (self->inbox,
                                self->socket != NULL && self->fault == NULL && error == NULL &&
                                !blocked && self->greeted && allow_direct && done &&
                                !self->stream ?
                                g_socket_get_fd (self->socket) : -1,
                                self->generation);
  sa_inbox_unlock (self->inbox);

  if (error != NULL)
    record_fault (self, error->message);
  else if (blocked && self->out_source == NULL)
    {
      self->out_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
      g_source_set_callback (self->out_source, G_SOURCE_FUNC (socket_writable), self, NULL);
      g_source_attach (self->out_source, self->context);
    }
  else if (done)
    {
      clear_source (&self->out_source);
      if (self->out->len > 0)
        reset_output (self);
    }

  /* A helper that never quite catches up (thousands of commands queued)
   * would otherwise keep everything ever sent in out. */
  if (!done && self->out_offset > SHRINK_OUTPUT_ABOVE)
    compact_output (self);
}

/* -- receiving -------------------------------------------------------------- */

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

typedef enum
{
  RECEIVED,
  RECEIVED_MALFORMED,
  NOTHING_YET,
  END,                      /* the end of the socket, or an error */
} Received;

/* Why a read ended the link: its end (or ECONNRESET, the end of a peer
 * that left our HELLO unread) is the helper's, or its launcher's, exit. */
static const char *
ended_why (gssize n)
{
  return n < 0 && errno != ECONNRESET ? g_strerror (errno) : _("it exited");
}

/* Hands the whole frames at the start of in_stream to the connection. */
static Received
stream_frames (SaHelperLink *self)
{
  Received received = RECEIVED;
  gsize at = 0;

  while (self->fault == NULL)
    {
      const guint8 *data = self->in_stream->data + at;
      gsize len = self->in_stream->len - at;
      SaProtoHeader header;
      const guint8 *payload;
      int ret = sa_proto_header_decode (data, len, &header);

      /* Nothing of the helper's is longer than SA_PROTO_MAX_REPLY: do not
       * wait for 16 MiB of a frame that cannot be. */
      if (ret == SA_PROTO_OK && header.length > SA_PROTO_MAX_REPLY - SA_PROTO_HEADER_SIZE)
        ret = SA_PROTO_INVALID;
      if (ret == SA_PROTO_OK)
        ret = sa_proto_next_frame (data, len, &header, &payload);
      if (ret == SA_PROTO_NEED_MORE)
        break;
      if (ret != SA_PROTO_OK ||
          !self->func (data, SA_PROTO_HEADER_SIZE + header.length, NULL, 0, FALSE,
                       self->user_data))
        {
          record_fault (self, self->greeted ?
                        _("it sent a malformed message") :
                        _("it wrote something other than the protocol to its standard output"));
          at = self->in_stream->len;
          received = RECEIVED_MALFORMED;
          break;
        }
      at += SA_PROTO_HEADER_SIZE + header.length;
    }
  g_byte_array_remove_range (self->in_stream, 0, (guint)at);
  return received;
}

/* The stream: what one read() brings, frame by frame. */
static Received
receive_stream (SaHelperLink *self,
                GSocket      *socket)
{
  gsize had = self->in_stream->len;
  Received received;
  gssize n;

  g_byte_array_set_size (self->in_stream, (guint)(had + SA_PROTO_MAX_MESSAGE));
  do
    n = read (g_socket_get_fd (socket), self->in_stream->data + had, SA_PROTO_MAX_MESSAGE);
  while (n < 0 && errno == EINTR);
  g_byte_array_set_size (self->in_stream, (guint)(had + MAX (n, 0)));

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return NOTHING_YET;
  if (n <= 0)
    {
      if (self->greeted || self->socket_ended)
        record_fault (self, ended_why (n));
      return END;
    }

  self->from_stream = TRUE;
  received = stream_frames (self);
  self->from_stream = FALSE;
  return received;
}

/* Receives one message and hands it to the connection. */
static Received
receive_one (SaHelperLink *self)
{
  guint8 *buffer = self->in;
  union {
    char buf[CMSG_SPACE (sizeof (int) * (SA_PROTO_MAX_FDS + 1))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { buffer, SA_PROTO_MAX_REPLY + 1 };
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = control.buf,
    .msg_controllen = sizeof control.buf,
  };
  int fds[SA_PROTO_MAX_FDS + 1];
  guint n_fds;
  gssize n;

  if (self->stream)
    return receive_stream (self, self->socket);

  /* recvmsg() on the GSocket's descriptor: no GObject per message, and
   * the descriptors arrive close-on-exec. */
  n = recvmsg (g_socket_get_fd (self->socket), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return NOTHING_YET;
  if (n <= 0 && !self->greeted && self->candidate != NULL)
    {
      /* The launcher kept fd 3 to itself: the stream it is. */
      self->socket_ended = TRUE;
      return END;
    }
  if (n <= 0)
    {
      record_fault (self, ended_why (n));
      return END;
    }

  n_fds = take_fds (&msg, fds, G_N_ELEMENTS (fds));

  if ((msg.msg_flags & MSG_TRUNC) != 0 ||
      !self->func (buffer, (gsize)n, fds, n_fds, (msg.msg_flags & MSG_CTRUNC) != 0,
                   self->user_data))
    {
      for (guint j = 0; j < n_fds; j++)
        close (fds[j]);
      record_fault (self, _("it sent a malformed message"));
      return RECEIVED_MALFORMED;
    }
  return RECEIVED;
}

static gboolean
socket_readable (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  SaHelperLink *self = user_data;

  for (guint i = 0; i < MAX_MESSAGES_PER_DISPATCH; i++)
    {
      Received received;

      if (self->fault != NULL)
        return G_SOURCE_REMOVE;
      received = receive_one (self);
      if (received == NOTHING_YET)
        return G_SOURCE_CONTINUE;
      if (received == END && self->socket_ended && !self->greeted)
        {
          g_clear_pointer (&self->in_source, g_source_unref);
          return G_SOURCE_REMOVE;
        }
    }
  return G_SOURCE_CONTINUE;
}

static void drop_candidate (SaHelperLink *self);

/* The stream, until the helper has greeted on one channel. */
static gboolean
candidate_readable (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  SaHelperLink *self = user_data;

  for (guint i = 0; i < MAX_MESSAGES_PER_DISPATCH && self->candidate == socket; i++)
    {
      Received received = receive_stream (self, socket);

      if (received == NOTHING_YET)
        return G_SOURCE_CONTINUE;
      if (received == END)
        {
          /* The helper answers on fd 3, or is gone (fd 3's end says
           * so): the stream is not the link. */
          drop_candidate (self);
          return G_SOURCE_REMOVE;
        }
    }
  return G_SOURCE_CONTINUE;
}

/* The stream offered besides fd 3, when it is not (or no longer) to be
 * the link. */
static void
drop_candidate (SaHelperLink *self)
{
  clear_source (&self->candidate_source);
  if (self->candidate != NULL)
    g_socket_close (self->candidate, NULL);
  g_clear_object (&self->candidate);
}

/* The connection is giving up on the helper: from now on nothing the
 * helper or its children send can arrive (a child's STARTING fails, and
 * the child exits before it runs), and what had arrived is handed over,
 * so that the connection knows every process group there is to kill.
 * Malformed messages are skipped: a fault was recorded already. */
void
sa_helper_link_close_and_drain (SaHelperLink *self)
{
  if (self->socket == NULL)
    return;

  sa_inbox_lock (self->inbox);
  sa_inbox_allow_direct_locked (self->inbox, -1, self->generation);
  shutdown (g_socket_get_fd (self->socket), SHUT_RD);
  sa_inbox_unlock (self->inbox);

  /* Finite: nothing more can be queued. */
  while (receive_one (self) != END)
    ;
}

/* -- the process -------------------------------------------------------------- */

/* A launcher may have a machine to reach, or a container to enter. */
static guint
handshake_timeout_ms (SaHelperLink *self)
{
  return sa_helper_link_has_launcher (self) ? LAUNCHER_HANDSHAKE_TIMEOUT_MS
                                            : HANDSHAKE_TIMEOUT_MS;
}

static gboolean
handshake_timeout (gpointer user_data)
{
  SaHelperLink *self = user_data;

  g_clear_pointer (&self->handshake_source, g_source_unref);
  g_autofree char *why = g_strdup_printf (_("it did not answer within %u seconds"),
                                          handshake_timeout_ms (self) / 1000);

  record_fault (self, why);
  return G_SOURCE_REMOVE;
}

/* Starts a helper and queues the handshake. FALSE (with error) when it
 * could not be started at all; a helper that starts and then fails shows
 * up as a fault. */
gboolean
sa_helper_link_start (SaHelperLink  *self,
                      GError       **error)
{
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t signals;
  char parent[32];
  char *helper_argv[] = { self->helper_path, parent, NULL };
  g_autofree char **argv = NULL;
  guint n_launcher = self->launcher != NULL ? g_strv_length (self->launcher) : 0;
  guint32 hello[2] = { SA_PROTO_VERSION, 0 };
  guint8 hello_frame[SA_PROTO_REPLY_MAX_SIZE];
  gsize hello_len = sa_proto_encode_words (hello_frame, SA_MSG_HELLO, 0, 0, hello, 2);
  int fds[2];
  int stream_fds[2] = { -1, -1 };
  GPid pid;
  int ret;

  g_assert (self->socket == NULL && self->pid == 0);
  g_clear_pointer (&self->fault, g_free);

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int errsv = errno;

      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to create a socket for the helper: %s"),
                   g_strerror (errsv));
      return FALSE;
    }

  if (n_launcher > 0 && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream_fds) != 0)
    {
      int errsv = errno;

      close (fds[0]);
      close (fds[1]);
      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to create a socket for the helper: %s"),
                   g_strerror (errsv));
      return FALSE;
    }

  g_snprintf (parent, sizeof parent, "%d", (int)getpid ());

  /* Through a launcher the helper's parent is the launcher's, and its
   * pid another namespace's: it is started without the parent to check. */
  argv = g_new0 (char *, n_launcher + 3);
  for (guint i = 0; i < n_launcher; i++)
    argv[i] = self->launcher[i];
  argv[n_launcher] = helper_argv[0];
  argv[n_launcher + 1] = n_launcher > 0 ? NULL : helper_argv[1];

  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], HELPER_SOCKET_FD);
  if (stream_fds[1] >= 0)
    {
      /* (See THE STREAM above.) */
      posix_spawn_file_actions_adddup2 (&actions, stream_fds[1], 0);
      posix_spawn_file_actions_adddup2 (&actions, stream_fds[1], 1);
    }
  else
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

  if (n_launcher > 0)
    ret = posix_spawnp (&pid, argv[0], &actions, &attr, argv, environ);
  else
    ret = posix_spawn (&pid, self->helper_path, &actions, &attr, argv, environ);

  posix_spawnattr_destroy (&attr);
  posix_spawn_file_actions_destroy (&actions);
  close (fds[1]);
  if (stream_fds[1] >= 0)
    close (stream_fds[1]);

  if (ret != 0)
    {
      close (fds[0]);
      if (stream_fds[0] >= 0)
        close (stream_fds[0]);
      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to start the helper “%s”: %s"),
                   argv[0], g_strerror (ret));
      return FALSE;
    }

  /* A GSocket owns its descriptor; one that could not be made does not. */
  self->socket = g_socket_new_from_fd (fds[0], error);
  if (self->socket == NULL)
    close (fds[0]);
  else if (stream_fds[0] >= 0)
    {
      self->candidate = g_socket_new_from_fd (stream_fds[0], error);
      if (self->candidate == NULL)
        g_clear_object (&self->socket);
      else
        stream_fds[0] = -1;
    }
  if (self->socket == NULL)
    {
      if (stream_fds[0] >= 0)
        close (stream_fds[0]);
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      return FALSE;
    }
  g_socket_set_blocking (self->socket, FALSE);

  self->pid = pid;
  self->generation++;
  self->greeted = FALSE;
  self->stream = FALSE;
  self->socket_ended = FALSE;
  g_byte_array_set_size (self->in_stream, 0);

  self->in_source = g_socket_create_source (self->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->in_source, G_SOURCE_FUNC (socket_readable), self, NULL);
  g_source_attach (self->in_source, self->context);

  self->handshake_source = g_timeout_source_new (handshake_timeout_ms (self));
  g_source_set_callback (self->handshake_source, handshake_timeout, self, NULL);
  g_source_attach (self->handshake_source, self->context);

  SA_DEBUG ("started helper %s as pid %d", self->helper_path, pid);

  if (self->candidate != NULL)
    {
      g_socket_set_blocking (self->candidate, FALSE);
      self->candidate_source = g_socket_create_source (self->candidate,
                                                       G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
      g_source_set_callback (self->candidate_source, G_SOURCE_FUNC (candidate_readable),
                             self, NULL);
      g_source_attach (self->candidate_source, self->context);
      /* Fresh sockets: a HELLO fits, on both. */
      sa_helper_send (g_socket_get_fd (self->socket), hello_frame, hello_len, NULL, 0);
      sa_helper_send (g_socket_get_fd (self->candidate), hello_frame, hello_len, NULL, 0);
    }
  else
    sa_helper_link_queue (self, hello_frame, hello_len);
  return TRUE;
}

/* The helper's HELLO has come: on the stream, that is the link now. */
void
sa_helper_link_greeted (SaHelperLink *self)
{
  self->greeted = TRUE;
  clear_source (&self->handshake_source);

  if (self->from_stream && self->candidate != NULL)
    {
      clear_source (&self->in_source);
      g_socket_close (self->socket, NULL);
      g_object_unref (self->socket);
      self->socket = g_steal_pointer (&self->candidate);
      self->stream = TRUE;
      self->in_source = g_socket_create_source (self->socket, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                                NULL);
      g_source_set_callback (self->in_source, G_SOURCE_FUNC (socket_readable), self, NULL);
      g_source_attach (self->in_source, self->context);
      reset_output (self);
    }
  drop_candidate (self);
  SA_DEBUG ("helper %d ready%s", self->pid, self->stream ? ", over a byte stream" : "");
}

/* Waits up to grace_ms for the helper to exit after its socket was
 * closed; one that does not (stopped, say) is killed. */
static void
reap_helper (SaHelperLink *self,
             guint         grace_ms)
{
  GPid pid = self->pid;
  int pidfd;

  if (pid <= 0)
    return;
  self->pid = 0;

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

/* Closes the socket, which tells the helper to kill what it has started
 * and exit, and reaps it. */
void
sa_helper_link_stop (SaHelperLink *self,
                     guint         grace_ms)
{
  drop_candidate (self);
  g_byte_array_set_size (self->in_stream, 0);
  clear_source (&self->in_source);
  clear_source (&self->out_source);
  clear_source (&self->handshake_source);
  /* Close, not just unref: a destroyed source that is still in this
   * iteration's pending dispatches keeps the GSocket alive, and the
   * helper must see the end of the socket now. */
  sa_inbox_lock (self->inbox);
  sa_inbox_allow_direct_locked (self->inbox, -1, self->generation);
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  sa_inbox_unlock (self->inbox);
  g_clear_object (&self->socket);
  reset_output (self);
  self->greeted = FALSE;
  reap_helper (self, grace_ms);
}

gboolean
sa_helper_link_is_up (SaHelperLink *self)
{
  return self->socket != NULL;
}

gboolean
sa_helper_link_is_greeted (SaHelperLink *self)
{
  return self->socket != NULL && self->greeted && self->fault == NULL;
}

GPid
sa_helper_link_get_pid (SaHelperLink *self)
{
  return self->pid;
}

guint
sa_helper_link_get_generation (SaHelperLink *self)
{
  return self->generation;
}

const char *
sa_helper_link_get_path (SaHelperLink *self)
{
  return self->display_path;
}

/* Whether the helper runs through a launcher: its pid, and every pid it
 * reports, are then another namespace's (or another machine's). */
gboolean
sa_helper_link_has_launcher (SaHelperLink *self)
{
  return self->launcher != NULL && self->launcher[0] != NULL;
}

/* Whether descriptors can go to and come from the helper: FALSE once it
 * has greeted over the stream (see THE STREAM). */
gboolean
sa_helper_link_carries_fds (SaHelperLink *self)
{
  return !self->stream;
}

gsize
sa_helper_link_get_backlog (SaHelperLink *self)
{
  return self->out->len - self->out_offset;
}

/* The fault recorded since the helper was started, or NULL. */
char *
sa_helper_link_take_fault (SaHelperLink *self)
{
  return g_steal_pointer (&self->fault);
}
