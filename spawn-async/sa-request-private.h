/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sa-command-private.h"
#include "sa-spawn-options.h"

G_BEGIN_DECLS

/* Caller's thread: a command for argv and options, or NULL with error
 * (sa-request.c). for_process: its pipes go to an SaProcess. */
SaCommand *sa_request_prepare (GTask               *task,
                               const char * const  *argv,
                               SaSpawnOptions      *options,
                               gboolean             for_process,
                               GError             **error);

G_END_DECLS
