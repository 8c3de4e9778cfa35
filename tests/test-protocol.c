/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The wire protocol codec (spawn-async/sa-protocol.c): round trips, and
 * the rejection of every malformed frame it is given.
 */
#include <glib.h>
#include <signal.h>
#include <string.h>

#include "sa-protocol.h"

static guint8 *
encode_spawn (const char * const *argv,
              const char * const *envp,
              const char         *path,
              const char         *cwd,
              gsize              *len)
{
  gsize size = sa_proto_spawn_size (argv, envp, path, cwd);
  guint8 *frame;

  g_assert_cmpuint (size, >, SA_PROTO_HEADER_SIZE);
  frame = g_malloc (size);
  *len = sa_proto_spawn_encode (frame, 42, SA_SPAWN_FLAG_STDIN_PIPE, 1500, SIGINT,
                                argv, envp, path, cwd);
  g_assert_cmpuint (*len, ==, size);
  return frame;
}

static void
test_spawn_round_trip (void)
{
  const char *argv[] = { "ls", "-l", "", "/etc/passwd", NULL };
  const char *envp[] = { "A=1", "EMPTY=", NULL };
  gsize len;
  g_autofree guint8 *frame = encode_spawn (argv, envp, "/bin:/usr/bin", "/tmp", &len);
  SaProtoHeader header;
  const guint8 *payload;
  SaSpawnRequest req;

  g_assert_cmpint (sa_proto_next_frame (frame, len, &header, &payload), ==, SA_PROTO_OK);
  g_assert_cmpuint (header.type, ==, SA_MSG_SPAWN);
  g_assert_cmpuint (header.id, ==, 42);
  g_assert_cmpuint (header.n_fds, ==, 0);
  g_assert_cmpuint (SA_PROTO_HEADER_SIZE + header.length, ==, len);

  g_assert_cmpint (sa_proto_spawn_decode (&header, payload, &req), ==, SA_PROTO_OK);
  g_assert_cmpuint (req.flags, ==, SA_SPAWN_FLAG_STDIN_PIPE | SA_SPAWN_FLAG_HAS_CWD);
  g_assert_cmpuint (req.timeout_ms, ==, 1500);
  g_assert_cmpint (req.kill_signal, ==, SIGINT);
  g_assert_cmpstr (req.path, ==, "/bin:/usr/bin");
  g_assert_cmpstr (req.cwd, ==, "/tmp");
  g_assert_cmpstrv ((const char * const *)req.argv, argv);
  g_assert_cmpstrv ((const char * const *)req.envp, envp);
  sa_proto_spawn_clear (&req);
}

static void
test_spawn_no_cwd_no_env (void)
{
  const char *argv[] = { "true", NULL };
  gsize len;
  g_autofree guint8 *frame = encode_spawn (argv, NULL, NULL, NULL, &len);
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
  sa_proto_spawn_clear (&req);
}

static void
test_need_more (void)
{
  const char *argv[] = { "echo", "hi", NULL };
  gsize len;
  g_autofree guint8 *frame = encode_spawn (argv, NULL, "", NULL, &len);
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

  /* A fixed-size frame of the wrong size. */
  sa_proto_header_encode (buf, SA_MSG_KILL, 0, 1, 8);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
  sa_proto_header_encode (buf, SA_MSG_HELLO, 0, 0, 4);
  g_assert_cmpint (sa_proto_next_frame (buf, sizeof buf, &header, &payload), ==, SA_PROTO_INVALID);
}

static void
put_u32 (guint8 *p, guint32 v)
{
  memcpy (p, &v, 4);
}

/* A SPAWN payload by hand: 5 words then bytes. */
static int
decode_raw (guint32       flags,
            gint32        signal,
            guint32       argc,
            guint32       envc,
            const char   *strings,
            gsize         strings_len)
{
  g_autofree guint8 *frame = g_malloc0 (SA_PROTO_HEADER_SIZE + 20 + strings_len);
  guint8 *p = frame + SA_PROTO_HEADER_SIZE;
  SaProtoHeader header;
  const guint8 *payload;
  SaSpawnRequest req;
  int ret;

  sa_proto_header_encode (frame, SA_MSG_SPAWN, 0, 1, (guint32)(20 + strings_len));
  put_u32 (p, flags);
  put_u32 (p + 4, 0);
  put_u32 (p + 8, (guint32)signal);
  put_u32 (p + 12, argc);
  put_u32 (p + 16, envc);
  memcpy (p + 20, strings, strings_len);

  g_assert_cmpint (sa_proto_next_frame (frame, SA_PROTO_HEADER_SIZE + 20 + strings_len,
                                        &header, &payload), ==, SA_PROTO_OK);
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
  struct {
    guint32 flags;
    gint32 signal;
    guint32 argc, envc;
    const char *strings;
    gsize len;
    int expected;
  } cases[] = {
    { 0, SIGTERM, 1, 0, good, sizeof good, SA_PROTO_OK },
    { 0, SIGTERM, 0, 0, good, sizeof good, SA_PROTO_INVALID },          /* argc 0 */
    { 0, SIGTERM, 2, 0, good, sizeof good, SA_PROTO_INVALID },          /* missing string */
    { 0, SIGTERM, 1, 1, good, sizeof good, SA_PROTO_INVALID },          /* missing env */
    { 0, SIGTERM, 1, 0, good, sizeof good - 1, SA_PROTO_INVALID },      /* no final NUL */
    { 0, SIGTERM, 1, 0, "\0echo\0extra", 12, SA_PROTO_INVALID },        /* trailing bytes */
    { 0, SIGTERM, 1, 0, "\0\0", 2, SA_PROTO_INVALID },                  /* empty argv[0] */
    { 0, 0, 1, 0, good, sizeof good, SA_PROTO_INVALID },                /* signal 0 */
    { 0, -1, 1, 0, good, sizeof good, SA_PROTO_INVALID },               /* signal -1 */
    { 0, 999, 1, 0, good, sizeof good, SA_PROTO_INVALID },              /* signal 999 */
    { 1u << 7, SIGTERM, 1, 0, good, sizeof good, SA_PROTO_INVALID },    /* unknown flag */
    { SA_SPAWN_FLAG_HAS_CWD, SIGTERM, 1, 0, good, sizeof good, SA_PROTO_INVALID }, /* cwd eats argv[0] */
    { 0, SIGTERM, G_MAXUINT32, 0, good, sizeof good, SA_PROTO_INVALID },
    { 0, SIGTERM, 1, G_MAXUINT32, good, sizeof good, SA_PROTO_INVALID },
    { 0, SIGTERM, 0x80000000u, 0x80000000u, good, sizeof good, SA_PROTO_INVALID },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int ret = decode_raw (cases[i].flags, cases[i].signal, cases[i].argc,
                            cases[i].envc, cases[i].strings, cases[i].len);
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
  g_assert_cmpuint (sa_proto_spawn_size (argv, NULL, "", NULL), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/protocol/spawn/round-trip", test_spawn_round_trip);
  g_test_add_func ("/protocol/spawn/no-cwd-no-env", test_spawn_no_cwd_no_env);
  g_test_add_func ("/protocol/spawn/need-more", test_need_more);
  g_test_add_func ("/protocol/spawn/malformed", test_bad_spawn);
  g_test_add_func ("/protocol/spawn/too-big", test_spawn_too_big);
  g_test_add_func ("/protocol/words/round-trip", test_words_round_trip);
  g_test_add_func ("/protocol/header/malformed", test_bad_headers);

  return g_test_run ();
}
