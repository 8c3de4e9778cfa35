/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SaProcess: live children whose pipes the caller reads and writes, after
 * GLib's gio/tests/gsubprocess.c (cat, echo, multi, splice, stdin EOF,
 * stderr merge, inherit, pass-fd, terminate, signal, exit1), plus a
 * conversation with bc, 16 MiB both ways through cat, waits, cancels,
 * timeouts, what dropping the last reference and destroying the worker
 * do, and the stdio modes and take_fd() with aspawn.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sa-test-util.h"

static SaSpawnOptions *
options_with (SaStdio stdin_mode,
              SaStdio stdout_mode,
              SaStdio stderr_mode)
{
  SaSpawnOptions *options = sa_spawn_options_new ();

  sa_spawn_options_set_stdin_mode (options, stdin_mode);
  sa_spawn_options_set_stdout_mode (options, stdout_mode);
  sa_spawn_options_set_stderr_mode (options, stderr_mode);
  return options;
}

static SaProcess *
spawn_ok (SaWorker           *worker,
          const char * const *argv,
          SaSpawnOptions     *options)
{
  g_autoptr(GError) error = NULL;
  SaProcess *process = sa_worker_spawn (worker, argv, options, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (process);
  g_assert_cmpint (sa_process_get_pid (process), >, 1);
  return process;
}

static char *
read_all (GInputStream *stream)
{
  GString *all = g_string_new (NULL);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = g_input_stream_read_bytes (stream, 65536, NULL, &error);

      g_assert_no_error (error);
      if (g_bytes_get_size (bytes) == 0)
        break;
      g_string_append_len (all, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    }
  return g_string_free (all, FALSE);
}

static void
wait_check_ok (SaProcess *process)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sa_process_wait_check (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sa_process_get_successful (process));
  g_assert_true (sa_process_get_if_exited (process));
  g_assert_cmpint (sa_process_get_exit_status (process), ==, 0);
}

/* -- GLib's streaming cases --------------------------------------------------- */

static void
test_echo (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "echo", "hello", "world!", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, NULL);
  g_autofree char *out = read_all (sa_process_get_stdout_pipe (process));

  g_assert_cmpstr (out, ==, "hello world!\n");
  g_assert_null (sa_process_get_stdin_pipe (process));
  g_assert_nonnull (sa_process_get_stderr_pipe (process));
  wait_check_ok (process);
  g_assert_null (sa_process_get_identifier (process));
}

static void
test_cat (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_PIPE, SA_STDIO_PIPE, SA_STDIO_PIPE);
  const char *argv[] = { "cat", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, options);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *pid = g_strdup_printf ("%d", (int)sa_process_get_pid (process));

  /* cat cannot end before its stdin does: it is running. */
  g_assert_cmpstr (sa_process_get_identifier (process), ==, pid);
  g_assert_true (g_output_stream_write_all (sa_process_get_stdin_pipe (process),
                                            "hello, cat\n", 11, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (sa_process_get_stdin_pipe (process), NULL, &error));
  out = read_all (sa_process_get_stdout_pipe (process));
  g_assert_cmpstr (out, ==, "hello, cat\n");
  wait_check_ok (process);
  g_assert_null (sa_process_get_identifier (process));
}

/* Closing stdin is the child's end of input. */
static void
test_stdin_eof (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_PIPE, SA_STDIO_PIPE, SA_STDIO_NULL);
  const char *argv[] = { "sh", "-c", "wc -c", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, options);
  g_autofree char *out = NULL;

  g_assert_null (sa_process_get_stderr_pipe (process));
  g_output_stream_close (sa_process_get_stdin_pipe (process), NULL, NULL);
  out = read_all (sa_process_get_stdout_pipe (process));
  g_assert_cmpstr (g_strstrip (out), ==, "0");
  wait_check_ok (process);
}

static void
test_exit1 (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "sh", "-c", "exit 1", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (sa_process_wait (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sa_process_get_if_exited (process));
  g_assert_cmpint (sa_process_get_exit_status (process), ==, 1);
  g_assert_false (sa_process_get_successful (process));

  /* wait_check fails like SaResult.check(). */
  g_assert_false (sa_process_wait_check (process, NULL, &error));
  g_assert_error (error, G_SPAWN_EXIT_ERROR, 1);
}

/* Many lines, read one by one with GDataInputStream while the child runs. */
static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GPtrArray *lines = user_data;
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                          result, NULL, &error);

  g_assert_no_error (error);
  g_ptr_array_add (lines, line);    /* NULL at the end */
  if (line != NULL)
    g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT,
                                         NULL, on_line, lines);
}

