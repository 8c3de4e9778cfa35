/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gen-corpus DIR: writes the seed corpus of the fuzz targets into
 * DIR/helper-input and DIR/library-message (both must exist). The
 * committed tests/fuzz/corpus was made with it; libFuzzer grows it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sa-protocol.h"

static const char *dir;

typedef struct
{
  uint8_t data[4096];
  size_t  len;
} Buffer;

static void
put (Buffer *b, const void *data, size_t len)
{
  if (b->len + len > sizeof b->data)
    abort ();
  memcpy (b->data + b->len, data, len);
  b->len += len;
}

static void
put_byte (Buffer *b, uint8_t byte)
{
  put (b, &byte, 1);
}

static void
put_words (Buffer *b, uint16_t type, uint16_t n_fds, uint32_t id, uint32_t w0, uint32_t w1)
{
  uint8_t frame[SA_PROTO_REPLY_MAX_SIZE];
  uint32_t words[2] = { w0, w1 };

  put (b, frame, sa_proto_encode_words (frame, type, n_fds, id, words,
                                        sa_proto_words_for_type (type)));
}

static void
put_hello (Buffer *b, uint32_t version)
{
  put_words (b, SA_MSG_HELLO, 0, 0, version, 0);
}

static void
put_spawn_setup (Buffer *b, uint32_t id, uint32_t flags, uint32_t timeout, int signum,
                 const SaSpawnFds *fds, const SaSpawnSetup *setup,
                 const char * const *argv, const char * const *envp,
                 const char *path, const char *cwd)
{
  uint8_t frame[2048];
  size_t size = sa_proto_spawn_size (argv, envp, path, cwd, fds ? fds->n_targets : 0, setup);

  if (size == 0 || size > sizeof frame)
    abort ();
  put (b, frame, sa_proto_spawn_encode (frame, id, flags, timeout, signum, fds, setup,
                                        argv, envp, path, cwd));
}

static void
put_spawn_fds (Buffer *b, uint32_t id, uint32_t flags, uint32_t timeout, int signum,
               const SaSpawnFds *fds, const char * const *argv, const char * const *envp,
               const char *path, const char *cwd)
{
  put_spawn_setup (b, id, flags, timeout, signum, fds, NULL, argv, envp, path, cwd);
}

static void
put_spawn (Buffer *b, uint32_t id, uint32_t flags, uint32_t timeout, int signum,
           const char * const *argv, const char * const *envp, const char *path,
           const char *cwd)
{
  put_spawn_fds (b, id, flags, timeout, signum, NULL, argv, envp, path, cwd);
}

/* A helper-input seed starts with the datagram size and the number of
 * descriptors that come with the second datagram. */
static void
start_helper_seed (Buffer *b, uint8_t piece, uint8_t n_fds)
{
  b->len = 0;
  put_byte (b, piece);
  put_byte (b, n_fds);
}

static void
write_seed (const char *target, const char *name, const Buffer *b)
{
  char path[4096];
  FILE *file;

  snprintf (path, sizeof path, "%s/%s/%s", dir, target, name);
  file = fopen (path, "wb");
  if (file == NULL || fwrite (b->data, 1, b->len, file) != b->len || fclose (file) != 0)
    {
      perror (path);
      exit (1);
    }
}

static const char *argv_true[] = { "true", NULL };
static const char *argv_sh[] = { "/bin/sh", "-c", "echo $HOME; cat", NULL };
static const char *env_some[] = { "PATH=/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8", NULL };
static const char *env_none[] = { NULL };

