/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SaWorker:launcher with a real container launcher: bubblewrap starting
 * the helper in new mount and pid namespaces, with a directory of the
 * host hidden under a tmpfs. Commands must see the container's files and
 * pids, work as they do without a launcher (captured output, input,
 * live processes whose pipes cross the namespace with SCM_RIGHTS,
 * timeouts, cancels), and die with the worker.
 *
 * Skipped, saying why, where bwrap is missing or the kernel refuses it
 * namespaces.
 */
#include <errno.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "sa-test-util.h"

static char *host_dir;          /* holds a marker only the host sees */
static char *marker;

static GStrv
bwrap_launcher (void)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  GStrv argv;

  g_strv_builder_add_many (builder, "bwrap", "--dev-bind", "/", "/", "--proc", "/proc",
                           "--unshare-pid", "--die-with-parent",
                           "--tmpfs", host_dir, "--", NULL);
  argv = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return argv;
}

static SaWorker *
new_container_worker (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) launcher = bwrap_launcher ();
  SaWorker *worker = g_initable_new (SA_TYPE_WORKER, NULL, &error, "launcher", launcher, NULL);

  g_assert_no_error (error);
  return worker;
}

/* Whether bwrap can make the namespaces here; why not otherwise. */
static char *
bwrap_refused (void)
{
  const char *argv[] = { "bwrap", "--dev-bind", "/", "/", "--unshare-pid", "true", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_autofree char *bwrap = g_find_program_in_path ("bwrap");
  int status;

  if (bwrap == NULL)
    return g_strdup ("bwrap (bubblewrap) is not installed");
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &status, &error))
    return g_strdup (error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    return g_strdup_printf ("bwrap cannot make namespaces here: %s", g_strstrip (err));
  return NULL;
}

static void
test_container_files_and_pids (void)
{
  g_autoptr(SaWorker) inside = new_container_worker ();
  g_autoptr(SaWorker) outside = sa_test_new_worker ();
  const char *test_argv[] = { "test", "-e", marker, NULL };
  const char *pid_argv[] = { "sh", "-c", "echo $$", NULL };
  g_autoptr(SaResult) seen = sa_test_run_ok (outside, test_argv, NULL);
  g_autoptr(SaResult) hidden = sa_test_run_ok (inside, test_argv, NULL);
  g_autoptr(SaResult) pid = sa_test_run_ok (inside, pid_argv, NULL);
  g_autofree char *comm_path = NULL;
  g_autofree char *comm = NULL;

  /* The host's file, hidden in the container. */
  g_assert_true (sa_result_get_successful (seen));
  g_assert_true (sa_result_get_if_exited (hidden));
  g_assert_cmpint (sa_result_get_exit_status (hidden), ==, 1);

  /* The container's pids: bwrap is 1, the helper one of the next. */
  g_assert_cmpint (g_ascii_strtoll (sa_result_get_stdout (pid), NULL, 10), <, 100);
  g_assert_cmpint (sa_result_get_pid (pid), <, 100);

  /* The worker's helper pid is the launcher's, in this namespace. */
  comm_path = g_strdup_printf ("/proc/%d/comm", sa_worker_get_helper_pid (inside));
  g_assert_true (g_file_get_contents (comm_path, &comm, NULL, NULL));
  g_assert_cmpstr (g_strstrip (comm), ==, "bwrap");
}

static void
test_output_input_and_processes (void)
{
  g_autoptr(SaWorker) worker = new_container_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = g_bytes_new_static ("through the container\n", 22);
  const char *cat_argv[] = { "cat", NULL };
  const char *err_argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
  g_autoptr(SaResult) echoed = NULL;
  g_autoptr(SaResult) failed = NULL;
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  GOutputStream *in;
  GInputStream *out;
  char buffer[64] = { 0 };
  gsize n = 0;

  sa_spawn_options_set_input (options, input);
  echoed = sa_test_run_ok (worker, cat_argv, options);
  g_assert_cmpstr (sa_result_get_stdout (echoed), ==, "through the container\n");

  failed = sa_test_run_ok (worker, err_argv, NULL);
  g_assert_cmpstr (sa_result_get_stdout (failed), ==, "out\n");
  g_assert_cmpstr (sa_result_get_stderr (failed), ==, "err\n");
  g_assert_false (sa_result_check (failed, &error));
  g_assert_error (error, G_SPAWN_EXIT_ERROR, 3);
  g_clear_error (&error);

  /* A live process: its pipes cross the namespace with SCM_RIGHTS. */
  g_clear_object (&options);
  options = sa_spawn_options_new ();
  sa_spawn_options_set_stdin_mode (options, SA_STDIO_PIPE);
  process = sa_worker_spawn (worker, cat_argv, options, NULL, &error);
  g_assert_no_error (error);
  in = sa_process_get_stdin_pipe (process);
  out = sa_process_get_stdout_pipe (process);
  g_assert_true (g_output_stream_write_all (in, "hello\n", 6, NULL, NULL, &error));
  g_assert_true (g_output_stream_close (in, NULL, &error));
  g_assert_true (g_input_stream_read_all (out, buffer, sizeof buffer - 1, &n, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (buffer, ==, "hello\n");
  g_assert_true (sa_process_wait_check (process, NULL, &error));
  g_assert_no_error (error);
}

static void
test_timeout_and_cancel (void)
{
  g_autoptr(SaWorker) worker = new_container_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const char *sleep_argv[] = { "sleep", "10", NULL };
  g_autoptr(SaResult) timed_out = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) cancelled = NULL;

  sa_spawn_options_set_timeout_ms (options, 100);
  timed_out = sa_test_run_ok (worker, sleep_argv, options);
  g_assert_true (sa_result_get_timed_out (timed_out));

  sa_test_start (worker, sleep_argv, NULL, cancellable, &res);
  g_usleep (50 * 1000);
  g_cancellable_cancel (cancellable);
  sa_test_wait_pointer ((gpointer *) &res, 5000);
  cancelled = sa_worker_aspawn_finish (worker, res, &error);
  g_assert_null (cancelled);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* Whether a process with this argument is alive here (its pid is this
 * namespace's: the test cannot ask the helper's). */
static gboolean
argument_alive (const char *argument)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/cmdline", name);
      g_autofree char *cmdline = NULL;
      g_autofree char *stat_path = g_strdup_printf ("/proc/%s/stat", name);
      g_autofree char *stat = NULL;
      gsize len;

      if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (path, &cmdline, &len, NULL))
        continue;
      /* zombies count as gone */
      if (g_file_get_contents (stat_path, &stat, NULL, NULL) && strstr (stat, ") Z ") != NULL)
        continue;
      for (gsize at = 0; at < len; at += strlen (cmdline + at) + 1)
        if (g_str_equal (cmdline + at, argument))
          return TRUE;
    }
  return FALSE;
}

