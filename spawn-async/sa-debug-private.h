/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Structured debug messages under the "SpawnAsync" domain, shown with
 * G_MESSAGES_DEBUG=SpawnAsync. Never pass environment values here. */
#define SA_DEBUG(...) g_debug (__VA_ARGS__)

void sa_init_i18n (void);

G_END_DECLS
