/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the helper's input stream, through the helper's own code
 * (sa-helper-input.c: frame reassembly, order and field checks,
 * sa_proto_spawn_decode(), sa_proto_decode_words()).
 *
 * Input: byte 0 chooses how the stream is cut into datagrams (0: one
 * datagram; n: datagrams of n bytes), byte 1 how many descriptors come
 * with the second datagram (copies of /dev/null: the first holds HELLO);
 * the rest is the stream. The
 * sa_helper_on_*() functions below stand in for the helper: they spawn
 * nothing, check every invariant of what they are given, and re-encode
 * each SPAWN request to check that the codec gives it back unchanged.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "sa-helper-input.h"

#define MAX_CHILDREN 16

static uint32_t children[MAX_CHILDREN];
static size_t n_children;

bool
sa_helper_has_child (uint32_t id)
{
  for (size_t i = 0; i < n_children; i++)
    if (children[i] == id)
      return true;
  return false;
}

void
sa_helper_on_hello (uint32_t version)
{
  (void) version;
}

void
sa_helper_on_spawn_nomem (uint32_t id)
{
  (void) id;
}

void
sa_helper_on_kill (uint32_t id, int signum, uint32_t flags)
{
  (void) id;
  FUZZ_CHECK (signum >= 1 && signum < NSIG);
  FUZZ_CHECK ((flags & ~SA_KILL_FLAGS_ALL) == 0);
}

const char *
sa_helper_on_input (uint32_t id, const uint8_t *data, size_t len)
{
  volatile uint8_t sum = 0;

  (void) id;
  FUZZ_CHECK (len <= SA_PROTO_MAX_RELAY);
  for (size_t i = 0; i < len; i++)
    sum += data[i];                 /* inside the frame (ASan) */
  return NULL;
}

void
sa_helper_on_close (uint32_t id, uint32_t which)
{
  (void) id;
  FUZZ_CHECK (which != 0 && (which & ~SA_CLOSE_ALL) == 0);
}

static void
check_strv (char **strv, uint32_t n)
{
  FUZZ_CHECK (strv != NULL);
  for (uint32_t i = 0; i < n; i++)
    {
      FUZZ_CHECK (strv[i] != NULL);
      (void) strlen (strv[i]);      /* terminated inside the frame (ASan) */
    }
  FUZZ_CHECK (strv[n] == NULL);
}

