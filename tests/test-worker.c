/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SaWorker: creation, results, environment, errors, concurrency, helper
 * death and restart, destroy, the child's setup, and threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "sa-test-util.h"

/* The caller must never fork: every fork() through the PLT lands here.
 * (posix_spawn uses clone(CLONE_VFORK) and does not call fork().) */
static int fork_calls;



pid_t
fork (void)
{
  g_atomic_int_inc (&fork_calls);
  errno = ENOSYS;
  return -1;
}

typedef struct
{
  guint   exits;
  guint   errors;
  guint   pid_notifies;
  GError *exit_error;
  GError *error_error;
  gboolean exit_had_error;
} Signals;

static void
on_exit_signal (SaWorker *worker,
                GError   *error,
                Signals  *s)
{
  s->exits++;
  s->exit_had_error = error != NULL;
  g_clear_error (&s->exit_error);
  s->exit_error = error ? g_error_copy (error) : NULL;
}

static void
on_error_signal (SaWorker *worker,
                 GError   *error,
                 Signals  *s)
{
  s->errors++;
  g_clear_error (&s->error_error);
  s->error_error = g_error_copy (error);
}

static void
on_pid_notify (SaWorker   *worker,
               GParamSpec *pspec,
               Signals    *s)
{
  s->pid_notifies++;
}

static void
watch_signals (SaWorker *worker,
               Signals  *s)
{
  memset (s, 0, sizeof *s);
  g_signal_connect (worker, "exit", G_CALLBACK (on_exit_signal), s);
  g_signal_connect (worker, "error", G_CALLBACK (on_error_signal), s);
  g_signal_connect (worker, "notify::helper-pid", G_CALLBACK (on_pid_notify), s);
}

static void
signals_clear (Signals *s)
{
  g_clear_error (&s->exit_error);
  g_clear_error (&s->error_error);
}

static SaWorker *
new_worker (void)
{
  g_autoptr(GError) error = NULL;
  SaWorker *worker = sa_worker_new (NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (worker);
  return worker;
}

static void
assert_helper_works (SaWorker *worker)
{
  const char *argv[] = { "echo", "still working", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);

  g_assert_cmpstr (sa_result_get_stdout (result), ==, "still working\n");
}

/* -- creation ------------------------------------------------------------- */

static void
test_new_helper_pid (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  GPid pid = sa_worker_get_helper_pid (worker);
  g_autofree char *exe_path = NULL;
  g_autofree char *exe = NULL;
  int prop = 0;

  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (pid, !=, getpid ());
  g_object_get (worker, "helper-pid", &prop, NULL);
  g_assert_cmpint (prop, ==, pid);
  g_assert_true (sa_test_pid_alive (pid));
  g_assert_cmpuint (sa_test_count_children (getpid ()), >=, 1);

  exe_path = g_strdup_printf ("/proc/%d/exe", pid);
  exe = g_file_read_link (exe_path, NULL);
  g_assert_nonnull (exe);
  g_assert_true (g_str_has_suffix (exe, "/spawn-async-helper"));
}

static void
test_new_missing_helper (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("SPAWN_ASYNC_HELPER"));

  g_setenv ("SPAWN_ASYNC_HELPER", "/nonexistent/spawn-async-helper", TRUE);
  worker = sa_worker_new (NULL, &error);
  g_setenv ("SPAWN_ASYNC_HELPER", saved, TRUE);

  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "/nonexistent/spawn-async-helper"));
}

static void
test_new_cancelled (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;

  g_cancellable_cancel (cancellable);
  worker = sa_worker_new (cancellable, &error);
  g_assert_null (worker);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_never_forks (void)
{
  const char *argv[] = { "true", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Signals s;
  GPid old_pid;

  watch_signals (worker, &s);
  g_atomic_int_set (&fork_calls, 0);

  result = sa_test_run_ok (worker, argv, NULL);
  g_clear_object (&result);

  /* A restart must not fork either. */
  old_pid = sa_worker_get_helper_pid (worker);
  kill (old_pid, SIGKILL);
  sa_test_wait_flag ((gboolean *)&s.exits, 5000);
  result = sa_test_run_ok (worker, argv, NULL);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), !=, old_pid);
  g_assert_cmpint (g_atomic_int_get (&fork_calls), ==, 0);

  /* The interposition works: a default g_spawn forks, and is caught. */
  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                NULL, NULL, NULL, &error);
  g_assert_cmpint (g_atomic_int_get (&fork_calls), >, 0);
  signals_clear (&s);
}

