/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fake peers: the test plays the library against the real helper, and a
 * fake helper plays the helper against the real library. Truncated,
 * oversized, out-of-order and unknown frames must end the connection
 * cleanly: the helper exits with a status (never a crash signal, never a
 * hang) and kills nothing but its own children; the library fails the
 * command with a clear error and goes on.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reliab-util.h"
#include "sa-protocol.h"

static GSubprocess *canary;
static GPid canary_pid;

/* -- a connection to the real helper ------------------------------------------ */

typedef struct
{
  GSubprocess *helper;
  GPid         helper_pid;     /* read once: GSubprocess clears it on exit */
  int          sock;
  gboolean     exited;
  GHashTable  *starting;       /* id -> pid: STARTING, from the children */
} Peer;

static Peer *
peer_new (void)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  Peer *peer = g_new0 (Peer, 1);
  int sv[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
  g_subprocess_launcher_take_fd (launcher, sv[1], 3);
  peer->helper = g_subprocess_launcher_spawn (launcher, &error, reliab_real_helper (), NULL);
  g_assert_no_error (error);
  peer->helper_pid = atoi (g_subprocess_get_identifier (peer->helper));
  peer->sock = sv[0];
  return peer;
}

static void
peer_send (Peer       *peer,
           const void *data,
           gsize       len)
{
  /* The helper may have gone already: that is what some cases expect. */
  send (peer->sock, data, len, MSG_NOSIGNAL);
}

static void
peer_send_words (Peer          *peer,
                 guint16        type,
                 guint32        id,
                 const guint32 *words,
                 gsize          n_words)
{
  guint8 frame[SA_PROTO_HEADER_SIZE + 16];
  gsize len = sa_proto_encode_words (frame, type, 0, id, words, n_words);

  peer_send (peer, frame, len);
}

static void
peer_hello (Peer *peer)
{
  guint32 words[2] = { SA_PROTO_VERSION, 0 };
  guint8 reply[64];
  SaProtoHeader header;
  const guint8 *payload;
  ssize_t n;

  peer_send_words (peer, SA_MSG_HELLO, 0, words, 2);
  n = recv (peer->sock, reply, sizeof reply, 0);
  g_assert_cmpint (n, ==, SA_PROTO_HEADER_SIZE + 8);
  g_assert_cmpint (sa_proto_next_frame (reply, (gsize)n, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (header.type, ==, SA_MSG_HELLO);
  g_assert_cmpint (sa_proto_decode_words (&header, payload, words, 2), ==, SA_PROTO_OK);
  g_assert_cmpuint (words[0], ==, SA_PROTO_VERSION);
  g_assert_cmpint (words[1], ==, peer->helper_pid);
}

static guint8 *
spawn_frame (guint32             id,
             guint32             flags,
             int                 kill_signal,
             const char * const *argv,
             gsize              *len)
{
  const char *env[] = { "PATH=/usr/bin:/bin", NULL };
  gsize size = sa_proto_spawn_size (argv, env, "/usr/bin:/bin", NULL, 0, NULL);
  guint8 *frame = g_malloc (size);

  *len = sa_proto_spawn_encode (frame, id, flags, 0, kill_signal, NULL, NULL, argv, env,
                                "/usr/bin:/bin", NULL);
  g_assert_cmpuint (*len, ==, size);
  return frame;
}

/* Receives one reply; returns its type and fills words, closing any fd.
 * STARTING, which a child sends before it runs, is noted in the peer and
 * skipped: it must come first, with the pid that SPAWNED then gives. */
static guint16 peer_receive_any (Peer    *peer,
                                 guint32 *id,
                                 guint32 *words);

static guint16
peer_receive (Peer    *peer,
              guint32 *id,
              guint32 *words)
{
  guint16 type;

  if (peer->starting == NULL)
    peer->starting = g_hash_table_new (NULL, NULL);
  while ((type = peer_receive_any (peer, id, words)) == SA_MSG_STARTING)
    g_hash_table_insert (peer->starting, GUINT_TO_POINTER (*id), GUINT_TO_POINTER (words[0]));
  if (type == SA_MSG_SPAWNED)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (peer->starting, GUINT_TO_POINTER (*id))),
                      ==, words[0]);
  return type;
}

