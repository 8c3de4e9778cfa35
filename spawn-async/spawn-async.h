/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#define SPAWN_ASYNC_INSIDE
# include "sa-version.h"
# include "sa-version-macros.h"
# include "sa-error.h"
# include "sa-enums.h"
# include "sa-process.h"
# include "sa-result.h"
# include "sa-spawn-options.h"
# include "sa-worker.h"
#undef SPAWN_ASYNC_INSIDE
