/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SaSpawnOptions and what a command does with them: cwd, input, timeout,
 * kill signal, output limit, cancellation, exact bytes, large output and
 * the rule for children that leave a descendant holding their output.
 *
 * Every test that starts a child checks that nothing it started is left
 * running (its process group is empty).
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sa-test-util.h"

static SaWorker *worker;

static void
assert_text (GBytes     *bytes,
             const char *expected)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  g_assert_cmpmem (data, len, expected, strlen (expected));
}

/* -- properties ---------------------------------------------------------- */

static guint notifies;

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  notifies++;
}

static void
test_properties (void)
{
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = g_bytes_new_static ("x", 1);
  const char *env[] = { "A=1", NULL };
  g_auto(GStrv) env_prop = NULL;
  guint64 max_output;
  int kill_signal;
  guint timeout;

  g_object_get (options, "env", &env_prop, "kill-signal", &kill_signal,
                "max-output", &max_output, "timeout-ms", &timeout, NULL);
  g_assert_null (env_prop);
  g_assert_cmpint (kill_signal, ==, SIGTERM);
  g_assert_cmpuint (max_output, ==, SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT);
  g_assert_cmpuint (max_output, ==, G_GUINT64_CONSTANT (1) << 30);
  g_assert_cmpuint (timeout, ==, 0);
  g_assert_null (sa_spawn_options_get_cwd (options));
  g_assert_null (sa_spawn_options_get_input (options));

  g_signal_connect (options, "notify", G_CALLBACK (count_notify), NULL);
  notifies = 0;
  sa_spawn_options_set_env (options, env);
  sa_spawn_options_set_env (options, env);
  sa_spawn_options_set_cwd (options, "/tmp");
  sa_spawn_options_set_cwd (options, "/tmp");
  sa_spawn_options_set_input (options, input);
  sa_spawn_options_set_input (options, input);
  sa_spawn_options_set_timeout_ms (options, 5);
  sa_spawn_options_set_timeout_ms (options, 5);
  sa_spawn_options_set_kill_signal (options, SIGINT);
  sa_spawn_options_set_kill_signal (options, SIGINT);
  sa_spawn_options_set_max_output (options, 7);
  sa_spawn_options_set_max_output (options, 7);
  g_assert_cmpuint (notifies, ==, 6);   /* once per real change */

  g_assert_cmpstrv (sa_spawn_options_get_env (options), env);
  g_assert_cmpstr (sa_spawn_options_get_cwd (options), ==, "/tmp");
  g_assert_true (sa_spawn_options_get_input (options) == input);
  g_assert_cmpuint (sa_spawn_options_get_timeout_ms (options), ==, 5);
  g_assert_cmpint (sa_spawn_options_get_kill_signal (options), ==, SIGINT);
  g_assert_cmpuint (sa_spawn_options_get_max_output (options), ==, 7);
}

/* -- cwd ------------------------------------------------------------------ */

static void
test_cwd (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autofree char *expected = g_strdup_printf ("%s\n", dir);
  const char *argv[] = { "pwd", NULL };
  const char *relative[] = { "./here.sh", NULL };
  g_autofree char *script = g_build_filename (dir, "here.sh", NULL);
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_cwd (options, dir);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, expected);
  g_clear_object (&result);

  /* A relative program path is relative to cwd. */
  g_assert_true (g_file_set_contents (script, "#!/bin/sh\necho here\n", -1, NULL));
  g_assert_cmpint (chmod (script, 0755), ==, 0);
  result = sa_test_run_ok (worker, relative, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "here\n");

  sa_spawn_options_set_cwd (options, missing);
  sa_test_assert_fails (worker, argv, options, G_SPAWN_ERROR, G_SPAWN_ERROR_CHDIR, NULL);

  g_assert_true (g_file_set_contents (file, "", -1, NULL));
  sa_spawn_options_set_cwd (options, file);
  sa_test_assert_fails (worker, argv, options, G_SPAWN_ERROR, G_SPAWN_ERROR_CHDIR, NULL);

  g_unlink (file);
  g_unlink (script);
  g_rmdir (dir);
}

/* -- input ---------------------------------------------------------------- */

static GBytes *
random_bytes (gsize size)
{
  guint8 *data = g_malloc (size);
  GRand *rand = g_rand_new_with_seed (size);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8)g_rand_int (rand);
  g_rand_free (rand);
  return g_bytes_new_take (data, size);
}