static guint16
peer_receive_any (Peer    *peer,
                  guint32 *id,
                  guint32 *words)
{
  guint8 buffer[64];
  union {
    char buf[CMSG_SPACE (sizeof (int) * 4)];
    struct cmsghdr align;
  } control;
  struct iovec iov = { buffer, sizeof buffer };
  struct msghdr msg = {
    .msg_iov = &iov, .msg_iovlen = 1,
    .msg_control = control.buf, .msg_controllen = sizeof control.buf,
  };
  SaProtoHeader header;
  const guint8 *payload;
  ssize_t n = recvmsg (peer->sock, &msg, MSG_CMSG_CLOEXEC);

  g_assert_cmpint (n, >, 0);
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (guint i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
        close (((int *)CMSG_DATA (c))[i]);

  g_assert_cmpint (sa_proto_next_frame (buffer, (gsize)n, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_decode_words (&header, payload, words,
                                          sa_proto_words_for_type (header.type)), ==, SA_PROTO_OK);
  *id = header.id;
  return header.type;
}

static void
on_helper_exited (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Peer *peer = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  peer->exited = TRUE;
}

/* Waits for the helper to exit on its own (no hang), then checks it did
 * not crash and exited with the expected status. */
static void
peer_expect_exit (Peer *peer,
                  int   status)
{
  g_subprocess_wait_async (peer->helper, NULL, on_helper_exited, peer);
  sa_test_wait_flag (&peer->exited, 10000);
  g_assert_false (g_subprocess_get_if_signaled (peer->helper));
  g_assert_true (g_subprocess_get_if_exited (peer->helper));
  g_assert_cmpint (g_subprocess_get_exit_status (peer->helper), ==, status);
}

static void
peer_free (Peer *peer)
{
  if (!peer->exited)
    g_subprocess_force_exit (peer->helper);
  close (peer->sock);
  g_object_unref (peer->helper);
  g_clear_pointer (&peer->starting, g_hash_table_unref);
  g_free (peer);

  /* The helper killed nothing of ours. */
  g_assert_true (sa_test_pid_alive (canary_pid));
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

/* -- cases against the real helper ---------------------------------------------- */

static void
test_helper_eof (void)
{
  g_autoptr(Peer) peer = peer_new ();

  shutdown (peer->sock, SHUT_RDWR);
  peer_expect_exit (peer, 0);
}

static void
test_helper_truncated_header (void)
{
  g_autoptr(Peer) peer = peer_new ();

  peer_hello (peer);
  peer_send (peer, "\x10\0\0\0\x02", 5);
  shutdown (peer->sock, SHUT_RDWR);
  peer_expect_exit (peer, 0);
}

static void
test_helper_truncated_frame (void)
{
  g_autoptr(Peer) peer = peer_new ();
  const char *argv[] = { "true", NULL };
  gsize len;
  g_autofree guint8 *frame = spawn_frame (1, 0, SIGTERM, argv, &len);

  peer_hello (peer);
  peer_send (peer, frame, len - 3);
  /* It waits for the rest, then takes the end of the stream as the end. */
  reliab_iterate_for (100);
  g_assert_true (sa_test_pid_alive (peer->helper_pid));
  shutdown (peer->sock, SHUT_RDWR);
  peer_expect_exit (peer, 0);
}

static void
test_helper_oversized_length (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint8 header[SA_PROTO_HEADER_SIZE];

  peer_hello (peer);
  sa_proto_header_encode (header, SA_MSG_SPAWN, 0, 1, SA_PROTO_MAX_PAYLOAD + 1);
  peer_send (peer, header, sizeof header);
  peer_expect_exit (peer, 1);
}

static void
test_helper_oversized_message (void)
{
  g_autoptr(Peer) peer = peer_new ();
  g_autofree guint8 *big = g_malloc0 (SA_PROTO_MAX_MESSAGE + 1024);

  peer_hello (peer);
  sa_proto_header_encode (big, SA_MSG_SPAWN, 0, 1, SA_PROTO_MAX_MESSAGE + 1024 - SA_PROTO_HEADER_SIZE);
  peer_send (peer, big, SA_PROTO_MAX_MESSAGE + 1024);
  peer_expect_exit (peer, 1);
}

static void
test_helper_spawn_before_hello (void)
{
  g_autoptr(Peer) peer = peer_new ();
  const char *argv[] = { "true", NULL };
  gsize len;
  g_autofree guint8 *frame = spawn_frame (1, 0, SIGTERM, argv, &len);

  peer_send (peer, frame, len);
  peer_expect_exit (peer, 1);
}

static void
test_helper_kill_before_hello (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint32 words[2] = { SIGTERM, 0 };

  peer_send_words (peer, SA_MSG_KILL, 1, words, 2);
  peer_expect_exit (peer, 1);
}

static void
test_helper_second_hello (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint32 words[2] = { SA_PROTO_VERSION, 0 };

  peer_hello (peer);
  peer_send_words (peer, SA_MSG_HELLO, 0, words, 2);
  peer_expect_exit (peer, 1);
}

static void
test_helper_wrong_version (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint32 words[2] = { SA_PROTO_VERSION + 1, 0 };
  guint32 id;

  peer_send_words (peer, SA_MSG_HELLO, 0, words, 2);
  /* It says which version it speaks, then leaves. */
  g_assert_cmpint (peer_receive (peer, &id, words), ==, SA_MSG_HELLO);
  g_assert_cmpuint (words[0], ==, SA_PROTO_VERSION);
  peer_expect_exit (peer, 1);
}

static void
test_helper_hello_bad_length (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint8 frame[SA_PROTO_HEADER_SIZE + 4] = { 0 };

  sa_proto_header_encode (frame, SA_MSG_HELLO, 0, 0, 4);
  peer_send (peer, frame, sizeof frame);
  peer_expect_exit (peer, 1);
}

static void
test_helper_unknown_type (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint8 frame[SA_PROTO_HEADER_SIZE + 4] = { 0 };

  peer_hello (peer);
  sa_proto_header_encode (frame, 99, 0, 1, 4);
  peer_send (peer, frame, sizeof frame);
  peer_expect_exit (peer, 1);
}

static void
test_helper_reply_types (void)
{
  const guint16 types[] = { SA_MSG_SPAWNED, SA_MSG_SPAWN_FAILED, SA_MSG_EXITED };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(Peer) peer = peer_new ();
      guint32 words[2] = { 1, 2 };

      peer_hello (peer);
      peer_send_words (peer, types[i], 1, words, sa_proto_words_for_type (types[i]));
      peer_expect_exit (peer, 1);
    }
}

/* SPAWN frames broken in one field each */
typedef enum
{
  BREAK_ARGC_ZERO,
  BREAK_ARGC_HUGE,
  BREAK_ENVC_HUGE,
  BREAK_UNTERMINATED,
  BREAK_TRAILING,
  BREAK_FLAGS,
  BREAK_SIGNAL_ZERO,
  BREAK_SIGNAL_HUGE,
  BREAK_EMPTY_PROGRAM,
  BREAK_FDS_DECLARED,
  BREAK_SHORT_FIXED,
  BREAK_STDIO_MODE,
  BREAK_STDIN_MERGED,
  BREAK_TARGETS_COUNT,
  BREAK_PTY_SAME_SESSION,
  BREAK_DETACHED_SAME_SESSION,
  BREAK_CTTY_NOT_A_FD,
  BREAK_UMASK_WITHOUT_FLAG,
  BREAK_UMASK_TOO_BIG,
  BREAK_RLIMITS_MISSING,
  BREAK_RELAY_PTY,
  N_BREAKS
} SpawnBreak;

static void
test_helper_bad_spawn (void)
{
  for (guint what = 0; what < N_BREAKS; what++)
    {
      g_autoptr(Peer) peer = peer_new ();
      const char *argv[] = { "true", NULL };
      const char *empty_argv[] = { "", NULL };
      gsize len;
      g_autofree guint8 *frame =
        spawn_frame (1, 0, SIGTERM, what == BREAK_EMPTY_PROGRAM ? empty_argv : argv, &len);
      guint8 *payload = frame + SA_PROTO_HEADER_SIZE;
      guint32 value;
      guint8 *sent = frame;
      gsize sent_len = len;
      g_autofree guint8 *longer = NULL;

      switch ((SpawnBreak)what)
        {
        case BREAK_ARGC_ZERO:     value = 0;          memcpy (payload + 12, &value, 4); break;
        case BREAK_ARGC_HUGE:     value = 1u << 30;   memcpy (payload + 12, &value, 4); break;
        case BREAK_ENVC_HUGE:     value = 0xffffffff; memcpy (payload + 16, &value, 4); break;
        case BREAK_FLAGS:         value = SA_SPAWN_FLAGS_ALL + 2; memcpy (payload, &value, 4); break;
        case BREAK_SIGNAL_ZERO:   value = 0;          memcpy (payload + 8, &value, 4);  break;
        case BREAK_SIGNAL_HUGE:   value = 9999;       memcpy (payload + 8, &value, 4);  break;
        case BREAK_EMPTY_PROGRAM:                                                       break;
        case BREAK_UNTERMINATED:
          frame[len - 1] = 'x';
          break;
        case BREAK_TRAILING:
          longer = g_malloc0 (len + 3);
          memcpy (longer, frame, len);
          sa_proto_header_encode (longer, SA_MSG_SPAWN, 0, 1, (guint32)(len + 3 - SA_PROTO_HEADER_SIZE));
          sent = longer;
          sent_len = len + 3;
          break;
        case BREAK_FDS_DECLARED:
          sa_proto_header_encode (frame, SA_MSG_SPAWN, 1, 1, (guint32)(len - SA_PROTO_HEADER_SIZE));
          break;
        case BREAK_SHORT_FIXED:
          sa_proto_header_encode (frame, SA_MSG_SPAWN, 0, 1, 8);
          sent_len = SA_PROTO_HEADER_SIZE + 8;
          break;
        case BREAK_STDIO_MODE:    value = 9;          memcpy (payload + 24, &value, 4); break;
        case BREAK_STDIN_MERGED:  value = SA_PROTO_STDIO_MERGE; memcpy (payload + 20, &value, 4); break;
        case BREAK_TARGETS_COUNT: value = 2;          memcpy (payload + 32, &value, 4); break;
        case BREAK_PTY_SAME_SESSION: value = SA_PROTO_STDIO_PTY; memcpy (payload + 24, &value, 4); break;
        case BREAK_RELAY_PTY:
          /* the relay carries pipes, not a terminal */
          value = SA_SPAWN_FLAG_RELAY | SA_SPAWN_FLAG_NEW_SESSION;
          memcpy (payload, &value, 4);
          value = SA_PROTO_STDIO_PTY;
          memcpy (payload + 24, &value, 4);
          break;
        case BREAK_DETACHED_SAME_SESSION:
          value = SA_SPAWN_FLAG_DETACHED;
          memcpy (payload, &value, 4);
          break;
        case BREAK_CTTY_NOT_A_FD:
          value = SA_SPAWN_FLAG_NEW_SESSION | SA_SPAWN_FLAG_CTTY;
          memcpy (payload, &value, 4);
          break;
        case BREAK_UMASK_WITHOUT_FLAG: value = 022;   memcpy (payload + 36, &value, 4); break;
        case BREAK_UMASK_TOO_BIG:
          value = SA_SPAWN_FLAG_HAS_UMASK;
          memcpy (payload, &value, 4);
          value = 01000;
          memcpy (payload + 36, &value, 4);
          break;
        case BREAK_RLIMITS_MISSING: value = 1;        memcpy (payload + 40, &value, 4); break;
        case N_BREAKS:
        default:
          g_assert_not_reached ();
        }

      g_test_message ("broken SPAWN %u", what);
      peer_hello (peer);
      peer_send (peer, sent, sent_len);
      peer_expect_exit (peer, 1);
    }
}

static void
test_helper_bad_kill (void)
{
  const guint32 signals[] = { 0, 9999, (guint32)-1 };

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      g_autoptr(Peer) peer = peer_new ();

      guint32 words[2] = { signals[i], 0 };

      peer_hello (peer);
      peer_send_words (peer, SA_MSG_KILL, 1, words, 2);
      peer_expect_exit (peer, 1);
    }
}

static void
test_helper_bad_close (void)
{
  const guint32 which[] = { 0, SA_CLOSE_ALL + 1, G_MAXUINT32 };

  for (guint i = 0; i < G_N_ELEMENTS (which); i++)
    {
      g_autoptr(Peer) peer = peer_new ();

      peer_hello (peer);
      peer_send_words (peer, SA_MSG_CLOSE, 1, &which[i], 1);
      peer_expect_exit (peer, 1);
    }
}

/* A good SPAWN, sent as the library would, or cut into pieces. */
static void
run_true (Peer    *peer,
          guint32  id,
          gsize    piece)
{
  const char *argv[] = { "true", NULL };
  gsize len;
  g_autofree guint8 *frame = spawn_frame (id, 0, SIGTERM, argv, &len);
  guint32 words[2], reply_id;

  for (gsize offset = 0; offset < len; offset += piece)
    peer_send (peer, frame + offset, MIN (piece, len - offset));

  g_assert_cmpint (peer_receive (peer, &reply_id, words), ==, SA_MSG_SPAWNED);
  g_assert_cmpuint (reply_id, ==, id);
  g_assert_cmpint (peer_receive (peer, &reply_id, words), ==, SA_MSG_EXITED);
  g_assert_cmpuint (reply_id, ==, id);
  g_assert_cmpuint (words[0], ==, 0);
}

static void
test_helper_kill_unknown_id (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint32 signum = SIGKILL;

  /* Not an error: the command may have ended meanwhile. */
  peer_hello (peer);
  peer_send_words (peer, SA_MSG_KILL, 12345, (guint32[]) { signum, 0 }, 2);
  run_true (peer, 1, 1 << 20);
  shutdown (peer->sock, SHUT_RDWR);
  peer_expect_exit (peer, 0);
}

/* INPUT and CLOSE race the child's end like KILL: ignored for an id
 * the helper does not know (any more). */
static void
test_helper_relay_unknown_id (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint8 input[SA_PROTO_HEADER_SIZE + 3];
  guint32 which = SA_CLOSE_ALL;

  peer_hello (peer);
  sa_proto_header_encode (input, SA_MSG_INPUT, 0, 12345, 3);
  memcpy (input + SA_PROTO_HEADER_SIZE, "hi\n", 3);
  peer_send (peer, input, sizeof input);
  peer_send_words (peer, SA_MSG_CLOSE, 12345, &which, 1);
  run_true (peer, 1, 1 << 20);
  shutdown (peer->sock, SHUT_RDWR);
  peer_expect_exit (peer, 0);
}

static void
test_helper_split_frames (void)
{
  g_autoptr(Peer) peer = peer_new ();

  peer_hello (peer);
  run_true (peer, 1, 1);
  run_true (peer, 2, 7);
  run_true (peer, 3, 13);
  shutdown (peer->sock, SHUT_RDWR);
  peer_expect_exit (peer, 0);
}

static void
test_helper_frames_in_one_message (void)
{
  g_autoptr(Peer) peer = peer_new ();
  const char *argv[] = { "true", NULL };
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  guint32 hello[2] = { SA_PROTO_VERSION, 0 };
  guint32 signum = SIGKILL;
  guint8 words_frame[SA_PROTO_HEADER_SIZE + 8];
  guint seen_exited = 0, seen_spawned = 0;

  /* HELLO, two SPAWNs and a KILL for an old id, in one message. */
  g_byte_array_append (stream, words_frame,
                       sa_proto_encode_words (words_frame, SA_MSG_HELLO, 0, 0, hello, 2));
  for (guint32 id = 1; id <= 2; id++)
    {
      gsize len;
      g_autofree guint8 *frame = spawn_frame (id, 0, SIGTERM, argv, &len);

      g_byte_array_append (stream, frame, len);
    }
  g_byte_array_append (stream, words_frame,
                       sa_proto_encode_words (words_frame, SA_MSG_KILL, 0, 77,
                                              (guint32[]) { signum, 0 }, 2));
  peer_send (peer, stream->data, stream->len);

  while (seen_exited < 2)
    {
      guint32 id, words[2];
      guint16 type = peer_receive (peer, &id, words);

      if (type == SA_MSG_SPAWNED)
        seen_spawned++;
      else if (type == SA_MSG_EXITED)
        seen_exited++;
      else
        g_assert_cmpint (type, ==, SA_MSG_HELLO);
    }
  g_assert_cmpuint (seen_spawned, ==, 2);
  shutdown (peer->sock, SHUT_RDWR);
  peer_expect_exit (peer, 0);
}

static void
test_helper_duplicate_id (void)
{
  g_autoptr(Peer) peer = peer_new ();
  const char *argv[] = { "sleep", "100", NULL };
  gsize len;
  g_autofree guint8 *frame = spawn_frame (1, 0, SIGTERM, argv, &len);
  guint32 words[2], id;
  GPid child;

  peer_hello (peer);
  peer_send (peer, frame, len);
  g_assert_cmpint (peer_receive (peer, &id, words), ==, SA_MSG_SPAWNED);
  child = (GPid)words[0];
  g_assert_true (sa_test_pid_alive (child));

  peer_send (peer, frame, len);
  peer_expect_exit (peer, 1);
  /* Its children go with it. */
  sa_test_assert_group_gone (child, 2000);
}

static void
test_helper_fds_attached (void)
{
  g_autoptr(Peer) peer = peer_new ();
  guint32 words[2] = { SA_PROTO_VERSION, 0 };
  guint8 frame[SA_PROTO_HEADER_SIZE + 8];
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { frame, sa_proto_encode_words (frame, SA_MSG_HELLO, 0, 0, words, 2) };
  struct msghdr msg = {
    .msg_iov = &iov, .msg_iovlen = 1,
    .msg_control = control.buf, .msg_controllen = sizeof control.buf,
  };
  struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);
  int fd = 0;

  memset (control.buf, 0, sizeof control.buf);
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &fd, sizeof fd);
  g_assert_cmpint (sendmsg (peer->sock, &msg, MSG_NOSIGNAL), >, 0);
  peer_expect_exit (peer, 1);
}