static void
test_multi_lines (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "sh", "-c", "for i in $(seq 1 1000); do echo line $i; done", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, NULL);
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (sa_process_get_stdout_pipe (process));
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  g_data_input_stream_read_line_async (data, G_PRIORITY_DEFAULT, NULL, on_line, lines);
  while (lines->len == 0 || g_ptr_array_index (lines, lines->len - 1) != NULL)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (lines->len, ==, 1001);
  g_assert_cmpstr (g_ptr_array_index (lines, 0), ==, "line 1");
  g_assert_cmpstr (g_ptr_array_index (lines, 999), ==, "line 1000");
  wait_check_ok (process);
}

/* Output spliced into a file. */
static void
test_splice (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "seq", "1", "100000", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFileIOStream) io = NULL;
  g_autoptr(GFile) file = g_file_new_tmp ("sa-splice-XXXXXX", &io, &error);
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_no_error (error);
  g_assert_cmpint (g_output_stream_splice (g_io_stream_get_output_stream (G_IO_STREAM (io)),
                                           sa_process_get_stdout_pipe (process),
                                           G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error),
                   ==, 588895);
  g_assert_no_error (error);
  wait_check_ok (process);
  g_assert_true (g_file_load_contents (file, NULL, &contents, &len, NULL, &error));
  g_assert_true (g_str_has_prefix (contents, "1\n2\n3\n"));
  g_assert_true (g_str_has_suffix (contents, "99999\n100000\n"));
  g_file_delete (file, NULL, NULL);
}

/* stderr merged into stdout, in order. */
static void
test_stderr_merge (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_MERGE);
  const char *argv[] = { "sh", "-c", "echo one; echo two >&2; echo three; echo four >&2", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, options);
  g_autofree char *out = read_all (sa_process_get_stdout_pipe (process));

  g_assert_null (sa_process_get_stderr_pipe (process));
  g_assert_cmpstr (out, ==, "one\ntwo\nthree\nfour\n");
  wait_check_ok (process);
}

/* INHERIT gives the child the caller's own fd 1: the test makes that a
 * file of its own for the occasion. */
static void
test_inherit (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_NULL, SA_STDIO_INHERIT, SA_STDIO_INHERIT);
  const char *argv[] = { "sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL };
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(SaProcess) process = NULL;
  int saved_out = dup (1), saved_err = dup (2);
  int fd = g_file_open_tmp ("sa-inherit-XXXXXX", &path, NULL);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (dup2 (fd, 1), ==, 1);
  g_assert_cmpint (dup2 (fd, 2), ==, 2);
  process = spawn_ok (worker, argv, options);
  dup2 (saved_out, 1);
  dup2 (saved_err, 2);
  close (saved_out);
  close (saved_err);
  close (fd);

  g_assert_null (sa_process_get_stdout_pipe (process));
  g_assert_null (sa_process_get_stderr_pipe (process));
  wait_check_ok (process);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "to-stdout\nto-stderr\n");
  g_unlink (path);
}

/* take_fd(): a pipe as fd 3, a file as stdout; the child has exactly
 * 0, 1, 2 and 3. */
static void
test_pass_fd (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *argv[] = { "sh", "-c", "echo via-fd-3 >&3; ls /proc/self/fd; echo done", NULL };
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *from_pipe = NULL;
  g_autoptr(GInputStream) pipe_in = NULL;
  g_autoptr(SaProcess) process = NULL;
  int p[2];
  int file = g_file_open_tmp ("sa-passfd-XXXXXX", &path, NULL);

  g_assert_cmpint (file, >=, 0);
  g_assert_no_errno (pipe2 (p, O_CLOEXEC));
  sa_spawn_options_take_fd (options, p[1], 3);
  sa_spawn_options_take_fd (options, file, 1);
  process = spawn_ok (worker, argv, options);
  g_clear_object (&options);     /* closes our copies of p[1] and file */

  pipe_in = g_unix_input_stream_new (p[0], TRUE);
  from_pipe = read_all (pipe_in);
  g_assert_cmpstr (from_pipe, ==, "via-fd-3\n");
  g_assert_null (sa_process_get_stdout_pipe (process));
  wait_check_ok (process);

  /* ls lists 0, 1, 2, 3 and its own directory fd. */
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "0\n1\n2\n3\n4\ndone\n");
  g_unlink (path);
}

