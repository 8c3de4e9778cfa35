/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "sa-error.h"

/**
 * sa_worker_error_quark:
 *
 * The quark of the [error@Sa.WorkerError] domain, %SA_WORKER_ERROR.
 *
 * Returns: the error domain of the worker
 */
G_DEFINE_QUARK (sa-worker-error-quark, sa_worker_error)

/**
 * sa_spawn_error_quark:
 *
 * The quark of the [error@Sa.SpawnError] domain, %SA_SPAWN_ERROR.
 *
 * Returns: the error domain of [method@Sa.Result.check]
 */
G_DEFINE_QUARK (sa-spawn-error-quark, sa_spawn_error)
