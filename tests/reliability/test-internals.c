/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * White-box checks that need the library's insides (it links the
 * library's objects, not the shared library): command ids never collide
 * with a live command, whatever the counter has wrapped.
 */
#include <signal.h>

#include "sa-test-util.h"
#include "sa-worker-private.h"

static void
on_answer (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

/* Runs echo N for each id around the wrap, at once, and checks every
 * answer. */
static void
run_echoes (SaWorker *worker,
            guint     n)
{
  GAsyncResult **slots = g_new0 (GAsyncResult *, n);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *word = g_strdup_printf ("%u", i);
      const char *argv[] = { "echo", word, NULL };

      sa_worker_aspawn_async (worker, argv, NULL, NULL, on_answer, &slots[i]);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = NULL;
      g_autofree char *expected = g_strdup_printf ("%u\n", i);

      sa_test_wait_pointer ((gpointer *)&slots[i], 10000);
      result = sa_worker_aspawn_finish (worker, slots[i], &error);
      g_assert_no_error (error);
      g_assert_cmpstr (sa_result_get_stdout (result), ==, expected);
      g_clear_object (&slots[i]);
    }
  g_free (slots);
}

/* Id 1 is a running command, id 2 a finished one whose background job
 * lingers in its group (the helper still knows the id). The counter is
 * set to wrap right onto them: the next commands must get other ids. A
 * reused id used to replace the live command in the table, and the
 * helper exited on the duplicate and killed every child. */
static void
test_ids_skip_live_commands (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = sa_worker_new (NULL, &error);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SaResult) lingering = NULL;
  const char *sleep_argv[] = { "sleep", "30", NULL };
  const char *linger_argv[] = { "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!", NULL };
  GAsyncResult *running = NULL;
  GPid helper, background;
  gint64 deadline;

  g_assert_no_error (error);
  helper = sa_worker_get_helper_pid (worker);

  sa_worker_aspawn_async (worker, sleep_argv, NULL, cancellable, on_answer, &running);  /* id 1 */
  lingering = sa_test_run_ok (worker, linger_argv, NULL);                                /* id 2 */
  background = (GPid)g_ascii_strtoll (sa_result_get_stdout (lingering), NULL, 10);
  g_assert_true (sa_test_pid_alive (background));

  sa_worker_set_last_command_id (worker, G_MAXUINT32 - 3);
  run_echoes (worker, 8);      /* ...FFFC to FFFF, then 3, 4, 5, 6 */
  run_echoes (worker, 8);

  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, helper);
  g_assert_null (running);
  g_assert_true (sa_test_pid_alive (background));

  g_cancellable_cancel (cancellable);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (running == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (sa_worker_aspawn_finish (worker, running, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&running);

  sa_worker_destroy (worker);
  sa_test_assert_pid_gone (background, 2000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/internals/ids-skip-live-commands", test_ids_skip_live_commands);

  return g_test_run ();
}
