/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn-async-bench: SaWorker against GSubprocess, g_spawn_async() and a
 * direct posix_spawn() from this process (the limit), in one run.
 *
 * Modes (--modes, default all of them):
 *   block       time the calling thread spends inside the spawn call, at
 *               each heap size of --heaps (allocated and touched)
 *   latency     end-to-end time of /bin/true, one at a time
 *   throughput  /bin/true with --inflight commands in flight
 *   memory      VmRSS / RssAnon of the helper, idle and with
 *               --inflight children running
 *   capture     --capture-mib MiB of output read from one child
 *   mainloop    lateness of a 1 ms timer while --mainloop-cmds commands
 *               each print --mainloop-mib MiB
 *   pipe        --pipe-mib MiB read from a live process's stdout pipe
 *   conversation  --conversation-lines lines written to cat and read back
 *   free        what dropping a result of --free-mib MiB costs the caller
 *   create      making a worker, at each heap size of --heaps, beside one
 *               GSubprocess spawn (bench-create.c)
 *   scale       --scale-cmds `sleep 5` in flight at once at a soft
 *               RLIMIT_NOFILE of 1024, beside GSubprocess (bench-scale.c);
 *               not in the default set: run it on its own
 *
 * block and latency measure spawn_async() (SaProcess) beside
 * aspawn_async() (SaWorker); pipe and conversation are in bench-process.c.
 *
 * When `node` is on PATH, bench/node/driver.js measures node-spawn-async
 * and child_process.execFile the same way (see bench/README.md).
 *
 * It prints a table, a summary of the targets, and writes CSV and JSON.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define BALLAST_CHUNK     (256 * MiB)
#define PAGE              4096
#define TIMER_INTERVAL_MS 1
#define BASELINE_MS       500

/* -- options --------------------------------------------------------------- */

static char    *opt_modes = NULL;
static char    *opt_methods = NULL;
static char    *opt_heaps = NULL;
static char    *opt_base_heap = NULL;
static int      opt_reps = 200;
static int      opt_fork_reps = 50;
static int      opt_tp_count = 1000;
static int      opt_inflight = 64;
static int      opt_scale_cmds = 8000;
static int      opt_tp_rounds = 5;
static int      opt_capture_mib = 512;
static int      opt_capture_reps = 3;
static int      opt_mainloop_cmds = 16;
static int      opt_mainloop_mib = 16;
static char    *opt_mainloop_input = NULL;
static int      opt_pipe_mib = 1024;
static int      opt_pipe_rounds = 3;
static int      opt_conversation_lines = 10000;
static int      opt_conversation_rounds = 3;
static int      opt_free_mib = 256;
static int      opt_free_reps = 5;
static int      opt_create_reps = 20;
static char    *opt_csv = NULL;
static char    *opt_json = NULL;
static gboolean opt_no_node = FALSE;
static char    *opt_node_dir = NULL;
static gboolean opt_quick = FALSE;
static gboolean opt_io_batch = FALSE;

static GOptionEntry entries[] = {
  { "modes", 'm', 0, G_OPTION_ARG_STRING, &opt_modes,
    "Modes to run, comma-separated (default: block,latency,throughput,memory,capture,mainloop,"
    "pipe,conversation,free,create)", "LIST" },
  { "methods", 'M', 0, G_OPTION_ARG_STRING, &opt_methods,
    "Only the methods whose names start with one of these, comma-separated "
    "(SaWorker,SaProcess,GSubprocess,g_spawn_async,posix_spawn,node; default: all)", "LIST" },
  { "heaps", 'H', 0, G_OPTION_ARG_STRING, &opt_heaps,
    "Heap sizes for the block mode (default: 16M,2G,8G)", "LIST" },
  { "base-heap", 0, 0, G_OPTION_ARG_STRING, &opt_base_heap,
    "Heap size for the other modes (default: 16M)", "SIZE" },
  { "reps", 'n', 0, G_OPTION_ARG_INT, &opt_reps,
    "Calls per method (block, latency; default: 200)", "N" },
  { "fork-reps", 0, 0, G_OPTION_ARG_INT, &opt_fork_reps,
    "Calls per heap size for the forking methods in the block mode (default: 50)", "N" },
  { "tp-count", 0, 0, G_OPTION_ARG_INT, &opt_tp_count,
    "Commands per method and round in the throughput mode (default: 1000)", "N" },
  { "tp-rounds", 0, 0, G_OPTION_ARG_INT, &opt_tp_rounds,
    "Rounds of every method in the throughput mode (default: 5)", "N" },
  { "inflight", 0, 0, G_OPTION_ARG_INT, &opt_inflight,
    "Commands in flight (throughput, memory; default: 64)", "N" },
  { "scale-cmds", 0, 0, G_OPTION_ARG_INT, &opt_scale_cmds,
    "Commands in flight at once in the scale mode (default: 8000)", "N" },
  { "capture-mib", 0, 0, G_OPTION_ARG_INT, &opt_capture_mib,
    "Output size in the capture mode (default: 512)", "MIB" },
  { "capture-reps", 0, 0, G_OPTION_ARG_INT, &opt_capture_reps,
    "Runs per method in the capture mode (default: 3)", "N" },
  { "mainloop-cmds", 0, 0, G_OPTION_ARG_INT, &opt_mainloop_cmds,
    "Commands at once in the mainloop mode (default: 16)", "N" },
  { "mainloop-mib", 0, 0, G_OPTION_ARG_INT, &opt_mainloop_mib,
    "Output per command in the mainloop mode (default: 16)", "MIB" },
  { "mainloop-input", 0, 0, G_OPTION_ARG_FILENAME, &opt_mainloop_input,
    "What the mainloop mode's commands print (head -c of it; default: /dev/zero)", "FILE" },
  { "pipe-mib", 0, 0, G_OPTION_ARG_INT, &opt_pipe_mib,
    "Bytes read from a process's stdout in the pipe mode (default: 1024)", "MIB" },
  { "pipe-rounds", 0, 0, G_OPTION_ARG_INT, &opt_pipe_rounds,
    "Rounds of every method in the pipe mode (default: 3)", "N" },
  { "conversation-lines", 0, 0, G_OPTION_ARG_INT, &opt_conversation_lines,
    "Lines through cat in the conversation mode (default: 10000)", "N" },
  { "conversation-rounds", 0, 0, G_OPTION_ARG_INT, &opt_conversation_rounds,
    "Rounds of every method in the conversation mode (default: 3)", "N" },
  { "free-mib", 0, 0, G_OPTION_ARG_INT, &opt_free_mib,
    "Output of the result dropped in the free mode (default: 256)", "MIB" },
  { "create-reps", 0, 0, G_OPTION_ARG_INT, &opt_create_reps,
    "Workers made per method and heap in the create mode (default: 20)", "N" },
  { "free-reps", 0, 0, G_OPTION_ARG_INT, &opt_free_reps,
    "Results dropped per method in the free mode (default: 5)", "N" },
  { "csv", 0, 0, G_OPTION_ARG_FILENAME, &opt_csv,
    "Write the results as CSV here (default: bench-results.csv)", "PATH" },
  { "json", 0, 0, G_OPTION_ARG_FILENAME, &opt_json,
    "Write the results as JSON here (default: bench-results.json)", "PATH" },
  { "no-node", 0, 0, G_OPTION_ARG_NONE, &opt_no_node,
    "Do not run the Node driver even when node is installed", NULL },
  { "node-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_node_dir,
    "Directory of driver.js and its node_modules (default: the source tree's bench/node)", "DIR" },
  { "io-thread-batch", 0, 0, G_OPTION_ARG_NONE, &opt_io_batch,
    "Experiment: run the worker's I/O thread with SCHED_BATCH (no wake-up preemption)", NULL },
  { "quick", 'q', 0, G_OPTION_ARG_NONE, &opt_quick,
    "Small sizes and counts, for a smoke test", NULL },
  { NULL }
};

