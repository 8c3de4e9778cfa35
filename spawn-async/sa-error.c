/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "sa-error.h"

G_DEFINE_QUARK (sa-worker-error-quark, sa_worker_error)
G_DEFINE_QUARK (sa-spawn-error-quark, sa_spawn_error)
