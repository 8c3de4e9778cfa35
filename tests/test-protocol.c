/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The wire protocol codec (spawn-async/sa-protocol.c): round trips, and
 * the rejection of every malformed frame it is given.
 */
#include <glib.h>
#include <signal.h>
#include <string.h>

#include "sa-protocol.h"

/* stdin a pipe, stdout a descriptor (target 1), stderr merged, and a
 * descriptor as fd 7. */
static const int32_t round_trip_targets[] = { 1, 7 };
static const SaSpawnFds round_trip_fds = {
  { SA_PROTO_STDIO_PIPE, SA_PROTO_STDIO_FD, SA_PROTO_STDIO_MERGE },
  G_N_ELEMENTS (round_trip_targets), round_trip_targets
};

static guint8 *
encode_spawn (const char * const *argv,
              const char * const *envp,
              const char         *path,
              const char         *cwd,
              const SaSpawnFds   *fds,
              gsize              *len)
{
  gsize size = sa_proto_spawn_size (argv, envp, path, cwd, fds ? fds->n_targets : 0, NULL);
  guint8 *frame;

  g_assert_cmpuint (size, >, SA_PROTO_HEADER_SIZE);
  frame = g_malloc (size);
  *len = sa_proto_spawn_encode (frame, 42, 0, 1500, SIGINT, fds, NULL, argv, envp, path, cwd);
  g_assert_cmpuint (*len, ==, size);
  return frame;
}