/* -- results ---------------------------------------------------------------- */

typedef struct
{
  char    *mode;
  char    *method;
  guint64  heap_mib;
  char    *metric;
  char    *unit;
  guint    n;
  double   p50;      /* NAN for a single value */
  double   p99;
  double   max;
  double   value;    /* the median for a distribution */
} Row;

static GArray *rows;

static void
row_clear (gpointer data)
{
  Row *row = data;

  g_free (row->mode);
  g_free (row->method);
  g_free (row->metric);
  g_free (row->unit);
}

static double
percentile (const double *sorted,
            guint         n,
            double        p)
{
  guint rank;

  if (n == 0)
    return NAN;
  rank = (guint) ceil (p * n);
  return sorted[CLAMP (rank, 1, n) - 1];
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

void
bench_add_distribution (const char *mode,
                        const char *method,
                        guint64     heap_mib,
                        const char *metric,
                        const char *unit,
                        GArray     *samples)
{
  Row row = { 0 };

  g_array_sort (samples, compare_doubles);
  row.mode = g_strdup (mode);
  row.method = g_strdup (method);
  row.heap_mib = heap_mib;
  row.metric = g_strdup (metric);
  row.unit = g_strdup (unit);
  row.n = samples->len;
  row.p50 = percentile ((double *) samples->data, samples->len, 0.50);
  row.p99 = percentile ((double *) samples->data, samples->len, 0.99);
  row.max = percentile ((double *) samples->data, samples->len, 1.0);
  row.value = row.p50;
  g_array_append_val (rows, row);
}

void
bench_add_value (const char *mode,
                 const char *method,
                 guint64     heap_mib,
                 const char *metric,
                 const char *unit,
                 guint       n,
                 double      value)
{
  Row row = { 0 };

  row.mode = g_strdup (mode);
  row.method = g_strdup (method);
  row.heap_mib = heap_mib;
  row.metric = g_strdup (metric);
  row.unit = g_strdup (unit);
  row.n = n;
  row.p50 = row.p99 = row.max = NAN;
  row.value = value;
  g_array_append_val (rows, row);
}

static const Row *
find_row (const char *mode,
          const char *method,
          const char *metric,
          guint64     heap_mib)     /* G_MAXUINT64: any */
{
  for (guint i = 0; i < rows->len; i++)
    {
      const Row *row = &g_array_index (rows, Row, i);

      if (g_str_equal (row->mode, mode) && g_str_equal (row->method, method) &&
          g_str_equal (row->metric, metric) &&
          (heap_mib == G_MAXUINT64 || row->heap_mib == heap_mib))
        return row;
    }
  return NULL;
}

/* -- small tools -------------------------------------------------------------- */

gboolean
bench_method_enabled (const char *name)
{
  g_auto(GStrv) wanted = NULL;

  if (opt_methods == NULL)
    return TRUE;
  wanted = g_strsplit (opt_methods, ",", -1);
  for (guint i = 0; wanted[i] != NULL; i++)
    if (wanted[i][0] != '\0' && g_ascii_strncasecmp (name, wanted[i], strlen (wanted[i])) == 0)
      return TRUE;
  return FALSE;
}

static const char *true_argv[] = { "/bin/true", NULL };

static void
iterate_until (const gboolean *done)
{
  while (!*done)
    g_main_context_iteration (NULL, TRUE);
}

void
bench_iterate_until_count (const guint *count,
                           guint        target)
{
  while (*count < target)
    g_main_context_iteration (NULL, TRUE);
}

static guint64
parse_size_mib (const char *text)
{
  char *end = NULL;
  double value = g_ascii_strtod (text, &end);

  if (end == text || value <= 0)
    g_error ("not a size: %s", text);
  switch (g_ascii_toupper (*end))
    {
    case 'G': return (guint64) (value * 1024);
    case 'T': return (guint64) (value * 1024 * 1024);
    case 'M': case '\0': return (guint64) value;
    default: g_error ("not a size: %s", text);
    }
}

static char *
format_heap (guint64 mib)
{
  if (mib >= 1024 && mib % 1024 == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " GiB", mib / 1024);
  return g_strdup_printf ("%" G_GUINT64_FORMAT " MiB", mib);
}

/* The experiment of --io-thread-batch: what a SCHED_BATCH I/O thread in
 * the library would change. */
static void
set_io_thread_batch (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", name);
      g_autofree char *comm = NULL;
      struct sched_param param = { 0 };

      if (g_file_get_contents (path, &comm, NULL, NULL) &&
          g_str_equal (g_strstrip (comm), "spawn-async") &&
          sched_setscheduler ((pid_t) g_ascii_strtoll (name, NULL, 10), SCHED_BATCH, &param) != 0)
        g_printerr ("sched_setscheduler: %s\n", g_strerror (errno));
    }
}

/* -- the heap --------------------------------------------------------------- */

static GPtrArray *ballast;
static guint64 ballast_mib;

/* Grows this process's heap to @mib MiB of touched (private, resident)
 * memory, the cost fork() pays for in page tables. */
static void
ballast_grow_to (guint64 mib)
{
  gint64 start = bench_now_ns ();

  if (ballast == NULL)
    ballast = g_ptr_array_new_with_free_func (g_free);

  while (ballast_mib < mib)
    {
      gsize chunk_mib = MIN (BALLAST_CHUNK / MiB, mib - ballast_mib);
      gsize size = chunk_mib * MiB;
      guint8 *chunk = g_malloc (size);

      for (gsize offset = 0; offset < size; offset += PAGE)
        chunk[offset] = 1;
      g_ptr_array_add (ballast, chunk);
      ballast_mib += chunk_mib;
    }
  g_printerr ("heap: %" G_GUINT64_FORMAT " MiB touched (%.1f s)\n",
              ballast_mib, bench_us_since (start) / 1e6);
}

static void
ballast_free (void)
{
  g_clear_pointer (&ballast, g_ptr_array_unref);
  ballast_mib = 0;
}

/* -- completions ------------------------------------------------------------ */

typedef struct
{
  guint    completed;
  guint    launched;
  guint    total;
  gint64   done_ns;
  GArray  *samples;
  SaWorker *worker;
  SaSpawnOptions *options;
  const char * const *argv;
  gsize    expected_len;     /* capture: stdout length to check */
} Run;

static void
check_sa_result (SaWorker     *worker,
                 GAsyncResult *res,
                 gsize         expected_len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (worker, res, &error);

  if (result == NULL || !sa_result_check (result, &error))
    g_error ("SaWorker: %s", error->message);
  if (expected_len != 0 &&
      g_bytes_get_size (sa_result_get_stdout_bytes (result)) != expected_len)
    g_error ("SaWorker: got %" G_GSIZE_FORMAT " bytes of output, not %" G_GSIZE_FORMAT,
             g_bytes_get_size (sa_result_get_stdout_bytes (result)), expected_len);
}

static void
on_sa_done (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  Run *run = user_data;

  check_sa_result (SA_WORKER (source), res, run->expected_len);
  run->done_ns = bench_now_ns ();
  run->completed++;
}

static void
on_subprocess_done (GObject      *source,
                    GAsyncResult *res,
                    gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_check_finish (G_SUBPROCESS (source), res, &error))
    g_error ("GSubprocess: %s", error->message);
  g_object_unref (source);
  run->done_ns = bench_now_ns ();
  run->completed++;
}

static void
on_child_watch (GPid     pid,
                int      status,
                gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_spawn_check_wait_status (status, &error))
    g_error ("g_spawn_async: %s", error->message);
  g_spawn_close_pid (pid);
  run->done_ns = bench_now_ns ();
  run->completed++;
}

