/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sa-protocol.h"
#include "sa-spawn-options.h"

G_BEGIN_DECLS

typedef struct
{
  int source;     /* the caller's, owned by the options */
  int target;     /* its number in the child */
} SaFdMapping;

const SaFdMapping *sa_spawn_options_get_fds (SaSpawnOptions  *self,
                                             guint           *n_fds,
                                             const char     **problem);

const SaProtoRlimit *sa_spawn_options_get_rlimits (SaSpawnOptions *self,
                                                  guint          *n_rlimits);
int                  sa_spawn_options_get_pty_fd  (SaSpawnOptions *self);

G_END_DECLS
