/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake-helper: a misbehaving stand-in for spawn-async-helper, given to
 * the library through SPAWN_ASYNC_HELPER by the reliability tests.
 *
 * SA_FAKE_HELPER_MODE chooses what it does:
 *
 *   exit            exit at once, before the handshake
 *   silent          never answer the handshake
 *   hello-exit      answer the handshake, then exit
 *   hello-version   answer the handshake with protocol version 99
 *   hello-pid       answer the handshake with a pid that is not its own
 *   real-then-exit  exec the real helper (SA_FAKE_HELPER_REAL) on the
 *                   first start, exit at once on every later one
 *   reply-*         answer the handshake, then answer the first SPAWN
 *                   with the broken reply named (see answer_spawn())
 *   same-pipe       answer the first SPAWN with a real child that writes
 *                   "same\n", and one pipe sent as both its stdout and
 *                   its stderr, whose write end the fake keeps open
 *   stops-reading   answer the handshake, then never read again
 *   stops-writing   answer the handshake, read everything, answer nothing
 *
 * Every start appends a line to the file SA_FAKE_HELPER_LOG, if set, so
 * that the tests can count restarts. After a broken reply it waits for
 * the library to close the socket (or kill it).
 */
#include "sa-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOCKET_FD 3

static unsigned
log_start (void)
{
  const char *path = getenv ("SA_FAKE_HELPER_LOG");
  unsigned previous = 0;
  char line[64];
  FILE *file;

  if (path == NULL)
    return 0;
  file = fopen (path, "a+");
  if (file == NULL)
    return 0;
  rewind (file);
  while (fgets (line, sizeof line, file) != NULL)
    previous++;
  fprintf (file, "start %d\n", (int) getpid ());
  fclose (file);
  return previous;
}