static void
on_process_spawned (GObject      *source,
                    GAsyncResult *res,
                    gpointer      user_data)
{
  SaProcess **process = user_data;
  g_autoptr(GError) error = NULL;

  *process = sa_worker_spawn_finish (SA_WORKER (source), res, &error);
  if (*process == NULL)
    g_error ("SaProcess: %s", error->message);
}

static void
on_process_done (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!sa_process_wait_check_finish (SA_PROCESS (source), res, &error))
    g_error ("SaProcess: %s", error->message);
  run->done_ns = bench_now_ns ();
  run->completed++;
}

GSubprocess *
bench_subprocess_new (const char * const *argv,
                      GSubprocessFlags    flags)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *proc = g_subprocess_newv (argv, flags, &error);

  if (proc == NULL)
    g_error ("GSubprocess: %s", error->message);
  return proc;
}

static GPid
spawn_async_watched (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  GPid pid;

  if (!g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                      NULL, NULL, &pid, &error))
    g_error ("g_spawn_async: %s", error->message);
  return pid;
}

static pid_t
posix_spawn_checked (const char * const *argv)
{
  pid_t pid;
  int ret = posix_spawn (&pid, argv[0], NULL, NULL, (char **) argv, environ);

  if (ret != 0)
    g_error ("posix_spawn: %s", g_strerror (ret));
  return pid;
}

void
bench_waitpid_checked (pid_t pid)
{
  int status;

  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      g_error ("waitpid: %s", g_strerror (errno));
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    g_error ("posix_spawn: child failed, status 0x%x", status);
}

/* -- block and latency ------------------------------------------------------- */

typedef enum
{
  METHOD_SA_WORKER,
  METHOD_SA_PROCESS,
  METHOD_GSUBPROCESS,
  METHOD_G_SPAWN_ASYNC,
  METHOD_POSIX_SPAWN,
  N_METHODS
} Method;

static const char *method_names[N_METHODS] = {
  "SaWorker", "SaProcess", "GSubprocess", "g_spawn_async", "posix_spawn",
};

/* One /bin/true: returns the time spent in the spawn call, and the time
 * to completion in *e2e_us. */
static double
run_one (Method    method,
         SaWorker *worker,
         double   *e2e_us)
{
  Run run = { 0 };
  gint64 start = bench_now_ns ();
  double block_us;

  switch (method)
    {
    case METHOD_SA_WORKER:
      sa_worker_aspawn_async (worker, true_argv, NULL, NULL, on_sa_done, &run);
      block_us = bench_us_since (start);
      bench_iterate_until_count (&run.completed, 1);
      break;

    case METHOD_SA_PROCESS:
      {
        SaProcess *process = NULL;

        sa_worker_spawn_async (worker, true_argv, NULL, NULL, on_process_spawned, &process);
        block_us = bench_us_since (start);
        while (process == NULL)
          g_main_context_iteration (NULL, TRUE);
        sa_process_wait_check_async (process, NULL, on_process_done, &run);
        bench_iterate_until_count (&run.completed, 1);
        g_object_unref (process);
      }
      break;

    case METHOD_GSUBPROCESS:
      {
        GSubprocess *proc = bench_subprocess_new (true_argv, G_SUBPROCESS_FLAGS_NONE);

        block_us = bench_us_since (start);
        g_subprocess_wait_check_async (proc, NULL, on_subprocess_done, &run);
        bench_iterate_until_count (&run.completed, 1);
      }
      break;

    case METHOD_G_SPAWN_ASYNC:
      {
        GPid pid = spawn_async_watched (true_argv);

        block_us = bench_us_since (start);
        g_child_watch_add (pid, on_child_watch, &run);
        bench_iterate_until_count (&run.completed, 1);
      }
      break;

    case METHOD_POSIX_SPAWN:
    default:
      {
        pid_t pid = posix_spawn_checked (true_argv);

        block_us = bench_us_since (start);
        bench_waitpid_checked (pid);
        run.done_ns = bench_now_ns ();
      }
      break;
    }

  *e2e_us = (double) (run.done_ns - start) / 1000.0;
  return block_us;
}

/* The block mode and the create mode, heap size after heap size. */
static void
bench_heaps (SaWorker *worker,
             GArray   *heaps,
             gboolean  with_block,
             gboolean  with_create)
{
  for (guint h = 0; h < heaps->len; h++)
    {
      guint64 heap_mib = g_array_index (heaps, guint64, h);

      ballast_grow_to (heap_mib);
      if (with_create)
        bench_create (heap_mib, (guint) opt_create_reps);
      for (Method m = 0; with_block && m < N_METHODS; m++)
        {
          g_autoptr(GArray) samples = NULL;
          gboolean forks = m == METHOD_GSUBPROCESS || m == METHOD_G_SPAWN_ASYNC;
          int reps = forks ? MIN (opt_fork_reps, opt_reps) : opt_reps;
          double e2e;

          if (!bench_method_enabled (method_names[m]))
            continue;
          samples = g_array_new (FALSE, FALSE, sizeof (double));

          run_one (m, worker, &e2e);     /* warm up */
          for (int i = 0; i < reps; i++)
            {
              double block = run_one (m, worker, &e2e);

              g_array_append_val (samples, block);
            }
          bench_add_distribution ("block", method_names[m], heap_mib, "block", "us", samples);
        }
    }
}

