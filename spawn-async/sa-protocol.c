/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-protocol.c: encoder and decoder of the spawn-async wire protocol.
 *
 * Plain C with libc only, shared by the library and the helper. Every
 * decoder validates lengths against the buffer it is given and never
 * reads past it; anything unexpected is SA_PROTO_INVALID.
 */
#include "sa-protocol.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* flags, timeout, signal, argc, envc, stdin, stdout, stderr, n_targets,
 * umask, n_rlimits */
#define SPAWN_FIXED_WORDS 11u
/* resource, soft (low, high word), hard (low, high word) */
#define RLIMIT_WORDS 5u

static uint32_t
read_u32 (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, sizeof v);
  return v;
}

static uint16_t
read_u16 (const uint8_t *p)
{
  uint16_t v;
  memcpy (&v, p, sizeof v);
  return v;
}

static void
write_u32 (uint8_t *p, uint32_t v)
{
  memcpy (p, &v, sizeof v);
}

static void
write_u16 (uint8_t *p, uint16_t v)
{
  memcpy (p, &v, sizeof v);
}

static int
type_is_known (uint16_t type)
{
  return type >= SA_MSG_HELLO && type <= SA_MSG_CLOSE;
}

static uint16_t
max_fds_for_type (uint16_t type)
{
  switch (type)
    {
    case SA_MSG_SPAWNED: return SA_PROTO_MAX_FDS;
    case SA_MSG_SPAWN:   return SA_PROTO_MAX_SPAWN_FDS;
    default:             return 0;
    }
}

int
sa_proto_header_decode (const uint8_t *data, size_t len, SaProtoHeader *out)
{
  if (len < SA_PROTO_HEADER_SIZE)
    return SA_PROTO_NEED_MORE;

  out->length = read_u32 (data);
  out->type = read_u16 (data + 4);
  out->n_fds = read_u16 (data + 6);
  out->id = read_u32 (data + 8);

  if (!type_is_known (out->type) ||
      out->length > SA_PROTO_MAX_PAYLOAD ||
      out->n_fds > max_fds_for_type (out->type))
    return SA_PROTO_INVALID;

  switch (out->type)
    {
    case SA_MSG_SPAWN:
      break;
    case SA_MSG_OUTPUT:
      if (out->length < 4u || out->length > 4u + SA_PROTO_MAX_RELAY)
        return SA_PROTO_INVALID;
      break;
    case SA_MSG_INPUT:
      if (out->length > SA_PROTO_MAX_RELAY)
        return SA_PROTO_INVALID;
      break;
    default:
      if (out->length != 4u * sa_proto_words_for_type (out->type))
        return SA_PROTO_INVALID;
      break;
    }

  return SA_PROTO_OK;
}

/* Finds the first complete frame in data. SA_PROTO_OK: header and payload
 * are set and the frame is SA_PROTO_HEADER_SIZE + header->length bytes. */
int
sa_proto_next_frame (const uint8_t *data, size_t len,
                     SaProtoHeader *header, const uint8_t **payload)
{
  int ret = sa_proto_header_decode (data, len, header);

  if (ret != SA_PROTO_OK)
    return ret;
  if (len - SA_PROTO_HEADER_SIZE < header->length)
    return SA_PROTO_NEED_MORE;

  *payload = data + SA_PROTO_HEADER_SIZE;
  return SA_PROTO_OK;
}

void
sa_proto_header_encode (uint8_t *out, uint16_t type, uint16_t n_fds,
                        uint32_t id, uint32_t length)
{
  write_u32 (out, length);
  write_u16 (out + 4, type);
  write_u16 (out + 6, n_fds);
  write_u32 (out + 8, id);
}

size_t
sa_proto_words_for_type (uint16_t type)
{
  switch (type)
    {
    case SA_MSG_HELLO:        return 2;  /* version, pid */
    case SA_MSG_KILL:         return 2;  /* signal, flags */
    case SA_MSG_SPAWNED:      return 1;  /* pid */
    case SA_MSG_SPAWN_FAILED: return 2;  /* stage, errno */
    case SA_MSG_EXITED:       return 2;  /* wait status, flags */
    case SA_MSG_GROUP_GONE:   return 0;
    case SA_MSG_STARTING:     return 1;  /* pid */
    case SA_MSG_WROTE:        return 1;  /* flags */
    case SA_MSG_CLOSE:        return 1;  /* SA_CLOSE_* */
    default:                  return 0;
    }
}

