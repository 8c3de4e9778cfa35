/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "sa-buffer-private.h"
#include "sa-relay-pipe-private.h"

G_BEGIN_DECLS

typedef struct _SaCommand SaCommand;
typedef struct _SaInbox SaInbox;
typedef struct _SaWatch SaWatch;
typedef struct _SaProcessShared SaProcessShared;

/* Where a command is in its life; see the state machine at the top of
 * sa-connection.c, which alone moves a command from one to the next. */
typedef enum
{
  SA_COMMAND_SUBMITTED,   /* in the inbox: handed over by the caller */
  SA_COMMAND_WAITING,     /* taken in, waiting for a helper to send it to */
  SA_COMMAND_SENT,        /* its SPAWN frame is out (or being sent) */
  SA_COMMAND_RUNNING,     /* SPAWNED came: a pid, pipes */
  SA_COMMAND_DRAINING,    /* EXITED came: reading what is left in the pipes */
  SA_COMMAND_DEAD,        /* answered and closed: freed at the top of the loop */
  SA_COMMAND_N_STATES
} SaCommandState;

/* What a command's pipe handler asks of the connection. sa-command.c never
 * calls the connection: it reports, and the connection acts. */
typedef enum
{
  SA_VERDICT_NONE       = 0,
  SA_VERDICT_KILL       = 1 << 0,   /* output limit: kill the group with the kill signal */
  SA_VERDICT_PIPES_DONE = 1 << 1,   /* stdout and stderr are both closed now */
  SA_VERDICT_CLOSE_OUT  = 1 << 2,   /* relayed: stop relaying stdout (output limit) */
  SA_VERDICT_CLOSE_ERR  = 1 << 3,   /* relayed: the same for stderr */
} SaVerdict;

typedef SaVerdict (*SaWatchFunc) (SaWatch *watch,
                                  guint32  events);

/* A file descriptor in the connection's epoll set. */
struct _SaWatch
{
  SaWatchFunc  func;        /* NULL: not watched (any more) */
  SaCommand   *command;
  int          epoll_fd;    /* the set it is in, -1 when none */
};

typedef struct
{
  SaWatch   watch;          /* first: the stream is its watch */
  int       fd;             /* -1 once closed */
  SaBuffer  buffer;
  gboolean  pipe_grown;
} SaStream;

typedef struct _SaCancelLink SaCancelLink;

/* One command, from aspawn_async() until the helper has said its last
 * word about it. Created in the caller's thread, which owns it until it
 * is in the inbox; from then on the I/O thread owns it, and only the I/O
 * thread frees it (sa-connection.c: reap_dead()). */
struct _SaCommand
{
  /* The connection's bookkeeping: state and container (sa-connection.c). */
  SaCommandState  state;
  GList           link;           /* in the waiting or the dead queue */
  gpointer        connection;     /* for the drain timer's callback */

  /* Set by the caller's thread before submission, then read-only. */
  guint32         id;             /* unique among live commands (sa-inbox.c) */
  char           *program;        /* argv[0], for messages */
  char           *cwd;            /* for messages */
  guint8         *frame;          /* the encoded SPAWN frame, until sent... */
  gsize           frame_len;      /* (all of it) */
  gsize           head_len;       /* ...but its environment, which is... */
  GBytes         *env;            /* ...this block, shared (sa-request.c) */
  GBytes         *input;
  guint64         max_output;
  int             kill_signal;
  GCancellable   *cancellable;
  gulong          cancel_handler; /* 0 once disconnected */
  SaCancelLink   *cancel_link;    /* the handler's data, owned by its closure */
  guint32         stdio[3];       /* SaProtoStdio of fds 0, 1, 2 */
  int            *send_fds;       /* go with the frame (SCM_RIGHTS); ours until sent */
  guint           n_send_fds;
  SaProcessShared *process_shared; /* a live process: its pipes go to an SaProcess */
  gboolean        detached;       /* never killed for the worker's sake; not a bit
                                   * beside sent_directly, which the caller
                                   * writes while the I/O thread reads this */
  guint           sent_directly : 1;  /* the caller sent the frame itself... */
  guint           sent_generation;    /* ...to this helper (sa-helper-link.c) */
  guint           n_pipes;        /* pipes it would hold here (0: not relayable) */
  /* Set under the inbox lock at submission (sa-inbox.c), or by the I/O
   * thread before it sends the frame to a helper over a byte stream;
   * not bits beside sent_directly either. */
  gboolean        relayed;        /* the helper keeps its pipes (RELAY) */
  guint           pipes_reserved; /* of the process's pipe budget, until freed */