static void
test_children_die_with_the_worker (void)
{
  SaWorker *worker = new_container_worker ();
  g_autofree char *seconds = g_strdup_printf ("1000.%06u", g_random_int_range (0, 1000000));
  const char *sleep_argv[] = { "sleep", seconds, NULL };
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  sa_test_start (worker, sleep_argv, NULL, NULL, &res);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!argument_alive (seconds))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }

  sa_worker_destroy (worker);
  sa_test_wait_pointer ((gpointer *) &res, 5000);
  g_assert_null (sa_worker_aspawn_finish (worker, res, &error));
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
  g_object_unref (worker);

  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (argument_alive (seconds))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
}

/* The launcher killed: its commands fail as with a helper that died, and
 * a new one starts through the launcher. */
static void
test_launcher_killed (void)
{
  g_autoptr(SaWorker) worker = new_container_worker ();
  g_autofree char *seconds = g_strdup_printf ("100.%06u", g_random_int_range (0, 1000000));
  const char *sleep_argv[] = { "sleep", seconds, NULL };
  const char *echo_argv[] = { "echo", "again", NULL };
  GPid launcher = sa_worker_get_helper_pid (worker);
  gint64 deadline;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;

  g_assert_cmpint (launcher, >, 1);
  sa_test_start (worker, sleep_argv, NULL, NULL, &res);
  g_usleep (100 * 1000);
  g_assert_no_errno (kill (launcher, SIGKILL));
  sa_test_wait_pointer ((gpointer *) &res, 10000);
  g_assert_null (sa_worker_aspawn_finish (worker, res, &error));
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);

  /* The container went with its launcher, and the command with it. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (argument_alive (seconds))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }

  result = sa_test_run_ok (worker, echo_argv, NULL);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "again\n");
  g_assert_cmpint (sa_worker_get_helper_pid (worker), !=, launcher);
}

static void
test_missing_launcher (void)
{
  const char *launcher[] = { "spawn-async-no-such-launcher", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = g_initable_new (SA_TYPE_WORKER, NULL, &error,
                                               "launcher", launcher, NULL);

  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "spawn-async-no-such-launcher"));
}

int
main (int argc, char **argv)
{
  g_autofree char *refused = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/launcher/missing", test_missing_launcher);
  refused = bwrap_refused ();
  if (refused != NULL)
    {
      g_test_add_data_func ("/launcher/container", refused, (GTestDataFunc) g_test_skip);
      return g_test_run ();
    }

  host_dir = g_dir_make_tmp ("sa-launcher-XXXXXX", NULL);
  g_assert_nonnull (host_dir);
  marker = g_build_filename (host_dir, "only-on-the-host", NULL);
  g_assert_true (g_file_set_contents (marker, "", 0, NULL));

  g_test_add_func ("/launcher/container/files-and-pids", test_container_files_and_pids);
  g_test_add_func ("/launcher/container/output-input-processes", test_output_input_and_processes);
  g_test_add_func ("/launcher/container/timeout-and-cancel", test_timeout_and_cancel);
  g_test_add_func ("/launcher/container/launcher-killed", test_launcher_killed);
  g_test_add_func ("/launcher/container/children-die-with-the-worker",
                   test_children_die_with_the_worker);

  ret = g_test_run ();

  g_unlink (marker);
  g_rmdir (host_dir);
  g_free (marker);
  g_free (host_dir);
  return ret;
}
