/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Terminals and what a GLib child_setup used to do, as options the
 * helper applies: SA_STDIO_PTY (with aspawn and with a live process,
 * through get_pty() and set_window_size()), take_pty_fd() with a
 * terminal of posix_openpt(), new-session, detached, umask,
 * set_rlimit(), program and search-path; and the bad values of each,
 * which fail at call time and leave the helper as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sa-test-util.h"

#define READ_TIMEOUT_MS 10000

static SaSpawnOptions *
terminal_options (void)
{
  SaSpawnOptions *options = sa_spawn_options_new ();

  sa_spawn_options_set_stdin_mode (options, SA_STDIO_PTY);
  sa_spawn_options_set_stdout_mode (options, SA_STDIO_PTY);
  sa_spawn_options_set_stderr_mode (options, SA_STDIO_PTY);
  return options;
}

/* "sid pgid pid" of ps, as three numbers. */
static void
parse_ids (const char *text,
           GPid        ids[3])
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  g_auto(GStrv) words = g_strsplit_set (copy, " \t\r\n", -1);
  guint n = 0;

  for (guint i = 0; words[i] != NULL && n < 3; i++)
    if (words[i][0] != '\0')
      ids[n++] = (GPid)g_ascii_strtoll (words[i], NULL, 10);
  g_assert_cmpuint (n, ==, 3);
}

/* -- a terminal the helper makes ------------------------------------------------ */

static void
test_aspawn_pty (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = terminal_options ();
  const char *argv[] = { "sh", "-c",
                         "test -t 0 && test -t 1 && test -t 2 && echo all-terminals; tty; "
                         "ps -o sid= -o pgid= -o pid= -p $$", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, options);
  const char *out = sa_result_get_stdout (result);
  g_auto(GStrv) lines = g_strsplit (out, "\r\n", -1);
  GPid ids[3];

  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpuint (g_strv_length (lines), ==, 4);   /* and "" after the last \r\n */
  g_assert_cmpstr (lines[0], ==, "all-terminals");
  g_assert_true (g_str_has_prefix (lines[1], "/dev/pts/"));
  /* a session of its own, whose leader it is */
  parse_ids (lines[2], ids);
  g_assert_cmpint (ids[0], ==, ids[2]);
  g_assert_cmpint (ids[1], ==, ids[2]);
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "");
}

static void
test_aspawn_pty_with_stderr_pipe (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = terminal_options ();
  const char *argv[] = { "sh", "-c", "test -t 1 && echo out; test -t 2 || echo err >&2", NULL };
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_stderr_mode (options, SA_STDIO_PIPE);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "out\r\n");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "err\n");
}

/* A child that closes its side of the terminal and goes on: the master
 * stays open until it exits, so that it is not hung up (SIGHUP). */
static void
test_aspawn_pty_closed_early (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *argv[] = { "sh", "-c", "echo hi; exec >&-; sleep 0.3; echo done >&2", NULL };
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_stdout_mode (options, SA_STDIO_PTY);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_false (sa_result_get_if_signaled (result));
  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "hi\r\n");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "done\n");
}

/* The terminal's screen, as the caller reads it: everything until text
 * shows, within READ_TIMEOUT_MS. */
typedef struct
{
  GInputStream *input;
  GString      *seen;
  gboolean      done;
  gboolean      eof;
} Screen;

static void
screen_read_cb (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  Screen *screen = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res,
                                                              &error);

  g_assert_no_error (error);
  if (g_bytes_get_size (bytes) == 0)
    screen->eof = TRUE;
  g_string_append_len (screen->seen, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  screen->done = TRUE;
}

static void
expect (Screen     *screen,
        const char *text)
{
  gint64 deadline = g_get_monotonic_time () + READ_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (strstr (screen->seen->str, text) == NULL)
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND;

      if (left <= 0 || screen->eof)
        g_error ("“%s” did not show on the terminal; it shows “%s”", text, screen->seen->str);
      screen->done = FALSE;
      g_input_stream_read_bytes_async (screen->input, 4096, G_PRIORITY_DEFAULT, NULL,
                                       screen_read_cb, screen);
      sa_test_wait_flag (&screen->done, (guint)left + 1000);
    }
  /* What is after text is for the next expect(). */
  g_string_erase (screen->seen, 0, strstr (screen->seen->str, text) - screen->seen->str +
                  strlen (text));
}

