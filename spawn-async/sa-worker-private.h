/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sa-worker.h"

G_BEGIN_DECLS

/* For the tests of id reuse: the next command gets id + 1. */
void sa_worker_set_last_command_id (SaWorker *self,
                                    guint32   id);

G_END_DECLS