static void
test_helper_spawn_then_garbage (void)
{
  g_autoptr(Peer) peer = peer_new ();
  const char *argv[] = { "sleep", "100", NULL };
  gsize len;
  g_autofree guint8 *frame = spawn_frame (1, 0, SIGTERM, argv, &len);
  guint32 words[2], id;
  GPid child;

  peer_hello (peer);
  peer_send (peer, frame, len);
  g_assert_cmpint (peer_receive (peer, &id, words), ==, SA_MSG_SPAWNED);
  child = (GPid)words[0];
  peer_send (peer, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12);
  peer_expect_exit (peer, 1);
  sa_test_assert_group_gone (child, 2000);
}

/* Random streams, with and without a good HELLO first: any exit status
 * is fine, a crash or a hang is not. */
static void
test_helper_random_streams (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (0x5a17);

  for (guint round = 0; round < 60; round++)
    {
      g_autoptr(Peer) peer = peer_new ();
      guint n_messages = g_rand_int_range (rand, 1, 6);

      if (round % 2 == 0)
        peer_hello (peer);
      for (guint m = 0; m < n_messages; m++)
        {
          guint8 junk[256];
          gsize len = (gsize)g_rand_int_range (rand, 1, sizeof junk);

          for (gsize i = 0; i < len; i++)
            junk[i] = (guint8)g_rand_int (rand);
          /* Mostly plausible headers, so that the parser goes deeper. */
          if (round % 3 != 0 && len >= SA_PROTO_HEADER_SIZE)
            sa_proto_header_encode (junk, (guint16)g_rand_int_range (rand, 1, 7), 0,
                                    g_rand_int (rand), (guint32)(len - SA_PROTO_HEADER_SIZE));
          peer_send (peer, junk, len);
        }
      shutdown (peer->sock, SHUT_RDWR);
      g_subprocess_wait_async (peer->helper, NULL, on_helper_exited, peer);
      sa_test_wait_flag (&peer->exited, 10000);
      g_assert_false (g_subprocess_get_if_signaled (peer->helper));
      g_assert_true (g_subprocess_get_if_exited (peer->helper));
    }
}