void
sa_helper_on_spawn (uint32_t id, const SaSpawnRequest *request, int *fds)
{
  const SaSpawnSetup setup = {
    request->umask, request->program, request->n_rlimits, request->rlimits
  };
  const SaSpawnFds request_fds = {
    { request->stdio[0], request->stdio[1], request->stdio[2] },
    request->n_targets, request->targets
  };
  SaProtoHeader header;
  SaSpawnRequest again;
  const uint8_t *payload;
  uint8_t *frame;
  size_t size, len;

  FUZZ_CHECK (!sa_helper_has_child (id));
  FUZZ_CHECK ((request->flags & ~SA_SPAWN_FLAGS_ALL) == 0);
  FUZZ_CHECK (request->kill_signal >= 1 && request->kill_signal < NSIG);
  FUZZ_CHECK (request->argc >= 1);
  FUZZ_CHECK (request->path != NULL);
  FUZZ_CHECK ((request->cwd != NULL) == ((request->flags & SA_SPAWN_FLAG_HAS_CWD) != 0));
  check_strv (request->argv, request->argc);
  check_strv (request->envp, request->envc);
  FUZZ_CHECK (request->argv[0][0] != '\0');
  FUZZ_CHECK (request->n_targets <= SA_PROTO_MAX_SPAWN_FDS);
  for (uint32_t i = 0; i < request->n_targets; i++)
    {
      FUZZ_CHECK (fds[i] >= 0);           /* every declared descriptor came */
      FUZZ_CHECK (request->targets[i] >= 0 && request->targets[i] < SA_PROTO_MAX_TARGET_FD);
      close (fds[i]);
    }
  for (int fd = 0; fd < 3; fd++)
    FUZZ_CHECK (request->stdio[fd] <= SA_PROTO_STDIO_PTY);
  FUZZ_CHECK (request->umask >= -1 && request->umask <= 0777);
  FUZZ_CHECK (request->n_rlimits <= SA_PROTO_MAX_RLIMITS);
  for (uint32_t i = 0; i < request->n_rlimits; i++)
    FUZZ_CHECK (request->rlimits[i].resource < SA_PROTO_MAX_RESOURCE &&
                request->rlimits[i].soft <= request->rlimits[i].hard);
  FUZZ_CHECK ((request->program != NULL) == ((request->flags & SA_SPAWN_FLAG_HAS_PROGRAM) != 0));

  /* encode (decode (frame)) decodes to the same request */
  size = sa_proto_spawn_size ((const char * const *) request->argv,
                              (const char * const *) request->envp,
                              request->path, request->cwd, request->n_targets, &setup);
  FUZZ_CHECK (size > 0);
  frame = malloc (size);
  FUZZ_CHECK (frame != NULL);
  len = sa_proto_spawn_encode (frame, id, request->flags, request->timeout_ms,
                               request->kill_signal, &request_fds, &setup,
                               (const char * const *) request->argv,
                               (const char * const *) request->envp,
                               request->path, request->cwd);
  FUZZ_CHECK (len == size);
  FUZZ_CHECK (sa_proto_next_frame (frame, len, &header, &payload) == SA_PROTO_OK);
  FUZZ_CHECK (header.length + SA_PROTO_HEADER_SIZE == len);
  FUZZ_CHECK (sa_proto_spawn_decode (&header, payload, &again) == SA_PROTO_OK);
  FUZZ_CHECK (header.id == id);
  FUZZ_CHECK (again.flags == request->flags);
  FUZZ_CHECK (again.timeout_ms == request->timeout_ms);
  FUZZ_CHECK (again.kill_signal == request->kill_signal);
  FUZZ_CHECK (memcmp (again.stdio, request->stdio, sizeof again.stdio) == 0);
  FUZZ_CHECK (again.n_targets == request->n_targets);
  for (uint32_t i = 0; i < again.n_targets; i++)
    FUZZ_CHECK (again.targets[i] == request->targets[i]);
  FUZZ_CHECK (again.argc == request->argc && again.envc == request->envc);
  FUZZ_CHECK (strcmp (again.path, request->path) == 0);
  FUZZ_CHECK ((again.cwd == NULL) == (request->cwd == NULL));
  FUZZ_CHECK (again.cwd == NULL || strcmp (again.cwd, request->cwd) == 0);
  FUZZ_CHECK ((again.program == NULL) == (request->program == NULL));
  FUZZ_CHECK (again.program == NULL || strcmp (again.program, request->program) == 0);
  FUZZ_CHECK (again.umask == request->umask && again.n_rlimits == request->n_rlimits);
  for (uint32_t i = 0; i < again.n_rlimits; i++)
    FUZZ_CHECK (memcmp (&again.rlimits[i], &request->rlimits[i], sizeof (SaProtoRlimit)) == 0);
  for (uint32_t i = 0; i < again.argc; i++)
    FUZZ_CHECK (strcmp (again.argv[i], request->argv[i]) == 0);
  for (uint32_t i = 0; i < again.envc; i++)
    FUZZ_CHECK (strcmp (again.envp[i], request->envp[i]) == 0);
  sa_proto_spawn_clear (&again);
  free (frame);

  /* A child now runs under this id: a second SPAWN for it is an error. */
  if (n_children < MAX_CHILDREN)
    children[n_children++] = id;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int dev_null = -1;
  SaHelperInput input = { 0 };
  size_t piece, offset = 2;
  size_t n_fds, datagram = 0;

  if (size < 2)
    return 0;
  piece = data[0] == 0 ? size : data[0];
  n_fds = data[1] % (SA_PROTO_MAX_SPAWN_FDS + 1);
  n_children = 0;
  if (dev_null < 0)
    dev_null = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  while (offset < size)
    {
      size_t n = piece < size - offset ? piece : size - offset;
      uint8_t *room = sa_helper_input_reserve (&input, SA_PROTO_MAX_MESSAGE);

      if (n > SA_PROTO_MAX_MESSAGE)
        break;            /* the helper would see MSG_TRUNC and stop */
      FUZZ_CHECK (room != NULL);
      memcpy (room, data + offset, n);
      if (datagram++ == 1 && n_fds > 0)
        {
          int fds[SA_PROTO_MAX_SPAWN_FDS];

          for (size_t i = 0; i < n_fds; i++)
            fds[i] = fcntl (dev_null, F_DUPFD_CLOEXEC, 3);
          if (sa_helper_input_add_fds (&input, input.len, fds, n_fds) != NULL)
            break;
          n_fds = 0;
        }
      input.len += n;
      offset += n;
      if (sa_helper_input_process (&input) != NULL)
        break;            /* the helper would exit here */
      FUZZ_CHECK (input.len < SA_PROTO_HEADER_SIZE + SA_PROTO_MAX_PAYLOAD);
    }

  sa_helper_input_clear (&input);
  return 0;
}
