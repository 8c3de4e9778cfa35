/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sa-result.h"

G_BEGIN_DECLS

/* stdout_bytes and stderr_bytes are taken; each must have a NUL byte
 * after its data. */
SaResult *sa_result_new (GPid      pid,
                         int       wait_status,
                         GBytes   *stdout_bytes,
                         GBytes   *stderr_bytes,
                         gboolean  timed_out,
                         gboolean  output_truncated);

const char *sa_signal_name (int signum);

gboolean    sa_check_wait_status (int       wait_status,
                                  gboolean  timed_out,
                                  gboolean  output_truncated,
                                  GError  **error);

G_END_DECLS
