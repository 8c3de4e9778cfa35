/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Live processes in spawn-async-bench: an SaProcess against a GSubprocess
 * and a posix_spawn()ed child with plain pipes, in the same run.
 *
 *   pipe          --pipe-mib MiB (1 GiB by default) read to the end from
 *                 the child's stdout pipe. SaProcess and GSubprocess are
 *                 read the same way, with g_input_stream_read_async() in
 *                 the main loop; posix_spawn with a blocking read() loop.
 *   conversation  --conversation-lines lines through cat, one at a time:
 *                 write a line, read it back. SaProcess and GSubprocess
 *                 write with g_output_stream_write_all() and read with
 *                 g_data_input_stream_read_line_async(); posix_spawn with
 *                 write() and read().
 *
 * The methods take turns, round after round, so that a noisy second hits
 * them alike; the ratios are the medians of the per-round ratios.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define READ_SIZE MiB

enum { PEER_SA_PROCESS, PEER_GSUBPROCESS, PEER_POSIX_SPAWN, N_PEERS };

static const char *pipe_methods[N_PEERS] = {
  "SaProcess", "GSubprocess", "posix_spawn+read",
};

static const char *conversation_methods[N_PEERS] = {
  "SaProcess", "GSubprocess", "posix_spawn+write/read",
};

/* -- starting and ending children --------------------------------------------- */

static void
on_spawned (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  SaProcess **process = user_data;
  g_autoptr(GError) error = NULL;

  *process = sa_worker_spawn_finish (SA_WORKER (source), res, &error);
  if (*process == NULL)
    g_error ("SaProcess: %s", error->message);
}

/* spawn_async(), then the main loop until the process is there, as an
 * application would get it. */
static SaProcess *
start_sa_process (SaWorker           *worker,
                  const char * const *argv,
                  SaStdio             stdin_mode)
{
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  SaProcess *process = NULL;

  sa_spawn_options_set_stdin_mode (options, stdin_mode);
  sa_spawn_options_set_stderr_mode (options, SA_STDIO_NULL);
  sa_worker_spawn_async (worker, argv, options, NULL, on_spawned, &process);
  while (process == NULL)
    g_main_context_iteration (NULL, TRUE);
  return process;
}

static void
end_sa_process (SaProcess *process)
{
  g_autoptr(GError) error = NULL;

  if (!sa_process_wait_check (process, NULL, &error))
    g_error ("SaProcess: %s", error->message);
  g_object_unref (process);
}

static void
end_subprocess (GSubprocess *proc)
{
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_check (proc, NULL, &error))
    g_error ("GSubprocess: %s", error->message);
  g_object_unref (proc);
}

/* A child with plain pipes: to_child (its stdin) if wanted, from_child
 * (its stdout). The default pipe size, as a program would have it. */
static pid_t
start_posix_spawn (const char * const *argv,
                   int                *to_child,
                   int                *from_child)
{
  posix_spawn_file_actions_t actions;
  int in[2] = { -1, -1 }, out[2];
  pid_t pid;
  int ret;

  if ((to_child != NULL && pipe2 (in, O_CLOEXEC) != 0) || pipe2 (out, O_CLOEXEC) != 0)
    g_error ("pipe: %s", g_strerror (errno));
  posix_spawn_file_actions_init (&actions);
  if (to_child != NULL)
    posix_spawn_file_actions_adddup2 (&actions, in[0], 0);
  posix_spawn_file_actions_adddup2 (&actions, out[1], 1);
  ret = posix_spawn (&pid, argv[0], &actions, NULL, (char **) argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  if (ret != 0)
    g_error ("posix_spawn: %s", g_strerror (ret));
  if (to_child != NULL)
    {
      close (in[0]);
      *to_child = in[1];
    }
  close (out[1]);
  *from_child = out[0];
  return pid;
}

/* Each method's samples, one per round, and the per-round ratios of
 * SaProcess to the others. */
typedef struct
{
  GArray *rates[N_PEERS];
  GArray *ratios[N_PEERS];
} Rounds;

static void
rounds_init (Rounds *rounds)
{
  for (int m = 0; m < N_PEERS; m++)
    {
      rounds->rates[m] = g_array_new (FALSE, FALSE, sizeof (double));
      rounds->ratios[m] = g_array_new (FALSE, FALSE, sizeof (double));
    }
}

static void
rounds_add (Rounds *rounds,
            const double *rate)
{
  for (int m = 0; m < N_PEERS; m++)
    if (rate[m] > 0)
      g_array_append_val (rounds->rates[m], rate[m]);
  for (int m = PEER_GSUBPROCESS; m < N_PEERS; m++)
    if (rate[PEER_SA_PROCESS] > 0 && rate[m] > 0)
      {
        double ratio = rate[PEER_SA_PROCESS] / rate[m];

        g_array_append_val (rounds->ratios[m], ratio);
      }
}

static void
rounds_report (Rounds             *rounds,
               const char         *mode,
               const char * const *methods,
               guint64             heap_mib,
               const char         *metric,
               const char         *unit)
{
  for (int m = 0; m < N_PEERS; m++)
    {
      if (rounds->rates[m]->len > 0)
        bench_add_distribution (mode, methods[m], heap_mib, metric, unit, rounds->rates[m]);
      if (rounds->ratios[m]->len > 0)
        {
          g_autofree char *name = g_strdup_printf ("%s / %s", methods[PEER_SA_PROCESS], methods[m]);

          bench_add_distribution (mode, name, heap_mib, "ratio", "x", rounds->ratios[m]);
        }
      g_array_unref (rounds->rates[m]);
      g_array_unref (rounds->ratios[m]);
    }
}

/* -- pipe ------------------------------------------------------------------- */

typedef struct
{
  GInputStream *stream;
  char         *buffer;
  guint64       total;
  gboolean      done;
} Reader;

static void
on_read (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  Reader *reader = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, &error);

  if (n < 0)
    g_error ("read: %s", error->message);
  if (n == 0)
    {
      reader->done = TRUE;
      return;
    }
  reader->total += (guint64) n;
  g_input_stream_read_async (reader->stream, reader->buffer, READ_SIZE, G_PRIORITY_DEFAULT,
                             NULL, on_read, reader);
}