/* -- results ------------------------------------------------------------- */

static void
test_aspawn_echo (void)
{
  const char *argv[] = { "echo", "hello world", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  g_autoptr(GError) error = NULL;
  gsize len;

  g_assert_cmpstr (sa_result_get_stdout (result), ==, "hello world\n");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "");
  g_assert_nonnull (g_bytes_get_data (sa_result_get_stdout_bytes (result), &len));
  g_assert_cmpuint (len, ==, strlen ("hello world\n"));
  g_assert_cmpint (sa_result_get_pid (result), >, 0);
  g_assert_true (sa_result_get_if_exited (result));
  g_assert_cmpint (sa_result_get_exit_status (result), ==, 0);
  g_assert_false (sa_result_get_if_signaled (result));
  g_assert_cmpint (sa_result_get_term_sig (result), ==, 0);
  g_assert_false (sa_result_get_timed_out (result));
  g_assert_false (sa_result_get_output_truncated (result));
  g_assert_true (sa_result_get_successful (result));
  g_assert_true (sa_result_check (result, &error));
  g_assert_no_error (error);
}

static void
test_aspawn_exit_status (void)
{
  const char *argv[] = { "grep", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (sa_result_get_if_exited (result));
  g_assert_cmpint (sa_result_get_exit_status (result), ==, 2);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "");
  g_assert_nonnull (strstr (sa_result_get_stderr (result), "Usage: grep"));
  g_assert_false (sa_result_get_successful (result));
  g_assert_false (sa_result_check (result, &error));
  g_assert_error (error, G_SPAWN_EXIT_ERROR, 2);
  g_assert_cmpstr (error->message, ==, "child exited with status 2");
}

static void
test_aspawn_signal (void)
{
  const char *argv[] = { "sh", "-c", "echo out; echo err >&2; kill -USR2 $$", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (sa_result_get_stdout (result), ==, "out\n");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "err\n");
  g_assert_false (sa_result_get_if_exited (result));
  g_assert_cmpint (sa_result_get_exit_status (result), ==, -1);
  g_assert_true (sa_result_get_if_signaled (result));
  g_assert_cmpint (sa_result_get_term_sig (result), ==, SIGUSR2);
  g_assert_false (sa_result_check (result, &error));
  g_assert_error (error, SA_SPAWN_ERROR, SA_SPAWN_ERROR_SIGNALED);
  g_assert_cmpstr (error->message, ==, "child killed by signal SIGUSR2");
}

/* -- environment --------------------------------------------------------- */

static void
test_env_inherited (void)
{
  const char *argv[] = { "sh", "-c", "printf %s \"$SA_TEST_VALUE\"", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaResult) result = NULL;
  g_autofree char *value = g_strdup_printf ("value-%u", g_random_int ());

  /* Set after the worker exists, just before the call. */
  g_setenv ("SA_TEST_VALUE", value, TRUE);
  result = sa_test_run_ok (worker, argv, NULL);
  g_unsetenv ("SA_TEST_VALUE");

  g_assert_cmpstr (sa_result_get_stdout (result), ==, value);
}

static void
test_env_custom (void)
{
  const char *argv[] = { "env", NULL };
  const char *env[] = { "USER=someone_else", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_env (options, env);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "USER=someone_else\n");
}

static void
test_env_child_path (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *script = g_build_filename (dir, "sa-test-only-here", NULL);
  g_autofree char *path_entry = g_strdup_printf ("PATH=%s", dir);
  const char *argv[] = { "sa-test-only-here", NULL };
  const char *env[] = { path_entry, NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (script, "#!/bin/sh\necho found in child PATH\n", -1, NULL));
  g_assert_cmpint (chmod (script, 0755), ==, 0);

  /* Not in the caller's PATH ... */
  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT);
  g_assert_null (result);

  /* ... but in the child's. */
  sa_spawn_options_set_env (options, env);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "found in child PATH\n");

  g_unlink (script);
  g_rmdir (dir);
}

