/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scale mode: n commands (`sleep 5`, stdout and stderr captured)
 * started at once from a caller whose soft RLIMIT_NOFILE is 1024, as a
 * new user's program on Debian has. SaWorker relays the pipes past its
 * budget (docs/protocol.md, "The relay"); GSubprocess, the peer, holds
 * two pipes per child in the caller and runs out.
 *
 * Rows, per method: how many succeeded and failed (a wrong answer counts
 * as a failure), the seconds until the last answer, the children alive
 * at once at the peak, and the peaks of the caller's descriptors and RSS
 * over what they were before; for SaWorker also the helper's peak RSS and
 * descriptors. The limit is put back afterwards.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define SCALE_SOFT_LIMIT 1024
#define SAMPLE_MS        20

static const char *scale_argv[] = { "sleep", "5", NULL };

typedef struct
{
  guint   started;
  guint   done;
  guint   ok;
  guint   failed;
  GError *first_error;
} Tally;

typedef struct
{
  GPid   helper;            /* 0: none */
  guint  fds_before;
  double rss_before;
  guint  fds_peak;
  double rss_peak;
  double helper_rss_peak;
  guint  helper_fds_peak;
  guint  children_peak;
} Peaks;

static guint
count_fds_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static gboolean
sample (gpointer user_data)
{
  Peaks *peaks = user_data;
  GPid self = getpid ();

  peaks->fds_peak = MAX (peaks->fds_peak, count_fds_of (self));
  peaks->rss_peak = MAX (peaks->rss_peak, bench_proc_status_kb (self, "VmRSS"));
  if (peaks->helper != 0)
    {
      peaks->helper_rss_peak = MAX (peaks->helper_rss_peak,
                                    bench_proc_status_kb (peaks->helper, "VmRSS"));
      peaks->helper_fds_peak = MAX (peaks->helper_fds_peak, count_fds_of (peaks->helper));
      peaks->children_peak = MAX (peaks->children_peak, bench_count_children (peaks->helper));
    }
  else
    peaks->children_peak = MAX (peaks->children_peak, bench_count_children (self));
  return G_SOURCE_CONTINUE;
}

static void
tally_error (Tally  *tally,
             GError *error)
{
  tally->failed++;
  if (tally->first_error == NULL)
    tally->first_error = error;
  else
    g_error_free (error);
}

static void
on_sa_done (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  Tally *tally = user_data;
  GError *error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  tally->done++;
  if (result != NULL && sa_result_check (result, &error) &&
      g_bytes_get_size (sa_result_get_stdout_bytes (result)) == 0)
    tally->ok++;
  else if (error != NULL)
    tally_error (tally, error);
  else
    tally->failed++;
}

static void
on_gsub_done (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Tally *tally = user_data;
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr(GBytes) out = NULL, err = NULL;
  GError *error = NULL;

  tally->done++;
  if (g_subprocess_communicate_finish (process, res, &out, &err, &error) &&
      g_subprocess_get_successful (process))
    tally->ok++;
  else if (error != NULL)
    tally_error (tally, error);
  else
    tally->failed++;
  g_object_unref (process);
}

static void
report (const char *method,
        guint64     heap_mib,
        guint       n,
        Tally      *tally,
        Peaks      *peaks,
        double      seconds)
{
  bench_add_value ("scale", method, heap_mib, "succeeded", "", n, tally->ok);
  bench_add_value ("scale", method, heap_mib, "failed", "", n, tally->failed);
  bench_add_value ("scale", method, heap_mib, "seconds", "s", n, seconds);
  bench_add_value ("scale", method, heap_mib, "children at once", "", n, peaks->children_peak);
  bench_add_value ("scale", method, heap_mib, "caller fds growth", "", n,
                   (double) peaks->fds_peak - peaks->fds_before);
  bench_add_value ("scale", method, heap_mib, "caller RSS growth", "kB", n,
                   peaks->rss_peak - peaks->rss_before);
  if (peaks->helper != 0)
    {
      bench_add_value ("scale", method, heap_mib, "helper RSS peak", "kB", n, peaks->helper_rss_peak);
      bench_add_value ("scale", method, heap_mib, "helper fds peak", "", n, peaks->helper_fds_peak);
    }
  if (tally->first_error != NULL)
    {
      fprintf (stderr, "scale: %s: %u of %u failed, the first with: %s\n",
               method, tally->failed, n, tally->first_error->message);
      g_clear_error (&tally->first_error);
    }
}

/* Iterates until every command has answered, sampling the peaks. */
static double
run_until_done (Tally  *tally,
                guint   n,
                Peaks  *peaks,
                gint64  start_ns)
{
  GSource *sampler = g_timeout_source_new (SAMPLE_MS);

  g_source_set_callback (sampler, sample, peaks, NULL);
  g_source_attach (sampler, NULL);
  sample (peaks);
  bench_iterate_until_count (&tally->done, n);
  g_source_destroy (sampler);
  g_source_unref (sampler);
  return bench_us_since (start_ns) / 1e6;
}

static void
scale_saworker (guint64 heap_mib,
                guint   n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  Tally tally = { 0 };
  Peaks peaks = { 0 };
  gint64 start;

  peaks.fds_before = count_fds_of (getpid ());
  peaks.rss_before = bench_proc_status_kb (getpid (), "VmRSS");
  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    g_error ("%s", error->message);
  peaks.helper = sa_worker_get_helper_pid (worker);

  start = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    sa_worker_aspawn_async (worker, scale_argv, NULL, NULL, on_sa_done, &tally);
  report ("SaWorker", heap_mib, n, &tally, &peaks, run_until_done (&tally, n, &peaks, start));
  sa_worker_destroy (worker);
}

static void
scale_gsubprocess (guint64 heap_mib,
                   guint   n)
{
  Tally tally = { 0 };
  Peaks peaks = { 0 };
  gint64 start;

  peaks.fds_before = count_fds_of (getpid ());
  peaks.rss_before = bench_proc_status_kb (getpid (), "VmRSS");

  start = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      GError *error = NULL;
      GSubprocess *process = g_subprocess_newv (scale_argv,
                                                G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                &error);

      if (process == NULL)
        {
          tally.done++;
          tally_error (&tally, error);
          continue;
        }
      g_subprocess_communicate_async (process, NULL, NULL, on_gsub_done, &tally);
    }
  report ("GSubprocess", heap_mib, n, &tally, &peaks, run_until_done (&tally, n, &peaks, start));
}

void
bench_scale (guint64 heap_mib,
             guint   n)
{
  struct rlimit saved, limit;

  if (getrlimit (RLIMIT_NOFILE, &saved) != 0 || saved.rlim_max < 2 * (rlim_t) n + 1024)
    {
      fprintf (stderr, "scale: skipped: the hard descriptor limit is below %u\n", 2 * n + 1024);
      return;
    }
  limit = saved;
  limit.rlim_cur = SCALE_SOFT_LIMIT;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    g_error ("setrlimit: %s", g_strerror (errno));

  if (bench_method_enabled ("SaWorker"))
    scale_saworker (heap_mib, n);
  if (bench_method_enabled ("GSubprocess"))
    scale_gsubprocess (heap_mib, n);

  setrlimit (RLIMIT_NOFILE, &saved);
}