/* Reads a GIO stream to its end the way a main-loop program does. */
static guint64
read_stream_to_end (GInputStream *stream,
                    char         *buffer)
{
  Reader reader = { stream, buffer, 0, FALSE };

  g_input_stream_read_async (stream, buffer, READ_SIZE, G_PRIORITY_DEFAULT, NULL,
                             on_read, &reader);
  while (!reader.done)
    g_main_context_iteration (NULL, TRUE);
  return reader.total;
}

static guint64
read_fd_to_end (int   fd,
                char *buffer)
{
  guint64 total = 0;

  for (;;)
    {
      gssize n = read (fd, buffer, READ_SIZE);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("read: %s", g_strerror (errno));
      if (n == 0)
        return total;
      total += (guint64) n;
    }
}

/* MiB/s from the start of the child to its end, output read. */
static double
pipe_once (int                 method,
           SaWorker           *worker,
           const char * const *argv,
           guint64             expected,
           char               *buffer)
{
  gint64 start = bench_now_ns ();
  guint64 got;

  switch (method)
    {
    case PEER_SA_PROCESS:
      {
        SaProcess *process = start_sa_process (worker, argv, SA_STDIO_NULL);

        got = read_stream_to_end (sa_process_get_stdout_pipe (process), buffer);
        end_sa_process (process);
      }
      break;

    case PEER_GSUBPROCESS:
      {
        GSubprocess *proc = bench_subprocess_new (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE);

        got = read_stream_to_end (g_subprocess_get_stdout_pipe (proc), buffer);
        end_subprocess (proc);
      }
      break;

    case PEER_POSIX_SPAWN:
    default:
      {
        int from_child;
        pid_t pid = start_posix_spawn (argv, NULL, &from_child);

        got = read_fd_to_end (from_child, buffer);
        close (from_child);
        bench_waitpid_checked (pid);
      }
      break;
    }

  if (got != expected)
    g_error ("%s: read %" G_GUINT64_FORMAT " bytes, not %" G_GUINT64_FORMAT,
             pipe_methods[method], got, expected);
  return (double) expected / MiB / (bench_us_since (start) / 1e6);
}

void
bench_pipe (SaWorker *worker,
            guint64   heap_mib,
            guint     mib,
            guint     rounds)
{
  g_autofree char *count = g_strdup_printf ("count=%u", mib);
  const char *argv[] = { "/bin/dd", "if=/dev/zero", "bs=1M", count, "status=none", NULL };
  g_autofree char *buffer = g_malloc (READ_SIZE);
  Rounds all;

  rounds_init (&all);
  for (guint round = 0; round < rounds; round++)
    {
      double rate[N_PEERS] = { 0 };

      for (int m = 0; m < N_PEERS; m++)
        if (bench_method_enabled (pipe_methods[m]))
          rate[m] = pipe_once (m, worker, argv, (guint64) mib * MiB, buffer);
      rounds_add (&all, rate);
    }
  rounds_report (&all, "pipe", pipe_methods, heap_mib, "throughput", "MiB/s");
}

