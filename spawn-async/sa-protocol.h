/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-protocol.h: the wire protocol between libspawn-async and
 * spawn-async-helper. Plain C, libc only: the helper links it too.
 *
 * See docs/protocol.md for the description of every frame.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SA_PROTO_VERSION          4u

/* Every frame starts with this header (host byte order: both ends live
 * on one machine and talk over a socketpair). */
#define SA_PROTO_HEADER_SIZE      12u

/* Hard limits. Anything larger is a protocol error. */
#define SA_PROTO_MAX_PAYLOAD      (16u * 1024u * 1024u)  /* one frame */
#define SA_PROTO_MAX_MESSAGE      (64u * 1024u)          /* one datagram */
#define SA_PROTO_MAX_FDS          3u                     /* per frame from the helper */
#define SA_PROTO_MAX_SPAWN_FDS    64u                    /* with one SPAWN */
#define SA_PROTO_MAX_TARGET_FD    (1 << 20)              /* a child's fd number */
#define SA_PROTO_MAX_STRINGS      (1u << 20)             /* argv + env */
#define SA_PROTO_MAX_RLIMITS      16u                    /* with one SPAWN */
#define SA_PROTO_MAX_RESOURCE     16u                    /* RLIM_NLIMITS on Linux */
#define SA_PROTO_REPLY_MAX_SIZE   (SA_PROTO_HEADER_SIZE + 16u)
#define SA_PROTO_MAX_RELAY        (32u * 1024u)          /* bytes in one OUTPUT or INPUT */
#define SA_PROTO_MAX_REPLY        (SA_PROTO_HEADER_SIZE + 4u + SA_PROTO_MAX_RELAY)  /* the
                                                          * largest message of the helper */

typedef enum
{
  /* both directions */
  SA_MSG_HELLO         = 1,
  /* library -> helper */
  SA_MSG_SPAWN         = 2,
  SA_MSG_KILL          = 3,
  /* helper -> library */
  SA_MSG_SPAWNED       = 4,
  SA_MSG_SPAWN_FAILED  = 5,
  SA_MSG_EXITED        = 6,
  SA_MSG_GROUP_GONE    = 7,
  SA_MSG_STARTING      = 8,   /* sent by the child itself, before exec */
  /* the relay (SA_SPAWN_FLAG_RELAY): pipes the helper keeps */
  SA_MSG_OUTPUT        = 9,   /* helper -> library: stream, bytes; no bytes: its end */
  SA_MSG_INPUT         = 10,  /* library -> helper: bytes for stdin; none: close it */
  SA_MSG_WROTE         = 11,  /* helper -> library: the last INPUT is in the pipe */
  SA_MSG_CLOSE         = 12,  /* library -> helper: stop relaying, close the pipes */
} SaMsgType;

/* SPAWN flags. HAS_CWD, HAS_UMASK and HAS_PROGRAM are set by the encoder
 * from what it is given. */
#define SA_SPAWN_FLAG_HAS_CWD     (1u << 1)
#define SA_SPAWN_FLAG_NEW_SESSION (1u << 2)   /* setsid(), not setpgid() */
#define SA_SPAWN_FLAG_DETACHED    (1u << 3)   /* outlives the helper (needs NEW_SESSION) */
#define SA_SPAWN_FLAG_CTTY        (1u << 4)   /* fd 0, a descriptor of the SPAWN, becomes
                                               * the controlling terminal (needs NEW_SESSION) */
#define SA_SPAWN_FLAG_NO_SEARCH   (1u << 5)   /* the program is never looked up in path */
#define SA_SPAWN_FLAG_HAS_UMASK   (1u << 6)
#define SA_SPAWN_FLAG_HAS_PROGRAM (1u << 7)   /* a program string follows path (and cwd) */
#define SA_SPAWN_FLAG_RELAY       (1u << 8)   /* the helper keeps the pipes and relays
                                               * them: SPAWNED carries no descriptor;
                                               * no PTY */
#define SA_SPAWN_FLAGS_ALL        (SA_SPAWN_FLAG_HAS_CWD | SA_SPAWN_FLAG_NEW_SESSION | \
                                   SA_SPAWN_FLAG_DETACHED | SA_SPAWN_FLAG_CTTY | \
                                   SA_SPAWN_FLAG_NO_SEARCH | SA_SPAWN_FLAG_HAS_UMASK | \
                                   SA_SPAWN_FLAG_HAS_PROGRAM | SA_SPAWN_FLAG_RELAY)