/* Minor page faults of the whole process so far (every thread). */
static long
process_minor_faults (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

typedef struct
{
  Method      method;
  const char *name;       /* its row */
  GArray     *samples;
  long        faults;
} LatencySlot;

/* One pass: the slots interleaved call by call, so that a noisy second
 * hits every method alike. */
static void
latency_pass (SaWorker    *worker,
              guint64      heap_mib,
              LatencySlot *slots,
              guint        n_slots)
{
  for (guint s = 0; s < n_slots; s++)
    if (bench_method_enabled (method_names[slots[s].method]))
      slots[s].samples = g_array_new (FALSE, FALSE, sizeof (double));

  for (int i = -1; i < opt_reps; i++)
    for (guint s = 0; s < n_slots; s++)
      {
        long faults;
        double e2e;

        if (slots[s].samples == NULL)
          continue;
        faults = process_minor_faults ();
        run_one (slots[s].method, worker, &e2e);
        if (i >= 0)
          {
            g_array_append_val (slots[s].samples, e2e);
            slots[s].faults += process_minor_faults () - faults;
          }
      }

  for (guint s = 0; s < n_slots; s++)
    if (slots[s].samples != NULL)
      {
        bench_add_distribution ("latency", slots[s].name, heap_mib, "latency", "us",
                                slots[s].samples);
        bench_add_value ("latency", slots[s].name, heap_mib, "page faults", "per call",
                         slots[s].samples->len,
                         (double) slots[s].faults / slots[s].samples->len);
      }

  for (guint s = 0; s < n_slots; s++)
    g_clear_pointer (&slots[s].samples, g_array_unref);
}

/* Two passes. A fork() write-protects the caller's whole address space,
 * so after one the first write to each page faults (copy on write),
 * whoever writes it. Interleaved call by call with the forking methods,
 * a method pays for every page it writes after each of their forks:
 * SaWorker, which writes in two threads, tens of faults a call,
 * posix_spawn + waitpid almost none. That is the forks' cost, not the
 * method's; so the methods that do not fork are interleaved with each
 * other, and the forking ones in a second pass with SaWorker and
 * posix_spawn each right after a fork, reported as such: what a
 * program that also forks pays. The faults per call are reported. */
static void
bench_latency (SaWorker *worker,
               guint64   heap_mib)
{
  LatencySlot quiet[] = {
    { METHOD_SA_WORKER, "SaWorker" },
    { METHOD_SA_PROCESS, "SaProcess" },
    { METHOD_POSIX_SPAWN, "posix_spawn" },
  };
  LatencySlot forking[] = {
    { METHOD_GSUBPROCESS, "GSubprocess" },
    { METHOD_SA_WORKER, "SaWorker after a fork" },
    { METHOD_G_SPAWN_ASYNC, "g_spawn_async" },
    { METHOD_POSIX_SPAWN, "posix_spawn after a fork" },
  };

  latency_pass (worker, heap_mib, quiet, G_N_ELEMENTS (quiet));
  if (bench_method_enabled (method_names[METHOD_GSUBPROCESS]) ||
      bench_method_enabled (method_names[METHOD_G_SPAWN_ASYNC]))
    latency_pass (worker, heap_mib, forking, G_N_ELEMENTS (forking));
}

/* -- throughput ------------------------------------------------------------- */

static void launch_next (Method method, Run *run);

static void
on_tp_sa_done (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  Run *run = user_data;

  check_sa_result (SA_WORKER (source), res, 0);
  run->completed++;
  launch_next (METHOD_SA_WORKER, run);
}

static void
on_tp_subprocess_done (GObject      *source,
                       GAsyncResult *res,
                       gpointer      user_data)
{
  Run *run = user_data;

  on_subprocess_done (source, res, user_data);
  launch_next (METHOD_GSUBPROCESS, run);
}

static void
on_tp_child_watch (GPid     pid,
                   int      status,
                   gpointer user_data)
{
  Run *run = user_data;

  on_child_watch (pid, status, user_data);
  launch_next (METHOD_G_SPAWN_ASYNC, run);
}

static void
launch_next (Method  method,
             Run    *run)
{
  if (run->launched >= run->total)
    return;
  run->launched++;

  switch (method)
    {
    case METHOD_SA_WORKER:
      sa_worker_aspawn_async (run->worker, run->argv, NULL, NULL, on_tp_sa_done, run);
      break;
    case METHOD_GSUBPROCESS:
      g_subprocess_wait_check_async (bench_subprocess_new (run->argv, G_SUBPROCESS_FLAGS_NONE),
                                     NULL, on_tp_subprocess_done, run);
      break;
    case METHOD_G_SPAWN_ASYNC:
      g_child_watch_add (spawn_async_watched (run->argv), on_tp_child_watch, run);
      break;
    default:
      g_assert_not_reached ();
    }
}

static double
throughput_posix_spawn (guint total,
                        guint inflight)
{
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  guint launched = 0, completed = 0;
  gint64 start = bench_now_ns ();

  while (completed < total)
    {
      int status;
      pid_t pid;

      while (launched < total && launched - completed < inflight)
        {
          pid = posix_spawn_checked (true_argv);
          g_hash_table_add (pids, GINT_TO_POINTER (pid));
          launched++;
        }

      pid = waitpid (-1, &status, 0);
      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0)
        g_error ("waitpid: %s", g_strerror (errno));
      if (!g_hash_table_remove (pids, GINT_TO_POINTER (pid)))
        g_error ("waitpid: reaped an unknown child %d", pid);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        g_error ("posix_spawn: child failed, status 0x%x", status);
      completed++;
    }
  return bench_us_since (start);
}

/* Rounds of every method in turn, so that a noisy second hits them
 * alike; the ratio to posix_spawn is the median of the per-round ratios. */
static void
bench_throughput (SaWorker *worker,
                  guint64   heap_mib)
{
  GArray *rates[N_METHODS];
  g_autoptr(GArray) ratios = g_array_new (FALSE, FALSE, sizeof (double));
  guint total = (guint) opt_tp_count;
  guint inflight = MIN ((guint) opt_inflight, total);

  for (Method m = 0; m < N_METHODS; m++)
    rates[m] = g_array_new (FALSE, FALSE, sizeof (double));

  for (int round = 0; round < opt_tp_rounds; round++)
    {
      for (Method m = 0; m < N_METHODS; m++)
        {
          double elapsed_us, rate;

          if (m == METHOD_SA_PROCESS || !bench_method_enabled (method_names[m]))
            continue;
          if (m == METHOD_POSIX_SPAWN)
            elapsed_us = throughput_posix_spawn (total, inflight);
          else
            {
              Run run = { .total = total, .worker = worker, .argv = true_argv };
              gint64 start = bench_now_ns ();

              for (guint i = 0; i < inflight; i++)
                launch_next (m, &run);
              bench_iterate_until_count (&run.completed, total);
              elapsed_us = bench_us_since (start);
            }
          rate = total / (elapsed_us / 1e6);
          g_array_append_val (rates[m], rate);
        }

      if (rates[METHOD_SA_WORKER]->len > (guint) round &&
          rates[METHOD_POSIX_SPAWN]->len > (guint) round)
        {
          double ratio = g_array_index (rates[METHOD_SA_WORKER], double, round) /
                         g_array_index (rates[METHOD_POSIX_SPAWN], double, round);

          g_array_append_val (ratios, ratio);
        }
    }

  /* For a rate, "p99" and "max" are the better rounds. */
  for (Method m = 0; m < N_METHODS; m++)
    {
      if (rates[m]->len > 0)
        bench_add_distribution ("throughput", method_names[m], heap_mib, "throughput", "cmd/s", rates[m]);
      g_array_unref (rates[m]);
    }
  if (ratios->len > 0)
    bench_add_distribution ("throughput", "SaWorker / posix_spawn", heap_mib, "ratio", "x", ratios);
}

/* -- memory ----------------------------------------------------------------- */

/* A field of /proc/PID/status, in kB; -1 if missing. */
double
bench_proc_status_kb (GPid        pid,
                      const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *contents = NULL;
  g_autofree char *key = g_strdup_printf ("\n%s:", field);
  const char *line;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return -1;
  line = strstr (contents, key);
  if (line == NULL)
    return -1;
  return g_ascii_strtod (line + strlen (key), NULL);
}

guint
bench_count_children (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/children", pid, pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  guint n = 0;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  fields = g_strsplit (g_strstrip (contents), " ", -1);
  for (guint i = 0; fields[i] != NULL; i++)
    if (fields[i][0] != '\0')
      n++;
  return n;
}

static void
add_memory_rows (const char *method,
                 const char *state,
                 GPid        pid,
                 guint64     heap_mib)
{
  const char *fields[] = { "VmRSS", "RssAnon", "RssFile", "VmHWM" };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree char *metric = g_strdup_printf ("%s %s", fields[i], state);

      bench_add_value ("memory", method, heap_mib, metric, "kB", 1, bench_proc_status_kb (pid, fields[i]));
    }
}

static void
bench_memory (guint64 heap_mib)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  const char *sleep_argv[] = { "/bin/sleep", "1", NULL };
  Run run = { 0 };
  GPid helper;
  gint64 deadline;
  guint n = (guint) opt_inflight;

  if (!bench_method_enabled ("SaWorker"))
    return;
  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    g_error ("%s", error->message);
  helper = sa_worker_get_helper_pid (worker);

  g_usleep (100 * 1000);
  add_memory_rows ("SaWorker helper", "idle", helper, heap_mib);

  for (guint i = 0; i < n; i++)
    sa_worker_aspawn_async (worker, sleep_argv, NULL, NULL, on_sa_done, &run);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (bench_count_children (helper) < n && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  bench_add_value ("memory", "SaWorker helper", heap_mib, "children", "", 1, bench_count_children (helper));
  add_memory_rows ("SaWorker helper", "busy", helper, heap_mib);

  bench_iterate_until_count (&run.completed, n);
  add_memory_rows ("SaWorker helper", "after", helper, heap_mib);
}

/* -- capture ---------------------------------------------------------------- */