/* -- a conversation, and both ways at once ---------------------------------- */

static char *
read_line (GDataInputStream *data)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (data, NULL, NULL, &error);

  g_assert_no_error (error);
  return line;
}

static void
test_bc_conversation (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_PIPE, SA_STDIO_PIPE, SA_STDIO_PIPE);
  const char *argv[] = { "bc", "-q", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, options);
  g_autoptr(GDataInputStream) answers = g_data_input_stream_new (sa_process_get_stdout_pipe (process));
  GOutputStream *questions = sa_process_get_stdin_pipe (process);
  const struct { const char *q, *a; } talk[] = {
    { "2+2\n", "4" }, { "6*7\n", "42" }, { "2^20\n", "1048576" }, { "10/3\n", "3" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (talk); i++)
    {
      g_autofree char *answer = NULL;

      g_assert_true (g_output_stream_write_all (questions, talk[i].q, strlen (talk[i].q),
                                                NULL, NULL, NULL));
      g_assert_true (g_output_stream_flush (questions, NULL, NULL));
      answer = read_line (answers);
      g_assert_cmpstr (answer, ==, talk[i].a);
    }
  g_output_stream_close (questions, NULL, NULL);
  wait_check_ok (process);
}

typedef struct
{
  guint8  *out;
  gsize    out_len;
  gsize    written;
  GString *in;
  gboolean read_done;
  gboolean write_done;
} BothWays;

static void on_written (GObject *source, GAsyncResult *result, gpointer user_data);
static void on_read (GObject *source, GAsyncResult *result, gpointer user_data);

static void
write_more (GOutputStream *stream,
            BothWays      *both)
{
  g_output_stream_write_async (stream, both->out + both->written,
                               MIN (both->out_len - both->written, 65536),
                               G_PRIORITY_DEFAULT, NULL, on_written, both);
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  BothWays *both = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_output_stream_write_finish (G_OUTPUT_STREAM (source), result, &error);

  g_assert_no_error (error);
  both->written += (gsize)n;
  if (both->written < both->out_len)
    write_more (G_OUTPUT_STREAM (source), both);
  else
    {
      g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
      both->write_done = TRUE;
    }
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  BothWays *both = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  g_assert_no_error (error);
  if (g_bytes_get_size (bytes) == 0)
    {
      both->read_done = TRUE;
      return;
    }
  g_string_append_len (both->in, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 65536, G_PRIORITY_DEFAULT,
                                   NULL, on_read, both);
}

/* 16 MiB through cat, written and read at the same time, asynchronously:
 * no deadlock, every byte back. */
static void
test_cat_both_ways (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_PIPE, SA_STDIO_PIPE, SA_STDIO_NULL);
  const char *argv[] = { "cat", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, options);
  BothWays both = { 0 };

  both.out_len = 16 << 20;
  both.out = g_malloc (both.out_len);
  for (gsize i = 0; i < both.out_len; i++)
    both.out[i] = (guint8)(i * 7 + (i >> 13));
  both.in = g_string_sized_new (both.out_len);

  write_more (sa_process_get_stdin_pipe (process), &both);
  g_input_stream_read_bytes_async (sa_process_get_stdout_pipe (process), 65536,
                                   G_PRIORITY_DEFAULT, NULL, on_read, &both);
  while (!both.read_done || !both.write_done)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (both.in->len, ==, both.out_len);
  g_assert_true (memcmp (both.in->str, both.out, both.out_len) == 0);
  wait_check_ok (process);
  g_string_free (both.in, TRUE);
  g_free (both.out);
}

/* -- signals ------------------------------------------------------------------ */

/* A big producer's pipe grows to 1 MiB once the caller has read 256 KiB
 * of it, for blocking and async reads alike; a small one stays as it
 * was. The stream stays a pollable GUnixInputStream. */