static void
test_spawn_round_trip (void)
{
  const char *argv[] = { "ls", "-l", "", "/etc/passwd", NULL };
  const char *envp[] = { "A=1", "EMPTY=", NULL };
  gsize len;
  g_autofree guint8 *frame = encode_spawn (argv, envp, "/bin:/usr/bin", "/tmp",
                                           &round_trip_fds, &len);
  SaProtoHeader header;
  const guint8 *payload;
  SaSpawnRequest req;

  g_assert_cmpint (sa_proto_next_frame (frame, len, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpuint (header.type, ==, SA_MSG_SPAWN);
  g_assert_cmpuint (header.id, ==, 42);
  g_assert_cmpuint (header.n_fds, ==, 2);
  g_assert_cmpuint (SA_PROTO_HEADER_SIZE + header.length, ==, len);

  g_assert_cmpint (sa_proto_spawn_decode (&header, payload, &req), ==, SA_PROTO_OK);
  g_assert_cmpuint (req.flags, ==, SA_SPAWN_FLAG_HAS_CWD);
  g_assert_cmpuint (req.stdio[0], ==, SA_PROTO_STDIO_PIPE);
  g_assert_cmpuint (req.stdio[1], ==, SA_PROTO_STDIO_FD);
  g_assert_cmpuint (req.stdio[2], ==, SA_PROTO_STDIO_MERGE);
  g_assert_cmpuint (req.n_targets, ==, 2);
  g_assert_cmpint (req.targets[0], ==, 1);
  g_assert_cmpint (req.targets[1], ==, 7);
  g_assert_cmpuint (sa_proto_spawn_n_pipes (req.stdio), ==, 1);
  g_assert_cmpuint (req.timeout_ms, ==, 1500);
  g_assert_cmpint (req.kill_signal, ==, SIGINT);
  g_assert_cmpstr (req.path, ==, "/bin:/usr/bin");
  g_assert_cmpstr (req.cwd, ==, "/tmp");
  g_assert_cmpstrv ((const char * const *)req.argv, argv);
  g_assert_cmpstrv ((const char * const *)req.envp, envp);
  sa_proto_spawn_clear (&req);
}

static void
test_spawn_setup_round_trip (void)
{
  const char *argv[] = { "renamed", "-c", "exit 0", NULL };
  const SaProtoRlimit limits[] = { { 7, 64, 64 }, { 4, 0, G_MAXUINT64 } };
  const SaSpawnSetup setup = { 027, "/bin/sh", G_N_ELEMENTS (limits), limits };
  const SaSpawnFds fds = { { SA_PROTO_STDIO_PTY, SA_PROTO_STDIO_PTY, SA_PROTO_STDIO_PIPE }, 0, NULL };
  guint32 flags = SA_SPAWN_FLAG_NEW_SESSION | SA_SPAWN_FLAG_NO_SEARCH;
  gsize size = sa_proto_spawn_size (argv, NULL, "", "/tmp", 0, &setup);
  g_autofree guint8 *frame = g_malloc (size);
  gsize len = sa_proto_spawn_encode (frame, 7, flags, 0, SIGTERM, &fds, &setup,
                                     argv, NULL, "", "/tmp");
  SaProtoHeader header;
  const guint8 *payload;
  SaSpawnRequest req;

  g_assert_cmpuint (len, ==, size);
  g_assert_cmpint (sa_proto_next_frame (frame, len, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_spawn_decode (&header, payload, &req), ==, SA_PROTO_OK);
  g_assert_cmpuint (req.flags, ==, flags | SA_SPAWN_FLAG_HAS_CWD | SA_SPAWN_FLAG_HAS_UMASK |
                                   SA_SPAWN_FLAG_HAS_PROGRAM);
  g_assert_cmpint (req.umask, ==, 027);
  g_assert_cmpstr (req.program, ==, "/bin/sh");
  g_assert_cmpstr (req.cwd, ==, "/tmp");
  g_assert_cmpuint (req.n_rlimits, ==, 2);
  g_assert_cmpuint (req.rlimits[0].resource, ==, 7);
  g_assert_cmpuint (req.rlimits[0].soft, ==, 64);
  g_assert_cmpuint (req.rlimits[1].hard, ==, G_MAXUINT64);
  g_assert_cmpstrv ((const char * const *)req.argv, argv);
  /* a pipe and the terminal's master */
  g_assert_cmpuint (sa_proto_spawn_n_pipes (req.stdio), ==, 2);
  g_assert_true (sa_proto_spawn_has_pty (req.stdio));
  sa_proto_spawn_clear (&req);

  /* Without set-up: no umask, program or limit. */
  len = sa_proto_spawn_encode (frame, 7, 0, 0, SIGTERM, NULL, NULL, argv, NULL, "", NULL);
  g_assert_cmpint (sa_proto_next_frame (frame, len, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_spawn_decode (&header, payload, &req), ==, SA_PROTO_OK);
  g_assert_cmpint (req.umask, ==, -1);
  g_assert_null (req.program);
  g_assert_cmpuint (req.n_rlimits, ==, 0);
  sa_proto_spawn_clear (&req);
}

static void
test_spawn_no_cwd_no_env (void)
{
  const char *argv[] = { "true", NULL };
  gsize len;
  g_autofree guint8 *frame = encode_spawn (argv, NULL, NULL, NULL, NULL, &len);
  SaProtoHeader header;
  const guint8 *payload;
  SaSpawnRequest req;

  g_assert_cmpint (sa_proto_next_frame (frame, len, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_spawn_decode (&header, payload, &req), ==, SA_PROTO_OK);
  g_assert_null (req.cwd);
  g_assert_cmpstr (req.path, ==, "");
  g_assert_cmpuint (req.envc, ==, 0);
  g_assert_null (req.envp[0]);
  g_assert_cmpuint (req.flags & SA_SPAWN_FLAG_HAS_CWD, ==, 0);
  g_assert_cmpuint (req.stdio[0], ==, SA_PROTO_STDIO_NULL);
  g_assert_cmpuint (req.stdio[1], ==, SA_PROTO_STDIO_PIPE);
  g_assert_cmpuint (req.stdio[2], ==, SA_PROTO_STDIO_PIPE);
  g_assert_cmpuint (req.n_targets, ==, 0);
  sa_proto_spawn_clear (&req);
}

static void
test_need_more (void)
{
  const char *argv[] = { "echo", "hi", NULL };
  gsize len;
  g_autofree guint8 *frame = encode_spawn (argv, NULL, "", NULL, NULL, &len);
  SaProtoHeader header;
  const guint8 *payload;

  /* Every strict prefix is incomplete, never an error. */
  for (gsize i = 0; i < len; i++)
    g_assert_cmpint (sa_proto_next_frame (frame, i, &header, &payload), ==, SA_PROTO_NEED_MORE);
}

static void
test_words_round_trip (void)
{
  guint8 buf[SA_PROTO_REPLY_MAX_SIZE];
  guint32 in[2] = { 0xdeadbeef, 7 }, out[2];
  SaProtoHeader header;
  const guint8 *payload;
  gsize len = sa_proto_encode_words (buf, SA_MSG_EXITED, 0, 9, in, 2);

  g_assert_cmpuint (len, <=, sizeof buf);
  g_assert_cmpint (sa_proto_next_frame (buf, len, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_decode_words (&header, payload, out, 2), ==, SA_PROTO_OK);
  g_assert_cmpuint (out[0], ==, in[0]);
  g_assert_cmpuint (out[1], ==, in[1]);
  g_assert_cmpuint (header.id, ==, 9);

  /* Wrong word count for the type. */
  g_assert_cmpint (sa_proto_decode_words (&header, payload, out, 1), ==, SA_PROTO_INVALID);
}

/* A frame sent as its head and a shared environment block is the same
 * bytes as one encoded whole. */
static void
test_spawn_shared_env (void)
{
  const char *argv[] = { "env", NULL };
  const char *envp[] = { "A=1", "EMPTY=", "LONG=something longer", NULL };
  const char env_block[] = "A=1\0EMPTY=\0LONG=something longer";
  gsize size = sa_proto_spawn_size (argv, envp, "/bin", "/tmp", 0, NULL);
  g_autofree guint8 *whole = g_malloc (size);
  g_autofree guint8 *split = g_malloc (size);
  gsize head;

  g_assert_cmpuint (sa_proto_spawn_encode (whole, 5, 0, 0, SIGTERM, NULL, NULL, argv, envp,
                                           "/bin", "/tmp"), ==, size);
  head = sa_proto_spawn_encode (split, 5, 0, 0, SIGTERM, NULL, NULL, argv, NULL, "/bin", "/tmp");
  g_assert_cmpuint (head + sizeof env_block, ==, size);
  sa_proto_spawn_set_env (split, 3, sizeof env_block);
  memcpy (split + head, env_block, sizeof env_block);
  g_assert_cmpmem (split, size, whole, size);
}

static void
test_output_round_trip (void)
{
  g_autofree guint8 *buf = g_malloc (SA_PROTO_MAX_REPLY);
  const char text[] = "some output\0with a NUL";
  SaProtoHeader header;
  const guint8 *payload, *data;
  guint32 stream;
  gsize at, n;

  /* Bytes, then the end of a stream: an OUTPUT without bytes. */
  at = sa_proto_output_encode (buf, 7, SA_OUTPUT_STDERR, sizeof text);
  memcpy (buf + at, text, sizeof text);
  g_assert_cmpint (sa_proto_next_frame (buf, at + sizeof text, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_output_decode (&header, payload, &stream, &data, &n), ==, SA_PROTO_OK);
  g_assert_cmpuint (header.id, ==, 7);
  g_assert_cmpuint (stream, ==, SA_OUTPUT_STDERR);
  g_assert_cmpmem (data, n, text, sizeof text);

  at = sa_proto_output_encode (buf, 7, SA_OUTPUT_STDOUT, 0);
  g_assert_cmpint (sa_proto_next_frame (buf, at, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_output_decode (&header, payload, &stream, &data, &n), ==, SA_PROTO_OK);
  g_assert_cmpuint (stream, ==, SA_OUTPUT_STDOUT);
  g_assert_cmpuint (n, ==, 0);

  /* The largest, and a stream that is neither. */
  at = sa_proto_output_encode (buf, 8, SA_OUTPUT_STDOUT, SA_PROTO_MAX_RELAY);
  g_assert_cmpuint (at + SA_PROTO_MAX_RELAY, ==, SA_PROTO_MAX_REPLY);
  memset (buf + at, 'x', SA_PROTO_MAX_RELAY);
  g_assert_cmpint (sa_proto_next_frame (buf, SA_PROTO_MAX_REPLY, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_output_decode (&header, payload, &stream, &data, &n), ==, SA_PROTO_OK);
  g_assert_cmpuint (n, ==, SA_PROTO_MAX_RELAY);
  at = sa_proto_output_encode (buf, 8, 3, 0);
  g_assert_cmpint (sa_proto_next_frame (buf, at, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpint (sa_proto_output_decode (&header, payload, &stream, &data, &n), ==, SA_PROTO_INVALID);
}

static void
test_bad_headers (void)
{
  guint8 buf[SA_PROTO_HEADER_SIZE + 64] = { 0 };
  SaProtoHeader header;
  const guint8 *payload;

  /* Unknown types. */
  sa_proto_header_encode (buf, 0, 0, 1, 8);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, 99, 0, 1, 8);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);

  /* Oversized payload. */
  sa_proto_header_encode (buf, SA_MSG_SPAWN, 0, 1, SA_PROTO_MAX_PAYLOAD + 1);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_SPAWN, 0, 1, G_MAXUINT32);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);

  /* fds on a frame that cannot carry them, too many fds. */
  sa_proto_header_encode (buf, SA_MSG_EXITED, 1, 1, 8);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_SPAWNED, SA_PROTO_MAX_FDS + 1, 1, 4);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_SPAWN, SA_PROTO_MAX_SPAWN_FDS + 1, 1, 40);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);

  /* The relay's frames: OUTPUT has its stream word and at most
   * SA_PROTO_MAX_RELAY bytes, INPUT at most that. */
  sa_proto_header_encode (buf, SA_MSG_OUTPUT, 0, 1, 0);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_OUTPUT, 0, 1, 4 + SA_PROTO_MAX_RELAY + 1);
  g_assert_cmpint (sa_proto_header_decode (buf, sizeof buf, &header), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_INPUT, 0, 1, SA_PROTO_MAX_RELAY + 1);
  g_assert_cmpint (sa_proto_header_decode (buf, sizeof buf, &header), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_INPUT, 0, 1, 0);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_OK);
  sa_proto_header_encode (buf, SA_MSG_OUTPUT, 1, 1, 4);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_CLOSE, 0, 1, 0);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);

  /* A fixed-size frame of the wrong size. */
  sa_proto_header_encode (buf, SA_MSG_KILL, 0, 1, 4);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_HELLO, 0, 0, 4);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
}

