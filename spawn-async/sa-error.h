/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(SPAWN_ASYNC_INSIDE) && !defined(SPAWN_ASYNC_COMPILATION)
# error "Only <spawn-async.h> can be included directly."
#endif

#include <glib.h>

#include "sa-version-macros.h"

G_BEGIN_DECLS

/**
 * SA_WORKER_ERROR:
 *
 * The error domain of the worker itself: its helper process failed,
 * exited or was destroyed. See [error@Sa.WorkerError].
 */
#define SA_WORKER_ERROR (sa_worker_error_quark ())

/**
 * SA_SPAWN_ERROR:
 *
 * The error domain of [method@Sa.Result.check] for children that did not
 * end cleanly, besides `G_SPAWN_EXIT_ERROR` and `G_IO_ERROR_TIMED_OUT`.
 * See [error@Sa.SpawnError].
 */
#define SA_SPAWN_ERROR (sa_spawn_error_quark ())

/**
 * SaWorkerError:
 * @SA_WORKER_ERROR_FAILED: the helper process could not be started or
 *   restarted; the worker runs no further commands
 * @SA_WORKER_ERROR_EXITED: the helper process exited unexpectedly while
 *   the command was pending (it is restarted; run the command again)
 * @SA_WORKER_ERROR_DESTROYED: the worker was destroyed before the
 *   command completed, or before it was called
 *
 * Errors of the [error@Sa.WorkerError] domain.
 */
typedef enum
{
  SA_WORKER_ERROR_FAILED,
  SA_WORKER_ERROR_EXITED,
  SA_WORKER_ERROR_DESTROYED,
} SaWorkerError;

/**
 * SaSpawnError:
 * @SA_SPAWN_ERROR_SIGNALED: the child was killed by a signal
 * @SA_SPAWN_ERROR_OUTPUT_LIMIT: the child wrote more than
 *   [property@Sa.SpawnOptions:max-output] bytes to stdout or stderr and
 *   was killed; its output was truncated
 *
 * Errors of the [error@Sa.SpawnError] domain, raised by
 * [method@Sa.Result.check].
 */
typedef enum
{
  SA_SPAWN_ERROR_SIGNALED,
  SA_SPAWN_ERROR_OUTPUT_LIMIT,
} SaSpawnError;

SA_AVAILABLE_IN_1_0
GQuark sa_worker_error_quark (void);
SA_AVAILABLE_IN_1_0
GQuark sa_spawn_error_quark  (void);

G_END_DECLS
