/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs inside the test's Flatpak-like sandbox (test-host.py): a worker
 * from sa_worker_new_for_host() (or its async form, with --async) must
 * run commands on the host, a plain one in the sandbox. Prints one line
 * per check; "waiting PID" and then sleeps with --orphan, for the driver
 * to kill it and look for the host command it left.
 */
#include <spawn-async.h>
#include <stdio.h>
#include <string.h>

static void
on_worker (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

static SaResult *
run (SaWorker *worker, const char * const *argv, SaSpawnOptions *options)
{
  GAsyncResult *res = NULL;
  g_autoptr(GError) error = NULL;
  SaResult *result;

  sa_worker_aspawn_async (worker, argv, options, NULL, on_worker, &res);
  while (res == NULL)
    g_main_context_iteration (NULL, TRUE);
  result = sa_worker_aspawn_finish (worker, res, &error);
  g_object_unref (res);
  if (result == NULL)
    g_error ("%s: %s", argv[0], error->message);
  return result;
}

int
main (int argc, char **argv)
{
  const char *marker = argv[1];
  gboolean async = argc > 2 && g_str_equal (argv[2], "--async");
  gboolean orphan = argc > 2 && g_str_equal (argv[2], "--orphan");
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) host = NULL;
  g_autoptr(SaWorker) sandbox = sa_worker_new (NULL, &error);
  const char *test_argv[] = { "test", "-e", marker, NULL };
  const char *pid_argv[] = { "sh", "-c", "echo $$", NULL };
  g_autoptr(SaResult) here = NULL, there = NULL, pid = NULL, tty = NULL, status = NULL;
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaProcess) process = NULL;

  g_assert_no_error (error);
  if (async)
    {
      GAsyncResult *res = NULL;

      sa_worker_new_for_host_async (G_PRIORITY_DEFAULT, NULL, on_worker, &res);
      while (res == NULL)
        g_main_context_iteration (NULL, TRUE);
      host = sa_worker_new_for_host_finish (res, &error);
      g_object_unref (res);
    }
  else
    host = sa_worker_new_for_host (NULL, &error);
  g_assert_no_error (error);

  if (orphan)
    {
      const char *sleep_argv[] = { "sleep", argv[3], NULL };

      sa_worker_aspawn_async (host, sleep_argv, NULL, NULL, NULL, NULL);
      printf ("waiting\n");
      fflush (stdout);
      for (;;)
        g_main_context_iteration (NULL, TRUE);
    }

  here = run (sandbox, test_argv, NULL);
  there = run (host, test_argv, NULL);
  printf ("marker in the sandbox: %s\n", sa_result_get_successful (here) ? "yes" : "no");
  printf ("marker on the host: %s\n", sa_result_get_successful (there) ? "yes" : "no");

  pid = run (host, pid_argv, NULL);
  printf ("host pid: %s", sa_result_get_stdout (pid));

  /* A terminal the helper makes, on the host. */
  sa_spawn_options_set_stdout_mode (options, SA_STDIO_PTY);
  tty = run (host, (const char *[]) { "sh", "-c", "test -t 1 && echo a terminal", NULL }, options);
  printf ("stdout: %s", sa_result_get_stdout (tty));

  /* Exit statuses come back as they are. */
  status = run (host, (const char *[]) { "sh", "-c", "exit 7", NULL }, NULL);
  printf ("exit status: %d\n", sa_result_get_exit_status (status));

  /* A live process: its pipes cross the sandbox, a signal goes to it. */
  g_clear_object (&options);
  options = sa_spawn_options_new ();
  process = sa_worker_spawn (host, (const char *[]) { "sleep", "100", NULL }, options, NULL, &error);
  g_assert_no_error (error);
  sa_process_send_signal (process, 15);
  g_assert_true (sa_process_wait (process, NULL, &error));
  printf ("signalled: %d\n", sa_process_get_if_signaled (process) ? sa_process_get_term_sig (process) : 0);
  return 0;
}
