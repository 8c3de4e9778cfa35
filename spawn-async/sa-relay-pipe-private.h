/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The write end of a pipe whose read end is a live process's stdout or
 * stderr stream, when the helper relays that stream (sa-relay-pipe.c).
 * I/O thread only. */
typedef struct _SaRelayPipe SaRelayPipe;

SaRelayPipe *sa_relay_pipe_new    (int           fd,
                                   GMainContext *context);
void         sa_relay_pipe_write  (SaRelayPipe  *self,
                                   const guint8 *data,
                                   gsize         n);
void         sa_relay_pipe_finish (SaRelayPipe  *self);

G_END_DECLS