typedef struct
{
  char    buffer[65536];
  gsize   total;
  gboolean all_zero;
  gboolean done;
} AsyncRead;

static void
on_chunk (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  AsyncRead *read = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  g_assert_no_error (error);
  if (n == 0)
    {
      read->done = TRUE;
      return;
    }
  for (gssize i = 0; i < n; i++)
    read->all_zero &= read->buffer[i] == 0;
  read->total += (gsize)n;
  g_input_stream_read_async (G_INPUT_STREAM (source), read->buffer, sizeof read->buffer,
                             G_PRIORITY_DEFAULT, NULL, on_chunk, read);
}

static int
pipe_size (GInputStream *stream)
{
  return fcntl (g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stream)), F_GETPIPE_SZ);
}

static void
test_big_producer_pipe (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *big[] = { "head", "-c", "2097152", "/dev/zero", NULL };
  const char *small[] = { "echo", "small", NULL };
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(SaProcess) quiet = NULL;
  g_autofree char *max_size = NULL;
  g_autofree char *out = NULL;
  GInputStream *stream;
  AsyncRead *read;

  if (!g_file_get_contents ("/proc/sys/fs/pipe-max-size", &max_size, NULL, NULL) ||
      g_ascii_strtoll (max_size, NULL, 10) < 1024 * 1024)
    {
      g_test_skip ("pipes may not grow to 1 MiB here (fs.pipe-max-size)");
      return;
    }

  process = spawn_ok (worker, big, NULL);
  stream = sa_process_get_stdout_pipe (process);
  g_assert_true (G_IS_UNIX_INPUT_STREAM (stream));
  g_assert_true (g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (stream)));
  g_assert_cmpint (pipe_size (stream), <, 1024 * 1024);

  read = g_new0 (AsyncRead, 1);
  read->all_zero = TRUE;
  g_input_stream_read_async (stream, read->buffer, sizeof read->buffer, G_PRIORITY_DEFAULT,
                             NULL, on_chunk, read);
  while (!read->done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (read->total, ==, 2097152);
  g_assert_true (read->all_zero);
  g_assert_cmpint (pipe_size (stream), ==, 1024 * 1024);
  g_free (read);
  wait_check_ok (process);

  quiet = spawn_ok (worker, small, NULL);
  out = read_all (sa_process_get_stdout_pipe (quiet));
  g_assert_cmpstr (out, ==, "small\n");
  g_assert_cmpint (pipe_size (sa_process_get_stdout_pipe (quiet)), <, 1024 * 1024);
  wait_check_ok (quiet);
}


static void
test_signal_trapped (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo ready; "
                                     "while :; do sleep 0.01; done", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, NULL);
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (sa_process_get_stdout_pipe (process));
  g_autofree char *ready = read_line (data);
  g_autofree char *got = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (ready, ==, "ready");
  sa_process_send_signal (process, SIGTERM);
  got = read_line (data);
  g_assert_cmpstr (got, ==, "got TERM");
  g_assert_true (sa_process_wait (process, NULL, &error));
  g_assert_cmpint (sa_process_get_exit_status (process), ==, 3);

  /* After the end, both do nothing. */
  sa_process_send_signal (process, SIGTERM);
  sa_process_force_exit (process);
  g_assert_cmpint (sa_process_get_exit_status (process), ==, 3);
}

/* force_exit() kills the child's whole group, grandchildren included. */
static void
test_force_exit_group (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "sh", "-c", "sleep 100 & echo $!; sleep 100", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, NULL);
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (sa_process_get_stdout_pipe (process));
  g_autofree char *line = read_line (data);
  GPid grandchild = (GPid)g_ascii_strtoll (line, NULL, 10);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (grandchild, >, 1);
  g_assert_true (sa_test_pid_alive (grandchild));
  sa_process_force_exit (process);
  g_assert_true (sa_process_wait (process, NULL, &error));
  g_assert_true (sa_process_get_if_signaled (process));
  g_assert_cmpint (sa_process_get_term_sig (process), ==, SIGKILL);
  sa_test_assert_pid_gone (grandchild, 5000);
  g_assert_false (sa_process_wait_check (process, NULL, &error));
  g_assert_error (error, SA_SPAWN_ERROR, SA_SPAWN_ERROR_SIGNALED);
}

/* -- waits, cancels, timeouts --------------------------------------------------- */