/* -- errors -------------------------------------------------------------- */

static void
test_errors (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *plain = g_build_filename (dir, "not-executable", NULL);
  GPid helper = sa_worker_get_helper_pid (worker);
  const char *empty[] = { NULL };
  const char *empty_name[] = { "", NULL };
  const char *missing[] = { "sa-no-such-program", "arg", NULL };
  const char *missing_path[] = { "/nonexistent/sa-program", NULL };
  const char *not_exec[] = { plain, NULL };
  const char *a_dir[] = { dir, NULL };
  const char *echo[] = { "echo", NULL };
  const char *bad_env[] = { "GOOD=1", "NOEQUALS", NULL };

  sa_test_assert_fails (worker, NULL, NULL, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, NULL);
  sa_test_assert_fails (worker, empty, NULL, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, NULL);
  sa_test_assert_fails (worker, empty_name, NULL, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, NULL);
  sa_test_assert_fails (worker, missing, NULL, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, "sa-no-such-program");
  sa_test_assert_fails (worker, missing_path, NULL, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, "/nonexistent/sa-program");

  g_assert_true (g_file_set_contents (plain, "#!/bin/sh\n", -1, NULL));
  g_assert_cmpint (chmod (plain, 0644), ==, 0);
  sa_test_assert_fails (worker, not_exec, NULL, G_SPAWN_ERROR, G_SPAWN_ERROR_ACCES, plain);
  sa_test_assert_fails (worker, a_dir, NULL, G_SPAWN_ERROR, G_SPAWN_ERROR_ACCES, dir);

  sa_spawn_options_set_env (options, bad_env);
  sa_test_assert_fails (worker, echo, options, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "NOEQUALS");

  /* Bad input never touches the helper. */
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, helper);
  assert_helper_works (worker);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, helper);

  g_unlink (plain);
  g_rmdir (dir);
}