static void
put_u32 (guint8 *p, guint32 v)
{
  memcpy (p, &v, 4);
}

/* A SPAWN payload by hand: 11 words, the targets, the resource limits,
 * then bytes. */
typedef struct
{
  guint32 flags;
  gint32 signal;
  guint32 argc, envc;
  guint32 stdio[3];
  guint32 n_targets;        /* also the header's n_fds, unless n_fds says */
  gint32 targets[3];
  const char *strings;
  gsize len;
  int n_fds;                /* -1: n_targets */
  int expected;
  guint32 umask;
  guint32 n_rlimits;
  guint32 rlimits[2][5];    /* resource, soft (low, high), hard (low, high) */
} RawSpawn;

static int
decode_raw (const RawSpawn *raw)
{
  guint32 n_targets = MIN (raw->n_targets, 3);
  guint32 n_rlimits = MIN (raw->n_rlimits, 2);
  gsize payload_len = 44 + 4 * n_targets + 20 * n_rlimits + raw->len;
  g_autofree guint8 *frame = g_malloc0 (SA_PROTO_HEADER_SIZE + payload_len);
  guint8 *p = frame + SA_PROTO_HEADER_SIZE;
  SaProtoHeader header;
  const guint8 *payload;
  SaSpawnRequest req;
  int ret;

  sa_proto_header_encode (frame, SA_MSG_SPAWN,
                          raw->n_fds >= 0 ? (guint16)raw->n_fds : (guint16)raw->n_targets,
                          1, (guint32)payload_len);
  put_u32 (p, raw->flags);
  put_u32 (p + 4, 0);
  put_u32 (p + 8, (guint32)raw->signal);
  put_u32 (p + 12, raw->argc);
  put_u32 (p + 16, raw->envc);
  put_u32 (p + 20, raw->stdio[0]);
  put_u32 (p + 24, raw->stdio[1]);
  put_u32 (p + 28, raw->stdio[2]);
  put_u32 (p + 32, raw->n_targets);
  put_u32 (p + 36, raw->umask);
  put_u32 (p + 40, raw->n_rlimits);
  p += 44;
  for (guint32 i = 0; i < n_targets; i++, p += 4)
    put_u32 (p, (guint32)raw->targets[i]);
  for (guint32 i = 0; i < n_rlimits; i++)
    for (guint j = 0; j < 5; j++, p += 4)
      put_u32 (p, raw->rlimits[i][j]);
  memcpy (p, raw->strings, raw->len);

  if (sa_proto_next_frame (frame, SA_PROTO_HEADER_SIZE + payload_len,
                           &header, &payload) != SA_PROTO_OK)
    return SA_PROTO_INVALID;
  ret = sa_proto_spawn_decode (&header, payload, &req);
  if (ret == SA_PROTO_OK)
    sa_proto_spawn_clear (&req);
  return ret;
}

