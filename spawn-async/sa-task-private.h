/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Return a task from any thread, in the task's own context (sa-task.c).
 * Each takes the task (and the result or the error). */
void sa_task_return_pointer_later (GTask          *task,
                                   gpointer        result,
                                   GDestroyNotify  result_free);
void sa_task_return_boolean_later (GTask          *task,
                                   gboolean        result);
void sa_task_return_error_later   (GTask          *task,
                                   GError         *error);

G_END_DECLS