  /* The I/O thread's. */
  GTask          *task;           /* NULL once answered */
  GPid            pid;
  SaStream        streams[2];     /* stdout, stderr */
  int             stdin_fd;
  SaWatch         stdin_watch;
  int             terminal_fd;    /* the master (stdout's fd too, while read) */
  SaRelayPipe    *relay_pipes[2]; /* relayed live process: its stdout, stderr */
  int             relay_stdin_fd; /* relayed live process: what its stdin gets */
  GSource        *relay_stdin_source;
  gsize           input_offset;
  GSource        *drain_source;
  int             wait_status;
  guint           relay_open : 2;     /* relayed stdout, stderr not ended yet */
  guint           input_in_flight : 1;/* relayed: an INPUT waits for its WROTE */
  guint           input_ended : 1;    /* relayed: the end of input is sent, or moot */
  guint           timed_out : 1;
  guint           truncated : 1;
  guint           kill_sent : 1;
  guint           group_lingers : 1;  /* its group outlived it (EXITED said) */
  guint           exited : 1;         /* reaped (EXITED), or never will be */
};

/* Caller's thread */
SaCommand *sa_command_new             (GTask          *task,
                                       const char     *program,
                                       const char     *cwd,
                                       guint8         *frame,
                                       gsize           head_len,
                                       GBytes         *env,
                                       GBytes         *input,
                                       guint64         max_output,
                                       int             kill_signal);
void       sa_command_connect_cancel  (SaCommand      *self,
                                       SaInbox        *inbox);
/* Before its frame is sent: the helper keeps its pipes (RELAY). */
void       sa_command_set_relayed     (SaCommand      *self);

/* The thread that owns the command */
void       sa_command_answer          (SaCommand      *self,
                                       GError         *error);
void       sa_command_free            (SaCommand      *self);

/* I/O thread */
gboolean   sa_command_is_answered     (SaCommand      *self);
gboolean   sa_command_wants_stdin     (SaCommand      *self);
gboolean   sa_command_pipes_open      (SaCommand      *self);
void       sa_command_spawned         (SaCommand      *self,
                                       GPid            pid,
                                       const int      *fds,
                                       guint           n_fds,
                                       int             epoll_fd);
GError    *sa_command_spawn_error     (SaCommand      *self,
                                       int             stage,
                                       int             errsv);
void       sa_command_exited          (SaCommand      *self,
                                       int             wait_status,
                                       gboolean        timed_out);
void       sa_command_read_rest       (SaCommand      *self);
void       sa_command_relay_spawned   (SaCommand      *self,
                                       GPid            pid);
SaVerdict  sa_command_relay_output    (SaCommand      *self,
                                       guint           stream,
                                       const guint8   *data,
                                       gsize           n);
gboolean   sa_command_relay_next_input (SaCommand     *self,
                                        const guint8 **data,
                                        gsize         *n);
void       sa_command_relay_wrote     (SaCommand      *self,
                                       gboolean        closed);
void       sa_command_relay_close_stdin (SaCommand    *self);
void       sa_command_complete        (SaCommand      *self);
void       sa_command_complete_with   (SaCommand      *self,
                                       gpointer        result,
                                       GDestroyNotify  result_free);
void       sa_command_close           (SaCommand      *self);

/* A write to a pipe whose reader is gone left SIGPIPE pending on this
 * thread (which blocks it): take it. */
void       sa_consume_sigpipe         (void);

G_END_DECLS
