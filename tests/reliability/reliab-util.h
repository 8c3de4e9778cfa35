/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sa-test-util.h"

G_BEGIN_DECLS

/* Many commands in flight at once: every answer lands in its slot. */
typedef struct _ReliabBatch ReliabBatch;

typedef struct
{
  ReliabBatch  *batch;
  guint         index;
  GAsyncResult *result;
} ReliabSlot;

struct _ReliabBatch
{
  SaWorker   *worker;
  ReliabSlot *slots;
  guint       n;
  guint       done;
};

ReliabBatch *reliab_batch_new        (SaWorker            *worker,
                                      guint                n);
void         reliab_batch_start      (ReliabBatch         *batch,
                                      guint                index,
                                      const char * const  *argv,
                                      SaSpawnOptions      *options);
/* Iterates the thread-default context until every started command has
 * called back; fails the test after timeout_ms. */
void         reliab_batch_wait       (ReliabBatch         *batch,
                                      guint                timeout_ms);
SaResult    *reliab_batch_finish     (ReliabBatch         *batch,
                                      guint                index,
                                      GError             **error);
void         reliab_batch_free       (ReliabBatch         *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ReliabBatch, reliab_batch_free)

/* Iterates the thread-default context for ms milliseconds. */
void         reliab_iterate_for      (guint                ms);

/* A value from /proc/PID/status ("VmRSS", "SigIgn", ...), or NULL. */
char        *reliab_proc_status      (GPid                 pid,
                                      const char          *field);
/* A "NNN kB" value of /proc/PID/status, in kB; -1 if missing. */
gint64       reliab_proc_status_kb   (GPid                 pid,
                                      const char          *field);

/* Live processes whose environment holds the entry marker ("NAME=value"). */
guint        reliab_count_marked     (const char          *marker);
/* Fails unless no process with the marker is left within timeout_ms. */
void         reliab_assert_marked_gone (const char        *marker,
                                        guint              timeout_ms);

/* Raises the soft RLIMIT_NOFILE to at least want (up to the hard
 * limit); returns the new soft limit. */
guint        reliab_raise_fd_limit   (guint                want);

/* Bytes of heap in use (mallinfo2). */
gsize        reliab_heap_in_use      (void);

/* The environment of the test with one more entry. */
char       **reliab_environ_with     (const char          *entry);

/* Runs with SPAWN_ASYNC_HELPER pointing to the fake helper in the given
 * mode, logging its starts to log_path (may be NULL); restore with
 * reliab_use_real_helper(). */
void         reliab_use_fake_helper  (const char          *mode,
                                      const char          *log_path);
void         reliab_use_real_helper  (void);
const char  *reliab_real_helper      (void);
/* Lines in a file (0 if it does not exist). */
guint        reliab_count_lines      (const char          *path);

/* Asserts that the worker still has helper `pid` and that `true` runs. */
void         reliab_assert_worker_ok (SaWorker            *worker,
                                      GPid                 pid);

/* Whether the test runs under valgrind, which keeps a file descriptor
 * limit of its own. */
gboolean     reliab_under_valgrind   (void);

/* Starts a helper process of the test itself: stderr (and stdout unless
 * piped) silenced and SIGKILLed when the test dies, so that a failing
 * test never leaves it holding meson's pipes. */
GSubprocess *reliab_spawn_tied       (GSubprocessFlags     flags,
                                      GError             **error,
                                      const char          *argv0,
                                      ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
