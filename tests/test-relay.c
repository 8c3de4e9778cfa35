/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Thousands of commands in flight at the default descriptor limit: past
 * the pipe budget the helper relays output, input and exit on the one
 * socket (docs/performance.md, "Transport beyond the fd limit").
 *
 * The test runs with a soft RLIMIT_NOFILE of 1024, as a new user's
 * program on Debian would, set before the first worker exists. What it
 * asserts is what a user sees: every command's own output, input and
 * status, the caller's descriptors bounded whatever the load, and
 * children that get the limit the caller had, not the helper's.
 *
 * The rest of the relay's behaviour (exact bytes, output limit, cancel,
 * timeouts, daemonizing children, faults) is the worker, options and
 * stress suites run again with SPAWN_ASYNC_PIPE_BUDGET=0 (tests/meson.build),
 * which relays every command.
 */
#include <stdlib.h>
#include <sys/resource.h>

#include "sa-test-util.h"

#define SOFT_LIMIT     1024
#define FD_BOUND       256         /* the caller's descriptors may grow by this much */

static SaWorker *worker;
static guint n_commands = 3000;

typedef struct
{
  guint     index;
  SaResult *result;
  GError   *error;
  guint    *pending;
} Slot;

static void
slot_done (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  Slot *slot = user_data;

  slot->result = sa_worker_aspawn_finish (SA_WORKER (source), res, &slot->error);
  (*slot->pending)--;
}

typedef struct
{
  guint peak;
} FdWatch;

static gboolean
sample_fds (gpointer user_data)
{
  FdWatch *watch = user_data;

  watch->peak = MAX (watch->peak, sa_test_count_fds ());
  return G_SOURCE_CONTINUE;
}

/* Every command reads a line from its input, sleeps, writes its own line
 * to stdout and another to stderr: 3 pipes each, all in flight at once. */
static void
test_many_in_flight (void)
{
  g_autofree Slot *slots = g_new0 (Slot, n_commands);
  guint before = sa_test_count_fds ();
  GPid helper_pid = sa_worker_get_helper_pid (worker);
  guint pending = n_commands;
  guint helper_peak = 0;
  FdWatch watch = { before };
  GSource *sampler;
  gint64 deadline;

  sampler = g_timeout_source_new (5);
  g_source_set_callback (sampler, sample_fds, &watch, NULL);
  g_source_attach (sampler, NULL);

  for (guint i = 0; i < n_commands; i++)
    {
      g_autofree char *name = g_strdup_printf ("%u", i);
      g_autofree char *line = g_strdup_printf ("in%u\n", i);
      const char *argv[] = {
        "sh", "-c", "read line; sleep 1; echo \"$0:$line\"; echo \"err$0\" >&2", name, NULL
      };
      g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
      g_autoptr(GBytes) input = g_bytes_new (line, strlen (line));

      sa_spawn_options_set_input (options, input);
      slots[i].index = i;
      slots[i].pending = &pending;
      sa_worker_aspawn_async (worker, argv, options, NULL, slot_done, &slots[i]);
    }

  deadline = g_get_monotonic_time () + 120 * G_TIME_SPAN_SECOND;
  while (pending > 0)
    {
      g_main_context_iteration (NULL, TRUE);
      if (pending > n_commands / 2)
        helper_peak = MAX (helper_peak, sa_test_count_fds_of (helper_pid));
      if (g_get_monotonic_time () > deadline)
        g_error ("%u of %u commands have not finished after 120 s", pending, n_commands);
    }
  g_source_destroy (sampler);
  g_source_unref (sampler);

  for (guint i = 0; i < n_commands; i++)
    {
      g_autofree char *out = g_strdup_printf ("%u:in%u\n", i, i);
      g_autofree char *err = g_strdup_printf ("err%u\n", i);

      g_assert_no_error (slots[i].error);
      g_assert_true (sa_result_get_successful (slots[i].result));
      g_assert_cmpstr (sa_result_get_stdout (slots[i].result), ==, out);
      g_assert_cmpstr (sa_result_get_stderr (slots[i].result), ==, err);
      g_clear_object (&slots[i].result);
    }

  g_test_message ("caller: %u descriptors before, %u at the peak; helper: up to %u",
                  before, watch.peak, helper_peak);
  g_assert_cmpuint (watch.peak - before, <=, FD_BOUND);
  /* They were relayed: the helper held their pipes. */
  g_assert_cmpuint (helper_peak, >, n_commands);
  /* And let go of them. */
  g_assert_cmpuint (sa_test_count_fds_of (helper_pid), <, 64);
}

/* The helper raises its own soft limit to hold the relayed pipes; its
 * children get the caller's back, unless the options set one. */
static void
test_children_keep_the_limit (void)
{
  const char *argv[] = { "sh", "-c", "ulimit -Sn", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) limited = NULL;
  g_autofree char *expected = g_strdup_printf ("%d\n", SOFT_LIMIT);

  g_assert_cmpstr (sa_result_get_stdout (result), ==, expected);

  sa_spawn_options_set_rlimit (options, RLIMIT_NOFILE, 100, 200);
  limited = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (limited), ==, "100\n");
}

/* Whether a child started now gets the limit this process set. */
static gboolean
limit_is_real (void)
{
  const char *argv[] = { "sh", "-c", "ulimit -Sn", NULL };
  g_autofree char *out = NULL;
  g_autofree char *expected = g_strdup_printf ("%d\n", SOFT_LIMIT);

  return g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                       &out, NULL, NULL, NULL) && g_str_equal (out, expected);
}

int
main (int argc, char **argv)
{
  struct rlimit limit;
  const char *count = g_getenv ("SA_RELAY_COUNT");
  int ret;

  g_test_init (&argc, &argv, NULL);

  if (count != NULL)
    n_commands = (guint) g_ascii_strtoull (count, NULL, 10);

  /* Before the first worker: the pipe budget is taken from this limit. */
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max < 2 * n_commands + 1024)
    {
      g_autofree char *why = g_strdup_printf ("the hard descriptor limit is below %u",
                                              2 * n_commands + 1024);

      g_test_add_data_func_full ("/relay/many-in-flight", g_steal_pointer (&why),
                                 (GTestDataFunc) g_test_skip, g_free);
      return g_test_run ();
    }
  limit.rlim_cur = SOFT_LIMIT;
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &limit));

  worker = sa_test_new_worker ();

  g_test_add_func ("/relay/many-in-flight", test_many_in_flight);
  /* Under valgrind, setrlimit() only changes what this process is told:
   * its children (the helper) still have the old limit. */
  if (limit_is_real ())
    g_test_add_func ("/relay/children-keep-the-limit", test_children_keep_the_limit);
  else
    g_test_add_data_func ("/relay/children-keep-the-limit",
                          "the descriptor limit this process set does not reach its children "
                          "(valgrind keeps it to itself)", (GTestDataFunc) g_test_skip);

  ret = g_test_run ();
  sa_worker_destroy (worker);
  g_object_unref (worker);
  return ret;
}
