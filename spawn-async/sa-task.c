/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-task.c: returning a GTask from a thread that must not own it.
 *
 * g_task_return_*() may be called from any thread, but the thread that
 * drops the last reference to the task also drops the task's reference
 * to its source object: the last reference to a worker could then go in
 * the worker's own I/O thread, whose dispose would join that very
 * thread. So the library's threads never return a task themselves: the
 * task goes to its own main context, is returned there, and is released
 * there, whatever happens.
 */
#include "config.h"

#include "sa-task-private.h"
#include "sa-tsan-private.h"

typedef enum
{
  RETURN_POINTER,
  RETURN_BOOLEAN,
  RETURN_ERROR,
} ReturnKind;

typedef struct
{
  GTask          *task;
  ReturnKind      kind;
  gpointer        result;
  GDestroyNotify  result_free;
  gboolean        boolean;
  GError         *error;
} Return;

static gboolean
return_now (gpointer data)
{
  Return *ret = data;

  SA_TSAN_ACQUIRE (ret);

  switch (ret->kind)
    {
    case RETURN_POINTER:
      g_task_return_pointer (ret->task, g_steal_pointer (&ret->result), ret->result_free);
      break;
    case RETURN_BOOLEAN:
      g_task_return_boolean (ret->task, ret->boolean);
      break;
    case RETURN_ERROR:
    default:
      g_task_return_error (ret->task, g_steal_pointer (&ret->error));
      break;
    }
  return G_SOURCE_REMOVE;
}

/* Runs in the task's context, also when the return did not (the context
 * is being freed): nothing is leaked. */
static void
return_free (gpointer data)
{
  Return *ret = data;

  SA_TSAN_ACQUIRE (ret);

  if (ret->result != NULL && ret->result_free != NULL)
    ret->result_free (ret->result);
  g_clear_error (&ret->error);
  g_clear_object (&ret->task);
  g_free (ret);
}

static void
post (Return *ret)
{
  SA_TSAN_RELEASE (ret);
  g_main_context_invoke_full (g_task_get_context (ret->task),
                              G_PRIORITY_DEFAULT,
                              return_now, ret, return_free);
}

void
sa_task_return_pointer_later (GTask          *task,
                              gpointer        result,
                              GDestroyNotify  result_free)
{
  Return *ret = g_new0 (Return, 1);

  ret->task = task;
  ret->kind = RETURN_POINTER;
  ret->result = result;
  ret->result_free = result_free;
  post (ret);
}

void
sa_task_return_boolean_later (GTask    *task,
                              gboolean  result)
{
  Return *ret = g_new0 (Return, 1);

  ret->task = task;
  ret->kind = RETURN_BOOLEAN;
  ret->boolean = result;
  post (ret);
}

void
sa_task_return_error_later (GTask  *task,
                            GError *error)
{
  Return *ret = g_new0 (Return, 1);

  ret->task = task;
  ret->kind = RETURN_ERROR;
  ret->error = error;
  post (ret);
}
