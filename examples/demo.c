/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn-async-demo: why spawn-async exists, in one screen.
 *
 * The demo grows its heap to a few GiB (touched, like a real application's
 * data), runs a main loop that ticks every 10 ms, and runs the same
 * commands first through GSubprocess, then through a SaWorker. GSubprocess
 * forks, and fork() copies the page tables of the whole heap while the main
 * loop waits; the worker's helper process does the spawning, so the caller
 * only sends it the command.
 *
 *   spawn-async-demo [--heap-mib 4096] [--count 20]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gio/gio.h>
#include <spawn-async.h>

#define TICK_MS     10
#define CHUNK_BYTES (256 * 1024 * 1024)
#define PAGE        4096

static int opt_heap_mib = 4096;
static int opt_count = 20;

static GOptionEntry entries[] = {
  { "heap-mib", 0, 0, G_OPTION_ARG_INT, &opt_heap_mib,
    "Grow the heap to this many MiB first (default: 4096)", "MIB" },
  { "count", 0, 0, G_OPTION_ARG_INT, &opt_count,
    "Commands per method (default: 20)", "N" },
  { NULL }
};

static const char *command[] = { "/bin/true", NULL };

typedef enum
{
  PHASE_GSUBPROCESS,
  PHASE_SA_WORKER,
  N_PHASES
} Phase;

static const char *phase_names[N_PHASES] = { "GSubprocess", "SaWorker" };

typedef struct
{
  GMainLoop *loop;
  SaWorker  *worker;
  Phase      phase;
  int        spawned;
  gint64     phase_start;
  gint64     last_tick;
  double     worst_tick_delay[N_PHASES];   /* ms */
  double     total_ms[N_PHASES];
  GArray    *block_us[N_PHASES];
} Demo;

static gint64
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
grow_heap (int mib)
{
  gsize total = (gsize) mib * 1024 * 1024;

  for (gsize done = 0; done < total; done += CHUNK_BYTES)
    {
      gsize size = MIN ((gsize) CHUNK_BYTES, total - done);
      guint8 *chunk = g_try_malloc (size);

      if (chunk == NULL)
        return FALSE;
      for (gsize offset = 0; offset < size; offset += PAGE)
        chunk[offset] = 1;
      /* Kept until exit, on purpose. */
    }
  return TRUE;
}

static gboolean
on_tick (gpointer user_data)
{
  Demo *demo = user_data;
  gint64 now = now_us ();

  if (demo->last_tick != 0 && demo->phase < N_PHASES)
    {
      double delay_ms = (now - demo->last_tick) / 1000.0 - TICK_MS;

      demo->worst_tick_delay[demo->phase] = MAX (demo->worst_tick_delay[demo->phase], delay_ms);
    }
  demo->last_tick = now;
  return G_SOURCE_CONTINUE;
}

static void spawn_next (Demo *demo);

static void
finished_one (Demo *demo)
{
  if (demo->spawned < opt_count)
    {
      spawn_next (demo);
      return;
    }

  demo->total_ms[demo->phase] = (now_us () - demo->phase_start) / 1000.0;
  demo->phase++;
  if (demo->phase == N_PHASES)
    {
      g_main_loop_quit (demo->loop);
      return;
    }
  demo->spawned = 0;
  demo->phase_start = now_us ();
  spawn_next (demo);
}

static void
on_subprocess_done (GObject      *source,
                    GAsyncResult *res,
                    gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_check_finish (G_SUBPROCESS (source), res, &error))
    g_printerr ("GSubprocess: %s\n", error->message);
  g_object_unref (source);
  finished_one (user_data);
}

static void
on_worker_done (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  if (result == NULL || !sa_result_check (result, &error))
    g_printerr ("SaWorker: %s\n", error->message);
  finished_one (user_data);
}

/* One command at a time; each is started from the main loop, so the time
 * spent in the spawn call is time the loop cannot tick. */
