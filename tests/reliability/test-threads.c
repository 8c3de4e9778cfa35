/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Threads: eight threads, each with its own GMainContext, share one
 * worker. Every answer is the right one, and every callback runs in the
 * thread (and context) that made the call, also when the worker is
 * destroyed or its helper killed under their feet.
 */
#include <signal.h>
#include <string.h>

#include "reliab-util.h"

#define N_THREADS            8
#define COMMANDS_PER_THREAD  100

typedef struct
{
  SaWorker     *worker;
  guint         thread_index;
  GMainContext *context;
  GThread      *thread;
  guint         done;
  guint         results;
  guint         errors;
  guint         wrong;
  gint         *started_total;
} ThreadData;

typedef struct
{
  ThreadData *data;
  guint       index;
} Call;

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  Call *call = user_data;
  ThreadData *data = call->data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  /* In the calling thread, in its context. */
  if (g_thread_self () != data->thread ||
      g_main_context_get_thread_default () != data->context)
    data->wrong++;

  if (result != NULL)
    {
      g_autofree char *expected = g_strdup_printf ("%u-%u\n", data->thread_index, call->index);

      if (g_strcmp0 (sa_result_get_stdout (result), expected) != 0)
        data->wrong++;
      data->results++;
    }
  else if (g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED) ||
           g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
    data->errors++;
  else
    {
      g_printerr ("thread %u, command %u: %s\n", data->thread_index, call->index, error->message);
      data->wrong++;
    }

  data->done++;
  g_free (call);
}

static gpointer
thread_main (gpointer user_data)
{
  ThreadData *data = user_data;
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  g_main_context_push_thread_default (data->context);

  for (guint i = 0; i < COMMANDS_PER_THREAD; i++)
    {
      g_autofree char *word = g_strdup_printf ("%u-%u", data->thread_index, i);
      const char *argv[] = { "echo", word, NULL };
      Call *call = g_new0 (Call, 1);

      call->data = data;
      call->index = i;
      sa_worker_aspawn_async (data->worker, argv, NULL, NULL, on_done, call);
      g_atomic_int_inc (data->started_total);
      /* Let the answers come in while more calls go out. */
      while (g_main_context_iteration (data->context, FALSE))
        ;
    }

  while (data->done < COMMANDS_PER_THREAD && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (data->context, FALSE))
      g_usleep (500);

  g_main_context_pop_thread_default (data->context);
  return NULL;
}

typedef enum
{
  DISTURB_NONE,
  DISTURB_KILL_HELPER,
  DISTURB_DESTROY,
} Disturbance;

static void
run_threads (Disturbance disturbance)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = sa_worker_new (NULL, &error);
  ThreadData data[N_THREADS];
  gint started_total = 0;
  guint results = 0, errors = 0;

  g_assert_no_error (error);

  for (guint t = 0; t < N_THREADS; t++)
    {
      data[t] = (ThreadData) {
        .worker = worker,
        .thread_index = t,
        .context = g_main_context_new (),
        .started_total = &started_total,
      };
    }
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_autofree char *name = g_strdup_printf ("caller-%u", t);

      data[t].thread = g_thread_new (name, thread_main, &data[t]);
    }

  if (disturbance != DISTURB_NONE)
    {
      /* Once about a third of the calls have gone out. */
      while (g_atomic_int_get (&started_total) < N_THREADS * COMMANDS_PER_THREAD / 3)
        g_usleep (1000);
      if (disturbance == DISTURB_KILL_HELPER)
        kill (sa_worker_get_helper_pid (worker), SIGKILL);
      else
        sa_worker_destroy (worker);
    }

  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (data[t].thread);
      g_assert_cmpuint (data[t].done, ==, COMMANDS_PER_THREAD);
      g_assert_cmpuint (data[t].wrong, ==, 0);
      results += data[t].results;
      errors += data[t].errors;
      g_main_context_unref (data[t].context);
    }

  g_test_message ("%u results, %u errors", results, errors);
  g_assert_cmpuint (results + errors, ==, N_THREADS * COMMANDS_PER_THREAD);
  if (disturbance == DISTURB_NONE)
    g_assert_cmpuint (errors, ==, 0);
  else if (disturbance == DISTURB_DESTROY)
    g_assert_cmpuint (errors, >=, N_THREADS * COMMANDS_PER_THREAD / 2);
}

static void
test_shared_worker (void)
{
  run_threads (DISTURB_NONE);
}

static void
test_helper_killed (void)
{
  run_threads (DISTURB_KILL_HELPER);
}

static void
test_destroyed (void)
{
  run_threads (DISTURB_DESTROY);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/threads/shared-worker", test_shared_worker);
  g_test_add_func ("/reliability/threads/helper-killed", test_helper_killed);
  g_test_add_func ("/reliability/threads/destroyed", test_destroyed);

  return g_test_run ();
}
