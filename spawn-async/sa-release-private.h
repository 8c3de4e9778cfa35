/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Gives memory back off the calling thread: a result's big output is
 * freed where the application drops it, often its main loop, and
 * unmapping 256 MiB takes about 20 ms there. */
void sa_release_mapping (void  *address,
                         gsize  size);
void sa_release_memory  (void  *memory,
                         gsize  size);

/* Library-private, for the tests: waits until everything handed over
 * so far has been given back. */
void sa_release_flush   (void);

G_END_DECLS