static void
test_input_binary (void)
{
  const char *argv[] = { "cat", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = random_bytes (1024 * 1024);
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_input (options, input);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_true (g_bytes_equal (sa_result_get_stdout_bytes (result), input));
  g_assert_true (sa_result_check (result, NULL));
}

static void
test_input_empty (void)
{
  const char *argv[] = { "wc", "-c", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = g_bytes_new (NULL, 0);
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_input (options, input);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "0\n");
}

static void
test_input_ignored (void)
{
  const char *ignore[][4] = {
    { "true", NULL },
    { "sleep", "0.2", NULL },
    { "head", "-c", "10", NULL },
  };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = random_bytes (16 * 1024 * 1024);

  sa_spawn_options_set_input (options, input);
  for (guint i = 0; i < G_N_ELEMENTS (ignore); i++)
    {
      g_autoptr(SaResult) result = sa_test_run_ok (worker, ignore[i], options);

      g_assert_true (sa_result_check (result, NULL));
      sa_test_assert_group_gone (sa_result_get_pid (result), 2000);
    }
}

static void
test_input_none_is_dev_null (void)
{
  const char *argv[] = { "cat", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);

  g_assert_cmpstr (sa_result_get_stdout (result), ==, "");
  g_assert_true (sa_result_check (result, NULL));
}

/* -- timeout and kill signal ---------------------------------------------- */

static void
test_timeout_group (void)
{
  const char *argv[] = { "sh", "-c", "echo before; sleep 100 & sleep 100; wait", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;
  g_autoptr(GError) error = NULL;

  sa_spawn_options_set_timeout_ms (options, 300);
  result = sa_test_run_ok (worker, argv, options);

  g_assert_true (sa_result_get_timed_out (result));
  g_assert_true (sa_result_get_if_signaled (result));
  g_assert_cmpint (sa_result_get_term_sig (result), ==, SIGTERM);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "before\n");
  g_assert_false (sa_result_get_successful (result));
  g_assert_false (sa_result_check (result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  sa_test_assert_group_gone (sa_result_get_pid (result), 2000);
}

static void
test_timeout_sigkill_after_grace (void)
{
  const char *argv[] = { "sh", "-c", "trap '' TERM; sleep 100 & sleep 100; wait", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_timeout_ms (options, 200);
  result = sa_test_run_ok (worker, argv, options);

  g_assert_true (sa_result_get_timed_out (result));
  g_assert_cmpint (sa_result_get_term_sig (result), ==, SIGKILL);
  sa_test_assert_group_gone (sa_result_get_pid (result), 3000);
}

static void
test_timeout_kill_signal (void)
{
  const char *argv[] = { "sleep", "100", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_timeout_ms (options, 100);
  sa_spawn_options_set_kill_signal (options, SIGINT);
  result = sa_test_run_ok (worker, argv, options);

  g_assert_true (sa_result_get_timed_out (result));
  g_assert_cmpint (sa_result_get_term_sig (result), ==, SIGINT);
  sa_test_assert_group_gone (sa_result_get_pid (result), 2000);
}

static void
test_timeout_not_reached (void)
{
  const char *argv[] = { "echo", "quick", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_timeout_ms (options, 60000);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_false (sa_result_get_timed_out (result));
  g_assert_true (sa_result_check (result, NULL));
}

static void
test_kill_signal_invalid (void)
{
  const char *argv[] = { "true", NULL };
  const int bad[] = { 0, -1, 9999, 65 };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      sa_spawn_options_set_kill_signal (options, bad[i]);
      sa_test_assert_fails (worker, argv, options, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, NULL);
    }
}

/* -- output limit --------------------------------------------------------- */

static void
test_max_output_yes (void)
{
  const char *argv[] = { "yes", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) expected = g_string_new (NULL);

  while (expected->len < 1000)
    g_string_append (expected, "y\n");
  g_string_truncate (expected, 1000);

  sa_spawn_options_set_max_output (options, 1000);
  result = sa_test_run_ok (worker, argv, options);

  assert_text (sa_result_get_stdout_bytes (result), expected->str);
  g_assert_true (sa_result_get_output_truncated (result));
  g_assert_false (sa_result_check (result, &error));
  g_assert_error (error, SA_SPAWN_ERROR, SA_SPAWN_ERROR_OUTPUT_LIMIT);
  sa_test_assert_group_gone (sa_result_get_pid (result), 3000);
}

static void
test_max_output_edges (void)
{
  const char *exactly[] = { "head", "-c", "1000", "/dev/zero", NULL };
  const char *one_more[] = { "head", "-c", "1001", "/dev/zero", NULL };
  const char *on_stderr[] = { "sh", "-c", "head -c 5000 /dev/zero >&2", NULL };
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_max_output (options, 1000);

  result = sa_test_run_ok (worker, exactly, options);
  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stdout_bytes (result)), ==, 1000);
  g_assert_false (sa_result_get_output_truncated (result));
  g_assert_true (sa_result_check (result, NULL));
  g_clear_object (&result);

  result = sa_test_run_ok (worker, one_more, options);
  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stdout_bytes (result)), ==, 1000);
  g_assert_true (sa_result_get_output_truncated (result));
  g_clear_object (&result);

  result = sa_test_run_ok (worker, on_stderr, options);
  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stderr_bytes (result)), ==, 1000);
  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stdout_bytes (result)), ==, 0);
  g_assert_true (sa_result_get_output_truncated (result));
  sa_test_assert_group_gone (sa_result_get_pid (result), 3000);
  g_clear_object (&result);

  /* One byte. */
  sa_spawn_options_set_max_output (options, 1);
  result = sa_test_run_ok (worker, exactly, options);
  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stdout_bytes (result)), ==, 1);
  g_assert_true (sa_result_get_output_truncated (result));
}