/* -- the library against a fake helper -------------------------------------------- */

typedef struct
{
  const char *mode;
  GQuark    (*domain) (void);
  int         code;
} LibraryCase;

static GQuark
worker_error_quark (void)
{
  return SA_WORKER_ERROR;
}

static const LibraryCase library_cases[] = {
  { "reply-short",           worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-long",            worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-unknown-type",    worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-wrong-id",        worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-exited-first",    worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-no-fds",          worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-three-fds",       worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-fds-undeclared",  worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-pid-zero",        worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-pid-one",         worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-pid-negative",    worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-bad-length",      worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-length-mismatch", worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-two-frames",      worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-second-hello",    worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-spawn",           worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-spawned-twice",   worker_error_quark, SA_WORKER_ERROR_EXITED },
  { "reply-garbage",         worker_error_quark, SA_WORKER_ERROR_EXITED },
  /* well-formed, merely odd: the library passes them on */
  { "reply-failed-odd",      g_spawn_error_quark, G_SPAWN_ERROR_FAILED },
  { "reply-exited-odd",      NULL, 0 },
};

static void
on_exit_signal (SaWorker     *worker,
                const GError *error,
                guint        *exits)
{
  if (error == NULL)
    return;     /* sa_worker_destroy() */
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
  (*exits)++;
}

