/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Blocks this big or bigger are given back by the release thread. */
#define SA_RELEASE_ABOVE (512 * 1024)

/* Starts the release thread now, in the calling thread, and keeps it
 * until a block is given back with held set: called where a block that
 * will be released is made, so that the thread that drops it does not
 * pay for starting a thread. */
void sa_release_hold    (void);

/* Gives memory back off the calling thread: a result's big output is
 * freed where the application drops it, often its main loop, and
 * unmapping 256 MiB takes about 20 ms there. held: sa_release_hold()
 * was called for this block. */
void sa_release_mapping (void     *address,
                         gsize     size,
                         gboolean  held);
void sa_release_memory  (void     *memory,
                         gsize     size,
                         gboolean  held);

/* Library-private, for the tests: waits until everything handed over
 * so far has been given back. */
void sa_release_flush   (void);

G_END_DECLS