/* -- cancellation --------------------------------------------------------- */

static void
test_cancel_running (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "pid", NULL);
  g_autofree char *script = g_strdup_printf ("echo $$ > %s; sleep 100 & sleep 100", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) async_result = NULL;
  g_autoptr(GError) error = NULL;
  GPid child;

  sa_test_start (worker, argv, NULL, cancellable, &async_result);
  child = sa_test_read_pid_file (pid_file, 10000);
  g_assert_true (sa_test_pid_alive (child));

  g_cancellable_cancel (cancellable);
  sa_test_wait_pointer ((gpointer *)&async_result, 10000);
  g_assert_null (sa_worker_aspawn_finish (worker, async_result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  sa_test_assert_group_gone (child, 3000);

  g_unlink (pid_file);
  g_rmdir (dir);
}

static void
test_cancel_before (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-test-XXXXXX", NULL);
  g_autofree char *marker = g_build_filename (dir, "ran", NULL);
  const char *argv[] = { "touch", marker, NULL };
  const char *after[] = { "true", NULL };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SaResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancellable);
  result = sa_test_run (worker, argv, NULL, cancellable, &error);
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* Commands run in order: once a later one is done, the cancelled one
   * would have run if it was ever sent. */
  result = sa_test_run_ok (worker, after, NULL);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}

/* -- bytes and text ------------------------------------------------------- */

static void
test_binary_output (void)
{
  const char *argv[] = { "printf", "\\000\\377\\376abc\\303\\251", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  gsize len;
  const char *data = g_bytes_get_data (sa_result_get_stdout_bytes (result), &len);

  g_assert_cmpmem (data, len, "\0\377\376abc\303\251", 8);
  /* NUL and invalid bytes become U+FFFD; valid é stays. */
  g_assert_cmpstr (sa_result_get_stdout (result), ==,
                   "\357\277\275\357\277\275\357\277\275abc\303\251");
  g_assert_true (g_utf8_validate (sa_result_get_stdout (result), -1, NULL));
}

static void
test_large_output (void)
{
  const char *argv[] = { "head", "-c", "67108864", "/dev/zero", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  gsize len;
  const guint8 *data = g_bytes_get_data (sa_result_get_stdout_bytes (result), &len);

  g_assert_cmpuint (len, ==, 64 * 1024 * 1024);
  for (gsize i = 0; i < len; i++)
    if (data[i] != 0)
      g_error ("byte %" G_GSIZE_FORMAT " is %u", i, data[i]);
  g_assert_true (sa_result_check (result, NULL));
}

static void
test_both_streams_large (void)
{
  const char *argv[] = { "sh", "-c", "head -c 3000000 /dev/zero >&2 & head -c 5000000 /dev/zero; wait", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);

  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stdout_bytes (result)), ==, 5000000);
  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stderr_bytes (result)), ==, 3000000);
}

/* A file of printable bytes in a pattern that no misplaced or repeated
 * chunk can reproduce, bigger than what stays on the heap. */
