/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-helper-input.h: how spawn-async-helper reads what the library sends.
 *
 * The library's frames arrive as one byte stream cut into datagrams.
 * This reassembles them, checks each one (order, sizes, every field) and
 * passes the valid ones to the sa_helper_on_*() functions, which the
 * program linking it defines: the helper, or a fuzz target that spawns
 * nothing. libc only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sa-protocol.h"

typedef struct
{
  uint8_t *data;
  size_t   len;
  size_t   capacity;
  bool     greeted;     /* a HELLO has been taken */
  /* Descriptors of the last datagram, for the frame that starts it. */
  int      fds[SA_PROTO_MAX_SPAWN_FDS];
  size_t   n_fds;
  size_t   fds_at;      /* where that frame starts in data */
} SaHelperInput;

/* Defined by the program. The request and its strings are valid only
 * during the call. */
void        sa_helper_on_hello        (uint32_t version);
/* fds: the request's descriptors, one per target, now the callee's. */
void        sa_helper_on_spawn        (uint32_t id, const SaSpawnRequest *request,
                                       int *fds);
void        sa_helper_on_spawn_nomem  (uint32_t id);
void        sa_helper_on_kill         (uint32_t id, int signum, uint32_t flags);
/* Returns NULL, or what was wrong: the connection must end. */
const char *sa_helper_on_input        (uint32_t id, const uint8_t *data, size_t len);
void        sa_helper_on_close        (uint32_t id, uint32_t which);
bool        sa_helper_has_child       (uint32_t id);

/* Room for `room` more bytes at data + len, or NULL when out of memory. */
uint8_t    *sa_helper_input_reserve   (SaHelperInput *input, size_t room);
/* The descriptors that came with the datagram just appended at data +
 * at (taken). They belong to the frame that starts there: the library
 * starts a datagram with each frame that has descriptors. Returns NULL,
 * or what was wrong: the connection must end. */
const char *sa_helper_input_add_fds   (SaHelperInput *input, size_t at,
                                       const int *fds, size_t n_fds);
/* Handles every complete frame and keeps the rest for later. Returns
 * NULL, or what was wrong with the stream: the connection must end. */
const char *sa_helper_input_process   (SaHelperInput *input);
void        sa_helper_input_clear     (SaHelperInput *input);