static void
on_result (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

/* Cancelling a wait cancels only the wait: the child lives on, and a new
 * wait sees its end. The cancelled wait keeps nothing of its
 * cancellable: dropped by the caller, it is freed. */
static void
test_wait_cancelled (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_PIPE, SA_STDIO_PIPE, SA_STDIO_NULL);
  const char *argv[] = { "cat", NULL };
  g_autoptr(SaProcess) process = spawn_ok (worker, argv, options);
  GCancellable *cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GAsyncResult *slot = NULL, *second = NULL;

  sa_process_wait_async (process, cancellable, on_result, &slot);
  sa_process_wait_async (process, NULL, on_result, &second);
  g_cancellable_cancel (cancellable);
  sa_test_wait_pointer ((gpointer *)&slot, 5000);
  g_assert_false (sa_process_wait_finish (process, slot, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&slot);

  g_object_add_weak_pointer (G_OBJECT (cancellable), (gpointer *)&cancellable);
  g_object_unref (cancellable);
  g_assert_null (cancellable);

  g_assert_true (sa_test_pid_alive (sa_process_get_pid (process)));
  g_assert_null (second);
  g_output_stream_close (sa_process_get_stdin_pipe (process), NULL, NULL);
  sa_test_wait_pointer ((gpointer *)&second, 5000);
  g_assert_true (sa_process_wait_finish (process, second, &error));
  g_assert_no_error (error);
  g_clear_object (&second);
  g_assert_true (sa_process_get_successful (process));
}

/* Cancelling spawn_async: before the start, nothing runs; a cancel that
 * lands once the child runs (before the callback) kills it. */
static void
test_spawn_cancelled (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sa-process-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "pid", NULL);
  g_autofree char *script = g_strdup_printf ("echo $$ > '%s'; exec sleep 100", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      GAsyncResult *slot = NULL;
      SaProcess *process;
      GPid pid = 0;

      if (round == 0)
        g_cancellable_cancel (cancellable);
      sa_worker_spawn_async (worker, argv, NULL, cancellable, on_result, &slot);
      if (round == 1)
        {
          /* Started (it wrote its pid) but not yet answered here. */
          pid = sa_test_read_pid_file (pid_file, 5000);
          g_cancellable_cancel (cancellable);
        }
      sa_test_wait_pointer ((gpointer *)&slot, 5000);
      process = sa_worker_spawn_finish (worker, slot, &error);
      g_assert_null (process);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_clear_object (&slot);
      /* Killed, whether the cancel reached the command while it started
       * or only its answer (freed unused with the call's task). */
      if (round == 1)
        sa_test_assert_pid_gone (pid, 5000);
      else
        g_assert_false (g_file_test (pid_file, G_FILE_TEST_EXISTS));
    }
  g_unlink (pid_file);
  g_rmdir (dir);
}

