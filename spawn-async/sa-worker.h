/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(SPAWN_ASYNC_INSIDE) && !defined(SPAWN_ASYNC_COMPILATION)
# error "Only <spawn-async.h> can be included directly."
#endif

#include <gio/gio.h>

#include "sa-process.h"
#include "sa-result.h"
#include "sa-spawn-options.h"
#include "sa-version-macros.h"

G_BEGIN_DECLS

#define SA_TYPE_WORKER (sa_worker_get_type ())

SA_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (SaWorker, sa_worker, SA, WORKER, GObject)

SA_AVAILABLE_IN_1_0
SaWorker *sa_worker_new            (GCancellable        *cancellable,
                                    GError             **error);
SA_AVAILABLE_IN_1_2
void      sa_worker_new_async      (int                  io_priority,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
SA_AVAILABLE_IN_1_2
SaWorker *sa_worker_new_finish     (GAsyncResult        *result,
                                    GError             **error);
SA_AVAILABLE_IN_1_2
SaWorker *sa_worker_new_for_host   (GCancellable        *cancellable,
                                    GError             **error);
SA_AVAILABLE_IN_1_2
void      sa_worker_new_for_host_async (int              io_priority,
                                        GCancellable    *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer         user_data);
SA_AVAILABLE_IN_1_2
SaWorker *sa_worker_new_for_host_finish (GAsyncResult   *result,
                                         GError        **error);
SA_AVAILABLE_IN_1_0
void      sa_worker_aspawn_async   (SaWorker            *self,
                                    const char * const  *argv,
                                    SaSpawnOptions      *options,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
SA_AVAILABLE_IN_1_0
SaResult *sa_worker_aspawn_finish  (SaWorker            *self,
                                    GAsyncResult        *result,
                                    GError             **error);
SA_AVAILABLE_IN_1_2
void       sa_worker_spawn_async   (SaWorker            *self,
                                    const char * const  *argv,
                                    SaSpawnOptions      *options,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
SA_AVAILABLE_IN_1_2
SaProcess *sa_worker_spawn_finish  (SaWorker            *self,
                                    GAsyncResult        *result,
                                    GError             **error);
SA_AVAILABLE_IN_1_2
SaProcess *sa_worker_spawn         (SaWorker            *self,
                                    const char * const  *argv,
                                    SaSpawnOptions      *options,
                                    GCancellable        *cancellable,
                                    GError             **error);
SA_AVAILABLE_IN_1_0
void      sa_worker_destroy        (SaWorker            *self);
SA_AVAILABLE_IN_1_0
GPid      sa_worker_get_helper_pid (SaWorker            *self);

G_END_DECLS