static void
type (SaProcess  *process,
      const char *keys)
{
  g_autoptr(GError) error = NULL;
  GOutputStream *output = g_io_stream_get_output_stream (sa_process_get_pty (process));

  g_assert_true (g_output_stream_write_all (output, keys, strlen (keys), NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_interactive_shell (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = terminal_options ();
  const char *env[] = { "PS1=sa$ ", "TERM=dumb", "PATH=/usr/bin:/bin", NULL };
  const char *argv[] = { "sh", "-i", NULL };
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  Screen screen = { NULL };

  sa_spawn_options_set_env (options, env);
  process = sa_worker_spawn (worker, argv, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sa_process_get_pty (process));
  g_assert_null (sa_process_get_stdout_pipe (process));
  g_assert_null (sa_process_get_stdin_pipe (process));
  screen.input = g_io_stream_get_input_stream (sa_process_get_pty (process));
  screen.seen = g_string_new (NULL);

  /* Each line is typed at a prompt, and its output read to the next. */
  expect (&screen, "sa$ ");
  type (process, "tty\n");
  expect (&screen, "\r\n/dev/pts/");
  expect (&screen, "sa$ ");

  type (process, "stty size\n");
  expect (&screen, "\r\n24 80\r\n");
  expect (&screen, "sa$ ");
  g_assert_true (sa_process_set_window_size (process, 40, 100, &error));
  g_assert_no_error (error);
  type (process, "stty size\n");
  expect (&screen, "\r\n40 100\r\n");
  expect (&screen, "sa$ ");

  /* Ctrl+C reaches the foreground job through the terminal: job control
   * and the controlling terminal work. */
  type (process, "sleep 100\n");
  expect (&screen, "sleep 100\r\n");
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  type (process, "\x03");
  expect (&screen, "sa$ ");
  type (process, "echo status-$?\n");
  expect (&screen, "\r\nstatus-130\r\n");
  expect (&screen, "sa$ ");

  type (process, "exit 5\n");
  g_assert_true (sa_process_wait (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sa_process_get_if_exited (process));
  g_assert_cmpint (sa_process_get_exit_status (process), ==, 5);

  /* Its end of file, once nothing holds the child's side. */
  while (!screen.eof)
    {
      screen.done = FALSE;
      g_input_stream_read_bytes_async (screen.input, 4096, G_PRIORITY_DEFAULT, NULL,
                                       screen_read_cb, &screen);
      sa_test_wait_flag (&screen.done, READ_TIMEOUT_MS);
    }
  g_string_free (screen.seen, TRUE);
}

static void
test_window_size_errors (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = terminal_options ();
  g_autoptr(SaSpawnOptions) pipes = sa_spawn_options_new ();
  const char *argv[] = { "cat", NULL };
  g_autoptr(SaProcess) with_pty = NULL;
  g_autoptr(SaProcess) without = NULL;
  g_autoptr(GError) error = NULL;

  with_pty = sa_worker_spawn (worker, argv, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (sa_process_set_window_size (with_pty, 0, 80, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (sa_process_set_window_size (with_pty, 24, 65536, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  sa_process_force_exit (with_pty);

  /* Once closed, its number may be another terminal's: not resized. */
  g_assert_true (g_io_stream_close (sa_process_get_pty (with_pty), NULL, &error));
  g_assert_no_error (error);
  g_assert_false (sa_process_set_window_size (with_pty, 30, 90, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  sa_spawn_options_set_stdin_mode (pipes, SA_STDIO_PIPE);
  without = sa_worker_spawn (worker, argv, pipes, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (sa_process_get_pty (without));
  g_assert_false (sa_process_set_window_size (without, 24, 80, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  sa_process_force_exit (without);
}

/* -- a terminal the caller makes ------------------------------------------------ */

static int
open_terminal (char **peer_name,
               int   *peer)
{
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);

  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  *peer_name = g_strdup (ptsname (master));
  *peer = open (*peer_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (*peer, >=, 0);
  return master;
}

/* All the master shows until the child's side closes (EIO). */
static char *
read_terminal (int master)
{
  GString *all = g_string_new (NULL);
  char buffer[4096];
  ssize_t n;

  while ((n = read (master, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len (all, buffer, n);
  g_assert_true (n == 0 || errno == EIO);
  return g_string_free (all, FALSE);
}

static void
test_take_pty_fd (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  /* /dev/tty opens only for a process with a controlling terminal */
  const char *argv[] = { "sh", "-c",
                         "tty; echo ctty-works > /dev/tty; ps -o sid= -o pgid= -o pid= -p $$",
                         NULL };
  g_autoptr(SaResult) result = NULL;
  g_autofree char *peer_name = NULL;
  g_autofree char *screen = NULL;
  g_auto(GStrv) lines = NULL;
  int peer;
  int master = open_terminal (&peer_name, &peer);
  GPid ids[3];

  sa_spawn_options_take_pty_fd (options, peer);
  /* the terminal overrides the modes */
  sa_spawn_options_set_stdout_mode (options, SA_STDIO_PIPE);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "");

  g_clear_object (&options);    /* closes the options' peer: the master ends */
  screen = read_terminal (master);
  close (master);
  lines = g_strsplit (screen, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_assert_cmpstr (lines[0], ==, peer_name);
  g_assert_cmpstr (lines[1], ==, "ctty-works");
  parse_ids (lines[2], ids);
  g_assert_cmpint (ids[0], ==, ids[2]);
  g_assert_cmpint (ids[1], ==, ids[2]);
}

static void
test_take_pty_fd_errors (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "true", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  g_autoptr(SaSpawnOptions) not_a_terminal = sa_spawn_options_new ();
  g_autoptr(SaSpawnOptions) with_input = sa_spawn_options_new ();
  g_autoptr(SaSpawnOptions) with_fd = sa_spawn_options_new ();
  g_autoptr(SaSpawnOptions) negative = sa_spawn_options_new ();
  g_autoptr(GBytes) input = g_bytes_new_static ("x", 1);
  g_autofree char *peer_name = NULL;
  int peer;
  int master = open_terminal (&peer_name, &peer);

  sa_spawn_options_take_pty_fd (not_a_terminal, open ("/dev/null", O_RDWR | O_CLOEXEC));
  sa_test_assert_fails (worker, argv, not_a_terminal, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                        "Inappropriate ioctl");

  sa_spawn_options_take_pty_fd (with_input, dup (peer));
  sa_spawn_options_set_input (with_input, input);
  sa_test_assert_fails (worker, argv, with_input, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "take_pty_fd");

  sa_spawn_options_take_pty_fd (with_fd, dup (peer));
  sa_spawn_options_take_fd (with_fd, open ("/dev/null", O_WRONLY | O_CLOEXEC), 2);
  sa_test_assert_fails (worker, argv, with_fd, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "take_fd");

  sa_spawn_options_take_pty_fd (negative, -1);
  sa_test_assert_fails (worker, argv, negative, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "negative");

  close (peer);
  close (master);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, helper);
}

/* -- sessions ----------------------------------------------------------------- */

static void
test_new_session (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *argv[] = { "sh", "-c", "ps -o sid= -o pgid= -o pid= -p $$", NULL };
  g_autoptr(SaResult) result = NULL;
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autofree char *text = NULL;
  GPid ids[3];

  /* Without: a group of its own in the caller's session. */
  result = sa_test_run_ok (worker, argv, NULL);
  parse_ids (sa_result_get_stdout (result), ids);
  g_assert_cmpint (ids[0], ==, getsid (0));
  g_assert_cmpint (ids[1], ==, ids[2]);
  g_clear_object (&result);

  sa_spawn_options_set_new_session (options, TRUE);
  result = sa_test_run_ok (worker, argv, options);
  parse_ids (sa_result_get_stdout (result), ids);
  g_assert_cmpint (ids[0], ==, ids[2]);
  g_assert_cmpint (ids[1], ==, ids[2]);

  /* the same with a live process */
  process = sa_worker_spawn (worker, argv, options, NULL, &error);
  g_assert_no_error (error);
  out = g_input_stream_read_bytes (sa_process_get_stdout_pipe (process), 4096, NULL, &error);
  g_assert_no_error (error);
  text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  parse_ids (text, ids);
  g_assert_cmpint (ids[0], ==, sa_process_get_pid (process));
  g_assert_cmpint (ids[1], ==, sa_process_get_pid (process));
  g_assert_true (sa_process_wait (process, NULL, &error));
  g_assert_no_error (error);
}

/* -- detached children ---------------------------------------------------------- */

/* Starts `sleep 60` detached and returns its pid. */
static GPid
start_detached (SaWorker *worker)
{
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *argv[] = { "sleep", "60", NULL };
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;

  sa_spawn_options_set_detached (options, TRUE);
  sa_spawn_options_set_stdout_mode (options, SA_STDIO_NULL);
  sa_spawn_options_set_stderr_mode (options, SA_STDIO_NULL);
  process = sa_worker_spawn (worker, argv, options, NULL, &error);
  g_assert_no_error (error);
  return sa_process_get_pid (process);
}

static void
assert_outlives (GPid pid)
{
  g_usleep (300 * G_TIME_SPAN_MILLISECOND);
  g_assert_true (sa_test_pid_alive (pid));
  /* ours to clean up */
  kill (pid, SIGKILL);
  sa_test_assert_pid_gone (pid, 5000);
}

static void
test_detached_outlives_destroy (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) control_options = sa_spawn_options_new ();
  const char *control_argv[] = { "sleep", "60", NULL };
  g_autoptr(SaProcess) control = NULL;
  g_autoptr(GError) error = NULL;
  GPid pid = start_detached (worker);

  /* a child that is not detached, to show the destroy did its work */
  control = sa_worker_spawn (worker, control_argv, control_options, NULL, &error);
  g_assert_no_error (error);
  sa_worker_destroy (worker);
  sa_test_assert_pid_gone (sa_process_get_pid (control), 5000);
  assert_outlives (pid);
}

static void
test_detached_outlives_helper (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  GPid pid = start_detached (worker);

  kill (sa_worker_get_helper_pid (worker), SIGKILL);
  assert_outlives (pid);
}

/* The caller is a subprocess of the test, which exits with its worker
 * alive; it says the pid in a file named after the test's pid. */
static void
test_detached_outlives_caller (void)
{
  g_autofree char *pid_file =
    g_strdup_printf ("%s/sa-detached-%d.pid", g_get_tmp_dir (),
                     g_test_subprocess () ? (int)getppid () : (int)getpid ());

  if (g_test_subprocess ())
    {
      g_autoptr(SaWorker) worker = sa_test_new_worker ();
      g_autofree char *text = g_strdup_printf ("%d\n", start_detached (worker));

      g_assert_true (g_file_set_contents (pid_file, text, -1, NULL));
      /* Gone with the worker alive: no destroy, no unref, and no exit
       * handlers (LeakSanitizer's would count what is still in use). */
      _exit (0);
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  assert_outlives (sa_test_read_pid_file (pid_file, 5000));
  g_unlink (pid_file);
}

/* -- umask, resource limits, program, search-path ---------------------------------- */

static void
test_umask (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autofree char *dir = g_dir_make_tmp ("sa-umask-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "made", NULL);
  const char *argv[] = { "sh", "-c", "umask; : > made", NULL };
  g_autoptr(SaResult) result = NULL;
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  sa_spawn_options_set_cwd (options, dir);
  sa_spawn_options_set_umask (options, 027);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "0027\n");
  g_assert_cmpint (g_stat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
  g_unlink (file);

  /* with a live process too */
  sa_spawn_options_set_umask (options, 077);
  process = sa_worker_spawn (worker, argv, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sa_process_wait (process, NULL, &error));
  g_assert_cmpint (g_stat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_unlink (file);
  g_rmdir (dir);
}

static void
test_rlimit (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *argv[] = { "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c", NULL };
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_rlimit (options, RLIMIT_NOFILE, 100, 200);
  sa_spawn_options_set_rlimit (options, RLIMIT_NOFILE, 64, 64);   /* replaces */
  sa_spawn_options_set_rlimit (options, RLIMIT_CORE, 0, SA_RLIMIT_INFINITY);
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "64\n64\n0\n");
}

static void
test_program (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *argv[] = { "not-a-shell", "-c", "echo $0; tr '\\0' ' ' < /proc/$$/cmdline", NULL };
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_program (options, "sh");    /* looked up in PATH */
  result = sa_test_run_ok (worker, argv, options);
  g_assert_cmpstr (sa_result_get_stdout (result), ==,
                   "not-a-shell\nnot-a-shell -c echo $0; tr '\\0' ' ' < /proc/$$/cmdline ");

  /* A program that is not there is named in the error. */
  sa_spawn_options_set_program (options, "/nonexistent/sa-program");
  sa_test_assert_fails (worker, argv, options, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT,
                        "/nonexistent/sa-program");
}

static void
test_search_path (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *bare[] = { "true", NULL };
  const char *full[] = { "/bin/true", NULL };
  g_autoptr(SaResult) result = NULL;

  sa_spawn_options_set_search_path (options, FALSE);
  sa_spawn_options_set_cwd (options, "/");
  sa_test_assert_fails (worker, bare, options, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, "true");
  result = sa_test_run_ok (worker, full, options);
  g_assert_true (sa_result_get_successful (result));
  g_clear_object (&result);

  /* As GLib without G_SPAWN_SEARCH_PATH: the name is a file in the
   * working directory. */
  sa_spawn_options_set_cwd (options, "/bin");
  result = sa_test_run_ok (worker, bare, options);
  g_assert_true (sa_result_get_successful (result));
}

static void
test_bad_values (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "true", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  struct { int resource; gint64 soft, hard; const char *message; } limits[] = {
    { RLIMIT_NOFILE, -5, 10, "negative" },
    { RLIMIT_NOFILE, 10, -2, "negative" },
    { RLIMIT_NOFILE, 20, 10, "above" },
    { 999, 1, 1, "not a resource" },
    { -1, 1, 1, "not a resource" },
  };
  int umasks[] = { -2, 01000, G_MAXINT };
  g_autoptr(SaResult) result = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();

      sa_spawn_options_set_rlimit (options, limits[i].resource, limits[i].soft, limits[i].hard);
      sa_test_assert_fails (worker, argv, options, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            limits[i].message);
    }
  for (guint i = 0; i < G_N_ELEMENTS (umasks); i++)
    {
      g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();

      sa_spawn_options_set_umask (options, umasks[i]);
      sa_test_assert_fails (worker, argv, options, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "umask");
    }
  {
    g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();

    sa_spawn_options_set_program (options, "");
    sa_test_assert_fails (worker, argv, options, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                          "empty");
  }
  {
    g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();

    /* With aspawn, nobody would read this terminal. */
    sa_spawn_options_set_stdin_mode (options, SA_STDIO_PTY);
    sa_test_assert_fails (worker, argv, options, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                          "stdout too");
  }
  {
    g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
    g_autoptr(GBytes) input = g_bytes_new_static ("x", 1);

    sa_spawn_options_set_stdin_mode (options, SA_STDIO_PTY);
    sa_spawn_options_set_stdout_mode (options, SA_STDIO_PTY);
    sa_spawn_options_set_input (options, input);
    sa_test_assert_fails (worker, argv, options, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                          "SA_STDIO_PTY");
  }
  {
    g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();

    /* Above the hard limit the caller has (nr_open caps even root). */
    sa_spawn_options_set_rlimit (options, RLIMIT_NOFILE, 64, SA_RLIMIT_INFINITY);
    sa_test_assert_fails (worker, argv, options, G_SPAWN_ERROR, G_SPAWN_ERROR_PERM,
                          "resource limits");
  }

  /* None of them reached or hurt the helper. */
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, helper);
  result = sa_test_run_ok (worker, argv, NULL);
  g_assert_true (sa_result_get_successful (result));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/terminal/aspawn-pty", test_aspawn_pty);
  g_test_add_func ("/terminal/aspawn-pty-stderr-pipe", test_aspawn_pty_with_stderr_pipe);
  g_test_add_func ("/terminal/aspawn-pty-closed-early", test_aspawn_pty_closed_early);
  g_test_add_func ("/terminal/interactive-shell", test_interactive_shell);
  g_test_add_func ("/terminal/window-size-errors", test_window_size_errors);
  g_test_add_func ("/terminal/take-pty-fd", test_take_pty_fd);
  g_test_add_func ("/terminal/take-pty-fd-errors", test_take_pty_fd_errors);
  g_test_add_func ("/setup/new-session", test_new_session);
  g_test_add_func ("/setup/detached-outlives-destroy", test_detached_outlives_destroy);
  g_test_add_func ("/setup/detached-outlives-helper", test_detached_outlives_helper);
  g_test_add_func ("/setup/detached-outlives-caller", test_detached_outlives_caller);
  g_test_add_func ("/setup/umask", test_umask);
  g_test_add_func ("/setup/rlimit", test_rlimit);
  g_test_add_func ("/setup/program", test_program);
  g_test_add_func ("/setup/search-path", test_search_path);
  g_test_add_func ("/setup/bad-values", test_bad_values);

  return g_test_run ();
}