static void
test_timeout (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *argv[] = { "sleep", "100", NULL };
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GError) error = NULL;

  sa_spawn_options_set_timeout_ms (options, 100);
  process = spawn_ok (worker, argv, options);
  g_assert_false (sa_process_wait_check (process, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (sa_process_get_timed_out (process));
  g_assert_true (sa_process_get_if_signaled (process));
  g_assert_cmpint (sa_process_get_term_sig (process), ==, SIGTERM);
}

/* -- lifetimes ---------------------------------------------------------------- */

/* The last reference dropped while the child runs: it runs on, sees the
 * end of its stdin, and is reaped by the helper. */
static void
test_drop_last_ref (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = options_with (SA_STDIO_PIPE, SA_STDIO_NULL, SA_STDIO_NULL);
  g_autofree char *dir = g_dir_make_tmp ("sa-process-XXXXXX", NULL);
  g_autofree char *done_file = g_build_filename (dir, "done", NULL);
  g_autofree char *script = g_strdup_printf ("cat >/dev/null; echo eof > '%s'", done_file);
  const char *argv[] = { "sh", "-c", script, NULL };
  SaProcess *process = spawn_ok (worker, argv, options);
  GPid pid = sa_process_get_pid (process);
  GPid helper = sa_worker_get_helper_pid (worker);
  guint fds = sa_test_count_fds ();

  g_assert_true (sa_test_pid_alive (pid));
  g_object_unref (process);
  g_assert_cmpuint (sa_test_count_fds (), <, fds);

  sa_test_assert_pid_gone (pid, 5000);      /* reaped, not a zombie */
  g_assert_true (g_file_test (done_file, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (sa_test_count_children (helper), ==, 0);
  g_unlink (done_file);
  g_rmdir (dir);
}

/* The worker destroyed, or its helper killed, while children stream:
 * their groups die, pending waits fail, no fd is left in the caller. */
static void
run_worker_gone (gboolean destroy)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "sh", "-c", "sleep 100 & while :; do echo tick; sleep 0.01; done", NULL };
  g_autoptr(GError) error = NULL;
  SaProcess *processes[4];
  GAsyncResult *waits[4] = { NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  guint fds = sa_test_count_fds ();

  for (guint i = 0; i < G_N_ELEMENTS (processes); i++)
    {
      g_autoptr(GDataInputStream) data = NULL;
      g_autofree char *tick = NULL;

      processes[i] = spawn_ok (worker, argv, NULL);
      data = g_data_input_stream_new (sa_process_get_stdout_pipe (processes[i]));
      /* The pipe stays open when data goes: no SIGPIPE for the child. */
      g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (data), FALSE);
      tick = read_line (data);
      g_assert_cmpstr (tick, ==, "tick");
      sa_process_wait_async (processes[i], NULL, on_result, &waits[i]);
    }

  if (destroy)
    sa_worker_destroy (worker);
  else
    kill (helper, SIGKILL);

  int code = destroy ? SA_WORKER_ERROR_DESTROYED : SA_WORKER_ERROR_EXITED;

  for (guint i = 0; i < G_N_ELEMENTS (processes); i++)
    {
      sa_test_wait_pointer ((gpointer *)&waits[i], 5000);
      g_assert_false (sa_process_wait_finish (processes[i], waits[i], &error));
      g_assert_error (error, SA_WORKER_ERROR, code);
      g_clear_error (&error);
      sa_test_assert_group_gone (sa_process_get_pid (processes[i]), 5000);
      /* A later wait fails the same way, at once. */
      g_assert_false (sa_process_wait (processes[i], NULL, &error));
      g_assert_error (error, SA_WORKER_ERROR, code);
      g_clear_error (&error);
      g_clear_object (&waits[i]);
      g_object_unref (processes[i]);
    }
  g_assert_cmpuint (sa_test_count_fds (), <=, fds);
}

static void
test_worker_destroyed (void)
{
  run_worker_gone (TRUE);
}

static void
test_helper_killed (void)
{
  run_worker_gone (FALSE);
}

/* -- the stdio modes and take_fd() with aspawn ------------------------------------ */

static void
test_aspawn_modes (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  const char *argv[] = { "sh", "-c", "echo out; echo err >&2; cat", NULL };
  g_autoptr(SaResult) result = NULL;
  g_autoptr(SaSpawnOptions) merge = options_with (SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_MERGE);
  g_autoptr(SaSpawnOptions) nulls = options_with (SA_STDIO_NULL, SA_STDIO_NULL, SA_STDIO_NULL);
  g_autoptr(SaSpawnOptions) piped = options_with (SA_STDIO_PIPE, SA_STDIO_PIPE, SA_STDIO_PIPE);
  g_autoptr(SaSpawnOptions) to_file = sa_spawn_options_new ();
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  int file = g_file_open_tmp ("sa-aspawn-XXXXXX", &path, NULL);

  result = sa_test_run_ok (worker, argv, merge);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "out\nerr\n");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "");
  g_clear_object (&result);

  result = sa_test_run_ok (worker, argv, nulls);
  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "");
  g_clear_object (&result);

  /* a stdin pipe without input: the child reads an empty one */
  result = sa_test_run_ok (worker, argv, piped);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "out\n");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "err\n");
  g_clear_object (&result);

  sa_spawn_options_take_fd (to_file, file, 1);
  result = sa_test_run_ok (worker, argv, to_file);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "err\n");
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "out\n");
  g_unlink (path);
}

/* Combinations that make no sense fail at call time, and the helper does
 * not notice. */
