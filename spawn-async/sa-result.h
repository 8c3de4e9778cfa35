/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(SPAWN_ASYNC_INSIDE) && !defined(SPAWN_ASYNC_COMPILATION)
# error "Only <spawn-async.h> can be included directly."
#endif

#include <glib-object.h>

#include "sa-version-macros.h"

G_BEGIN_DECLS

#define SA_TYPE_RESULT (sa_result_get_type ())

SA_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (SaResult, sa_result, SA, RESULT, GObject)

SA_AVAILABLE_IN_1_0
const char *sa_result_get_stdout           (SaResult  *self);
SA_AVAILABLE_IN_1_0
const char *sa_result_get_stderr           (SaResult  *self);
SA_AVAILABLE_IN_1_0
GBytes     *sa_result_get_stdout_bytes     (SaResult  *self);
SA_AVAILABLE_IN_1_0
GBytes     *sa_result_get_stderr_bytes     (SaResult  *self);
SA_AVAILABLE_IN_1_0
GPid        sa_result_get_pid              (SaResult  *self);
SA_AVAILABLE_IN_1_0
gboolean    sa_result_get_if_exited        (SaResult  *self);
SA_AVAILABLE_IN_1_0
int         sa_result_get_exit_status      (SaResult  *self);
SA_AVAILABLE_IN_1_0
gboolean    sa_result_get_if_signaled      (SaResult  *self);
SA_AVAILABLE_IN_1_0
int         sa_result_get_term_sig         (SaResult  *self);
SA_AVAILABLE_IN_1_0
gboolean    sa_result_get_successful       (SaResult  *self);
SA_AVAILABLE_IN_1_0
gboolean    sa_result_get_timed_out        (SaResult  *self);
SA_AVAILABLE_IN_1_0
gboolean    sa_result_get_output_truncated (SaResult  *self);
SA_AVAILABLE_IN_1_0
gboolean    sa_result_check                (SaResult  *self,
                                            GError   **error);

G_END_DECLS
