/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The output of one stream, read straight into memory that becomes the
 * result's GBytes without a copy. */
typedef struct
{
  char     *data;         /* always room for a trailing NUL */
  gsize     len;
  gsize     capacity;
  gboolean  mapped;       /* data is our own mapping, not malloc()ed */
  gsize     populated;    /* mapped: the pages before this are faulted in */
} SaBuffer;

char   *sa_buffer_reserve (SaBuffer *self,
                           gsize     min_room,
                           gsize    *room);
GBytes *sa_buffer_steal   (SaBuffer *self);
void    sa_buffer_clear   (SaBuffer *self);

G_END_DECLS