static void
helper_seeds (void)
{
  static const uint8_t pieces[] = { 0, 1, 5, 12, 64 };
  Buffer b;

  for (size_t i = 0; i < sizeof pieces; i++)
    {
      char name[64];

      static const SaSpawnFds stdin_pipe = {
        { SA_PROTO_STDIO_PIPE, SA_PROTO_STDIO_PIPE, SA_PROTO_STDIO_MERGE }, 0, NULL
      };

      start_helper_seed (&b, pieces[i], 0);
      put_hello (&b, SA_PROTO_VERSION);
      put_spawn (&b, 1, 0, 0, SIGTERM, argv_true, env_some, "/usr/bin:/bin", NULL);
      put_spawn_fds (&b, 2, 0, 5000, SIGINT, &stdin_pipe, argv_sh, env_none, "", "/tmp");
      put_words (&b, SA_MSG_KILL, 0, 2, SIGKILL, 0);
      snprintf (name, sizeof name, "session-piece-%u", pieces[i]);
      write_seed ("helper-input", name, &b);
    }

  start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION);
  write_seed ("helper-input", "hello", &b);

  {
    /* HELLO alone in the first datagram (20 bytes), then a SPAWN whose
     * stdout and fd 3 are descriptors that come with the second. */
    static const int32_t targets[] = { 1, 3 };
    static const SaSpawnFds with_fds = {
      { SA_PROTO_STDIO_NULL, SA_PROTO_STDIO_FD, SA_PROTO_STDIO_MERGE }, 2, targets
    };
    Buffer spawn;

    spawn.len = 0;
    put_spawn_fds (&spawn, 1, 0, 0, SIGTERM, &with_fds, argv_true, env_none, "", NULL);
    start_helper_seed (&b, SA_PROTO_HEADER_SIZE + 8, 2);
    put_hello (&b, SA_PROTO_VERSION);
    put (&b, spawn.data, spawn.len);
    write_seed ("helper-input", "spawn-with-fds", &b);
  }

  {
    /* A terminal for all three, in a new session, with umask, program
     * and resource limits; then one detached, without a search. */
    static const SaSpawnFds terminal = {
      { SA_PROTO_STDIO_PTY, SA_PROTO_STDIO_PTY, SA_PROTO_STDIO_PTY }, 0, NULL
    };
    static const SaProtoRlimit limits[] = { { 7, 64, 64 }, { 4, 0, UINT64_MAX } };
    static const SaSpawnSetup setup = { 022, "/bin/sh", 2, limits };

    start_helper_seed (&b, 0, 0);
    put_hello (&b, SA_PROTO_VERSION);
    put_spawn_setup (&b, 1, SA_SPAWN_FLAG_NEW_SESSION, 0, SIGTERM, &terminal, &setup,
                     argv_sh, env_some, "/usr/bin:/bin", "/tmp");
    put_spawn (&b, 2, SA_SPAWN_FLAG_NEW_SESSION | SA_SPAWN_FLAG_DETACHED |
               SA_SPAWN_FLAG_NO_SEARCH, 0, SIGTERM, argv_true, env_none, "", NULL);
    write_seed ("helper-input", "spawn-terminal-setup", &b);
  }

  {
    /* The caller's terminal as 0, 1 and 2 (take_pty_fd()): three
     * descriptors, fd 0 the controlling terminal. */
    static const int32_t targets[] = { 0, 1, 2 };
    static const SaSpawnFds caller_terminal = {
      { SA_PROTO_STDIO_FD, SA_PROTO_STDIO_FD, SA_PROTO_STDIO_FD }, 3, targets
    };
    Buffer spawn;

    spawn.len = 0;
    put_spawn_fds (&spawn, 1, SA_SPAWN_FLAG_NEW_SESSION | SA_SPAWN_FLAG_CTTY, 0, SIGTERM,
                   &caller_terminal, argv_true, env_none, "", NULL);
    start_helper_seed (&b, SA_PROTO_HEADER_SIZE + 8, 3);
    put_hello (&b, SA_PROTO_VERSION);
    put (&b, spawn.data, spawn.len);
    write_seed ("helper-input", "spawn-ctty", &b);
  }

  start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION + 1);
  write_seed ("helper-input", "hello-version", &b);

  start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION); put_hello (&b, SA_PROTO_VERSION);
  write_seed ("helper-input", "hello-twice", &b);

  start_helper_seed (&b, 0, 0);
  put_spawn (&b, 1, 0, 0, SIGTERM, argv_true, env_none, "", NULL);
  write_seed ("helper-input", "spawn-before-hello", &b);

  start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION);
  put_spawn (&b, 7, 0, 0, SIGTERM, argv_true, env_none, "", NULL);
  put_spawn (&b, 7, 0, 0, SIGTERM, argv_true, env_none, "", NULL);
  write_seed ("helper-input", "spawn-duplicate-id", &b);

  start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION);
  put_words (&b, SA_MSG_KILL, 0, 3, 0, 0);
  write_seed ("helper-input", "kill-signal-zero", &b);

  start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION);
  put_words (&b, SA_MSG_EXITED, 0, 3, 0, 0);
  write_seed ("helper-input", "reply-type", &b);

  {
    uint8_t header[SA_PROTO_HEADER_SIZE];

    start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION);
    sa_proto_header_encode (header, SA_MSG_SPAWN, 0, 1, SA_PROTO_MAX_PAYLOAD + 1);
    put (&b, header, sizeof header);
    write_seed ("helper-input", "oversized-length", &b);

    start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION);
    sa_proto_header_encode (header, 99, 0, 1, 0);
    put (&b, header, sizeof header);
    write_seed ("helper-input", "unknown-type", &b);

    start_helper_seed (&b, 3, 0); put_hello (&b, SA_PROTO_VERSION);
    sa_proto_header_encode (header, SA_MSG_SPAWN, 0, 1, 200);
    put (&b, header, sizeof header);
    put (&b, "partial", 7);
    write_seed ("helper-input", "truncated-spawn", &b);
  }

  /* A SPAWN whose counts say more strings than there are. */
  {
    size_t start;
    uint32_t huge = 1000;

    start_helper_seed (&b, 0, 0); put_hello (&b, SA_PROTO_VERSION);
    start = b.len;
    put_spawn (&b, 1, 0, 0, SIGTERM, argv_true, env_some, "/bin", NULL);
    memcpy (b.data + start + SA_PROTO_HEADER_SIZE + 12, &huge, 4);
    write_seed ("helper-input", "spawn-argc-too-big", &b);
  }
}

