/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sa-inbox-private.h"
#include "sa-process.h"

G_BEGIN_DECLS

/* What an SaProcess and its command in the I/O thread share: the exit
 * status when it comes, and the waits for it. Reference counted and
 * locked: the I/O thread never holds a reference to the SaProcess
 * itself (sa-process.c). */
SaProcessShared *sa_process_shared_new    (void);
SaProcessShared *sa_process_shared_ref    (SaProcessShared *shared);
void             sa_process_shared_unref  (SaProcessShared *shared);
void             sa_process_shared_set_id (SaProcessShared *shared,
                                           guint32          id);
guint32          sa_process_shared_get_id (SaProcessShared *shared);
/* The I/O thread: the child has been reaped, or can no longer be waited
 * for (the worker was destroyed, the helper died). Completes every wait. */
void             sa_process_shared_exited (SaProcessShared *shared,
                                           int              wait_status,
                                           gboolean         timed_out);
void             sa_process_shared_failed (SaProcessShared *shared,
                                           const GError    *error);

/* What sa_worker_spawn_async() returns, until spawn_finish() makes an
 * SaProcess of it. Freed unused (the call was cancelled after the child
 * had started), it kills the child's process group. */
typedef struct
{
  SaProcessShared *shared;
  SaInbox         *inbox;
  GPid             pid;
  int              fds[3];     /* the caller's ends: stdin, stdout, stderr; -1 */
  int              pty_fd;     /* the master of its terminal (SA_STDIO_PTY); -1 */
} SaSpawned;

void       sa_spawned_free         (SaSpawned *spawned);
SaProcess *sa_process_new_take     (SaSpawned *spawned);

G_END_DECLS