static void
test_library_misbehaving_helper (gconstpointer data)
{
  const LibraryCase *lc = data;
  g_autofree char *dir = g_dir_make_tmp ("sa-peer-XXXXXX", NULL);
  g_autofree char *log = g_build_filename (dir, "starts", NULL);
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  const char *argv[] = { "true", NULL };
  GPid first_helper, second_helper;
  guint exits = 0;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  /* Kept for the restarts too. */
  reliab_use_fake_helper (lc->mode, log);
  worker = sa_worker_new (NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (worker, "exit", G_CALLBACK (on_exit_signal), &exits);
  first_helper = sa_worker_get_helper_pid (worker);

  result = sa_test_run (worker, argv, NULL, NULL, &error);
  if (lc->domain != NULL)
    {
      g_assert_null (result);
      g_assert_error (error, lc->domain (), lc->code);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_test_message ("%s", error->message);
    }
  else
    {
      g_autoptr(GError) check_error = NULL;

      /* A wait status that means neither an exit nor a signal. */
      g_assert_no_error (error);
      g_assert_false (sa_result_get_if_exited (result));
      g_assert_false (sa_result_get_if_signaled (result));
      g_assert_false (sa_result_check (result, &check_error));
      g_assert_nonnull (check_error);
    }

  if (lc->domain == worker_error_quark)
    {
      /* The broken helper was dropped (killed if need be) and replaced. */
      sa_test_assert_pid_gone (first_helper, 5000);
      while (exits == 0 || sa_worker_get_helper_pid (worker) == 0)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          reliab_iterate_for (10);
        }
      g_assert_cmpuint (exits, ==, 1);
      second_helper = sa_worker_get_helper_pid (worker);
      g_assert_cmpint (second_helper, !=, first_helper);
      g_assert_cmpuint (reliab_count_lines (log), ==, 2);
    }
  else
    {
      second_helper = first_helper;
      g_assert_cmpuint (exits, ==, 0);
      g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, first_helper);
    }

  sa_worker_destroy (worker);
  reliab_use_real_helper ();
  sa_test_assert_pid_gone (second_helper, 5000);
  g_unlink (log);
  g_rmdir (dir);
}


