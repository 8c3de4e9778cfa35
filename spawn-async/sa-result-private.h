/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sa-result.h"

G_BEGIN_DECLS

/* stdout_data and stderr_data (may be NULL when empty) are taken; each
 * must have a NUL byte after its length. */
SaResult *sa_result_new (GPid      pid,
                         int       wait_status,
                         char     *stdout_data,
                         gsize     stdout_len,
                         char     *stderr_data,
                         gsize     stderr_len,
                         gboolean  timed_out,
                         gboolean  output_truncated);

const char *sa_signal_name (int signum);

G_END_DECLS