static double
capture_posix_spawn (const char * const *argv,
                     gsize               expected)
{
  posix_spawn_file_actions_t actions;
  gint64 start = bench_now_ns ();
  gsize len = 0, capacity = MiB;
  char *data = g_malloc (capacity);
  int fds[2];
  pid_t pid;
  int ret;

  if (pipe2 (fds, O_CLOEXEC) != 0)
    g_error ("pipe: %s", g_strerror (errno));
  fcntl (fds[0], F_SETPIPE_SZ, MiB);
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], 1);
  ret = posix_spawn (&pid, argv[0], &actions, NULL, (char **) argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  if (ret != 0)
    g_error ("posix_spawn: %s", g_strerror (ret));
  close (fds[1]);

  for (;;)
    {
      gssize n;

      if (capacity - len < MiB)
        data = g_realloc (data, capacity *= 2);
      n = read (fds[0], data + len, capacity - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("read: %s", g_strerror (errno));
      if (n == 0)
        break;
      len += (gsize) n;
    }
  close (fds[0]);
  bench_waitpid_checked (pid);
  g_free (data);

  if (len != expected)
    g_error ("posix_spawn: got %" G_GSIZE_FORMAT " bytes, not %" G_GSIZE_FORMAT, len, expected);
  return bench_us_since (start);
}

static double
capture_subprocess (const char * const *argv,
                    gsize               expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  gint64 start = bench_now_ns ();
  g_autoptr(GSubprocess) proc = bench_subprocess_new (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE);

  if (!g_subprocess_communicate (proc, NULL, NULL, &out, NULL, &error))
    g_error ("GSubprocess: %s", error->message);
  if (g_bytes_get_size (out) != expected)
    g_error ("GSubprocess: got %" G_GSIZE_FORMAT " bytes, not %" G_GSIZE_FORMAT,
             g_bytes_get_size (out), expected);
  g_clear_pointer (&out, g_bytes_unref);
  return bench_us_since (start);
}

static double
capture_sa_worker (SaWorker           *worker,
                   const char * const *argv,
                   gsize               expected)
{
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  Run run = { .expected_len = expected };
  gint64 start = bench_now_ns ();

  sa_spawn_options_set_max_output (options, 0);
  sa_worker_aspawn_async (worker, argv, options, NULL, on_sa_done, &run);
  bench_iterate_until_count (&run.completed, 1);
  return bench_us_since (start);
}

static void
bench_capture (SaWorker *worker,
               guint64   heap_mib)
{
  gsize bytes = (gsize) opt_capture_mib * MiB;
  g_autofree char *count = g_strdup_printf ("%" G_GSIZE_FORMAT, bytes);
  const char *argv[] = { "/usr/bin/head", "-c", count, "/dev/zero", NULL };
  const char *methods[] = { "SaWorker", "GSubprocess communicate", "posix_spawn+read" };

  for (guint m = 0; m < G_N_ELEMENTS (methods); m++)
    {
      g_autoptr(GArray) samples = NULL;

      if (!bench_method_enabled (methods[m]))
        continue;
      samples = g_array_new (FALSE, FALSE, sizeof (double));
      for (int i = 0; i < opt_capture_reps; i++)
        {
          double us = m == 0 ? capture_sa_worker (worker, argv, bytes) :
                      m == 1 ? capture_subprocess (argv, bytes) :
                               capture_posix_spawn (argv, bytes);
          double mib_per_s = opt_capture_mib / (us / 1e6);

          g_array_append_val (samples, mib_per_s);
        }
      bench_add_distribution ("capture", methods[m], heap_mib, "throughput", "MiB/s", samples);
      /* p50 is the median; "p99"/"max" of a rate are its best runs. */
    }
}

/* -- main-loop responsiveness --------------------------------------------------- */

typedef struct
{
  gint64  last_ns;
  GArray *lateness;      /* us */
} Ticker;

static gboolean
on_tick (gpointer user_data)
{
  Ticker *ticker = user_data;
  gint64 now = bench_now_ns ();

  if (ticker->last_ns != 0)
    {
      double late = (double) (now - ticker->last_ns) / 1000.0 - TIMER_INTERVAL_MS * 1000.0;

      late = MAX (late, 0.0);
      g_array_append_val (ticker->lateness, late);
    }
  ticker->last_ns = now;
  return G_SOURCE_CONTINUE;
}

typedef struct
{
  SaWorker           *worker;
  const char * const *argv;
  Run                *run;
  gboolean            use_worker;
  gsize               expected;
  gboolean            big_pipes;    /* the floor's pipes grown as SaWorker's are */
} Burst;

static void
on_communicate_done (GObject      *source,
                     GAsyncResult *res,
                     gpointer      user_data)
{
  Burst *burst = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;

  if (!g_subprocess_communicate_finish (G_SUBPROCESS (source), res, &out, NULL, &error))
    g_error ("GSubprocess: %s", error->message);
  if (g_bytes_get_size (out) != burst->expected)
    g_error ("GSubprocess: got %" G_GSIZE_FORMAT " bytes", g_bytes_get_size (out));
  g_object_unref (source);
  burst->run->completed++;
}

static gboolean
launch_burst (gpointer user_data)
{
  Burst *burst = user_data;

  for (int i = 0; i < opt_mainloop_cmds; i++)
    {
      if (burst->use_worker)
        sa_worker_aspawn_async (burst->worker, burst->argv, NULL, NULL, on_sa_done, burst->run);
      else
        g_subprocess_communicate_async (bench_subprocess_new (burst->argv,
                                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE),
                                        NULL, NULL, on_communicate_done, burst);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
count_one (gpointer user_data)
{
  ((Run *) user_data)->completed++;
  return G_SOURCE_REMOVE;
}

/* The floor: the same children, started and drained by a plain thread
 * (poll() and read() into malloc()ed buffers, freed there), while the
 * main loop only waits. With big_pipes, its pipes have the 1 MiB that
 * SaWorker gives a big producer's, and it reads 1 MiB at a time: a floor
 * that drains as fast as SaWorker does. */
static gpointer
drain_in_thread (gpointer user_data)
{
  Burst *burst = user_data;
  guint n = (guint) opt_mainloop_cmds;
  g_autofree struct pollfd *fds = g_new0 (struct pollfd, n);
  g_autofree GString **outputs = g_new0 (GString *, n);
  g_autofree pid_t *pids = g_new0 (pid_t, n);
  guint open_fds = n;
  gsize chunk_size = burst->big_pipes ? MiB : 65536;
  g_autofree char *chunk = g_malloc (chunk_size);

  for (guint i = 0; i < n; i++)
    {
      posix_spawn_file_actions_t actions;
      int pipe_fds[2];
      int ret;

      if (pipe2 (pipe_fds, O_CLOEXEC) != 0)
        g_error ("pipe: %s", g_strerror (errno));
      posix_spawn_file_actions_init (&actions);
      posix_spawn_file_actions_adddup2 (&actions, pipe_fds[1], 1);
      ret = posix_spawn (&pids[i], burst->argv[0], &actions, NULL, (char **) burst->argv, environ);
      posix_spawn_file_actions_destroy (&actions);
      if (ret != 0)
        g_error ("posix_spawn: %s", g_strerror (ret));
      close (pipe_fds[1]);
      if (burst->big_pipes)
        fcntl (pipe_fds[0], F_SETPIPE_SZ, (int) MiB);
      fds[i] = (struct pollfd) { pipe_fds[0], POLLIN, 0 };
      outputs[i] = g_string_new (NULL);
    }

  while (open_fds > 0)
    {
      if (poll (fds, n, -1) < 0 && errno != EINTR)
        g_error ("poll: %s", g_strerror (errno));
      for (guint i = 0; i < n; i++)
        {
          gssize got;

          if (fds[i].fd < 0 || fds[i].revents == 0)
            continue;
          got = read (fds[i].fd, chunk, chunk_size);
          if (got > 0)
            g_string_append_len (outputs[i], chunk, got);
          else if (got == 0 || errno != EINTR)
            {
              close (fds[i].fd);
              fds[i].fd = -1;
              open_fds--;
            }
        }
    }

  for (guint i = 0; i < n; i++)
    {
      bench_waitpid_checked (pids[i]);
      if (outputs[i]->len != burst->expected)
        g_error ("plain thread: got %" G_GSIZE_FORMAT " bytes", outputs[i]->len);
      g_string_free (outputs[i], TRUE);
      g_main_context_invoke (NULL, count_one, burst->run);
    }
  return NULL;
}

static gboolean
launch_drain_thread (gpointer user_data)
{
  g_thread_unref (g_thread_new ("bench-drain", drain_in_thread, user_data));
  return G_SOURCE_REMOVE;
}

static void
bench_mainloop (SaWorker *worker,
                guint64   heap_mib)
{
  gsize bytes = (gsize) opt_mainloop_mib * MiB;
  g_autofree char *count = g_strdup_printf ("%" G_GSIZE_FORMAT, bytes);
  const char *input = opt_mainloop_input ? opt_mainloop_input : "/dev/zero";
  const char *argv[] = { "/usr/bin/head", "-c", count, input, NULL };
  const char *methods[] = { "idle (no commands)", "SaWorker", "GSubprocess communicate_async",
                            "plain thread (floor)", "plain thread (1 MiB pipes)" };

  for (guint m = 0; m < G_N_ELEMENTS (methods); m++)
    {
      g_autoptr(GArray) lateness = g_array_new (FALSE, FALSE, sizeof (double));
      g_autoptr(GSource) timer = g_timeout_source_new (TIMER_INTERVAL_MS);
      Ticker ticker = { 0, lateness };
      Run run = { .expected_len = bytes };
      Burst burst = { worker, argv, &run, m == 1, bytes, m == 4 };
      gint64 start;

      if (m > 0 && !bench_method_enabled (methods[m]))
        continue;
      g_source_set_callback (timer, on_tick, &ticker, NULL);
      g_source_set_priority (timer, G_PRIORITY_DEFAULT);
      g_source_attach (timer, NULL);
      start = bench_now_ns ();

      if (m == 0)
        {
          gboolean done = FALSE;

          g_timeout_add (BASELINE_MS, set_flag, &done);
          iterate_until (&done);
        }
      else
        {
          /* Launched from the loop, so a blocking launch shows as lateness. */
          g_timeout_add (5, m >= 3 ? launch_drain_thread : launch_burst, &burst);
          bench_iterate_until_count (&run.completed, (guint) opt_mainloop_cmds);
        }

      g_source_destroy (timer);
      bench_add_distribution ("mainloop", methods[m], heap_mib, "timer lateness", "us", lateness);
      bench_add_value ("mainloop", methods[m], heap_mib, "duration", "ms", 1, bench_us_since (start) / 1000.0);
    }
}

/* -- node ------------------------------------------------------------------- */

static char *
node_driver_dir (void)
{
  if (opt_node_dir != NULL)
    return g_strdup (opt_node_dir);
  return g_strdup (BENCH_NODE_DIR);
}

static void
parse_node_line (const char *line)
{
  g_auto(GStrv) fields = g_strsplit (line, "\t", -1);
  /* driver.js prints: row \t mode \t method \t heap_mib \t metric \t unit \t v1,v2,... */
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  g_auto(GStrv) numbers = NULL;
  guint64 heap_mib;

  if (g_strv_length (fields) != 7 || !g_str_equal (fields[0], "row"))
    {
      if (line[0] != '\0')
        g_printerr ("node: %s\n", line);
      return;
    }
  heap_mib = g_ascii_strtoull (fields[3], NULL, 10);
  numbers = g_strsplit (fields[6], ",", -1);
  for (guint i = 0; numbers[i] != NULL; i++)
    if (numbers[i][0] != '\0')
      {
        double v = g_ascii_strtod (numbers[i], NULL);

        g_array_append_val (values, v);
      }

  if (g_str_equal (fields[1], "memory"))
    bench_add_value (fields[1], fields[2], heap_mib, fields[4], fields[5], 1,
               values->len ? g_array_index (values, double, 0) : NAN);
  else
    bench_add_distribution (fields[1], fields[2], heap_mib, fields[4], fields[5], values);
}

static void
bench_node (const char * const *modes,
            GArray             *heaps,
            guint64             base_heap)
{
  g_autofree char *node = g_find_program_in_path ("node");
  g_autofree char *dir = node_driver_dir ();
  g_autofree char *driver = g_build_filename (dir, "driver.js", NULL);
  g_autofree char *modes_arg = g_strjoinv (",", (char **) modes);
  g_autoptr(GString) heaps_arg = g_string_new (NULL);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  char reps[16], fork_reps[16], tp[16], inflight[16], base[32];
  int status;

  if (opt_no_node || !bench_method_enabled ("node"))
    return;
  if (node == NULL)
    {
      g_printerr ("node: not found on PATH, skipping the Node methods\n");
      return;
    }
  if (!g_file_test (driver, G_FILE_TEST_EXISTS))
    {
      g_printerr ("node: %s not found, skipping the Node methods\n", driver);
      return;
    }

  for (guint i = 0; i < heaps->len; i++)
    g_string_append_printf (heaps_arg, "%s%" G_GUINT64_FORMAT, i ? "," : "",
                            g_array_index (heaps, guint64, i));
  g_snprintf (reps, sizeof reps, "%d", opt_reps);
  g_snprintf (fork_reps, sizeof fork_reps, "%d", opt_fork_reps);
  g_snprintf (tp, sizeof tp, "%d", opt_tp_count);
  g_snprintf (inflight, sizeof inflight, "%d", opt_inflight);
  g_snprintf (base, sizeof base, "%" G_GUINT64_FORMAT, base_heap);

  {
    const char *argv[] = {
      node, driver, "--modes", modes_arg, "--heaps", heaps_arg->str,
      "--base-heap", base, "--reps", reps, "--fork-reps", fork_reps,
      "--tp-count", tp, "--inflight", inflight, NULL
    };

    g_printerr ("node: running %s\n", driver);
    if (!g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_CHILD_INHERITS_STDIN,
                       NULL, NULL, &out, NULL, &status, &error))
      {
        g_printerr ("node: %s\n", error->message);
        return;
      }
  }

  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    parse_node_line (lines[i]);
  if (!g_spawn_check_wait_status (status, &error))
    g_printerr ("node: driver failed: %s\n", error->message);
}

/* -- output ------------------------------------------------------------------ */

static char *
format_number (double value,
               const char *unit)
{
  if (isnan (value))
    return g_strdup ("");
  if (g_str_equal (unit, "us"))
    {
      if (value >= 10000)
        return g_strdup_printf ("%.1f ms", value / 1000);
      if (value >= 1000)
        return g_strdup_printf ("%.2f ms", value / 1000);
      return g_strdup_printf ("%.1f us", value);
    }
  if (g_str_equal (unit, "kB"))
    return g_strdup_printf ("%.0f kB", value);
  if (unit[0] == '\0')
    return g_strdup_printf ("%.0f", value);
  if (g_str_equal (unit, "x"))
    return g_strdup_printf ("%.2f x", value);   /* ratios: 0.86 is not 0.9 */
  if (g_str_equal (unit, "per call"))
    return g_strdup_printf ("%.1f", value);
  return g_strdup_printf ("%.1f %s", value, unit);
}

static const char *mode_order[] = {
  "block", "latency", "throughput", "memory", "capture", "mainloop", "pipe", "conversation", "free", "create", "scale",
};

static guint
mode_rank (const char *mode)
{
  for (guint i = 0; i < G_N_ELEMENTS (mode_order); i++)
    if (g_str_equal (mode, mode_order[i]))
      return i;
  return G_N_ELEMENTS (mode_order);
}

/* By mode, then (block) by heap size, else in the order measured. */
static int
compare_rows (gconstpointer a,
              gconstpointer b)
{
  const Row *x = *(const Row * const *) a, *y = *(const Row * const *) b;
  guint rx = mode_rank (x->mode), ry = mode_rank (y->mode);

  if (rx != ry)
    return rx < ry ? -1 : 1;
  if ((g_str_equal (x->mode, "block") || g_str_equal (x->mode, "create")) &&
      x->heap_mib != y->heap_mib)
    return x->heap_mib < y->heap_mib ? -1 : 1;
  return x < y ? -1 : x > y;
}

static void
print_table (void)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  const char *last_mode = "";

  for (guint i = 0; i < rows->len; i++)
    g_ptr_array_add (sorted, &g_array_index (rows, Row, i));
  g_ptr_array_sort (sorted, compare_rows);

  for (guint i = 0; i < sorted->len; i++)
    {
      const Row *row = g_ptr_array_index (sorted, i);
      g_autofree char *heap = format_heap (row->heap_mib);
      g_autofree char *p50 = format_number (row->p50, row->unit);
      g_autofree char *p99 = format_number (row->p99, row->unit);
      g_autofree char *max = format_number (row->max, row->unit);
      g_autofree char *value = format_number (row->value, row->unit);

      if (!g_str_equal (row->mode, last_mode))
        {
          g_print ("\n== %s ==\n", row->mode);
          g_print ("%-30s %-8s %-18s %5s %12s %12s %12s\n",
                   "method", "heap", "metric", "n", "p50/value", "p99", "max");
          last_mode = row->mode;
        }
      if (isnan (row->p50))
        g_print ("%-30s %-8s %-18s %5u %12s\n", row->method, heap, row->metric, row->n, value);
      else
        g_print ("%-30s %-8s %-18s %5u %12s %12s %12s\n",
                 row->method, heap, row->metric, row->n, p50, p99, max);
    }
}

typedef struct
{
  const char *what;
  double      measured;
  const char *unit;
  gboolean    less_is_better;
  double      limit;
} Target;

static void
print_targets (void)
{
  GArray *targets = g_array_new (FALSE, FALSE, sizeof (Target));
  const Row *a, *b;

#define ADD(what_, measured_, unit_, less_, limit_) \
  G_STMT_START { Target t_ = { what_, measured_, unit_, less_, limit_ }; \
                 g_array_append_val (targets, t_); } G_STMT_END

  for (guint i = 0; i < rows->len; i++)
    {
      const Row *row = &g_array_index (rows, Row, i);

      if (g_str_equal (row->mode, "block") &&
          (g_str_equal (row->method, "SaWorker") || g_str_equal (row->method, "SaProcess")))
        {
          const char *call = g_str_equal (row->method, "SaWorker") ? "aspawn_async" : "spawn_async";
          char *p50 = g_strdup_printf ("%s block p50 @ %" G_GUINT64_FORMAT " MiB", call,
                                       row->heap_mib);
          char *p99 = g_strdup_printf ("%s block p99 @ %" G_GUINT64_FORMAT " MiB", call,
                                       row->heap_mib);

          ADD (g_intern_string (p50), row->p50, "us", TRUE, 30);
          ADD (g_intern_string (p99), row->p99, "us", TRUE, 200);
          g_free (p50);
          g_free (p99);
        }
    }

  a = find_row ("latency", "SaWorker", "latency", G_MAXUINT64);
  b = find_row ("latency", "posix_spawn", "latency", G_MAXUINT64);
  if (a && b)
    ADD ("end-to-end p50 SaWorker / posix_spawn+waitpid", a->p50 / b->p50, "x", TRUE, 1.10);

  if ((a = find_row ("throughput", "SaWorker / posix_spawn", "ratio", G_MAXUINT64)))
    ADD ("throughput SaWorker / posix_spawn (median)", a->p50, "x", FALSE, 0.9);

  if ((a = find_row ("memory", "SaWorker helper", "VmRSS idle", G_MAXUINT64)))
    ADD ("helper VmRSS idle", a->value, "kB", TRUE, 2048);
  if ((a = find_row ("memory", "SaWorker helper", "RssAnon idle", G_MAXUINT64)))
    ADD ("helper RssAnon idle", a->value, "kB", TRUE, 256);
  if ((a = find_row ("memory", "SaWorker helper", "RssAnon busy", G_MAXUINT64)))
    ADD ("helper RssAnon, children in flight", a->value, "kB", TRUE, 1024);

  a = find_row ("capture", "SaWorker", "throughput", G_MAXUINT64);
  b = find_row ("capture", "GSubprocess communicate", "throughput", G_MAXUINT64);
  if (a && b)
    ADD ("capture SaWorker / GSubprocess communicate", a->p50 / b->p50, "x", FALSE, 2.0);

  if ((a = find_row ("pipe", "SaProcess / GSubprocess", "ratio", G_MAXUINT64)))
    ADD ("pipe read SaProcess / GSubprocess (median)", a->p50, "x", FALSE, 1.0);
  if ((a = find_row ("pipe", "SaProcess / posix_spawn+read", "ratio", G_MAXUINT64)))
    ADD ("pipe read SaProcess / plain read() (median)", a->p50, "x", FALSE, 0.9);

  for (guint i = 0; i < rows->len; i++)
    {
      const Row *row = &g_array_index (rows, Row, i);

      if (g_str_equal (row->mode, "create") && g_str_equal (row->method, "SaWorker new_async") &&
          g_str_equal (row->metric, "block"))
        {
          char *what = g_strdup_printf ("new_async block p50 @ %" G_GUINT64_FORMAT " MiB",
                                        row->heap_mib);

          ADD (g_intern_string (what), row->p50, "us", TRUE, 100);
          g_free (what);
        }
    }

  if ((a = find_row ("free", "SaWorker result", "unref", G_MAXUINT64)))
    ADD ("dropping a big result (SaWorker, max)", a->max, "us", TRUE, 200);

  if ((a = find_row ("mainloop", "SaWorker", "timer lateness", G_MAXUINT64)))
    ADD ("1 ms timer worst lateness (SaWorker)", a->max / 1000.0, "ms", TRUE, 5.0);
  /* Issue 12: the same children drained by a plain thread are the floor. */
  b = find_row ("mainloop", "plain thread (floor)", "timer lateness", G_MAXUINT64);
  if (a && b)
    ADD ("worst lateness, SaWorker - plain thread", (a->max - b->max) / 1000.0, "ms", TRUE, 2.0);
#undef ADD

  if (targets->len > 0)
    {
      g_print ("\n== targets ==\n");
      for (guint i = 0; i < targets->len; i++)
        {
          const Target *t = &g_array_index (targets, Target, i);
          gboolean met = t->less_is_better ? t->measured <= t->limit : t->measured >= t->limit;

          g_print ("%-48s %10.2f %-2s %s %8.2f  %s\n", t->what, t->measured, t->unit,
                   t->less_is_better ? "<=" : ">=", t->limit, met ? "met" : "MISSED");
        }
    }
  g_array_unref (targets);
}

static void
csv_number (GString *out,
            double   value)
{
  if (!isnan (value))
    g_string_append_printf (out, "%.3f", value);
}

/* Replaces a regular file atomically; anything else (/dev/null, a pipe,
 * a terminal) is written to, never replaced. */
static void
write_file (const char *path,
            GString    *out)
{
  g_autoptr(GError) error = NULL;
  FILE *file;

  if (!g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      if (!g_file_set_contents (path, out->str, (gssize) out->len, &error))
        g_printerr ("%s\n", error->message);
      return;
    }
  file = fopen (path, "w");
  if (file == NULL || fwrite (out->str, 1, out->len, file) != out->len)
    g_printerr ("%s: %s\n", path, g_strerror (errno));
  if (file != NULL)
    fclose (file);
}

static void
write_csv (const char *path)
{
  g_autoptr(GString) out = g_string_new ("mode,method,heap_mib,metric,unit,n,p50,p99,max,value\n");

  for (guint i = 0; i < rows->len; i++)
    {
      const Row *row = &g_array_index (rows, Row, i);

      g_string_append_printf (out, "%s,%s,%" G_GUINT64_FORMAT ",%s,%s,%u,",
                              row->mode, row->method, row->heap_mib, row->metric,
                              row->unit, row->n);
      csv_number (out, row->p50);
      g_string_append_c (out, ',');
      csv_number (out, row->p99);
      g_string_append_c (out, ',');
      csv_number (out, row->max);
      g_string_append_c (out, ',');
      csv_number (out, row->value);
      g_string_append_c (out, '\n');
    }
  write_file (path, out);
}

static void
json_number (GString    *out,
             const char *name,
             double      value)
{
  if (isnan (value))
    g_string_append_printf (out, ", \"%s\": null", name);
  else
    g_string_append_printf (out, ", \"%s\": %.3f", name, value);
}

static void
write_json (const char *path,
            const char *machine)
{
  g_autoptr(GString) out = g_string_new ("{\n  \"machine\": ");
  g_autofree char *escaped = g_strescape (machine, NULL);

  g_string_append_printf (out, "\"%s\",\n  \"rows\": [\n", escaped);
  for (guint i = 0; i < rows->len; i++)
    {
      const Row *row = &g_array_index (rows, Row, i);

      g_string_append_printf (out, "    {\"mode\": \"%s\", \"method\": \"%s\", "
                              "\"heap_mib\": %" G_GUINT64_FORMAT ", \"metric\": \"%s\", "
                              "\"unit\": \"%s\", \"n\": %u",
                              row->mode, row->method, row->heap_mib, row->metric,
                              row->unit, row->n);
      json_number (out, "p50", row->p50);
      json_number (out, "p99", row->p99);
      json_number (out, "max", row->max);
      json_number (out, "value", row->value);
      g_string_append_printf (out, "}%s\n", i + 1 < rows->len ? "," : "");
    }
  g_string_append (out, "  ]\n}\n");
  write_file (path, out);
}

static char *
describe_machine (void)
{
  g_autofree char *cpuinfo = NULL;
  g_autofree char *model = NULL;
  double load[3] = { 0 };
  const char *line;

  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL) &&
      (line = strstr (cpuinfo, "model name")) != NULL &&
      (line = strchr (line, ':')) != NULL)
    model = g_strndup (line + 2, strcspn (line + 2, "\n"));
  getloadavg (load, 3);
  return g_strdup_printf ("%s, %ld CPUs, %.1f GiB RAM, load %.2f %.2f %.2f, GLib %u.%u.%u",
                          model ? model : "unknown CPU", sysconf (_SC_NPROCESSORS_ONLN),
                          (double) sysconf (_SC_PHYS_PAGES) * sysconf (_SC_PAGESIZE) / (1024.0 * MiB),
                          load[0], load[1], load[2],
                          glib_major_version, glib_minor_version, glib_micro_version);
}