static void
test_bad_spawn (void)
{
  /* path, argv[0] */
  static const char good[] = "\0echo";
#define STD { 0, 1, 1 }
#define PTY { 4, 4, 4 }
#define NEW SA_SPAWN_FLAG_NEW_SESSION
#define CTTY SA_SPAWN_FLAG_CTTY
#define UMASK SA_SPAWN_FLAG_HAS_UMASK
#define PROGRAM SA_SPAWN_FLAG_HAS_PROGRAM
  const RawSpawn cases[] = {
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_OK },
    { 0, SIGTERM, 0, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },          /* argc 0 */
    { 0, SIGTERM, 2, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },          /* missing string */
    { 0, SIGTERM, 1, 1, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },          /* missing env */
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good - 1, -1, SA_PROTO_INVALID },      /* no final NUL */
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, "\0echo\0extra", 12, -1, SA_PROTO_INVALID },        /* trailing bytes */
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, "\0\0", 2, -1, SA_PROTO_INVALID },                  /* empty argv[0] */
    { 0, 0, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },                /* signal 0 */
    { 0, -1, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },               /* signal -1 */
    { 0, 999, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },              /* signal 999 */
    { 1u << 9, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },    /* unknown flag */
    { SA_SPAWN_FLAG_RELAY, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_OK },
    { SA_SPAWN_FLAG_RELAY | NEW, SIGTERM, 1, 0, { 1, 4, 1 }, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID }, /* relay, PTY */
    { 1u << 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },    /* version 1's STDIN_PIPE */
    { SA_SPAWN_FLAG_HAS_CWD, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID }, /* cwd eats argv[0] */
    { 0, SIGTERM, G_MAXUINT32, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },
    { 0, SIGTERM, 1, G_MAXUINT32, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },
    { 0, SIGTERM, 0x80000000u, 0x80000000u, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },
    /* the descriptors */
    { 0, SIGTERM, 1, 0, { 2, 0, 3 }, 1, { 0 }, good, sizeof good, -1, SA_PROTO_OK },       /* stdin a fd, stderr merged */
    { 0, SIGTERM, 1, 0, { 5, 1, 1 }, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },  /* unknown mode */
    { 0, SIGTERM, 1, 0, { 3, 1, 1 }, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },  /* stdin merged */
    { 0, SIGTERM, 1, 0, { 0, 3, 1 }, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },  /* stdout merged */
    { 0, SIGTERM, 1, 0, { 0, 2, 1 }, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },  /* FD without target */
    { 0, SIGTERM, 1, 0, STD, 1, { 1 }, good, sizeof good, -1, SA_PROTO_INVALID },          /* target 1, not FD */
    { 0, SIGTERM, 1, 0, STD, 2, { 5, 5 }, good, sizeof good, -1, SA_PROTO_INVALID },       /* a target twice */
    { 0, SIGTERM, 1, 0, STD, 1, { -1 }, good, sizeof good, -1, SA_PROTO_INVALID },         /* negative target */
    { 0, SIGTERM, 1, 0, STD, 1, { 1 << 20 }, good, sizeof good, -1, SA_PROTO_INVALID },    /* target too large */
    { 0, SIGTERM, 1, 0, STD, 1, { 5 }, good, sizeof good, 2, SA_PROTO_INVALID },           /* n_fds differs */
    { 0, SIGTERM, 1, 0, STD, 1000, { 5 }, good, sizeof good, 1, SA_PROTO_INVALID },        /* n_targets too large */
    { 0, SIGTERM, 1, 0, STD, 3, { 3, 4, 5 }, good, sizeof good, -1, SA_PROTO_OK },
    /* terminals and sessions */
    { NEW, SIGTERM, 1, 0, PTY, 0, { 0 }, good, sizeof good, -1, SA_PROTO_OK },
    { 0, SIGTERM, 1, 0, PTY, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },          /* PTY, same session */
    { 0, SIGTERM, 1, 0, { 0, 4, 1 }, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },  /* one PTY, same session */
    { NEW | CTTY, SIGTERM, 1, 0, { 2, 1, 1 }, 1, { 0 }, good, sizeof good, -1, SA_PROTO_OK },
    { CTTY, SIGTERM, 1, 0, { 2, 1, 1 }, 1, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID }, /* CTTY, same session */
    { NEW | CTTY, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },   /* CTTY, stdin not a fd */
    { NEW | CTTY, SIGTERM, 1, 0, { 2, 4, 1 }, 1, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID }, /* CTTY and PTY */
    { NEW | SA_SPAWN_FLAG_DETACHED, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_OK },
    { SA_SPAWN_FLAG_DETACHED, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },
    { SA_SPAWN_FLAG_NO_SEARCH, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_OK },
    /* umask */
    { UMASK, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_OK, .umask = 0777 },
    { UMASK, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID, .umask = 01000 },
    { UMASK, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID, .umask = G_MAXUINT32 },
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID, .umask = 022 }, /* without the flag */
    /* resource limits */
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_OK,
      .n_rlimits = 2, .rlimits = { { 7, 64, 0, 64, 0 }, { 4, 0, 0, ~0u, ~0u } } },
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID,            /* unknown resource */
      .n_rlimits = 1, .rlimits = { { 16, 1, 0, 1, 0 } } },
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID,            /* soft above hard */
      .n_rlimits = 1, .rlimits = { { 7, 0, 1, 1, 0 } } },
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID,            /* more than sent */
      .n_rlimits = 3, .rlimits = { { 7, 1, 0, 1, 0 }, { 7, 1, 0, 1, 0 } } },
    { 0, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID,            /* over the limit */
      .n_rlimits = SA_PROTO_MAX_RLIMITS + 1 },
    /* program: after path (and cwd) */
    { PROGRAM, SIGTERM, 1, 0, STD, 0, { 0 }, "\0/bin/sh\0echo", 14, -1, SA_PROTO_OK },
    { PROGRAM, SIGTERM, 1, 0, STD, 0, { 0 }, "\0\0echo", 7, -1, SA_PROTO_INVALID },        /* empty program */
    { PROGRAM, SIGTERM, 1, 0, STD, 0, { 0 }, good, sizeof good, -1, SA_PROTO_INVALID },    /* program eats argv[0] */
  };