static void
send_message (const void *data, size_t len, const int *fds, size_t n_fds)
{
  union {
    char buf[CMSG_SPACE (sizeof (int) * 8)];
    struct cmsghdr align;
  } control;
  struct iovec iov = { (void *) data, len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

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
  if (sendmsg (SOCKET_FD, &msg, MSG_NOSIGNAL) < 0)
    exit (0);
}

static void
send_words (uint16_t type, uint16_t n_fds, uint32_t id,
            const uint32_t *words, size_t n_words,
            const int *fds, size_t n_real_fds)
{
  uint8_t frame[SA_PROTO_REPLY_MAX_SIZE];
  size_t len = sa_proto_encode_words (frame, type, n_fds, id, words, n_words);

  send_message (frame, len, fds, n_real_fds);
}

/* Reads one message; exits when the library has gone. */
static size_t
receive (uint8_t *buffer, size_t size)
{
  ssize_t n;

  do
    n = recv (SOCKET_FD, buffer, size, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    exit (0);
  return (size_t) n;
}

static void __attribute__ ((noreturn))
wait_for_eof (void)
{
  uint8_t buffer[SA_PROTO_MAX_MESSAGE];

  for (;;)
    receive (buffer, sizeof buffer);
}

/* Two pipes whose read ends go to the library; the write ends are closed
 * so that the library sees end of file at once. */
static void
make_pipes (int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      int p[2];

      if (pipe (p) != 0)
        exit (1);
      close (p[1]);
      fds[i] = p[0];
    }
}

/* A well-formed command whose stdout and stderr are one pipe (two
 * descriptors of the same open file). The write end stays open here, so
 * a blocking read of the second descriptor would never return. */
static void
answer_same_pipe (uint32_t id)
{
  uint32_t words[2];
  int p[2], fds[2], status;
  pid_t child;

  if (pipe (p) != 0)
    exit (1);
  child = fork ();
  if (child == 0)
    {
      if (write (p[1], "same\n", 5) != 5)
        _exit (1);
      _exit (0);
    }
  fds[0] = p[0];
  fds[1] = p[0];
  words[0] = (uint32_t) child;
  send_words (SA_MSG_SPAWNED, 2, id, words, 1, fds, 2);
  close (p[0]);
  waitpid (child, &status, 0);
  words[0] = (uint32_t) status;
  words[1] = 0;
  send_words (SA_MSG_EXITED, 0, id, words, 2, NULL, 0);
  wait_for_eof ();            /* p[1] stays open until then */
}

static void
answer_spawn (const char *mode, uint32_t id)
{
  uint32_t words[2];
  int fds[3];

  if (strcmp (mode, "reply-short") == 0)
    send_message ("\x04\0\0\0\x04", 5, NULL, 0);
  else if (strcmp (mode, "reply-long") == 0)
    {
      uint8_t big[200];

      memset (big, 0, sizeof big);
      sa_proto_header_encode (big, SA_MSG_SPAWNED, 0, id, sizeof big - SA_PROTO_HEADER_SIZE);
      send_message (big, sizeof big, NULL, 0);
    }
  else if (strcmp (mode, "reply-unknown-type") == 0)
    {
      words[0] = 1234;
      send_words (99, 0, id, words, 1, NULL, 0);
    }
  else if (strcmp (mode, "reply-wrong-id") == 0)
    {
      make_pipes (fds, 2);
      words[0] = (uint32_t) getpid ();
      send_words (SA_MSG_SPAWNED, 2, id + 1000, words, 1, fds, 2);
    }
  else if (strcmp (mode, "reply-exited-first") == 0)
    {
      words[0] = 0;
      words[1] = 0;
      send_words (SA_MSG_EXITED, 0, id, words, 2, NULL, 0);
    }
  else if (strcmp (mode, "reply-no-fds") == 0)
    {
      words[0] = (uint32_t) getpid ();
      send_words (SA_MSG_SPAWNED, 2, id, words, 1, NULL, 0);
    }
  else if (strcmp (mode, "reply-three-fds") == 0)
    {
      make_pipes (fds, 3);
      words[0] = (uint32_t) getpid ();
      send_words (SA_MSG_SPAWNED, 3, id, words, 1, fds, 3);
    }
  else if (strcmp (mode, "reply-fds-undeclared") == 0)
    {
      make_pipes (fds, 2);
      words[0] = 0;
      words[1] = 0;
      send_words (SA_MSG_EXITED, 0, id, words, 2, fds, 2);
    }
  else if (strcmp (mode, "reply-pid-zero") == 0)
    {
      make_pipes (fds, 2);
      words[0] = 0;
      send_words (SA_MSG_SPAWNED, 2, id, words, 1, fds, 2);
    }
  else if (strcmp (mode, "reply-pid-one") == 0)
    {
      /* Never a child: killing its "group" would be kill(-1, ...). */
      make_pipes (fds, 2);
      words[0] = 1;
      send_words (SA_MSG_SPAWNED, 2, id, words, 1, fds, 2);
    }
  else if (strcmp (mode, "reply-pid-negative") == 0)
    {
      make_pipes (fds, 2);
      words[0] = (uint32_t) -1;
      send_words (SA_MSG_SPAWNED, 2, id, words, 1, fds, 2);
    }
  else if (strcmp (mode, "reply-bad-length") == 0)
    {
      uint8_t frame[SA_PROTO_HEADER_SIZE + 8] = { 0 };

      sa_proto_header_encode (frame, SA_MSG_SPAWNED, 0, id, 8);
      send_message (frame, sizeof frame, NULL, 0);
    }
  else if (strcmp (mode, "reply-length-mismatch") == 0)
    {
      /* The header claims a payload that the message does not carry. */
      uint8_t frame[SA_PROTO_HEADER_SIZE + 8] = { 0 };

      sa_proto_header_encode (frame, SA_MSG_EXITED, 0, id, 8);
      send_message (frame, SA_PROTO_HEADER_SIZE + 4, NULL, 0);
    }
  else if (strcmp (mode, "reply-two-frames") == 0)
    {
      /* Two frames in one message: the library takes exactly one. */
      uint8_t frames[2 * (SA_PROTO_HEADER_SIZE + 8)];
      size_t len;

      words[0] = 0;
      words[1] = 0;
      len = sa_proto_encode_words (frames, SA_MSG_SPAWN_FAILED, 0, id, words, 2);
      len += sa_proto_encode_words (frames + len, SA_MSG_SPAWN_FAILED, 0, id, words, 2);
      send_message (frames, len, NULL, 0);
    }
  else if (strcmp (mode, "reply-second-hello") == 0)
    {
      words[0] = SA_PROTO_VERSION;
      words[1] = (uint32_t) getpid ();
      send_words (SA_MSG_HELLO, 0, 0, words, 2, NULL, 0);
    }
  else if (strcmp (mode, "reply-spawn") == 0)
    {
      /* A library -> helper frame type, sent back. */
      uint8_t frame[64];
      const char *argv[] = { "true", NULL };
      size_t len = sa_proto_spawn_encode (frame, id, 0, 0, 15, NULL, NULL, argv, NULL, "", NULL);

      send_message (frame, len, NULL, 0);
    }
  else if (strcmp (mode, "reply-spawned-twice") == 0)
    {
      make_pipes (fds, 2);
      words[0] = (uint32_t) getpid ();
      send_words (SA_MSG_SPAWNED, 2, id, words, 1, fds, 2);
      close (fds[0]);
      close (fds[1]);
      make_pipes (fds, 2);
      send_words (SA_MSG_SPAWNED, 2, id, words, 1, fds, 2);
    }
  else if (strcmp (mode, "reply-garbage") == 0)
    {
      uint8_t junk[SA_PROTO_REPLY_MAX_SIZE];
      unsigned seed = (unsigned) getpid ();

      for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t) rand_r (&seed);
      send_message (junk, sizeof junk, NULL, 0);
    }
  /* Well-formed but odd answers: the library must cope, not fail. */
  else if (strcmp (mode, "reply-failed-odd") == 0)
    {
      words[0] = 77;            /* no such stage */
      words[1] = 0x7fffffff;    /* no such errno */
      send_words (SA_MSG_SPAWN_FAILED, 0, id, words, 2, NULL, 0);
      wait_for_eof ();
    }
  else if (strcmp (mode, "reply-exited-odd") == 0)
    {
      make_pipes (fds, 2);
      words[0] = (uint32_t) getpid ();
      send_words (SA_MSG_SPAWNED, 2, id, words, 1, fds, 2);
      words[0] = 0xffffffffu;   /* no real wait status looks like this */
      words[1] = 0xfffffffeu;   /* unknown flags */
      send_words (SA_MSG_EXITED, 0, id, words, 2, NULL, 0);
      wait_for_eof ();
    }
  else
    {
      fprintf (stderr, "fake-helper: unknown mode %s\n", mode);
      exit (2);
    }
}