/* -- main --------------------------------------------------------------------- */

static gboolean
has_mode (const char * const *modes,
          const char         *mode)
{
  return g_strv_contains (modes, mode);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context =
    g_option_context_new ("- compare SaWorker with GSubprocess, g_spawn_async and posix_spawn");
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GArray) heaps = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_auto(GStrv) modes = NULL;
  g_auto(GStrv) heap_list = NULL;
  g_autofree char *machine = NULL;
  guint64 base_heap;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (opt_quick)
    {
      if (opt_heaps == NULL)
        opt_heaps = g_strdup ("16M,256M");
      opt_reps = MIN (opt_reps, 20);
      opt_fork_reps = MIN (opt_fork_reps, 10);
      opt_tp_count = MIN (opt_tp_count, 200);
      opt_tp_rounds = MIN (opt_tp_rounds, 2);
      opt_capture_mib = MIN (opt_capture_mib, 32);
      opt_capture_reps = 1;
      opt_mainloop_mib = MIN (opt_mainloop_mib, 2);
      opt_pipe_mib = MIN (opt_pipe_mib, 32);
      opt_pipe_rounds = 1;
      opt_conversation_lines = MIN (opt_conversation_lines, 500);
      opt_conversation_rounds = 1;
      opt_free_mib = MIN (opt_free_mib, 32);
      opt_free_reps = 1;
      opt_create_reps = MIN (opt_create_reps, 3);
    }
  if (opt_reps < 1 || opt_fork_reps < 1 || opt_tp_count < 1 || opt_tp_rounds < 1 || opt_inflight < 1 ||
      opt_capture_mib < 1 || opt_capture_reps < 1 || opt_mainloop_cmds < 1 ||
      opt_mainloop_mib < 1 || opt_pipe_mib < 1 || opt_pipe_rounds < 1 ||
      opt_conversation_lines < 1 || opt_conversation_rounds < 1 || opt_free_mib < 1 ||
      opt_free_reps < 1 || opt_create_reps < 1)
    {
      g_printerr ("counts and sizes must be positive\n");
      return 2;
    }

  modes = g_strsplit (opt_modes ? opt_modes : "latency,throughput,memory,capture,mainloop,pipe,conversation,free,block,create",
                      ",", -1);
  heap_list = g_strsplit (opt_heaps ? opt_heaps : "16M,2G,8G", ",", -1);
  for (guint i = 0; heap_list[i] != NULL; i++)
    {
      guint64 mib = parse_size_mib (heap_list[i]);

      g_array_append_val (heaps, mib);
    }
  base_heap = parse_size_mib (opt_base_heap ? opt_base_heap : "16M");

  /* Uninstalled: use the helper of this build tree. */
  if (g_getenv ("SPAWN_ASYNC_HELPER") == NULL)
    g_setenv ("SPAWN_ASYNC_HELPER", BENCH_HELPER_PATH, TRUE);

  rows = g_array_new (FALSE, FALSE, sizeof (Row));
  g_array_set_clear_func (rows, row_clear);
  machine = describe_machine ();
  g_printerr ("machine: %s\n", machine);

  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  if (opt_io_batch)
    set_io_thread_batch ();

  /* The modes at the base heap first, then the growing heaps. */
  ballast_grow_to (base_heap);
  if (has_mode ((const char * const *) modes, "latency"))
    bench_latency (worker, base_heap);
  if (has_mode ((const char * const *) modes, "throughput"))
    bench_throughput (worker, base_heap);
  if (has_mode ((const char * const *) modes, "memory"))
    bench_memory (base_heap);
  if (has_mode ((const char * const *) modes, "capture"))
    bench_capture (worker, base_heap);
  if (has_mode ((const char * const *) modes, "mainloop"))
    bench_mainloop (worker, base_heap);
  if (has_mode ((const char * const *) modes, "pipe"))
    bench_pipe (worker, base_heap, (guint) opt_pipe_mib, (guint) opt_pipe_rounds);
  if (has_mode ((const char * const *) modes, "conversation"))
    bench_conversation (worker, base_heap, (guint) opt_conversation_lines,
                        (guint) opt_conversation_rounds);
  if (has_mode ((const char * const *) modes, "free"))
    bench_free (worker, base_heap, (guint) opt_free_mib, (guint) opt_free_reps);
  if (has_mode ((const char * const *) modes, "scale"))
    bench_scale (base_heap, (guint) opt_scale_cmds);
  if (has_mode ((const char * const *) modes, "block") ||
      has_mode ((const char * const *) modes, "create"))
    bench_heaps (worker, heaps, has_mode ((const char * const *) modes, "block"),
                 has_mode ((const char * const *) modes, "create"));
  ballast_free ();

  bench_node ((const char * const *) modes, heaps, base_heap);

  print_table ();
  print_targets ();
  write_csv (opt_csv ? opt_csv : "bench-results.csv");
  write_json (opt_json ? opt_json : "bench-results.json", machine);

  g_array_unref (rows);
  return 0;
}
