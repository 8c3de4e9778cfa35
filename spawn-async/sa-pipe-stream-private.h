/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gunixinputstream.h>

G_BEGIN_DECLS

/* A pipe whose reader has taken this many bytes from it... */
#define SA_GROW_PIPE_AFTER (256 * 1024)
/* ...is given this capacity (F_SETPIPE_SZ, a hint that may fail). Big
 * producers then write, and readers read, 1 MiB per call instead of
 * 64 KiB. Only big producers: the kernel charges a pipe's capacity to
 * its user (fs.pipe-user-pages-soft), so small pipes stay small. */
#define SA_BIG_PIPE_SIZE   (1024 * 1024)

#define SA_TYPE_PIPE_INPUT_STREAM (sa_pipe_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (SaPipeInputStream, sa_pipe_input_stream, SA, PIPE_INPUT_STREAM,
                      GUnixInputStream)

GInputStream *sa_pipe_input_stream_new     (int fd);
GInputStream *sa_terminal_input_stream_new (int fd);

G_END_DECLS
