/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <spawn-async.h>

G_BEGIN_DECLS

/* A new worker; fails the test if there is none. */
SaWorker *sa_test_new_worker      (void);

/* Runs one command and iterates the thread-default main context until
 * its callback has run. Returns the result or NULL with error set. */
SaResult *sa_test_run             (SaWorker            *worker,
                                   const char * const  *argv,
                                   SaSpawnOptions      *options,
                                   GCancellable        *cancellable,
                                   GError             **error);

/* Runs a command that must give a result, and returns it. */
SaResult *sa_test_run_ok          (SaWorker            *worker,
                                   const char * const  *argv,
                                   SaSpawnOptions      *options);

/* Runs a command that must fail with domain and code, with in_message
 * (unless NULL) in the error's message. */
void      sa_test_assert_fails    (SaWorker            *worker,
                                   const char * const  *argv,
                                   SaSpawnOptions      *options,
                                   GQuark               domain,
                                   int                  code,
                                   const char          *in_message);

/* Starts a command; the GAsyncResult lands in *slot (a strong ref). */
void      sa_test_start           (SaWorker            *worker,
                                   const char * const  *argv,
                                   SaSpawnOptions      *options,
                                   GCancellable        *cancellable,
                                   GAsyncResult       **slot);

/* Iterates the thread-default context until *flag or *pointer is set,
 * failing the test after timeout_ms. */
void      sa_test_wait_flag       (const gboolean      *flag,
                                   guint                timeout_ms);
void      sa_test_wait_pointer    (gpointer            *pointer,
                                   guint                timeout_ms);

/* Whether pid is a live process (zombies count as gone). */
gboolean  sa_test_pid_alive       (GPid                 pid);

/* How many live processes have process group pgid. */
guint     sa_test_group_size      (GPid                 pgid);

/* Fails the test unless no live process is left in group pgid within
 * timeout_ms. */
void      sa_test_assert_group_gone (GPid               pgid,
                                     guint              timeout_ms);
void      sa_test_assert_pid_gone   (GPid               pid,
                                     guint              timeout_ms);

/* Reads a pid written by a child (e.g. "echo $$ > file"), waiting up to
 * timeout_ms for the file to appear. */
GPid      sa_test_read_pid_file   (const char          *path,
                                   guint                timeout_ms);

/* Open file descriptors of this process, or of process pid. */
guint     sa_test_count_fds       (void);
guint     sa_test_count_fds_of    (GPid                 pid);

/* Children of pid that are alive. */
guint     sa_test_count_children  (GPid                 pid);

G_END_DECLS
