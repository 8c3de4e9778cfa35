/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The create mode of spawn-async-bench: what making a worker costs the
 * caller, at each heap size of --heaps, beside one GSubprocess spawn.
 *
 *   SaWorker new        sa_worker_new(): the caller waits for the
 *                       helper's handshake;
 *   SaWorker new_async  the time inside sa_worker_new_async() (the
 *                       handshake comes in the main loop);
 *   GSubprocess         the time inside g_subprocess_newv() of /bin/true.
 *
 * "first result" is from that call to the callback of a first
 * /bin/true (for GSubprocess, to its wait). Each worker is destroyed
 * before the next is made.
 */
#include "config.h"

#include "bench.h"

static const char *true_argv[] = { "/bin/true", NULL };

static void
on_result (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  gint64 *done_ns = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  if (result == NULL || !sa_result_check (result, &error))
    g_error ("SaWorker: %s", error->message);
  *done_ns = bench_now_ns ();
}

static void
on_worker (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  SaWorker **worker = user_data;
  g_autoptr(GError) error = NULL;

  *worker = sa_worker_new_finish (res, &error);
  if (*worker == NULL)
    g_error ("SaWorker: %s", error->message);
}

static void
on_waited (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  gint64 *done_ns = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_check_finish (G_SUBPROCESS (source), res, &error))
    g_error ("GSubprocess: %s", error->message);
  *done_ns = bench_now_ns ();
}

/* The time blocked in the call (us), and to the first result in *first_us. */
static double
create_once (int     method,
             double *first_us)
{
  g_autoptr(GError) error = NULL;
  SaWorker *worker = NULL;
  GSubprocess *proc = NULL;
  gint64 done_ns = 0;
  gint64 start = bench_now_ns ();
  double blocked;

  switch (method)
    {
    case 0:
      worker = sa_worker_new (NULL, &error);
      if (worker == NULL)
        g_error ("SaWorker: %s", error->message);
      blocked = bench_us_since (start);
      break;
    case 1:
      sa_worker_new_async (G_PRIORITY_DEFAULT, NULL, on_worker, &worker);
      blocked = bench_us_since (start);
      while (worker == NULL)
        g_main_context_iteration (NULL, TRUE);
      break;
    default:
      proc = bench_subprocess_new (true_argv, G_SUBPROCESS_FLAGS_NONE);
      blocked = bench_us_since (start);
      g_subprocess_wait_check_async (proc, NULL, on_waited, &done_ns);
      break;
    }

  if (worker != NULL)
    sa_worker_aspawn_async (worker, true_argv, NULL, NULL, on_result, &done_ns);
  while (done_ns == 0)
    g_main_context_iteration (NULL, TRUE);
  *first_us = (double) (done_ns - start) / 1000.0;

  if (worker != NULL)
    {
      sa_worker_destroy (worker);
      g_object_unref (worker);
    }
  g_clear_object (&proc);
  return blocked;
}

void
bench_create (guint64 heap_mib,
              guint   reps)
{
  const char *methods[] = { "SaWorker new", "SaWorker new_async", "GSubprocess" };

  for (int m = 0; m < (int) G_N_ELEMENTS (methods); m++)
    {
      g_autoptr(GArray) blocked = NULL;
      g_autoptr(GArray) first = NULL;

      if (!bench_method_enabled (methods[m]))
        continue;
      blocked = g_array_new (FALSE, FALSE, sizeof (double));
      first = g_array_new (FALSE, FALSE, sizeof (double));
      for (guint i = 0; i < reps; i++)
        {
          double first_us, us = create_once (m, &first_us);

          g_array_append_val (blocked, us);
          g_array_append_val (first, first_us);
        }
      bench_add_distribution ("create", methods[m], heap_mib, "block", "us", blocked);
      bench_add_distribution ("create", methods[m], heap_mib, "first result", "us", first);
    }
}