/* Where the flags are in an encoded SPAWN frame (a 32-bit word). */
#define SA_PROTO_SPAWN_FLAGS_OFFSET SA_PROTO_HEADER_SIZE

/* What a child's fd 0, 1 or 2 is (SPAWN) */
typedef enum
{
  SA_PROTO_STDIO_NULL  = 0,   /* /dev/null */
  SA_PROTO_STDIO_PIPE  = 1,   /* a pipe; its other end comes back with SPAWNED */
  SA_PROTO_STDIO_FD    = 2,   /* the SPAWN's descriptor with this target */
  SA_PROTO_STDIO_MERGE = 3,   /* stderr only: the same as stdout */
  SA_PROTO_STDIO_PTY   = 4,   /* the terminal the helper makes for the child (one
                               * for all its PTY fds); the master comes back
                               * with SPAWNED, after the pipes */
} SaProtoStdio;

/* KILL flags */
#define SA_KILL_FLAG_CHILD_ONLY     (1u << 0)   /* the child, not its group */
#define SA_KILL_FLAG_UNLESS_EXITED  (1u << 1)   /* nothing once it is reaped */
#define SA_KILL_FLAGS_ALL           (SA_KILL_FLAG_CHILD_ONLY | SA_KILL_FLAG_UNLESS_EXITED)

/* SPAWN_FAILED stages */
typedef enum
{
  SA_SPAWN_STAGE_RESOURCES = 1,  /* pipe(), /dev/null, clone() */
  SA_SPAWN_STAGE_CHDIR     = 2,
  SA_SPAWN_STAGE_EXEC      = 3,
  SA_SPAWN_STAGE_SETUP     = 4,  /* the terminal, umask, rlimits */
} SaSpawnStage;

/* OUTPUT streams */
#define SA_OUTPUT_STDOUT  1u
#define SA_OUTPUT_STDERR  2u

/* CLOSE: which of the relayed pipes */
#define SA_CLOSE_STDOUT   (1u << 0)
#define SA_CLOSE_STDERR   (1u << 1)
#define SA_CLOSE_STDIN    (1u << 2)
#define SA_CLOSE_ALL      (SA_CLOSE_STDOUT | SA_CLOSE_STDERR | SA_CLOSE_STDIN)

/* WROTE flags */
#define SA_WROTE_FLAG_CLOSED  (1u << 0)   /* stdin is closed: send no more */

/* EXITED flags */
#define SA_EXITED_FLAG_TIMED_OUT  (1u << 0)
#define SA_EXITED_FLAG_LINGERS    (1u << 1)   /* the child's process group
                                               * outlives it: GROUP_GONE
                                               * follows once it is empty */

typedef struct
{
  uint32_t length;   /* payload bytes that follow the header */
  uint16_t type;     /* SaMsgType */
  uint16_t n_fds;    /* file descriptors that travel with the frame */
  uint32_t id;       /* command id; 0 for HELLO */
} SaProtoHeader;

/* The descriptors of a SPAWN: what fds 0, 1 and 2 are, and the number in
 * the child of each descriptor that travels with the frame (in order). */
typedef struct
{
  uint32_t       stdio[3];     /* SaProtoStdio */
  uint32_t       n_targets;    /* = the frame's n_fds */
  const int32_t *targets;
} SaSpawnFds;

/* A resource limit for the child: setrlimit (resource, { soft, hard });
 * UINT64_MAX is RLIM_INFINITY. */
typedef struct
{
  uint32_t resource;
  uint64_t soft;
  uint64_t hard;
} SaProtoRlimit;

/* What the child is set up with besides its descriptors. */
typedef struct
{
  int32_t              umask;       /* -1: the helper's (inherited) */
  const char          *program;     /* NULL: argv[0] */
  uint32_t             n_rlimits;
  const SaProtoRlimit *rlimits;
} SaSpawnSetup;

/* A decoded SPAWN request. The strings point into the payload, which
 * must outlive the request; only the arrays are allocated. */