size_t
sa_proto_encode_words (uint8_t *out, uint16_t type, uint16_t n_fds,
                       uint32_t id, const uint32_t *words, size_t n_words)
{
  sa_proto_header_encode (out, type, n_fds, id, (uint32_t) (4u * n_words));
  for (size_t i = 0; i < n_words; i++)
    write_u32 (out + SA_PROTO_HEADER_SIZE + 4u * i, words[i]);
  return SA_PROTO_HEADER_SIZE + 4u * n_words;
}

int
sa_proto_decode_words (const SaProtoHeader *header, const uint8_t *payload,
                       uint32_t *words, size_t n_words)
{
  if (n_words != sa_proto_words_for_type (header->type) ||
      header->length != 4u * n_words)
    return SA_PROTO_INVALID;
  for (size_t i = 0; i < n_words; i++)
    words[i] = read_u32 (payload + 4u * i);
  return SA_PROTO_OK;
}

size_t
sa_proto_output_encode (uint8_t *out, uint32_t id, uint32_t stream, size_t n)
{
  sa_proto_header_encode (out, SA_MSG_OUTPUT, 0, id, (uint32_t) (4u + n));
  write_u32 (out + SA_PROTO_HEADER_SIZE, stream);
  return SA_PROTO_HEADER_SIZE + 4u;
}

int
sa_proto_output_decode (const SaProtoHeader *header, const uint8_t *payload,
                        uint32_t *stream, const uint8_t **data, size_t *n)
{
  if (header->type != SA_MSG_OUTPUT || header->length < 4u ||
      header->length > 4u + SA_PROTO_MAX_RELAY)
    return SA_PROTO_INVALID;
  *stream = read_u32 (payload);
  if (*stream != SA_OUTPUT_STDOUT && *stream != SA_OUTPUT_STDERR)
    return SA_PROTO_INVALID;
  *data = payload + 4;
  *n = header->length - 4u;
  return SA_PROTO_OK;
}

/* Adds the size of a NULL-terminated string array to *total, counting the
 * strings into *count. Returns 0 when a limit is exceeded. */
static int
add_strv_size (const char * const *strv, size_t *total, uint32_t *count)
{
  *count = 0;
  for (; strv != NULL && *strv != NULL; strv++)
    {
      size_t len = strlen (*strv) + 1;

      if (len > SA_PROTO_MAX_PAYLOAD || *total > SA_PROTO_MAX_PAYLOAD - len ||
          *count >= SA_PROTO_MAX_STRINGS)
        return 0;
      *total += len;
      (*count)++;
    }
  return 1;
}

static int
spawn_payload_size (const char * const *argv, const char * const *envp,
                    const char *path, const char *cwd, uint32_t n_targets,
                    const SaSpawnSetup *setup,
                    size_t *size, uint32_t *argc, uint32_t *envc)
{
  const char *program = setup ? setup->program : NULL;
  uint32_t n_rlimits = setup ? setup->n_rlimits : 0;
  /* cwd and program may be NULL: not counted then */
  const char * const extra[] = { path ? path : "", cwd, NULL };
  const char * const extra_program[] = { program, NULL };
  uint32_t n_extra;

  if (n_targets > SA_PROTO_MAX_SPAWN_FDS || n_rlimits > SA_PROTO_MAX_RLIMITS)
    return 0;
  *size = 4u * SPAWN_FIXED_WORDS + 4u * n_targets + 4u * RLIMIT_WORDS * n_rlimits;
  if (!add_strv_size (extra, size, &n_extra) ||
      !add_strv_size (extra_program, size, &n_extra) ||
      !add_strv_size (argv, size, argc) ||
      !add_strv_size (envp, size, envc))
    return 0;
  if (*argc + *envc > SA_PROTO_MAX_STRINGS)
    return 0;
  return 1;
}

void
sa_proto_spawn_set_env (uint8_t *frame, uint32_t envc, size_t env_len)
{
  write_u32 (frame, read_u32 (frame) + (uint32_t) env_len);
  write_u32 (frame + SA_PROTO_HEADER_SIZE + 16, envc);
}