/* -- conversation ------------------------------------------------------------- */

typedef struct
{
  GOutputStream    *to_child;
  GDataInputStream *from_child;
  guint             next;
  guint             total;
} Talk;

static void say_next (Talk *talk);

static void
on_line (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  Talk *talk = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                res, NULL, &error);
  char expected[32];

  g_snprintf (expected, sizeof expected, "line %u", talk->next);
  if (line == NULL || strcmp (line, expected) != 0)
    g_error ("conversation: got “%s”, not “%s” (%s)", line ? line : "(end)", expected,
             error ? error->message : "no error");
  talk->next++;
  say_next (talk);
}

static void
say_next (Talk *talk)
{
  g_autoptr(GError) error = NULL;
  char line[32];
  int len;

  if (talk->next == talk->total)
    return;
  len = g_snprintf (line, sizeof line, "line %u\n", talk->next);
  if (!g_output_stream_write_all (talk->to_child, line, (gsize) len, NULL, NULL, &error))
    g_error ("conversation: %s", error->message);
  g_data_input_stream_read_line_async (talk->from_child, G_PRIORITY_DEFAULT, NULL, on_line, talk);
}

/* Round trips through the GIO streams of a child, in the main loop. */
static void
talk_over_streams (GOutputStream *to_child,
                   GInputStream  *from_child,
                   guint          lines)
{
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (from_child);
  Talk talk = { to_child, data, 0, lines };

  say_next (&talk);
  while (talk.next < lines)
    g_main_context_iteration (NULL, TRUE);
  if (!g_output_stream_close (to_child, NULL, NULL))
    g_error ("conversation: cannot close stdin");
}

static void
talk_over_fds (int   to_child,
               int   from_child,
               guint lines)
{
  char line[32], answer[64];

  for (guint i = 0; i < lines; i++)
    {
      int len = g_snprintf (line, sizeof line, "line %u\n", i);
      gsize got = 0;

      if (write (to_child, line, (size_t) len) != len)
        g_error ("write: %s", g_strerror (errno));
      while (got == 0 || answer[got - 1] != '\n')
        {
          gssize n = read (from_child, answer + got, sizeof answer - got);

          if (n <= 0)
            g_error ("read: %s", n < 0 ? g_strerror (errno) : "end of output");
          got += (gsize) n;
        }
      if (got != (gsize) len || memcmp (answer, line, got) != 0)
        g_error ("conversation: got “%.*s”, not “%s”", (int) got, answer, line);
    }
  close (to_child);
}

/* Round trips per second, with the start and the end of cat. */
static double
conversation_once (int       method,
                   SaWorker *worker,
                   guint     lines)
{
  const char *argv[] = { "/bin/cat", NULL };
  gint64 start = bench_now_ns ();

  switch (method)
    {
    case PEER_SA_PROCESS:
      {
        SaProcess *process = start_sa_process (worker, argv, SA_STDIO_PIPE);

        talk_over_streams (sa_process_get_stdin_pipe (process),
                           sa_process_get_stdout_pipe (process), lines);
        end_sa_process (process);
      }
      break;

    case PEER_GSUBPROCESS:
      {
        GSubprocess *proc = bench_subprocess_new (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                    G_SUBPROCESS_FLAGS_STDOUT_PIPE);

        talk_over_streams (g_subprocess_get_stdin_pipe (proc),
                           g_subprocess_get_stdout_pipe (proc), lines);
        end_subprocess (proc);
      }
      break;

    case PEER_POSIX_SPAWN:
    default:
      {
        int to_child, from_child;
        pid_t pid = start_posix_spawn (argv, &to_child, &from_child);

        talk_over_fds (to_child, from_child, lines);
        close (from_child);
        bench_waitpid_checked (pid);
      }
      break;
    }

  return lines / (bench_us_since (start) / 1e6);
}

void
bench_conversation (SaWorker *worker,
                    guint64   heap_mib,
                    guint     lines,
                    guint     rounds)
{
  Rounds all;

  rounds_init (&all);
  for (guint round = 0; round < rounds; round++)
    {
      double rate[N_PEERS] = { 0 };

      for (int m = 0; m < N_PEERS; m++)
        if (bench_method_enabled (conversation_methods[m]))
          rate[m] = conversation_once (m, worker, lines);
      rounds_add (&all, rate);
    }
  rounds_report (&all, "conversation", conversation_methods, heap_mib,
                 "round trips", "1/s");
}