/* One pipe sent as both stdout and stderr, its write end held open: the
 * second descriptor has nothing to read. The I/O thread used to block in
 * read() on it, and destroy with it. */
static void
test_library_same_pipe_twice (void)
{
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  g_autofree char *both = NULL;
  const char *argv[] = { "true", NULL };
  gint64 start;

  reliab_use_fake_helper ("same-pipe", NULL);
  worker = sa_worker_new (NULL, &error);
  g_assert_no_error (error);

  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sa_result_get_successful (result));
  both = g_strconcat (sa_result_get_stdout (result), sa_result_get_stderr (result), NULL);
  g_assert_cmpstr (both, ==, "same\n");

  start = g_get_monotonic_time ();
  sa_worker_destroy (worker);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  reliab_use_real_helper ();
}

/* A helper that stops reading (its socket fills up) or stops answering:
 * the commands wait, but a cancel is answered at once, and destroy fails
 * the rest at once and gets rid of the helper. */
static void
run_unresponsive_helper (const char *mode)
{
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *big = g_strnfill (32 * 1024, 'x');
  const char *argv[] = { "echo", big, NULL };
  GAsyncResult *slots[200] = { NULL };
  GAsyncResult *cancelled = NULL;
  GPid helper;
  gint64 start;

  reliab_use_fake_helper (mode, NULL);
  worker = sa_worker_new (NULL, &error);
  reliab_use_real_helper ();
  g_assert_no_error (error);
  helper = sa_worker_get_helper_pid (worker);

  /* 200 x 32 KiB: more than the socket holds. */
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    sa_test_start (worker, argv, NULL, NULL, &slots[i]);
  sa_test_start (worker, argv, NULL, cancellable, &cancelled);
  reliab_iterate_for (200);
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    g_assert_null (slots[i]);
  g_assert_null (cancelled);

  g_cancellable_cancel (cancellable);
  sa_test_wait_pointer ((gpointer *)&cancelled, 2000);
  g_assert_null (sa_worker_aspawn_finish (worker, cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&cancelled);

  start = g_get_monotonic_time ();
  sa_worker_destroy (worker);
  g_test_message ("destroy took %" G_GINT64_FORMAT " us", g_get_monotonic_time () - start);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    {
      sa_test_wait_pointer ((gpointer *)&slots[i], 2000);
      g_assert_null (sa_worker_aspawn_finish (worker, slots[i], &error));
      g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
      g_clear_error (&error);
      g_clear_object (&slots[i]);
    }
  sa_test_assert_pid_gone (helper, 2000);
}

static void
test_library_helper_stops_reading (void)
{
  run_unresponsive_helper ("stops-reading");
}

static void
test_library_helper_stops_writing (void)
{
  run_unresponsive_helper ("stops-writing");
}

static void
assert_handshake_fails (const char *mode,
                        const char *expected)
{
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;

  reliab_use_fake_helper (mode, NULL);
  worker = sa_worker_new (NULL, &error);
  reliab_use_real_helper ();
  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, SA_FAKE_HELPER_PATH));
  if (expected != NULL)
    g_assert_nonnull (strstr (error->message, expected));
  g_test_message ("%s", error->message);
}