static void
test_errors_not_synchronous (void)
{
  const char *empty[] = { NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  /* The callback never runs inside aspawn_async(). */
  sa_test_start (worker, empty, NULL, NULL, &result);
  g_assert_null (result);
  sa_test_wait_pointer ((gpointer *)&result, 5000);
  g_assert_null (sa_worker_aspawn_finish (worker, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* -- concurrency --------------------------------------------------------- */

#define N_CONCURRENT 300

static void
test_concurrent_many (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  GAsyncResult *results[N_CONCURRENT];
  char *args[N_CONCURRENT];

  for (guint i = 0; i < N_CONCURRENT; i++)
    {
      /* Different lengths of work, so that they end out of order. */
      const char *argv[] = { "sh", "-c", i % 3 == 0 ? "sleep 0.0$1; printf %s \"$1\"" : "printf %s \"$1\"", "sh", NULL, NULL };

      /* Every fifth frame spans several socket messages, so the I/O
       * thread sends it, between frames that callers send themselves. */
      if (i % 5 == 4)
        {
          g_autofree char *padding = g_strnfill (100 * 1024, 'x');

          args[i] = g_strdup_printf ("%s%u", padding, i);
        }
      else
        args[i] = g_strdup_printf ("%u", i);
      argv[4] = args[i];
      sa_test_start (worker, argv, NULL, NULL, &results[i]);
    }

  for (guint i = 0; i < N_CONCURRENT; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = NULL;

      sa_test_wait_pointer ((gpointer *)&results[i], 60000);
      result = sa_worker_aspawn_finish (worker, results[i], &error);
      g_assert_no_error (error);
      g_assert_cmpstr (sa_result_get_stdout (result), ==, args[i]);
      g_assert_true (sa_result_check (result, NULL));
      g_object_unref (results[i]);
      g_free (args[i]);
    }
}

/* -- the helper dies ------------------------------------------------------ */

static void
test_helper_killed (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "pid", NULL);
  g_autofree char *script = g_strdup_printf ("echo $$ > %s; exec sleep 30", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPid old_helper = sa_worker_get_helper_pid (worker);
  GPid child;
  Signals s;

  watch_signals (worker, &s);
  sa_test_start (worker, argv, NULL, NULL, &result);
  child = sa_test_read_pid_file (pid_file, 10000);

  g_assert_cmpint (kill (old_helper, SIGKILL), ==, 0);

  sa_test_wait_pointer ((gpointer *)&result, 10000);
  g_assert_null (sa_worker_aspawn_finish (worker, result, &error));
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
  g_assert_cmpstr (error->message, ==, "worker process exited unexpectedly");

  sa_test_wait_flag ((gboolean *)&s.exits, 5000);
  g_assert_cmpuint (s.exits, ==, 1);
  g_assert_error (s.exit_error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
  g_assert_cmpuint (s.errors, ==, 0);

  /* No orphan: the child and its group are gone. */
  sa_test_assert_group_gone (child, 5000);

  /* A new helper, and it works. */
  assert_helper_works (worker);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), >, 0);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), !=, old_helper);
  g_assert_cmpuint (s.pid_notifies, >=, 1);
  g_assert_false (sa_test_pid_alive (old_helper));

  signals_clear (&s);
  g_unlink (pid_file);
  g_rmdir (dir);
}

static void
test_helper_cannot_restart (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *copy = g_build_filename (dir, "spawn-async-helper", NULL);
  g_autofree char *saved = g_strdup (g_getenv ("SPAWN_ASYNC_HELPER"));
  g_autofree char *contents = NULL;
  const char *argv[] = { "true", NULL };
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  gsize len;
  Signals s;

  /* A copy of the helper that disappears once the worker runs it. */
  g_assert_true (g_file_get_contents (saved, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (copy, contents, len, NULL));
  g_assert_cmpint (chmod (copy, 0755), ==, 0);
  g_setenv ("SPAWN_ASYNC_HELPER", copy, TRUE);
  worker = new_worker ();
  g_setenv ("SPAWN_ASYNC_HELPER", saved, TRUE);
  watch_signals (worker, &s);
  g_unlink (copy);

  kill (sa_worker_get_helper_pid (worker), SIGKILL);

  /* Restarts fail with ENOENT; after a few, spaced out, it gives up. */
  sa_test_wait_flag ((gboolean *)&s.errors, 10000);
  g_assert_cmpuint (s.errors, ==, 1);
  g_assert_error (s.error_error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (s.error_error->message, copy));
  g_assert_cmpuint (s.exits, ==, 1);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, 0);

  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);

  signals_clear (&s);
  g_rmdir (dir);
}

/* -- destroy ------------------------------------------------------------- */

static void
test_destroy_pending (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "pid", NULL);
  g_autofree char *script = g_strdup_printf ("echo $$ > %s; sleep 30 & sleep 30", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };
  const char *echo[] = { "echo", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) later = NULL;
  g_autoptr(GError) error = NULL;
  GPid helper = sa_worker_get_helper_pid (worker);
  GPid child;
  Signals s;

  watch_signals (worker, &s);
  sa_test_start (worker, argv, NULL, NULL, &result);
  child = sa_test_read_pid_file (pid_file, 10000);

  sa_worker_destroy (worker);

  /* Synchronously: exit(NULL), helper-pid 0, the helper and the
   * child's whole group gone. */
  g_assert_cmpuint (s.exits, ==, 1);
  g_assert_false (s.exit_had_error);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, 0);
  g_assert_cmpuint (s.pid_notifies, ==, 1);
  g_assert_false (sa_test_pid_alive (helper));
  sa_test_assert_group_gone (child, 2000);

  sa_test_wait_pointer ((gpointer *)&result, 5000);
  g_assert_null (sa_worker_aspawn_finish (worker, result, &error));
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
  g_assert_cmpstr (error->message, ==, "worker process was destroyed");
  g_clear_error (&error);

  /* Idempotent. */
  sa_worker_destroy (worker);
  g_assert_cmpuint (s.exits, ==, 1);

  /* Later calls fail through the callback. */
  sa_test_start (worker, echo, NULL, NULL, &later);
  g_assert_null (later);
  sa_test_wait_pointer ((gpointer *)&later, 5000);
  g_assert_null (sa_worker_aspawn_finish (worker, later, &error));
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);

  signals_clear (&s);
  g_unlink (pid_file);
  g_rmdir (dir);
}

