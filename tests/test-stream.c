/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A helper reached over a byte stream: a launcher that does not pass fd 3
 * on, so that the helper speaks on its stdin and stdout (as over ssh).
 * Every pipe is relayed; what needs a descriptor of the caller fails with
 * G_IO_ERROR_NOT_SUPPORTED; a helper that speaks another protocol version,
 * or a launcher that writes something else first, is a clear error.
 *
 * The launcher is `sh -c 'exec "$@" 3>&-' sh`, or SA_TEST_LAUNCHER (a
 * shell-quoted argv: tests/remote/test-ssh.py runs this with ssh).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sa-test-util.h"

static GStrv
stream_launcher (void)
{
  const char *env = g_getenv ("SA_TEST_LAUNCHER");
  g_autoptr(GError) error = NULL;
  char **argv = NULL;

  if (env == NULL)
    {
      const char *closes_fd_3[] = { "sh", "-c", "exec \"$@\" 3>&-", "sh", NULL };

      return g_strdupv ((char **) closes_fd_3);
    }
  g_shell_parse_argv (env, NULL, &argv, &error);
  g_assert_no_error (error);
  return argv;
}

static SaWorker *
new_worker_with (const char * const *launcher,
                 GError            **error)
{
  return g_initable_new (SA_TYPE_WORKER, NULL, error, "launcher", launcher, NULL);
}

static SaWorker *
new_stream_worker (void)
{
  g_auto(GStrv) launcher = stream_launcher ();
  g_autoptr(GError) error = NULL;
  SaWorker *worker = new_worker_with ((const char * const *) launcher, &error);

  g_assert_no_error (error);
  return worker;
}

/* Bytes 0..255 over and over: whatever is cut or reordered shows. */
static GBytes *
pattern (gsize size)
{
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 7 + i / 251);
  return g_bytes_new_take (data, size);
}

static void
test_output_input_status (void)
{
  g_autoptr(SaWorker) worker = new_stream_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = pattern (300 * 1024);    /* ten INPUT frames */
  const char *cat_argv[] = { "cat", NULL };
  const char *err_argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
  const char *kill_argv[] = { "sh", "-c", "kill -TERM $$", NULL };
  g_autoptr(SaResult) echoed = NULL;
  g_autoptr(SaResult) failed = NULL;
  g_autoptr(SaResult) killed = NULL;
  GBytes *out;
  g_autoptr(GError) error = NULL;

  sa_spawn_options_set_input (options, input);
  echoed = sa_test_run_ok (worker, cat_argv, options);
  out = sa_result_get_stdout_bytes (echoed);
  g_assert_true (g_bytes_equal (out, input));
  g_assert_true (sa_result_get_successful (echoed));

  failed = sa_test_run_ok (worker, err_argv, NULL);
  g_assert_cmpstr (sa_result_get_stdout (failed), ==, "out\n");
  g_assert_cmpstr (sa_result_get_stderr (failed), ==, "err\n");
  g_assert_false (sa_result_check (failed, &error));
  g_assert_error (error, G_SPAWN_EXIT_ERROR, 3);
  g_clear_error (&error);

  killed = sa_test_run_ok (worker, kill_argv, NULL);
  g_assert_true (sa_result_get_if_signaled (killed));
  g_assert_cmpint (sa_result_get_term_sig (killed), ==, SIGTERM);
}

static void
test_limits_timeout_cancel (void)
{
  g_autoptr(SaWorker) worker = new_stream_worker ();
  g_autoptr(SaSpawnOptions) limited = sa_spawn_options_new ();
  g_autoptr(SaSpawnOptions) timed = sa_spawn_options_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const char *yes_argv[] = { "yes", NULL };
  const char *sleep_argv[] = { "sleep", "10", NULL };
  const char *missing_argv[] = { "/nonexistent/program", NULL };
  g_autoptr(SaResult) truncated = NULL;
  g_autoptr(SaResult) timed_out = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  SaResult *cancelled;

  sa_spawn_options_set_max_output (limited, 100 * 1024);
  truncated = sa_test_run_ok (worker, yes_argv, limited);
  g_assert_true (sa_result_get_output_truncated (truncated));
  g_assert_cmpuint (g_bytes_get_size (sa_result_get_stdout_bytes (truncated)), ==, 100 * 1024);

  sa_spawn_options_set_timeout_ms (timed, 100);
  timed_out = sa_test_run_ok (worker, sleep_argv, timed);
  g_assert_true (sa_result_get_timed_out (timed_out));

  sa_test_start (worker, sleep_argv, NULL, cancellable, &res);
  g_usleep (50 * 1000);
  g_cancellable_cancel (cancellable);
  sa_test_wait_pointer ((gpointer *) &res, 5000);
  cancelled = sa_worker_aspawn_finish (worker, res, &error);
  g_assert_null (cancelled);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  sa_test_assert_fails (worker, missing_argv, NULL, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, NULL);
}