static void
test_invalid_combinations (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  GPid helper = sa_worker_get_helper_pid (worker);
  const char *argv[] = { "true", NULL };
  g_autoptr(GBytes) input = g_bytes_new_static ("x", 1);
  struct {
    SaStdio modes[3];
    gboolean input;
    int take_source, take_target;
    gboolean process;
  } cases[] = {
    { { SA_STDIO_MERGE, SA_STDIO_PIPE, SA_STDIO_PIPE }, FALSE, -2, 0, FALSE },   /* MERGE on stdin */
    { { SA_STDIO_NULL, SA_STDIO_MERGE, SA_STDIO_PIPE }, FALSE, -2, 0, TRUE },    /* MERGE on stdout */
    { { SA_STDIO_INHERIT, SA_STDIO_PIPE, SA_STDIO_PIPE }, TRUE, -2, 0, FALSE },  /* input + INHERIT */
    { { SA_STDIO_PIPE, SA_STDIO_PIPE, SA_STDIO_PIPE }, TRUE, -2, 0, TRUE },      /* input + spawn */
    { { SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_PIPE }, TRUE, 0, 0, FALSE },      /* input + fd 0 */
    { { SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_PIPE }, FALSE, -1, 3, FALSE },    /* negative fd */
    { { SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_PIPE }, FALSE, 0, -5, TRUE },     /* negative target */
    { { SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_PIPE }, FALSE, 0, 1 << 20, FALSE }, /* huge target */
    { { 42, SA_STDIO_PIPE, SA_STDIO_PIPE }, FALSE, -2, 0, FALSE },               /* not a mode */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(SaSpawnOptions) options = options_with (cases[i].modes[0], cases[i].modes[1],
                                                        cases[i].modes[2]);
      g_autoptr(GError) error = NULL;

      g_test_message ("case %u", i);
      if (cases[i].input)
        sa_spawn_options_set_input (options, input);
      if (cases[i].take_source != -2)
        sa_spawn_options_take_fd (options, cases[i].take_source >= 0 ? dup (cases[i].take_source) : -1,
                                  cases[i].take_target);
      if (cases[i].process)
        {
          g_autoptr(SaProcess) process = sa_worker_spawn (worker, argv, options, NULL, &error);

          g_assert_null (process);
        }
      else
        {
          g_autoptr(SaResult) result = sa_test_run (worker, argv, options, NULL, &error);

          g_assert_null (result);
        }
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, helper);
}

/* A program that cannot start fails spawn like aspawn. */
static void
test_spawn_errors (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(GError) error = NULL;
  const char *missing[] = { "no-such-program-sa", NULL };
  g_autoptr(SaProcess) process = sa_worker_spawn (worker, missing, NULL, NULL, &error);

  g_assert_null (process);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/process/echo", test_echo);
  g_test_add_func ("/process/cat", test_cat);
  g_test_add_func ("/process/stdin-eof", test_stdin_eof);
  g_test_add_func ("/process/exit1", test_exit1);
  g_test_add_func ("/process/multi-lines", test_multi_lines);
  g_test_add_func ("/process/splice", test_splice);
  g_test_add_func ("/process/stderr-merge", test_stderr_merge);
  g_test_add_func ("/process/inherit", test_inherit);
  g_test_add_func ("/process/pass-fd", test_pass_fd);
  g_test_add_func ("/process/bc-conversation", test_bc_conversation);
  g_test_add_func ("/process/cat-both-ways", test_cat_both_ways);
  g_test_add_func ("/process/big-producer-pipe", test_big_producer_pipe);
  g_test_add_func ("/process/signal-trapped", test_signal_trapped);
  g_test_add_func ("/process/force-exit-group", test_force_exit_group);
  g_test_add_func ("/process/wait-cancelled", test_wait_cancelled);
  g_test_add_func ("/process/spawn-cancelled", test_spawn_cancelled);
  g_test_add_func ("/process/timeout", test_timeout);
  g_test_add_func ("/process/drop-last-ref", test_drop_last_ref);
  g_test_add_func ("/process/worker-destroyed", test_worker_destroyed);
  g_test_add_func ("/process/helper-killed", test_helper_killed);
  g_test_add_func ("/process/aspawn-modes", test_aspawn_modes);
  g_test_add_func ("/process/invalid-combinations", test_invalid_combinations);
  g_test_add_func ("/process/spawn-errors", test_spawn_errors);

  return g_test_run ();
}