static void
test_destroy_lingering_group (void)
{
  /* The command completes while its background job lives on ... */
  const char *argv[] = { "sh", "-c", "sleep 100 & echo started", NULL };
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  GPid group = sa_result_get_pid (result);

  g_assert_cmpstr (sa_result_get_stdout (result), ==, "started\n");
  g_assert_cmpuint (sa_test_group_size (group), ==, 1);

  /* ... as part of the command: destroy kills it too. */
  sa_worker_destroy (worker);
  sa_test_assert_group_gone (group, 2000);
}

static void
test_cancel_before_sent (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GAsyncResult *results[20];
  char *markers[20];
  const char *after[] = { "true", NULL };
  g_autoptr(SaResult) last = NULL;
  guint n_cancelled = 0;

  /* Cancelled right after the calls: every one gets exactly one answer,
   * CANCELLED or (if it was quick enough) its result; those not yet sent
   * are never started. */
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      const char *argv[] = { "touch", NULL, NULL };

      markers[i] = g_strdup_printf ("%s/%u", dir, i);
      argv[1] = markers[i];
      sa_test_start (worker, argv, NULL, cancellable, &results[i]);
    }
  g_cancellable_cancel (cancellable);

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = NULL;

      sa_test_wait_pointer ((gpointer *)&results[i], 10000);
      result = sa_worker_aspawn_finish (worker, results[i], &error);
      /* One may have ended before the cancel; it then has its result. */
      if (result == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          n_cancelled++;
        }
      else
        g_assert_true (sa_result_check (result, NULL));
      g_object_unref (results[i]);
    }
  /* 20 touches cannot all have ended in the microseconds before it. */
  g_assert_cmpuint (n_cancelled, >, 0);

  last = sa_test_run_ok (worker, after, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_unlink (markers[i]);
      g_free (markers[i]);
    }
  g_rmdir (dir);
}

static void
test_destroy_last_unref (void)
{
  SaWorker *worker = new_worker ();
  GPid helper = sa_worker_get_helper_pid (worker);

  assert_helper_works (worker);
  g_assert_true (sa_test_pid_alive (helper));
  g_object_unref (worker);
  g_assert_false (sa_test_pid_alive (helper));
}

/* -- the child's setup ---------------------------------------------------- */

static guint64
status_mask (const char *status,
             const char *field)
{
  const char *line = strstr (status, field);

  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (field), NULL, 16);
}

static void
test_child_setup (void)
{
  const char *ls_fds[] = { "ls", "-1", "/proc/self/fd", NULL };
  const char *stdin_link[] = { "readlink", "/proc/self/fd/0", NULL };
  const char *status[] = { "cat", "/proc/self/status", NULL };
  const char *stat[] = { "cat", "/proc/self/stat", NULL };
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(SaResult) result = NULL;
  g_auto(GStrv) fields = NULL;
  int leaked[50];
  sigset_t block, old_mask;
  struct sigaction ignore = { .sa_handler = SIG_IGN }, old_action;

  /* A caller that leaks fds, blocks SIGUSR1 and ignores SIGINT. */
  for (guint i = 0; i < G_N_ELEMENTS (leaked); i++)
    leaked[i] = dup (2);
  sigemptyset (&block);
  sigaddset (&block, SIGUSR1);
  pthread_sigmask (SIG_BLOCK, &block, &old_mask);
  sigaction (SIGINT, &ignore, &old_action);

  worker = new_worker ();

  result = sa_test_run_ok (worker, ls_fds, NULL);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "0\n1\n2\n3\n");   /* 3: ls's own */
  g_clear_object (&result);

  result = sa_test_run_ok (worker, stdin_link, NULL);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "/dev/null\n");
  g_clear_object (&result);

  result = sa_test_run_ok (worker, status, NULL);
  g_assert_cmpuint (status_mask (sa_result_get_stdout (result), "SigBlk:"), ==, 0);
  g_assert_cmpuint (status_mask (sa_result_get_stdout (result), "SigIgn:"), ==, 0);
  g_clear_object (&result);

  /* Its own process group: pgrp (field 5) == pid (field 1). */
  result = sa_test_run_ok (worker, stat, NULL);
  fields = g_strsplit (strrchr (sa_result_get_stdout (result), ')') + 2, " ", 0);
  g_assert_cmpint (atoi (fields[2]), ==, sa_result_get_pid (result));

  sigaction (SIGINT, &old_action, NULL);
  pthread_sigmask (SIG_SETMASK, &old_mask, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (leaked); i++)
    close (leaked[i]);
}