#undef STD
#undef PTY
#undef NEW
#undef CTTY
#undef UMASK
#undef PROGRAM

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int ret = decode_raw (&cases[i]);
      if (ret != cases[i].expected)
        g_error ("case %u: %d, expected %d", i, ret, cases[i].expected);
    }
}

static void
test_spawn_too_big (void)
{
  gsize big_len = SA_PROTO_MAX_PAYLOAD;
  g_autofree char *big = g_malloc (big_len + 1);
  const char *argv[] = { "echo", big, NULL };

  memset (big, 'x', big_len);
  big[big_len] = '\0';
  g_assert_cmpuint (sa_proto_spawn_size (argv, NULL, "", NULL, 0, NULL), ==, 0);
  g_assert_cmpuint (sa_proto_spawn_size ((const char *[]) { "true", NULL }, NULL, "", NULL,
                                         SA_PROTO_MAX_SPAWN_FDS + 1, NULL), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/protocol/spawn/round-trip", test_spawn_round_trip);
  g_test_add_func ("/protocol/spawn/setup-round-trip", test_spawn_setup_round_trip);
  g_test_add_func ("/protocol/spawn/no-cwd-no-env", test_spawn_no_cwd_no_env);
  g_test_add_func ("/protocol/spawn/need-more", test_need_more);
  g_test_add_func ("/protocol/spawn/malformed", test_bad_spawn);
  g_test_add_func ("/protocol/spawn/too-big", test_spawn_too_big);
  g_test_add_func ("/protocol/words/round-trip", test_words_round_trip);
  g_test_add_func ("/protocol/output/round-trip", test_output_round_trip);
  g_test_add_func ("/protocol/spawn/shared-env", test_spawn_shared_env);
  g_test_add_func ("/protocol/header/malformed", test_bad_headers);

  return g_test_run ();
}