static void
test_library_hello_version (void)
{
  assert_handshake_fails ("hello-version", "99");
}

static void
test_library_hello_pid (void)
{
  assert_handshake_fails ("hello-pid", NULL);
}

static void
test_library_silent_helper (void)
{
  assert_handshake_fails ("silent", NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  reliab_real_helper ();

  /* A process of ours, in our process group, that nothing may kill. */
  canary = reliab_spawn_tied (G_SUBPROCESS_FLAGS_NONE, &error, "sleep", "600", NULL);
  g_assert_no_error (error);
  canary_pid = atoi (g_subprocess_get_identifier (canary));

  g_test_add_func ("/reliability/peer/helper/eof", test_helper_eof);
  g_test_add_func ("/reliability/peer/helper/truncated-header", test_helper_truncated_header);
  g_test_add_func ("/reliability/peer/helper/truncated-frame", test_helper_truncated_frame);
  g_test_add_func ("/reliability/peer/helper/oversized-length", test_helper_oversized_length);
  g_test_add_func ("/reliability/peer/helper/oversized-message", test_helper_oversized_message);
  g_test_add_func ("/reliability/peer/helper/spawn-before-hello", test_helper_spawn_before_hello);
  g_test_add_func ("/reliability/peer/helper/kill-before-hello", test_helper_kill_before_hello);
  g_test_add_func ("/reliability/peer/helper/second-hello", test_helper_second_hello);
  g_test_add_func ("/reliability/peer/helper/wrong-version", test_helper_wrong_version);
  g_test_add_func ("/reliability/peer/helper/hello-bad-length", test_helper_hello_bad_length);
  g_test_add_func ("/reliability/peer/helper/unknown-type", test_helper_unknown_type);
  g_test_add_func ("/reliability/peer/helper/reply-types", test_helper_reply_types);
  g_test_add_func ("/reliability/peer/helper/bad-spawn", test_helper_bad_spawn);
  g_test_add_func ("/reliability/peer/helper/bad-kill", test_helper_bad_kill);
  g_test_add_func ("/reliability/peer/helper/bad-close", test_helper_bad_close);
  g_test_add_func ("/reliability/peer/helper/relay-unknown-id", test_helper_relay_unknown_id);
  g_test_add_func ("/reliability/peer/helper/kill-unknown-id", test_helper_kill_unknown_id);
  g_test_add_func ("/reliability/peer/helper/split-frames", test_helper_split_frames);
  g_test_add_func ("/reliability/peer/helper/frames-in-one-message", test_helper_frames_in_one_message);
  g_test_add_func ("/reliability/peer/helper/duplicate-id", test_helper_duplicate_id);
  g_test_add_func ("/reliability/peer/helper/fds-attached", test_helper_fds_attached);
  g_test_add_func ("/reliability/peer/helper/spawn-then-garbage", test_helper_spawn_then_garbage);
  g_test_add_func ("/reliability/peer/helper/random-streams", test_helper_random_streams);

  for (guint i = 0; i < G_N_ELEMENTS (library_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reliability/peer/library/%s", library_cases[i].mode);

      g_test_add_data_func (path, &library_cases[i], test_library_misbehaving_helper);
    }
  g_test_add_func ("/reliability/peer/library/hello-version", test_library_hello_version);
  g_test_add_func ("/reliability/peer/library/hello-pid", test_library_hello_pid);
  g_test_add_func ("/reliability/peer/library/silent", test_library_silent_helper);
  g_test_add_func ("/reliability/peer/library/same-pipe-twice", test_library_same_pipe_twice);
  g_test_add_func ("/reliability/peer/library/helper-stops-reading", test_library_helper_stops_reading);
  g_test_add_func ("/reliability/peer/library/helper-stops-writing", test_library_helper_stops_writing);

  ret = g_test_run ();

  /* The canary lived through it all. */
  g_assert_true (sa_test_pid_alive (canary_pid));
  g_subprocess_force_exit (canary);
  g_subprocess_wait (canary, NULL, NULL);
  g_clear_object (&canary);
  return ret;
}
