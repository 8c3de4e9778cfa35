/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the modes of spawn-async-bench share: the result rows, the clock
 * and the method filter. The modes themselves live in one file each.
 */
#pragma once

#include <gio/gio.h>
#include <spawn-async.h>
#include <sys/types.h>
#include <time.h>

#define MiB (1024 * 1024)

void     bench_add_distribution (const char *mode,
                                 const char *method,
                                 guint64     heap_mib,
                                 const char *metric,
                                 const char *unit,
                                 GArray     *samples);
gboolean bench_method_enabled   (const char *name);
void     bench_iterate_until_count (const guint *count,
                                    guint        target);
/* g_subprocess_newv(), aborting when it fails. */
GSubprocess *bench_subprocess_new (const char * const *argv,
                                   GSubprocessFlags    flags);
/* Waits for a child of posix_spawn(); aborts unless it exited with 0. */
void     bench_waitpid_checked  (pid_t       pid);

static inline gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static inline double
bench_us_since (gint64 start_ns)
{
  return (double) (bench_now_ns () - start_ns) / 1000.0;
}

/* bench-process.c: live processes against GSubprocess and posix_spawn. */
void bench_pipe         (SaWorker *worker,
                         guint64   heap_mib,
                         guint     mib,
                         guint     rounds);
void bench_conversation (SaWorker *worker,
                         guint64   heap_mib,
                         guint     lines,
                         guint     rounds);

/* bench-free.c: what dropping a big result costs the thread that drops it. */
void bench_free (SaWorker *worker,
                 guint64   heap_mib,
                 guint     mib,
                 guint     reps);

void     bench_add_value        (const char *mode,
                                 const char *method,
                                 guint64     heap_mib,
                                 const char *metric,
                                 const char *unit,
                                 guint       n,
                                 double      value);
/* A field of /proc/PID/status in kB, -1 if missing; live children of pid. */
double   bench_proc_status_kb   (GPid        pid,
                                 const char *field);
guint    bench_count_children   (GPid        pid);

/* bench-scale.c: thousands in flight at the default descriptor limit. */
void bench_scale (guint64 heap_mib,
                  guint   n);

/* bench-create.c: making a worker, beside one GSubprocess spawn. */
void bench_create (guint64 heap_mib,
                   guint   reps);
