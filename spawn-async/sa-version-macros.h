/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(SPAWN_ASYNC_INSIDE) && !defined(SPAWN_ASYNC_COMPILATION)
# error "Only <spawn-async.h> can be included directly."
#endif

#include <glib.h>

#ifndef _SA_EXTERN
# define _SA_EXTERN __attribute__((visibility("default"))) extern
#endif

#define SA_VERSION_1_0 (G_ENCODE_VERSION (1, 0))
#define SA_VERSION_1_2 (G_ENCODE_VERSION (1, 2))

#define SA_AVAILABLE_IN_ALL _SA_EXTERN
#define SA_AVAILABLE_IN_1_0 _SA_EXTERN
#define SA_AVAILABLE_IN_1_2 _SA_EXTERN