/* The relay, from the library's side: a relayed SPAWN, INPUT, its end,
 * CLOSE. */
static void
relay_helper_seeds (void)
{
  static const SaSpawnFds pipes = {
    { SA_PROTO_STDIO_PIPE, SA_PROTO_STDIO_PIPE, SA_PROTO_STDIO_PIPE }, 0, NULL
  };
  uint8_t header[SA_PROTO_HEADER_SIZE];
  uint32_t which = SA_CLOSE_STDOUT | SA_CLOSE_STDIN;
  Buffer b;

  start_helper_seed (&b, 0, 0);
  put_hello (&b, SA_PROTO_VERSION);
  put_spawn_fds (&b, 1, SA_SPAWN_FLAG_RELAY, 0, SIGTERM, &pipes, argv_sh, env_none, "", NULL);
  sa_proto_header_encode (header, SA_MSG_INPUT, 0, 1, 6);
  put (&b, header, sizeof header);
  put (&b, "input\n", 6);
  sa_proto_header_encode (header, SA_MSG_INPUT, 0, 1, 0);
  put (&b, header, sizeof header);
  put_words (&b, SA_MSG_CLOSE, 0, 1, which, 0);
  write_seed ("helper-input", "relay", &b);
}

/* An OUTPUT message: the library's buffer, with its stream word. */
static void
put_output (Buffer *b, uint32_t id, uint32_t stream, const char *text)
{
  uint8_t frame[SA_PROTO_HEADER_SIZE + 4];
  size_t len = strlen (text);

  put (b, frame, sa_proto_output_encode (frame, id, stream, len));
  put (b, text, len);
}

static void
library_seeds (void)
{
  Buffer b;

  b.len = 0; put_byte (&b, 0); put_output (&b, 7, SA_OUTPUT_STDOUT, "relayed output\n");
  write_seed ("library-message", "output", &b);

  b.len = 0; put_byte (&b, 0); put_output (&b, 7, SA_OUTPUT_STDERR, "");
  write_seed ("library-message", "output-end", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_WROTE, 0, 7, SA_WROTE_FLAG_CLOSED, 0);
  write_seed ("library-message", "wrote-closed", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_HELLO, 0, 0, SA_PROTO_VERSION, 1234);
  write_seed ("library-message", "hello", &b);

  b.len = 0; put_byte (&b, 2); put_words (&b, SA_MSG_SPAWNED, 2, 1, 4321, 0);
  write_seed ("library-message", "spawned-2-fds", &b);

  b.len = 0; put_byte (&b, 3); put_words (&b, SA_MSG_SPAWNED, 3, 2, 4322, 0);
  write_seed ("library-message", "spawned-3-fds", &b);

  b.len = 0; put_byte (&b, 4 | 1); put_words (&b, SA_MSG_SPAWNED, 3, 3, 4323, 0);
  write_seed ("library-message", "spawned-fds-lost", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_SPAWN_FAILED, 0, 4, SA_SPAWN_STAGE_EXEC, 2);
  write_seed ("library-message", "spawn-failed", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_EXITED, 0, 5, 0x0f00, SA_EXITED_FLAG_TIMED_OUT);
  write_seed ("library-message", "exited-timed-out", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_EXITED, 0, 5, 0, SA_EXITED_FLAG_LINGERS);
  write_seed ("library-message", "exited-lingers", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_GROUP_GONE, 0, 5, 0, 0);
  write_seed ("library-message", "group-gone", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_STARTING, 0, 6, 4324, 0);
  write_seed ("library-message", "starting", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_EXITED, 0, 5, 0, 0); put_byte (&b, 0);
  write_seed ("library-message", "trailing-byte", &b);

  b.len = 0; put_byte (&b, 0); put_words (&b, SA_MSG_KILL, 0, 5, 9, 0);
  write_seed ("library-message", "kill-from-helper", &b);

  b.len = 0; put_byte (&b, 0); put (&b, "\x08\0\0\0\x06\0", 6);
  write_seed ("library-message", "truncated-header", &b);

  /* A SPAWN (the library's own type) declaring 13 fds, one of them come:
   * once the fuzzer's, when this target still assumed at most
   * SA_PROTO_MAX_FDS in any frame. */
  b.len = 0; put_byte (&b, 4 | 1); put (&b, "\0\0\0\0\x02\0\x0d\0\x09\0\0\0", 12);
  write_seed ("library-message", "spawn-13-fds-from-helper", &b);
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s DIR\n", argv[0]);
      return 2;
    }
  dir = argv[1];
  helper_seeds ();
  relay_helper_seeds ();
  library_seeds ();
  return 0;
}
