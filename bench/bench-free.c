/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The free mode of spawn-async-bench: what dropping a big result costs
 * the thread that drops it. An SaResult holding --free-mib MiB of stdout
 * (its last reference, as an application drops it in its main loop)
 * beside the GBytes of g_subprocess_communicate() with the same output.
 */
#include "config.h"

#include "bench.h"

static void
on_result (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  SaResult **result = user_data;
  g_autoptr(GError) error = NULL;

  *result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);
  if (*result == NULL)
    g_error ("SaWorker: %s", error->message);
}

static double
free_sa_result (SaWorker           *worker,
                const char * const *argv,
                gsize               expected)
{
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  SaResult *result = NULL;
  gint64 start;

  sa_spawn_options_set_max_output (options, 0);
  sa_worker_aspawn_async (worker, argv, options, NULL, on_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  if (g_bytes_get_size (sa_result_get_stdout_bytes (result)) != expected)
    g_error ("SaWorker: wrong output size");

  start = bench_now_ns ();
  g_object_unref (result);
  return bench_us_since (start);
}

static double
free_subprocess_bytes (const char * const *argv,
                       gsize               expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = bench_subprocess_new (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  GBytes *out = NULL;
  gint64 start;

  if (!g_subprocess_communicate (proc, NULL, NULL, &out, NULL, &error))
    g_error ("GSubprocess: %s", error->message);
  if (g_bytes_get_size (out) != expected)
    g_error ("GSubprocess: wrong output size");

  start = bench_now_ns ();
  g_bytes_unref (out);
  return bench_us_since (start);
}

void
bench_free (SaWorker *worker,
            guint64   heap_mib,
            guint     mib,
            guint     reps)
{
  gsize bytes = (gsize) mib * MiB;
  g_autofree char *count = g_strdup_printf ("%" G_GSIZE_FORMAT, bytes);
  const char *argv[] = { "/usr/bin/head", "-c", count, "/dev/zero", NULL };
  const char *methods[] = { "SaWorker result", "GSubprocess GBytes" };

  for (guint m = 0; m < G_N_ELEMENTS (methods); m++)
    {
      g_autoptr(GArray) samples = NULL;

      if (!bench_method_enabled (methods[m]))
        continue;
      samples = g_array_new (FALSE, FALSE, sizeof (double));
      for (guint i = 0; i < reps; i++)
        {
          double us = m == 0 ? free_sa_result (worker, argv, bytes)
                             : free_subprocess_bytes (argv, bytes);

          g_array_append_val (samples, us);
        }
      bench_add_distribution ("free", methods[m], heap_mib, "unref", "us", samples);
    }
}