size_t
sa_proto_spawn_size (const char * const *argv, const char * const *envp,
                     const char *path, const char *cwd, uint32_t n_targets,
                     const SaSpawnSetup *setup)
{
  size_t size;
  uint32_t argc, envc;

  if (!spawn_payload_size (argv, envp, path, cwd, n_targets, setup, &size, &argc, &envc))
    return 0;
  return SA_PROTO_HEADER_SIZE + size;
}

int
sa_proto_spawn_has_pty (const uint32_t stdio[3])
{
  return stdio[0] == SA_PROTO_STDIO_PTY || stdio[1] == SA_PROTO_STDIO_PTY ||
         stdio[2] == SA_PROTO_STDIO_PTY;
}

uint32_t
sa_proto_spawn_n_pipes (const uint32_t stdio[3])
{
  uint32_t n = 0;

  for (int i = 0; i < 3; i++)
    n += stdio[i] == SA_PROTO_STDIO_PIPE;
  return n + (sa_proto_spawn_has_pty (stdio) ? 1u : 0u);
}

static uint8_t *
write_string (uint8_t *p, const char *s)
{
  size_t len = strlen (s) + 1;
  memcpy (p, s, len);
  return p + len;
}

/* out must hold sa_proto_spawn_size() bytes. Returns the bytes written,
 * or 0 when the request exceeds the limits. */
size_t
sa_proto_spawn_encode (uint8_t *out, uint32_t id, uint32_t flags,
                       uint32_t timeout_ms, int32_t kill_signal,
                       const SaSpawnFds *fds, const SaSpawnSetup *setup,
                       const char * const *argv, const char * const *envp,
                       const char *path, const char *cwd)
{
  static const SaSpawnSetup default_setup = { -1, NULL, 0, NULL };
  static const SaSpawnFds default_fds = {
    { SA_PROTO_STDIO_NULL, SA_PROTO_STDIO_PIPE, SA_PROTO_STDIO_PIPE }, 0, NULL
  };
  size_t size;
  uint32_t argc, envc;
  uint8_t *p;

  if (fds == NULL)
    fds = &default_fds;
  if (setup == NULL)
    setup = &default_setup;
  if (!spawn_payload_size (argv, envp, path, cwd, fds->n_targets, setup, &size, &argc, &envc))
    return 0;

  flags &= ~(SA_SPAWN_FLAG_HAS_CWD | SA_SPAWN_FLAG_HAS_UMASK | SA_SPAWN_FLAG_HAS_PROGRAM);
  if (cwd != NULL)
    flags |= SA_SPAWN_FLAG_HAS_CWD;
  if (setup->umask >= 0)
    flags |= SA_SPAWN_FLAG_HAS_UMASK;
  if (setup->program != NULL)
    flags |= SA_SPAWN_FLAG_HAS_PROGRAM;

  sa_proto_header_encode (out, SA_MSG_SPAWN, (uint16_t) fds->n_targets, id, (uint32_t) size);
  p = out + SA_PROTO_HEADER_SIZE;
  write_u32 (p, flags);
  write_u32 (p + 4, timeout_ms);
  write_u32 (p + 8, (uint32_t) kill_signal);
  write_u32 (p + 12, argc);
  write_u32 (p + 16, envc);
  write_u32 (p + 20, fds->stdio[0]);
  write_u32 (p + 24, fds->stdio[1]);
  write_u32 (p + 28, fds->stdio[2]);
  write_u32 (p + 32, fds->n_targets);
  write_u32 (p + 36, setup->umask >= 0 ? (uint32_t) setup->umask : 0u);
  write_u32 (p + 40, setup->n_rlimits);
  p += 4u * SPAWN_FIXED_WORDS;
  for (uint32_t i = 0; i < fds->n_targets; i++, p += 4)
    write_u32 (p, (uint32_t) fds->targets[i]);
  for (uint32_t i = 0; i < setup->n_rlimits; i++, p += 4u * RLIMIT_WORDS)
    {
      const SaProtoRlimit *limit = &setup->rlimits[i];

      write_u32 (p, limit->resource);
      write_u32 (p + 4, (uint32_t) limit->soft);
      write_u32 (p + 8, (uint32_t) (limit->soft >> 32));
      write_u32 (p + 12, (uint32_t) limit->hard);
      write_u32 (p + 16, (uint32_t) (limit->hard >> 32));
    }

  p = write_string (p, path ? path : "");
  if (cwd != NULL)
    p = write_string (p, cwd);
  if (setup->program != NULL)
    p = write_string (p, setup->program);
  for (uint32_t i = 0; i < argc; i++)
    p = write_string (p, argv[i]);
  for (uint32_t i = 0; i < envc; i++)
    p = write_string (p, envp[i]);

  return (size_t) (p - out);
}

