/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "sa-buffer-private.h"

G_BEGIN_DECLS

typedef struct _SaConnection SaConnection;
typedef struct _SaWatch SaWatch;

/* A file descriptor in the connection's epoll set. */
typedef void (*SaWatchFunc) (SaWatch *watch,
                             guint32  events);

struct _SaWatch
{
  SaWatchFunc  func;        /* NULL: not watched (any more) */
  gpointer     data;
  int          epoll_fd;    /* the set it is in, -1 when none */
};

typedef struct
{
  SaWatch   watch;         /* first: the stream is its watch */
  int       fd;            /* -1 once closed */
  SaBuffer  buffer;
  gboolean  pipe_grown;
} SaStream;

/* One command, from aspawn_async() until the helper has reported its
 * end and every pipe is closed. Created in the caller's thread, then
 * owned by the worker's I/O thread. */
typedef struct
{
  SaConnection *connection;   /* set by sa_command_attach() when submitted */
  guint32       id;
  GTask        *task;           /* NULL once the caller has its answer */
  char         *program;        /* argv[0], for messages */
  char         *cwd;            /* for messages */
  guint8       *frame;          /* the encoded SPAWN frame */
  gsize         frame_len;
  GBytes       *input;
  gsize         input_offset;
  guint64       max_output;
  int           kill_signal;
  GCancellable *cancellable;
  gulong        cancel_handler;
  GPid          pid;
  SaStream      streams[2];     /* stdout, stderr */
  int           stdin_fd;
  SaWatch       stdin_watch;
  GSource      *drain_source;
  int           wait_status;
  guint         awaiting_helper : 1;  /* sent; no EXITED/SPAWN_FAILED yet */
  guint         exited : 1;
  guint         timed_out : 1;
  guint         truncated : 1;
  guint         kill_sent : 1;
} SaCommand;

SaCommand *sa_command_new           (GTask          *task,
                                     const char     *program,
                                     const char     *cwd,
                                     guint8         *frame,
                                     gsize           frame_len,
                                     GBytes         *input,
                                     guint64         max_output,
                                     int             kill_signal);
void       sa_command_free          (SaCommand      *self);
void       sa_command_attach        (SaCommand      *self,
                                     SaConnection   *connection);
void       sa_command_spawned       (SaCommand      *self,
                                     GPid            pid,
                                     const int      *fds,
                                     guint           n_fds);
void       sa_command_spawn_failed  (SaCommand      *self,
                                     int             stage,
                                     int             errsv);
void       sa_command_exited        (SaCommand      *self,
                                     GMainContext   *context,
                                     int             wait_status,
                                     gboolean        timed_out);
void       sa_command_fail          (SaCommand      *self,
                                     GError         *error);
void       sa_command_cancel        (SaCommand      *self);
gboolean   sa_command_is_finished   (SaCommand      *self);
gboolean   sa_command_wants_stdin   (SaCommand      *self);

G_END_DECLS