/* A live process's pipes are relayed too: its streams are pipes of the
 * library's I/O thread. */
typedef struct
{
  GOutputStream *in;
  GBytes        *input;
} Writer;

static gpointer
write_and_close (gpointer data)
{
  Writer *writer = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_output_stream_write_all (writer->in, g_bytes_get_data (writer->input, NULL),
                                            g_bytes_get_size (writer->input), NULL, NULL,
                                            &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (writer->in, NULL, &error));
  g_assert_no_error (error);
  return NULL;
}

static void
test_process_streams (void)
{
  g_autoptr(SaWorker) worker = new_stream_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = pattern (200 * 1024);
  const char *cat_argv[] = { "sh", "-c", "cat; echo done >&2", NULL };
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) err = NULL;
  gsize size = g_bytes_get_size (input);
  g_autofree guint8 *out = g_malloc (size + 1);
  Writer writer;
  GThread *thread;
  gsize n = 0;

  sa_spawn_options_set_stdin_mode (options, SA_STDIO_PIPE);
  process = sa_worker_spawn (worker, cat_argv, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sa_process_get_pid (process), >, 1);
  g_assert_true (G_IS_POLLABLE_INPUT_STREAM (sa_process_get_stdout_pipe (process)));

  /* More than the pipes hold: writing and reading go on together. */
  writer.in = sa_process_get_stdin_pipe (process);
  writer.input = input;
  thread = g_thread_new ("writer", write_and_close, &writer);
  g_assert_true (g_input_stream_read_all (sa_process_get_stdout_pipe (process), out, size + 1,
                                          &n, NULL, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_cmpmem (out, n, g_bytes_get_data (input, NULL), size);

  err = g_input_stream_read_bytes (sa_process_get_stderr_pipe (process), 64, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (err, NULL), g_bytes_get_size (err), "done\n", 5);
  g_assert_true (sa_process_wait_check (process, NULL, &error));
  g_assert_no_error (error);
}

/* A process that is signalled while its streams are open; output the
 * caller never reads does not keep anything alive. */
static void
test_process_signal (void)
{
  g_autoptr(SaWorker) worker = new_stream_worker ();
  const char *argv[] = { "sh", "-c", "echo ready; exec sleep 30", NULL };
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  char line[6] = { 0 };
  gsize n = 0;

  process = sa_worker_spawn (worker, argv, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_input_stream_read_all (sa_process_get_stdout_pipe (process), line, 6, &n,
                                          NULL, &error));
  g_assert_cmpmem (line, n, "ready\n", 6);
  sa_process_send_signal (process, SIGTERM);
  g_assert_true (sa_process_wait (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sa_process_get_if_signaled (process));
  g_assert_cmpint (sa_process_get_term_sig (process), ==, SIGTERM);
}

static void
assert_not_supported (SaWorker       *worker,
                      SaSpawnOptions *options,
                      gboolean        live)
{
  const char *argv[] = { "true", NULL };
  g_autoptr(GError) error = NULL;

  if (!live)
    {
      sa_test_assert_fails (worker, argv, options, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "file descriptors");
      return;
    }
  g_assert_null (sa_worker_spawn (worker, argv, options, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

static void
test_descriptors_not_supported (void)
{
  g_autoptr(SaWorker) worker = new_stream_worker ();
  g_autoptr(SaSpawnOptions) with_fd = sa_spawn_options_new ();
  g_autoptr(SaSpawnOptions) inherit = sa_spawn_options_new ();
  g_autoptr(SaSpawnOptions) pty = sa_spawn_options_new ();
  g_autoptr(SaSpawnOptions) pty_fd = sa_spawn_options_new ();
  const char *echo_argv[] = { "echo", "still", "here", NULL };
  g_autoptr(SaResult) after = NULL;
  int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  sa_spawn_options_take_fd (with_fd, fd, 5);
  assert_not_supported (worker, with_fd, FALSE);
  assert_not_supported (worker, with_fd, TRUE);

  sa_spawn_options_set_stdout_mode (inherit, SA_STDIO_INHERIT);
  assert_not_supported (worker, inherit, FALSE);

  sa_spawn_options_set_stdin_mode (pty, SA_STDIO_PTY);
  sa_spawn_options_set_stdout_mode (pty, SA_STDIO_PTY);
  assert_not_supported (worker, pty, TRUE);

  fd = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0)
    {
      sa_spawn_options_take_pty_fd (pty_fd, fd);
      assert_not_supported (worker, pty_fd, TRUE);
    }

  /* The worker goes on. */
  after = sa_test_run_ok (worker, echo_argv, NULL);
  g_assert_cmpstr (sa_result_get_stdout (after), ==, "still here\n");
}

/* Many at once, some cancelled at random moments: every one is answered
 * and the worker goes on. */
static void
test_many_and_cancels (void)
{
  g_autoptr(SaWorker) worker = new_stream_worker ();
  const char *argv[] = { "sh", "-c", "head -c $((RANDOM * 4)) /dev/zero; echo end", NULL };
  GAsyncResult *results[64] = { NULL };
  GCancellable *cancellables[G_N_ELEMENTS (results)];
  guint ok = 0, cancelled = 0;

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      cancellables[i] = g_cancellable_new ();
      sa_test_start (worker, argv, NULL, cancellables[i], &results[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (results); i += 3)
    {
      g_usleep (g_random_int_range (0, 2000));
      g_cancellable_cancel (cancellables[i]);
      g_main_context_iteration (NULL, FALSE);
    }
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(SaResult) result = NULL;
      g_autoptr(GError) error = NULL;

      sa_test_wait_pointer ((gpointer *) &results[i], 30000);
      result = sa_worker_aspawn_finish (worker, results[i], &error);
      if (result != NULL)
        {
          g_assert_true (g_str_has_suffix (sa_result_get_stdout (result), "end\n"));
          ok++;
        }
      else
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          cancelled++;
        }
      g_clear_object (&results[i]);
      g_object_unref (cancellables[i]);
    }
  g_assert_cmpuint (ok + cancelled, ==, G_N_ELEMENTS (results));
  g_assert_cmpuint (ok, >=, G_N_ELEMENTS (results) * 2 / 3);
}

/* A "helper" that speaks protocol version 3 on its stdout: HELLO (length
 * 8, type 1, no fds, id 0; version 3, pid 1), then waits. */
static void
test_version_mismatch (void)
{
  const char *launcher[] = {
    "sh", "-c",
    "printf '\\010\\0\\0\\0\\001\\0\\0\\0\\0\\0\\0\\0\\003\\0\\0\\0\\001\\0\\0\\0'; "
    "exec sleep 10", "sh", NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = new_worker_with (launcher, &error);

  if (G_BYTE_ORDER != G_LITTLE_ENDIAN)
    {
      g_test_skip ("the fake helper's frame is little-endian");
      return;
    }
  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "protocol version 3"));
}

/* A "helper" that greets (version 4) and then sends the header of a
 * 1 MiB frame, which nothing of a helper's can be: the link fails at
 * once, without waiting for the megabyte, and the command is answered
 * with the worker's error while the fake helper still sleeps. */
static void
test_malformed_after_hello (void)
{
  const char *launcher[] = {
    "sh", "-c",
    "printf '\\010\\0\\0\\0\\001\\0\\0\\0\\0\\0\\0\\0\\004\\0\\0\\0\\001\\0\\0\\0'; "
    "printf '\\0\\0\\020\\0\\002\\0\\0\\0\\0\\0\\0\\0'; "
    "exec sleep 60", "sh", NULL
  };
  const char *argv[] = { "true", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(SaResult) result = NULL;
  gint64 start = g_get_monotonic_time ();

  if (G_BYTE_ORDER != G_LITTLE_ENDIAN)
    {
      g_test_skip ("the fake helper's frames are little-endian");
      return;
    }
  worker = new_worker_with (launcher, &error);
  if (worker == NULL)
    {
      /* The fault came before the handshake had been handled. */
      g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
      return;
    }
  g_assert_no_error (error);
  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_true (error->domain == SA_WORKER_ERROR);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);
}

/* What a shell's start-up file may print before the helper runs. */
static void
test_noise_on_stdout (void)
{
  const char *launcher[] = { "sh", "-c", "echo Welcome; exec \"$@\" 3>&-", "sh", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = new_worker_with (launcher, &error);

  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "standard output"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stream/output-input-status", test_output_input_status);
  g_test_add_func ("/stream/limits-timeout-cancel", test_limits_timeout_cancel);
  g_test_add_func ("/stream/process-streams", test_process_streams);
  g_test_add_func ("/stream/process-signal", test_process_signal);
  g_test_add_func ("/stream/descriptors-not-supported", test_descriptors_not_supported);
  g_test_add_func ("/stream/many-and-cancels", test_many_and_cancels);
  if (g_getenv ("SA_TEST_LAUNCHER") == NULL)
    {
      g_test_add_func ("/stream/version-mismatch", test_version_mismatch);
      g_test_add_func ("/stream/noise-on-stdout", test_noise_on_stdout);
      g_test_add_func ("/stream/malformed-after-hello", test_malformed_after_hello);
    }
  return g_test_run ();
}