/* Reads one NUL-terminated string at *pos; fails when none ends before
 * end. */
static const char *
take_string (const uint8_t **pos, const uint8_t *end)
{
  const uint8_t *start = *pos;
  const uint8_t *nul = memchr (start, '\0', (size_t) (end - start));

  if (nul == NULL)
    return NULL;
  *pos = nul + 1;
  return (const char *) start;
}

static int
take_strv (const uint8_t **pos, const uint8_t *end, uint32_t n, char ***out)
{
  char **strv = calloc ((size_t) n + 1, sizeof (char *));

  if (strv == NULL)
    return SA_PROTO_NOMEM;
  for (uint32_t i = 0; i < n; i++)
    {
      const char *s = take_string (pos, end);

      if (s == NULL)
        {
          free (strv);
          return SA_PROTO_INVALID;
        }
      strv[i] = (char *) s;
    }
  *out = strv;
  return SA_PROTO_OK;
}

/* The descriptors of a request make sense: known modes, MERGE only for
 * stderr, FD exactly where a target names 0, 1 or 2, targets distinct and
 * within the limit; a terminal (the helper's or fd 0 as CTTY) only in a
 * new session, and never both; DETACHED only in a new session. */
static int
spawn_fds_valid (const SaSpawnRequest *request)
{
  int has_target[3] = { 0, 0, 0 };

  for (uint32_t i = 0; i < request->n_targets; i++)
    {
      int32_t target = request->targets[i];

      if (target < 0 || target >= SA_PROTO_MAX_TARGET_FD)
        return 0;
      for (uint32_t j = 0; j < i; j++)
        if (request->targets[j] == target)
          return 0;
      if (target < 3)
        has_target[target] = 1;
    }

  for (int fd = 0; fd < 3; fd++)
    {
      uint32_t mode = request->stdio[fd];

      if (mode > SA_PROTO_STDIO_PTY ||
          (mode == SA_PROTO_STDIO_MERGE && fd != 2) ||
          (mode == SA_PROTO_STDIO_FD) != has_target[fd])
        return 0;
    }

  if ((request->flags & SA_SPAWN_FLAG_NEW_SESSION) == 0 &&
      (sa_proto_spawn_has_pty (request->stdio) ||
       (request->flags & (SA_SPAWN_FLAG_CTTY | SA_SPAWN_FLAG_DETACHED)) != 0))
    return 0;
  if ((request->flags & SA_SPAWN_FLAG_CTTY) != 0 &&
      (request->stdio[0] != SA_PROTO_STDIO_FD || sa_proto_spawn_has_pty (request->stdio)))
    return 0;
  /* The relay carries pipes, not a terminal. */
  if ((request->flags & SA_SPAWN_FLAG_RELAY) != 0 && sa_proto_spawn_has_pty (request->stdio))
    return 0;
  return 1;
}

/* Known resources, soft <= hard. */
static int
spawn_rlimits_valid (const SaSpawnRequest *request)
{
  for (uint32_t i = 0; i < request->n_rlimits; i++)
    {
      const SaProtoRlimit *limit = &request->rlimits[i];

      if (limit->resource >= SA_PROTO_MAX_RESOURCE || limit->soft > limit->hard)
        return 0;
    }
  return 1;
}