static void
spawn_next (Demo *demo)
{
  g_autoptr(GError) error = NULL;
  gint64 start = now_us ();
  double blocked_us;

  demo->spawned++;
  if (demo->phase == PHASE_GSUBPROCESS)
    {
      GSubprocess *proc = g_subprocess_newv (command, G_SUBPROCESS_FLAGS_NONE, &error);

      blocked_us = now_us () - start;
      if (proc == NULL)
        {
          g_printerr ("GSubprocess: %s\n", error->message);
          g_array_append_val (demo->block_us[demo->phase], blocked_us);
          finished_one (demo);
          return;
        }
      g_subprocess_wait_check_async (proc, NULL, on_subprocess_done, demo);
    }
  else
    {
      sa_worker_aspawn_async (demo->worker, command, NULL, NULL, on_worker_done, demo);
      blocked_us = now_us () - start;
    }
  g_array_append_val (demo->block_us[demo->phase], blocked_us);
}

static gboolean
begin (gpointer user_data)
{
  Demo *demo = user_data;

  demo->phase_start = now_us ();
  spawn_next (demo);
  return G_SOURCE_REMOVE;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static char *
format_us (double us)
{
  if (us >= 1000)
    return g_strdup_printf ("%.1f ms", us / 1000);
  return g_strdup_printf ("%.1f us", us);
}

static void
print_table (Demo *demo)
{
  double median[N_PHASES];

  g_print ("\n%-12s %18s %22s %19s %12s\n",
           "method", "worst tick delay", "median block/spawn", "max block/spawn", "total");
  for (Phase p = 0; p < N_PHASES; p++)
    {
      GArray *samples = demo->block_us[p];
      g_autofree char *med = NULL;
      g_autofree char *max = NULL;

      g_array_sort (samples, compare_doubles);
      median[p] = samples->len ? g_array_index (samples, double, samples->len / 2) : 0;
      med = format_us (median[p]);
      max = format_us (samples->len ? g_array_index (samples, double, samples->len - 1) : 0);
      g_print ("%-12s %15.1f ms %22s %19s %9.0f ms\n",
               phase_names[p], demo->worst_tick_delay[p], med, max, demo->total_ms[p]);
    }
  if (median[PHASE_SA_WORKER] > 0)
    g_print ("\nPer spawn, GSubprocess blocked the main loop %.0f times longer than SaWorker.\n",
             median[PHASE_GSUBPROCESS] / median[PHASE_SA_WORKER]);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context =
    g_option_context_new ("- spawn commands from a big process, with GSubprocess and SaWorker");
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(SaWorker) worker = NULL;
  Demo demo = { 0 };
  gint64 start;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (opt_heap_mib < 0 || opt_count < 1)
    {
      g_printerr ("--heap-mib must be >= 0 and --count >= 1\n");
      return 2;
    }

  /* Run from the build tree: use its helper unless told otherwise. */
  if (g_getenv ("SPAWN_ASYNC_HELPER") == NULL &&
      g_file_test (DEMO_HELPER_PATH, G_FILE_TEST_IS_EXECUTABLE))
    g_setenv ("SPAWN_ASYNC_HELPER", DEMO_HELPER_PATH, TRUE);

  g_print ("spawn-async demo: %d x %s, one at a time, from a main loop ticking every %d ms\n",
           opt_count, command[0], TICK_MS);
  g_print ("Growing the heap to %d MiB (allocated and touched)... ", opt_heap_mib);
  fflush (stdout);
  start = now_us ();
  if (!grow_heap (opt_heap_mib))
    {
      g_printerr ("\nCould not allocate %d MiB; try a smaller --heap-mib\n", opt_heap_mib);
      return 1;
    }
  g_print ("done in %.1f s\n", (now_us () - start) / 1e6);

  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    {
      g_printerr ("Could not start the worker: %s\n", error->message);
      return 1;
    }

  loop = g_main_loop_new (NULL, FALSE);
  demo.loop = loop;
  demo.worker = worker;
  for (Phase p = 0; p < N_PHASES; p++)
    demo.block_us[p] = g_array_new (FALSE, FALSE, sizeof (double));

  g_timeout_add (TICK_MS, on_tick, &demo);
  g_timeout_add (3 * TICK_MS, begin, &demo);
  g_main_loop_run (loop);

  print_table (&demo);

  for (Phase p = 0; p < N_PHASES; p++)
    g_array_unref (demo.block_us[p]);
  return 0;
}