static char *
make_pattern_file (gsize   size,
                   GBytes **contents)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (size);
  char *path = NULL;
  char *data = g_malloc (size);
  int fd;

  for (gsize i = 0; i < size; i++)
    data[i] = (char)(' ' + g_rand_int_range (rand, 0, 95));

  fd = g_file_open_tmp ("sa-test-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, data, (gssize)size, &error);
  g_assert_no_error (error);
  *contents = g_bytes_new_take (data, size);
  return path;
}

static void
test_large_output_exact (void)
{
  /* Around 1 MiB (where the buffer moves to its own mapping) and well
   * past it, in whole and with an output limit inside the mapping. */
  const gsize sizes[] = { 1024 * 1024 - 1, 1024 * 1024 + 1, 5 * 1024 * 1024 + 7 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GBytes) expected = NULL;
      g_autofree char *path = make_pattern_file (sizes[i], &expected);
      const char *argv[] = { "cat", path, NULL };
      g_autoptr(SaResult) whole = sa_test_run_ok (worker, argv, NULL);
      g_autoptr(SaResult) limited = NULL;
      g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
      g_autoptr(GBytes) head = g_bytes_new_from_bytes (expected, 0, sizes[i] - 3);
      const char *text;

      g_assert_true (g_bytes_equal (sa_result_get_stdout_bytes (whole), expected));
      g_assert_false (sa_result_get_output_truncated (whole));
      /* The text is the same bytes, ended by a NUL. */
      text = sa_result_get_stdout (whole);
      g_assert_cmpuint (strlen (text), ==, sizes[i]);
      g_assert_cmpmem (text, sizes[i], g_bytes_get_data (expected, NULL), sizes[i]);

      sa_spawn_options_set_max_output (options, sizes[i] - 3);
      limited = sa_test_run_ok (worker, argv, options);
      g_assert_true (g_bytes_equal (sa_result_get_stdout_bytes (limited), head));
      g_assert_true (sa_result_get_output_truncated (limited));
      g_assert_cmpuint (strlen (sa_result_get_stdout (limited)), ==, sizes[i] - 3);

      g_unlink (path);
    }
}

/* -- a descendant keeps the output open ------------------------------------ */

static void
test_daemonizing_child (void)
{
  /* The direct child exits at once; its background sleep keeps stdout
   * open. The result must not wait for it. */
  const char *argv[] = { "sh", "-c", "sleep 100 & echo started", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  GPid group = sa_result_get_pid (result);

  g_assert_cmpstr (sa_result_get_stdout (result), ==, "started\n");
  g_assert_true (sa_result_check (result, NULL));

  /* The descendant is left alone (it is a daemon's right) ... */
  g_assert_cmpuint (sa_test_group_size (group), ==, 1);
  /* ... and this test cleans it up. */
  kill (-group, SIGKILL);
  sa_test_assert_group_gone (group, 2000);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/options/properties", test_properties);
  g_test_add_func ("/options/cwd", test_cwd);
  g_test_add_func ("/options/input/binary", test_input_binary);
  g_test_add_func ("/options/input/empty", test_input_empty);
  g_test_add_func ("/options/input/ignored", test_input_ignored);
  g_test_add_func ("/options/input/none", test_input_none_is_dev_null);
  g_test_add_func ("/options/timeout/group", test_timeout_group);
  g_test_add_func ("/options/timeout/sigkill-after-grace", test_timeout_sigkill_after_grace);
  g_test_add_func ("/options/timeout/kill-signal", test_timeout_kill_signal);
  g_test_add_func ("/options/timeout/not-reached", test_timeout_not_reached);
  g_test_add_func ("/options/kill-signal/invalid", test_kill_signal_invalid);
  g_test_add_func ("/options/max-output/yes", test_max_output_yes);
  g_test_add_func ("/options/max-output/edges", test_max_output_edges);
  g_test_add_func ("/options/cancel/running", test_cancel_running);
  g_test_add_func ("/options/cancel/before", test_cancel_before);
  g_test_add_func ("/result/binary-output", test_binary_output);
  g_test_add_func ("/result/large-output", test_large_output);
  g_test_add_func ("/result/both-streams-large", test_both_streams_large);
  g_test_add_func ("/result/large-output-exact", test_large_output_exact);
  g_test_add_func ("/result/daemonizing-child", test_daemonizing_child);

  worker = sa_worker_new (NULL, &error);
  g_assert_no_error (error);
  ret = g_test_run ();
  g_clear_object (&worker);
  return ret;
}