int
main (int argc, char **argv)
{
  const char *mode = getenv ("SA_FAKE_HELPER_MODE");
  uint8_t buffer[SA_PROTO_MAX_MESSAGE];
  uint32_t words[2];
  unsigned previous_starts = log_start ();
  SaProtoHeader header;
  const uint8_t *payload;
  size_t len;

  if (mode == NULL)
    mode = "exit";
  /* Never outlive the test (some modes never read the socket). */
  prctl (PR_SET_PDEATHSIG, SIGKILL);

  if (strcmp (mode, "real-then-exit") == 0)
    {
      const char *real = getenv ("SA_FAKE_HELPER_REAL");

      if (previous_starts == 0 && real != NULL)
        {
          argv[0] = (char *) real;
          execv (real, argv);
        }
      return 0;
    }
  if (strcmp (mode, "exit") == 0)
    return 0;

  /* The handshake */
  len = receive (buffer, sizeof buffer);
  if (sa_proto_next_frame (buffer, len, &header, &payload) != SA_PROTO_OK ||
      header.type != SA_MSG_HELLO ||
      sa_proto_decode_words (&header, payload, words, 2) != SA_PROTO_OK)
    return 1;

  if (strcmp (mode, "silent") == 0)
    wait_for_eof ();

  words[0] = strcmp (mode, "hello-version") == 0 ? 99 : SA_PROTO_VERSION;
  words[1] = (uint32_t) getpid ();
  if (strcmp (mode, "hello-pid") == 0)
    words[1] = 1;
  send_words (SA_MSG_HELLO, 0, 0, words, 2, NULL, 0);

  if (strcmp (mode, "hello-exit") == 0)
    return 0;
  if (strcmp (mode, "stops-reading") == 0)
    for (;;)
      pause ();
  if (strcmp (mode, "stops-writing") == 0)
    wait_for_eof ();
  if (strncmp (mode, "reply-", 6) != 0 && strcmp (mode, "same-pipe") != 0)
    wait_for_eof ();

  /* The first SPAWN gets the broken answer. */
  for (;;)
    {
      len = receive (buffer, sizeof buffer);
      if (sa_proto_next_frame (buffer, len, &header, &payload) == SA_PROTO_OK &&
          header.type == SA_MSG_SPAWN)
        break;
    }
  if (strcmp (mode, "same-pipe") == 0)
    answer_same_pipe (header.id);
  answer_spawn (mode, header.id);
  wait_for_eof ();
}