int
sa_proto_spawn_decode (const SaProtoHeader *header, const uint8_t *payload,
                       SaSpawnRequest *request)
{
  const uint8_t *pos = payload + 4u * SPAWN_FIXED_WORDS;
  const uint8_t *end = payload + header->length;
  int ret;

  memset (request, 0, sizeof *request);

  if (header->type != SA_MSG_SPAWN || header->n_fds > SA_PROTO_MAX_SPAWN_FDS ||
      header->length < 4u * SPAWN_FIXED_WORDS)
    return SA_PROTO_INVALID;

  request->flags = read_u32 (payload);
  request->timeout_ms = read_u32 (payload + 4);
  request->kill_signal = (int32_t) read_u32 (payload + 8);
  request->argc = read_u32 (payload + 12);
  request->envc = read_u32 (payload + 16);
  request->stdio[0] = read_u32 (payload + 20);
  request->stdio[1] = read_u32 (payload + 24);
  request->stdio[2] = read_u32 (payload + 28);
  request->n_targets = read_u32 (payload + 32);
  request->umask = (int32_t) read_u32 (payload + 36);
  request->n_rlimits = read_u32 (payload + 40);

  /* Without HAS_UMASK, the word is 0 and the child inherits (-1). */
  if ((request->flags & SA_SPAWN_FLAG_HAS_UMASK) != 0 ?
      (request->umask < 0 || request->umask > 0777) : request->umask != 0)
    return SA_PROTO_INVALID;
  if ((request->flags & SA_SPAWN_FLAG_HAS_UMASK) == 0)
    request->umask = -1;

  if ((request->flags & ~SA_SPAWN_FLAGS_ALL) != 0 ||
      request->n_rlimits > SA_PROTO_MAX_RLIMITS ||
      request->kill_signal < 1 || request->kill_signal >= NSIG ||
      request->argc < 1 ||
      request->argc > SA_PROTO_MAX_STRINGS ||
      request->envc > SA_PROTO_MAX_STRINGS - request->argc ||
      request->n_targets != header->n_fds ||
      (size_t) (end - pos) < 4u * request->n_targets + 4u * RLIMIT_WORDS * request->n_rlimits)
    return SA_PROTO_INVALID;

  if (request->n_targets > 0)
    {
      request->targets = calloc (request->n_targets, sizeof (int32_t));
      if (request->targets == NULL)
        return SA_PROTO_NOMEM;
      for (uint32_t i = 0; i < request->n_targets; i++, pos += 4)
        request->targets[i] = (int32_t) read_u32 (pos);
    }
  if (request->n_rlimits > 0)
    {
      request->rlimits = calloc (request->n_rlimits, sizeof (SaProtoRlimit));
      if (request->rlimits == NULL)
        {
          sa_proto_spawn_clear (request);
          return SA_PROTO_NOMEM;
        }
      for (uint32_t i = 0; i < request->n_rlimits; i++, pos += 4u * RLIMIT_WORDS)
        request->rlimits[i] = (SaProtoRlimit) {
          .resource = read_u32 (pos),
          .soft = read_u32 (pos + 4) | (uint64_t) read_u32 (pos + 8) << 32,
          .hard = read_u32 (pos + 12) | (uint64_t) read_u32 (pos + 16) << 32,
        };
    }
  if (!spawn_fds_valid (request) || !spawn_rlimits_valid (request))
    {
      sa_proto_spawn_clear (request);
      return SA_PROTO_INVALID;
    }

  /* Each string needs at least its NUL: reject impossible counts before
   * allocating for them. */
  ret = SA_PROTO_INVALID;
  if ((size_t) request->argc + request->envc > (size_t) (end - pos))
    goto out;

  request->path = take_string (&pos, end);
  if (request->path == NULL)
    goto out;
  if (request->flags & SA_SPAWN_FLAG_HAS_CWD)
    {
      request->cwd = take_string (&pos, end);
      if (request->cwd == NULL)
        goto out;
    }
  if (request->flags & SA_SPAWN_FLAG_HAS_PROGRAM)
    {
      request->program = take_string (&pos, end);
      if (request->program == NULL || request->program[0] == '\0')
        goto out;
    }

  ret = take_strv (&pos, end, request->argc, &request->argv);
  if (ret == SA_PROTO_OK)
    ret = take_strv (&pos, end, request->envc, &request->envp);
  if (ret == SA_PROTO_OK && pos != end)
    ret = SA_PROTO_INVALID;        /* trailing bytes */
  if (ret == SA_PROTO_OK && request->argv[0][0] == '\0')
    ret = SA_PROTO_INVALID;

out:
  if (ret != SA_PROTO_OK)
    sa_proto_spawn_clear (request);
  return ret;
}

void
sa_proto_spawn_clear (SaSpawnRequest *request)
{
  free (request->argv);
  free (request->envp);
  free (request->targets);
  free (request->rlimits);
  request->argv = NULL;
  request->envp = NULL;
  request->targets = NULL;
  request->rlimits = NULL;
}