typedef struct
{
  uint32_t     flags;
  uint32_t     timeout_ms;
  int32_t      kill_signal;
  uint32_t     stdio[3];
  uint32_t     n_targets;
  int32_t     *targets;
  const char  *path;     /* PATH to search argv[0] in, "" for none */
  const char  *cwd;      /* NULL unless SA_SPAWN_FLAG_HAS_CWD */
  const char  *program;  /* NULL unless SA_SPAWN_FLAG_HAS_PROGRAM */
  int32_t      umask;    /* -1 unless SA_SPAWN_FLAG_HAS_UMASK */
  uint32_t     n_rlimits;
  SaProtoRlimit *rlimits;
  char       **argv;     /* argc entries + NULL */
  char       **envp;     /* envc entries + NULL */
  uint32_t     argc;
  uint32_t     envc;
} SaSpawnRequest;

/* Result codes of the decoders */
#define SA_PROTO_OK        0
#define SA_PROTO_NEED_MORE 1
#define SA_PROTO_INVALID  (-1)
#define SA_PROTO_NOMEM    (-2)

int    sa_proto_header_decode   (const uint8_t *data, size_t len, SaProtoHeader *out);
int    sa_proto_next_frame      (const uint8_t *data, size_t len,
                                 SaProtoHeader *header, const uint8_t **payload);
void   sa_proto_header_encode   (uint8_t *out, uint16_t type, uint16_t n_fds,
                                 uint32_t id, uint32_t length);

/* Frames whose payload is a fixed number of 32-bit words: HELLO (version,
 * pid), KILL (signal, flags), SPAWNED (pid), SPAWN_FAILED (stage, errno),
 * EXITED (wait status, flags), GROUP_GONE (none), STARTING (pid), WROTE
 * (flags), CLOSE (which pipes). */
size_t sa_proto_words_for_type  (uint16_t type);
size_t sa_proto_encode_words    (uint8_t *out, uint16_t type, uint16_t n_fds,
                                 uint32_t id, const uint32_t *words, size_t n_words);
int    sa_proto_decode_words    (const SaProtoHeader *header, const uint8_t *payload,
                                 uint32_t *words, size_t n_words);

/* SPAWN: the size of the whole frame (header included) for these strings,
 * n_targets descriptors and this set-up, or 0 when it would exceed a
 * limit. fds NULL: stdin /dev/null, stdout and stderr pipes, no
 * descriptor. setup NULL: nothing besides the descriptors. */
size_t sa_proto_spawn_size      (const char * const *argv, const char * const *envp,
                                 const char *path, const char *cwd, uint32_t n_targets,
                                 const SaSpawnSetup *setup);
size_t sa_proto_spawn_encode    (uint8_t *out, uint32_t id, uint32_t flags,
                                 uint32_t timeout_ms, int32_t kill_signal,
                                 const SaSpawnFds *fds, const SaSpawnSetup *setup,
                                 const char * const *argv, const char * const *envp,
                                 const char *path, const char *cwd);
/* A SPAWN encoded with envp NULL becomes the head of one whose envc
 * strings (env_len bytes, each NUL-terminated) are sent right after it:
 * the environment is the payload's last part, and many frames can share
 * one copy of it. */
void   sa_proto_spawn_set_env   (uint8_t *frame, uint32_t envc, size_t env_len);
/* Whether any of fds 0, 1 and 2 is the helper's terminal. */
int    sa_proto_spawn_has_pty   (const uint32_t stdio[3]);
/* How many descriptors SPAWNED carries for these: one per pipe, and the
 * terminal's master after them when there is one (3 at most). */
uint32_t sa_proto_spawn_n_pipes (const uint32_t stdio[3]);
/* OUTPUT: the header and the stream word of a frame whose n bytes
 * (<= SA_PROTO_MAX_RELAY) the caller puts right after; returns where. */
size_t sa_proto_output_encode   (uint8_t *out, uint32_t id, uint32_t stream, size_t n);
/* The stream (1 or 2) and bytes of an OUTPUT, or SA_PROTO_INVALID. */
int    sa_proto_output_decode   (const SaProtoHeader *header, const uint8_t *payload,
                                 uint32_t *stream, const uint8_t **data, size_t *n);
int    sa_proto_spawn_decode    (const SaProtoHeader *header, const uint8_t *payload,
                                 SaSpawnRequest *request);
void   sa_proto_spawn_clear     (SaSpawnRequest *request);
