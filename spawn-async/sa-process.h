/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(SPAWN_ASYNC_INSIDE) && !defined(SPAWN_ASYNC_COMPILATION)
# error "Only <spawn-async.h> can be included directly."
#endif

#include <gio/gio.h>

#include "sa-version-macros.h"

G_BEGIN_DECLS

#define SA_TYPE_PROCESS (sa_process_get_type ())

SA_AVAILABLE_IN_1_2
G_DECLARE_FINAL_TYPE (SaProcess, sa_process, SA, PROCESS, GObject)

SA_AVAILABLE_IN_1_2
GPid           sa_process_get_pid          (SaProcess            *self);
SA_AVAILABLE_IN_1_2
const char    *sa_process_get_identifier   (SaProcess            *self);
SA_AVAILABLE_IN_1_2
GOutputStream *sa_process_get_stdin_pipe   (SaProcess            *self);
SA_AVAILABLE_IN_1_2
GInputStream  *sa_process_get_stdout_pipe  (SaProcess            *self);
SA_AVAILABLE_IN_1_2
GInputStream  *sa_process_get_stderr_pipe  (SaProcess            *self);
SA_AVAILABLE_IN_1_2
GIOStream     *sa_process_get_pty          (SaProcess            *self);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_set_window_size  (SaProcess            *self,
                                            guint                 rows,
                                            guint                 columns,
                                            GError              **error);

SA_AVAILABLE_IN_1_2
void           sa_process_send_signal      (SaProcess            *self,
                                            int                   signum);
SA_AVAILABLE_IN_1_2
void           sa_process_force_exit       (SaProcess            *self);

SA_AVAILABLE_IN_1_2
void           sa_process_wait_async       (SaProcess            *self,
                                            GCancellable         *cancellable,
                                            GAsyncReadyCallback   callback,
                                            gpointer              user_data);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_wait_finish      (SaProcess            *self,
                                            GAsyncResult         *result,
                                            GError              **error);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_wait             (SaProcess            *self,
                                            GCancellable         *cancellable,
                                            GError              **error);
SA_AVAILABLE_IN_1_2
void           sa_process_wait_check_async (SaProcess            *self,
                                            GCancellable         *cancellable,
                                            GAsyncReadyCallback   callback,
                                            gpointer              user_data);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_wait_check_finish (SaProcess           *self,
                                             GAsyncResult        *result,
                                             GError             **error);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_wait_check       (SaProcess            *self,
                                            GCancellable         *cancellable,
                                            GError              **error);

SA_AVAILABLE_IN_1_2
gboolean       sa_process_get_if_exited    (SaProcess            *self);
SA_AVAILABLE_IN_1_2
int            sa_process_get_exit_status  (SaProcess            *self);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_get_if_signaled  (SaProcess            *self);
SA_AVAILABLE_IN_1_2
int            sa_process_get_term_sig     (SaProcess            *self);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_get_successful   (SaProcess            *self);
SA_AVAILABLE_IN_1_2
int            sa_process_get_status       (SaProcess            *self);
SA_AVAILABLE_IN_1_2
gboolean       sa_process_get_timed_out    (SaProcess            *self);

G_END_DECLS
