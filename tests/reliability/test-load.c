/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Load: many short commands with a fixed number in flight. Every answer
 * must be the right one, and the caller's RSS, heap and fd count and the
 * helper's RSS must stay flat after the warm-up.
 *
 * SA_LOAD_COUNT sets the number of commands (default below); the full
 * run of docs/reliability.md uses SA_LOAD_COUNT=100000.
 */
#include <string.h>
#include <unistd.h>

#include "reliab-util.h"

#define DEFAULT_COUNT  100000

/* Under AddressSanitizer, freed memory waits in a quarantine: RSS and
 * heap say nothing about the library there. */
#if defined(__SANITIZE_ADDRESS__)
# define UNDER_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define UNDER_ASAN 1
# endif
#endif
#ifndef UNDER_ASAN
# define UNDER_ASAN 0
#endif
#define IN_FLIGHT      256

typedef struct
{
  SaWorker *worker;
  guint     count;
  guint     started;
  guint     done;
  guint     in_flight;
  guint     max_in_flight;
  guint     wrong;
} Load;

typedef struct
{
  Load  *load;
  guint  index;
} Command;

static void start_next (Load *load);

/* Three kinds, so that a mixed-up answer shows: `true`, `false`, and
 * every 100th an `echo` of its index. */
static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  Command *command = user_data;
  Load *load = command->load;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  if (result == NULL)
    {
      g_printerr ("command %u: %s\n", command->index, error->message);
      load->wrong++;
    }
  else if (command->index % 100 == 0)
    {
      g_autofree char *expected = g_strdup_printf ("%u\n", command->index);

      if (g_strcmp0 (sa_result_get_stdout (result), expected) != 0 ||
          !sa_result_get_successful (result))
        load->wrong++;
    }
  else if (sa_result_get_exit_status (result) != (int)(command->index % 2) ||
           sa_result_get_stdout (result)[0] != '\0')
    load->wrong++;

  load->done++;
  load->in_flight--;
  g_free (command);
  start_next (load);
}

static void
start_next (Load *load)
{
  while (load->started < load->count && load->in_flight < IN_FLIGHT)
    {
      Command *command = g_new0 (Command, 1);
      g_autofree char *arg = NULL;
      const char *argv[] = { NULL, NULL, NULL };

      command->load = load;
      command->index = load->started++;
      if (command->index % 100 == 0)
        {
          arg = g_strdup_printf ("%u", command->index);
          argv[0] = "echo";
          argv[1] = arg;
        }
      else
        argv[0] = command->index % 2 ? "false" : "true";

      load->in_flight++;
      load->max_in_flight = MAX (load->max_in_flight, load->in_flight);
      sa_worker_aspawn_async (load->worker, argv, NULL, NULL, on_done, command);
    }
}

typedef struct
{
  gint64 rss_kb;
  gint64 helper_rss_kb;
  gsize  heap;
  guint  fds;
} Sample;

static void
take_sample (Load   *load,
             Sample *sample)
{
  sample->rss_kb = reliab_proc_status_kb (getpid (), "VmRSS");
  sample->helper_rss_kb = reliab_proc_status_kb (sa_worker_get_helper_pid (load->worker), "VmRSS");
  sample->heap = reliab_heap_in_use ();
  sample->fds = sa_test_count_fds ();
}

static void
test_load_true (void)
{
  g_autoptr(GError) error = NULL;
  const char *count_env = g_getenv ("SA_LOAD_COUNT");
  Load load = { 0 };
  Sample first = { 0 }, warm = { 0 }, end = { 0 };
  gboolean warm_taken = FALSE;
  guint next_trace = 0;
  GPid helper;
  gint64 start, elapsed_us;

  load.count = count_env != NULL ? (guint)g_ascii_strtoull (count_env, NULL, 10) : DEFAULT_COUNT;
  g_assert_cmpuint (load.count, >=, 1000);
  reliab_raise_fd_limit (4 * IN_FLIGHT + 256);

  load.worker = sa_worker_new (NULL, &error);
  g_assert_no_error (error);
  helper = sa_worker_get_helper_pid (load.worker);

  start = g_get_monotonic_time ();
  start_next (&load);
  while (load.done < load.count)
    {
      g_main_context_iteration (NULL, TRUE);
      if (load.done >= next_trace)
        {
          Sample now;

          take_sample (&load, &now);
          if (next_trace == 0)
            first = now;
          g_test_message ("%6u done: caller RSS %" G_GINT64_FORMAT " kB, heap %" G_GSIZE_FORMAT
                          " B, fds %u; helper RSS %" G_GINT64_FORMAT " kB",
                          load.done, now.rss_kb, now.heap, now.fds, now.helper_rss_kb);
          next_trace += load.count / 10;
        }
      if (!warm_taken && load.done >= load.count / 10)
        {
          take_sample (&load, &warm);
          warm_taken = TRUE;
        }
    }
  elapsed_us = g_get_monotonic_time () - start;
  /* What is left in flight has been answered: let the I/O thread close
   * the last pipes before counting. */
  reliab_iterate_for (100);
  take_sample (&load, &end);

  g_test_message ("%u commands, %u in flight at most, %.1f s, %.0f commands/s",
                  load.count, load.max_in_flight, elapsed_us / 1e6,
                  load.count / (elapsed_us / 1e6));
  g_test_message ("caller RSS %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT " kB, "
                  "heap %" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT " B, fds %u -> %u; "
                  "helper RSS %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT " kB",
                  warm.rss_kb, end.rss_kb, warm.heap, end.heap, warm.fds, end.fds,
                  warm.helper_rss_kb, end.helper_rss_kb);

  g_assert_cmpuint (load.wrong, ==, 0);
  g_assert_cmpuint (load.done, ==, load.count);
  g_assert_cmpuint (load.max_in_flight, ==, IN_FLIGHT);

  /* Flat after the warm-up (the bounds allow allocator noise, not a
   * per-command leak: 90% of the commands ran after the warm sample). */
  g_assert_cmpint (sa_worker_get_helper_pid (load.worker), ==, helper);
  g_assert_cmpuint (end.fds, <=, first.fds);
  if (!UNDER_ASAN)
    {
      g_assert_cmpint (end.rss_kb - warm.rss_kb, <, 4096);
      g_assert_cmpint ((gssize)(end.heap - warm.heap), <, 1024 * 1024);
      g_assert_cmpint (end.helper_rss_kb - warm.helper_rss_kb, <, 512);
    }
  else
    g_test_message ("built with AddressSanitizer: memory figures not checked");
  g_assert_cmpuint (sa_test_count_children (helper), ==, 0);

  g_clear_object (&load.worker);
  sa_test_assert_pid_gone (helper, 2000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/load/true", test_load_true);

  return g_test_run ();
}