/* -- threads ------------------------------------------------------------- */

typedef struct
{
  SaWorker *worker;
  guint     index;
  gboolean  ok;
} ThreadData;

static void
thread_callback (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  GMainContext **context_seen = user_data;

  *context_seen = g_main_context_ref_thread_default ();
  (void)res;
}

static gpointer
thread_main (gpointer user_data)
{
  ThreadData *data = user_data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autofree char *expected = g_strdup_printf ("thread %u\n", data->index);
  const char *argv[] = { "echo", "thread", NULL, NULL };
  g_autofree char *index = g_strdup_printf ("%u", data->index);

  argv[2] = index;
  g_main_context_push_thread_default (context);

  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = sa_test_run (data->worker, argv, NULL, NULL, &error);
      g_autoptr(GAsyncResult) async_result = NULL;
      GMainContext *seen = NULL;

      g_assert_no_error (error);
      g_assert_cmpstr (sa_result_get_stdout (result), ==, expected);

      /* The callback runs in this thread's context. */
      sa_worker_aspawn_async (data->worker, argv, NULL, NULL, thread_callback, &seen);
      sa_test_wait_pointer ((gpointer *)&seen, 10000);
      g_assert_true (seen == context);
      g_main_context_unref (seen);
      (void)async_result;
    }

  g_main_context_pop_thread_default (context);
  data->ok = TRUE;
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  ThreadData data[4];
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      data[i] = (ThreadData) { worker, i, FALSE };
      threads[i] = g_thread_new ("sa-test", thread_main, &data[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (threads[i]);
      g_assert_true (data[i].ok);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/worker/new/helper-pid", test_new_helper_pid);
  g_test_add_func ("/worker/new/missing-helper", test_new_missing_helper);
  g_test_add_func ("/worker/new/cancelled", test_new_cancelled);
  g_test_add_func ("/worker/new/never-forks", test_never_forks);
  g_test_add_func ("/worker/aspawn/echo", test_aspawn_echo);
  g_test_add_func ("/worker/aspawn/exit-status", test_aspawn_exit_status);
  g_test_add_func ("/worker/aspawn/signal", test_aspawn_signal);
  g_test_add_func ("/worker/env/inherited", test_env_inherited);
  g_test_add_func ("/worker/env/custom", test_env_custom);
  g_test_add_func ("/worker/env/child-path", test_env_child_path);
  g_test_add_func ("/worker/errors/bad-input", test_errors);
  g_test_add_func ("/worker/errors/not-synchronous", test_errors_not_synchronous);
  g_test_add_func ("/worker/concurrency/many", test_concurrent_many);
  g_test_add_func ("/worker/helper/killed", test_helper_killed);
  g_test_add_func ("/worker/helper/cannot-restart", test_helper_cannot_restart);
  g_test_add_func ("/worker/destroy/pending", test_destroy_pending);
  g_test_add_func ("/worker/destroy/last-unref", test_destroy_last_unref);
  g_test_add_func ("/worker/destroy/lingering-group", test_destroy_lingering_group);
  g_test_add_func ("/worker/cancel/right-after-call", test_cancel_before_sent);
  g_test_add_func ("/worker/child/setup", test_child_setup);
  g_test_add_func ("/worker/threads/own-contexts", test_threads);

  return g_test_run ();
}
