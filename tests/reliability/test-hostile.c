/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile input, table-driven: every bad argv, environment, working
 * directory, signal, timeout, limit or input gets its documented error
 * (domain and code) or the right result, and the helper survives each
 * one: the same helper-pid afterwards, and `true` still runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reliab-util.h"

typedef struct
{
  GPtrArray      *argv;          /* NULL: pass a NULL argv */
  SaSpawnOptions *options;
  GCancellable   *cancellable;
} Input;

typedef struct
{
  const char *name;
  void      (*build) (Input *in);
  GQuark    (*domain) (void);   /* the expected error, or NULL for a result */
  int         code;
  void      (*check) (SaResult *result);
} HostileCase;

static SaWorker *worker;
static GPid helper_pid;
static char *tmpdir;

/* -- building inputs ------------------------------------------------------- */

static void
set_argv (Input *in, ...)
{
  va_list args;
  const char *arg;

  in->argv = g_ptr_array_new_with_free_func (g_free);
  va_start (args, in);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (in->argv, g_strdup (arg));
  va_end (args);
}

static SaSpawnOptions *
options (Input *in)
{
  if (in->options == NULL)
    in->options = sa_spawn_options_new ();
  return in->options;
}

static void
set_env (Input *in, ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) env = NULL;
  va_list args;
  const char *entry;

  va_start (args, in);
  while ((entry = va_arg (args, const char *)) != NULL)
    g_strv_builder_add (builder, entry);
  va_end (args);
  env = g_strv_builder_end (builder);
  sa_spawn_options_set_env (options (in), (const char * const *)env);
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static char *
repeat (char c, gsize n)
{
  char *s = g_malloc (n + 1);

  memset (s, c, n);
  s[n] = '\0';
  return s;
}

static void
build_argv_empty (Input *in)            { set_argv (in, NULL); }
static void
build_argv_null (Input *in)             { in->argv = NULL; }
static void
build_program_empty (Input *in)         { set_argv (in, "", NULL); }
static void
build_program_empty_args (Input *in)    { set_argv (in, "", "-c", "true", NULL); }
static void
build_program_directory (Input *in)     { set_argv (in, "/tmp", NULL); }

static void
build_program_directory_in_path (Input *in)
{
  g_autofree char *path = g_strdup_printf ("PATH=%s", tmpdir);

  set_argv (in, "sa-a-directory", NULL);
  set_env (in, path, NULL);
}

static void
build_program_not_executable (Input *in)
{
  g_autofree char *path = tmp_path ("not-executable");

  set_argv (in, path, NULL);
}

static void
build_program_no_shebang (Input *in)
{
  g_autofree char *path = tmp_path ("no-shebang");

  set_argv (in, path, NULL);
}

static void
build_program_missing (Input *in)       { set_argv (in, "/nonexistent/sa-program", NULL); }
static void
build_program_not_in_path (Input *in)   { set_argv (in, "sa-no-such-program-7d1f", NULL); }
static void
build_program_through_file (Input *in)  { set_argv (in, "/etc/passwd/x", NULL); }

static void
build_program_non_utf8 (Input *in)      { set_argv (in, "/nonexistent/sa-\xff\xfe", NULL); }

static void
build_program_name_too_long (Input *in)
{
  g_autofree char *name = repeat ('a', 5000);
  g_autofree char *path = g_strconcat ("/", name, NULL);

  set_argv (in, path, NULL);
}

static void
build_program_symlink_loop (Input *in)
{
  g_autofree char *path = tmp_path ("loop");

  set_argv (in, path, NULL);
}

static void
build_args_over_arg_max (Input *in)
{
  long arg_max = sysconf (_SC_ARG_MAX);
  g_autofree char *chunk = repeat ('x', 64 * 1024);

  set_argv (in, "true", NULL);
  for (long total = 0; total <= arg_max; total += 64 * 1024)
    g_ptr_array_add (in->argv, g_strdup (chunk));
}

static void
build_arg_over_max_arg_strlen (Input *in)
{
  g_autofree char *arg = repeat ('x', 200 * 1024);   /* MAX_ARG_STRLEN: 128 KiB */

  set_argv (in, "true", arg, NULL);
}

static void
build_arg_100mb (Input *in)
{
  set_argv (in, "true", NULL);
  g_ptr_array_add (in->argv, repeat ('x', 100 * 1024 * 1024));
}

static void
build_args_many_empty (Input *in)
{
  set_argv (in, "sh", "-c", "echo $#", "sh", NULL);
  for (guint i = 0; i < 100000; i++)
    g_ptr_array_add (in->argv, g_strdup (""));
}

static void
build_argv_shell_chars (Input *in)
{
  set_argv (in, "printf", "%s|%s", "a\nb'\"$(id)`id`;*", "", NULL);
}

static void
build_argv_non_utf8 (Input *in)         { set_argv (in, "printf", "%s", "\xc3\x28\xff\xfe", NULL); }

static void
build_env_without_equals (Input *in)
{
  set_argv (in, "true", NULL);
  set_env (in, "PATH=/usr/bin:/bin", "NO_EQUALS_SIGN", NULL);
}

static void
build_env_starts_with_equals (Input *in)
{
  set_argv (in, "true", NULL);
  set_env (in, "PATH=/usr/bin:/bin", "=value", NULL);
}

static void
build_env_non_utf8_without_equals (Input *in)
{
  set_argv (in, "true", NULL);
  set_env (in, "PATH=/usr/bin:/bin", "\xff\xfe", NULL);
}

static void
build_env_huge (Input *in)
{
  g_autofree char *value = repeat ('v', 3 * 1024 * 1024);
  g_autofree char *entry = g_strconcat ("HUGE=", value, NULL);

  set_argv (in, "/bin/true", NULL);
  set_env (in, entry, NULL);
}

static void
build_env_many_entries (Input *in)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) env = NULL;

  for (guint i = 0; i < 20000; i++)
    {
      g_autofree char *entry = g_strdup_printf ("SA_VAR_%u=%u", i, i);

      g_strv_builder_add (builder, entry);
    }
  g_strv_builder_add (builder, "PATH=/usr/bin:/bin");
  env = g_strv_builder_end (builder);
  set_argv (in, "sh", "-c", "echo $SA_VAR_0 $SA_VAR_19999", NULL);
  sa_spawn_options_set_env (options (in), (const char * const *)env);
}

static void
build_env_empty (Input *in)
{
  const char *none[] = { NULL };

  set_argv (in, "env", NULL);   /* found in the caller's PATH */
  sa_spawn_options_set_env (options (in), none);
}

static void
build_env_non_utf8 (Input *in)
{
  set_argv (in, "sh", "-c", "printf %s \"$V\"", NULL);
  set_env (in, "PATH=/usr/bin:/bin", "V=\xff\xfe\x80", NULL);
}

static void
build_cwd_is_file (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_cwd (options (in), "/etc/passwd");
}

static void
build_cwd_missing (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_cwd (options (in), "/nonexistent/sa-directory");
}

static void
build_cwd_empty (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_cwd (options (in), "");
}

static void
build_cwd_non_utf8 (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_cwd (options (in), "/tmp/\xff\xfe-missing");
}

static void
build_kill_signal (Input *in, int signum)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_kill_signal (options (in), signum);
}

static void
build_kill_signal_zero (Input *in)      { build_kill_signal (in, 0); }
static void
build_kill_signal_negative (Input *in)  { build_kill_signal (in, -1); }
static void
build_kill_signal_huge (Input *in)      { build_kill_signal (in, 9999); }
static void
build_kill_signal_nsig (Input *in)      { build_kill_signal (in, NSIG); }
static void
build_kill_signal_rtmax (Input *in)     { build_kill_signal (in, SIGRTMAX); }

static void
build_kill_signal_sigstop (Input *in)
{
  set_argv (in, "sleep", "10", NULL);
  sa_spawn_options_set_kill_signal (options (in), SIGSTOP);
  sa_spawn_options_set_timeout_ms (options (in), 50);
}

static void
build_kill_signal_ignored (Input *in)
{
  set_argv (in, "sh", "-c", "trap '' TERM; sleep 10; exit 0", NULL);
  sa_spawn_options_set_timeout_ms (options (in), 100);
}

static void
build_timeout_max (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_timeout_ms (options (in), G_MAXUINT);
}

static void
build_timeout_above_int_max (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_timeout_ms (options (in), (guint)G_MAXINT + 10u);
}

static void
build_timeout_one_ms (Input *in)
{
  set_argv (in, "sleep", "10", NULL);
  sa_spawn_options_set_timeout_ms (options (in), 1);
}

static void
build_max_output_one (Input *in)
{
  set_argv (in, "echo", "hello", NULL);
  sa_spawn_options_set_max_output (options (in), 1);
}

static void
build_max_output_exact (Input *in)
{
  set_argv (in, "echo", "hello", NULL);
  sa_spawn_options_set_max_output (options (in), 6);
}

static void
build_input_large_child_exits (Input *in)
{
  g_autoptr(GBytes) input = g_bytes_new_take (g_malloc0 (4 << 20), 4 << 20);

  set_argv (in, "true", NULL);
  sa_spawn_options_set_input (options (in), input);
}

static void
build_input_empty (Input *in)
{
  g_autoptr(GBytes) input = g_bytes_new_static ("", 0);

  set_argv (in, "cat", NULL);
  sa_spawn_options_set_input (options (in), input);
}

static GBytes *binary_input;

static void
build_input_binary (Input *in)
{
  set_argv (in, "cat", NULL);
  sa_spawn_options_set_input (options (in), binary_input);
}

static void
build_output_nul_bytes (Input *in)      { set_argv (in, "printf", "a\\000b", NULL); }

static void
build_cancelled_before (Input *in)
{
  set_argv (in, "true", NULL);
  in->cancellable = g_cancellable_new ();
  g_cancellable_cancel (in->cancellable);
}

/* The terminal and child_setup options (1.2). */
static void
build_pty_stdin_only (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_stdin_mode (options (in), SA_STDIO_PTY);
}

static void
build_pty_with_input (Input *in)
{
  g_autoptr(GBytes) input = g_bytes_new_static ("x", 1);

  set_argv (in, "true", NULL);
  sa_spawn_options_set_stdin_mode (options (in), SA_STDIO_PTY);
  sa_spawn_options_set_stdout_mode (options (in), SA_STDIO_PTY);
  sa_spawn_options_set_input (options (in), input);
}

static void
build_pty_mode_unknown (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_stdout_mode (options (in), (SaStdio)(SA_STDIO_PTY + 1));
}

static void
build_pty_output (Input *in)
{
  set_argv (in, "sh", "-c", "test -t 1 && printf 'a\\nb\\n'", NULL);
  sa_spawn_options_set_stdout_mode (options (in), SA_STDIO_PTY);
}

static void
build_pty_fd_negative (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_take_pty_fd (options (in), -1);
}

static void
build_pty_fd_not_a_terminal (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_take_pty_fd (options (in), open ("/dev/null", O_RDWR | O_CLOEXEC));
}

static void
build_pty_fd_and_fd (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_take_pty_fd (options (in), open ("/dev/null", O_RDWR | O_CLOEXEC));
  sa_spawn_options_take_fd (options (in), open ("/dev/null", O_RDONLY | O_CLOEXEC), 0);
}

static void
build_umask_negative (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_umask (options (in), -2);
}

static void
build_umask_too_big (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_umask (options (in), 01000);
}

static void
build_umask_all (Input *in)
{
  set_argv (in, "sh", "-c", "umask", NULL);
  sa_spawn_options_set_umask (options (in), 0777);
}

static void
build_rlimit_resource_unknown (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_rlimit (options (in), 4096, 1, 1);
}

static void
build_rlimit_resource_negative (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_rlimit (options (in), -1, 1, 1);
}

static void
build_rlimit_negative (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_rlimit (options (in), RLIMIT_NOFILE, G_MININT64, 10);
}

static void
build_rlimit_soft_above_hard (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_rlimit (options (in), RLIMIT_NOFILE, 11, 10);
}

static void
build_rlimit_hard_raised (Input *in)
{
  set_argv (in, "true", NULL);
  /* above fs.nr_open, which even root cannot pass */
  sa_spawn_options_set_rlimit (options (in), RLIMIT_NOFILE, 64, G_MAXINT64);
}

static void
build_rlimit_core_zero (Input *in)
{
  set_argv (in, "sh", "-c", "ulimit -c; ulimit -Hc", NULL);
  sa_spawn_options_set_rlimit (options (in), RLIMIT_CORE, 0, 0);
}

static void
build_program_option_empty (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_program (options (in), "");
}

static void
build_program_option_missing (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_program (options (in), "/nonexistent/\xff-program");
}

static void
build_no_search_bare_name (Input *in)
{
  set_argv (in, "true", NULL);
  sa_spawn_options_set_search_path (options (in), FALSE);
  sa_spawn_options_set_cwd (options (in), "/");
}

/* -- checking results ------------------------------------------------------ */

static void
check_success (SaResult *result)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sa_result_check (result, &error));
  g_assert_no_error (error);
}

static void
check_many_empty (SaResult *result)
{
  check_success (result);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "100000\n");
}

static void
check_shell_chars (SaResult *result)
{
  check_success (result);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "a\nb'\"$(id)`id`;*|");
}

static void
check_non_utf8 (SaResult *result)
{
  gsize len;
  const char *data = g_bytes_get_data (sa_result_get_stdout_bytes (result), &len);

  check_success (result);
  g_assert_cmpmem (data, len, "\xc3\x28\xff\xfe", 4);
  g_assert_true (g_utf8_validate (sa_result_get_stdout (result), -1, NULL));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd");
}

static void
check_env_non_utf8 (SaResult *result)
{
  gsize len;
  const char *data = g_bytes_get_data (sa_result_get_stdout_bytes (result), &len);

  check_success (result);
  g_assert_cmpmem (data, len, "\xff\xfe\x80", 3);
  g_assert_true (g_utf8_validate (sa_result_get_stdout (result), -1, NULL));
}

static void
check_many_entries (SaResult *result)
{
  check_success (result);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "0 19999\n");
}

static void
check_empty_output (SaResult *result)
{
  check_success (result);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "");
}

static void
check_terminal_output (SaResult *result)
{
  check_success (result);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "a\r\nb\r\n");
}

static void
check_core_zero (SaResult *result)
{
  check_success (result);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "0\n0\n");
}

static void
check_umask_all (SaResult *result)
{
  check_success (result);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "0777\n");
}

static void
check_timed_out_killed (SaResult *result)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sa_result_get_timed_out (result));
  g_assert_true (sa_result_get_if_signaled (result));
  g_assert_cmpint (sa_result_get_term_sig (result), ==, SIGKILL);
  g_assert_false (sa_result_check (result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

static void
check_timed_out_term (SaResult *result)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sa_result_get_timed_out (result));
  g_assert_cmpint (sa_result_get_term_sig (result), ==, SIGTERM);
  g_assert_false (sa_result_check (result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

static void
check_not_timed_out (SaResult *result)
{
  check_success (result);
  g_assert_false (sa_result_get_timed_out (result));
}

static void
check_truncated_to_one (SaResult *result)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sa_result_get_output_truncated (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "h");
  g_assert_false (sa_result_check (result, &error));
  g_assert_error (error, SA_SPAWN_ERROR, SA_SPAWN_ERROR_OUTPUT_LIMIT);
}

static void
check_exact_limit (SaResult *result)
{
  check_success (result);
  g_assert_false (sa_result_get_output_truncated (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "hello\n");
}

static void
check_binary_echo (SaResult *result)
{
  check_success (result);
  g_assert_true (g_bytes_equal (sa_result_get_stdout_bytes (result), binary_input));
}

static void
check_nul_bytes (SaResult *result)
{
  gsize len;
  const char *data = g_bytes_get_data (sa_result_get_stdout_bytes (result), &len);

  check_success (result);
  g_assert_cmpmem (data, len, "a\0b", 3);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "a\xef\xbf\xbd" "b");
}

/* -- the table --------------------------------------------------------------- */

#define IO_ERROR(code)    g_io_error_quark, G_IO_ERROR_##code, NULL
#define SPAWN_ERROR(code) g_spawn_error_quark, G_SPAWN_ERROR_##code, NULL
#define RESULT(check)     NULL, 0, check

static const HostileCase cases[] = {
  { "argv-empty",                build_argv_empty,                IO_ERROR (INVALID_ARGUMENT) },
  { "argv-null",                 build_argv_null,                 IO_ERROR (INVALID_ARGUMENT) },
  { "program-empty",             build_program_empty,             IO_ERROR (INVALID_ARGUMENT) },
  { "program-empty-with-args",   build_program_empty_args,        IO_ERROR (INVALID_ARGUMENT) },
  { "program-directory",         build_program_directory,         SPAWN_ERROR (ACCES) },
  { "program-directory-in-path", build_program_directory_in_path, SPAWN_ERROR (ACCES) },
  { "program-not-executable",    build_program_not_executable,    SPAWN_ERROR (ACCES) },
  { "program-no-shebang",        build_program_no_shebang,        SPAWN_ERROR (NOEXEC) },
  { "program-missing",           build_program_missing,           SPAWN_ERROR (NOENT) },
  { "program-not-in-path",       build_program_not_in_path,       SPAWN_ERROR (NOENT) },
  { "program-non-utf8",          build_program_non_utf8,          SPAWN_ERROR (NOENT) },
  { "program-through-file",      build_program_through_file,      SPAWN_ERROR (NOTDIR) },
  { "program-name-too-long",     build_program_name_too_long,     SPAWN_ERROR (NAMETOOLONG) },
  { "program-symlink-loop",      build_program_symlink_loop,      SPAWN_ERROR (LOOP) },
  { "args-over-arg-max",         build_args_over_arg_max,         SPAWN_ERROR (TOO_BIG) },
  { "arg-over-max-arg-strlen",   build_arg_over_max_arg_strlen,   SPAWN_ERROR (TOO_BIG) },
  { "arg-100mb",                 build_arg_100mb,                 SPAWN_ERROR (TOO_BIG) },
  { "args-100000-empty",         build_args_many_empty,           RESULT (check_many_empty) },
  { "argv-shell-chars",          build_argv_shell_chars,          RESULT (check_shell_chars) },
  { "argv-non-utf8",             build_argv_non_utf8,             RESULT (check_non_utf8) },
  { "env-without-equals",        build_env_without_equals,        IO_ERROR (INVALID_ARGUMENT) },
  { "env-starts-with-equals",    build_env_starts_with_equals,    IO_ERROR (INVALID_ARGUMENT) },
  { "env-non-utf8-no-equals",    build_env_non_utf8_without_equals, IO_ERROR (INVALID_ARGUMENT) },
  { "env-huge",                  build_env_huge,                  SPAWN_ERROR (TOO_BIG) },
  { "env-20000-entries",         build_env_many_entries,          RESULT (check_many_entries) },
  { "env-empty",                 build_env_empty,                 RESULT (check_empty_output) },
  { "env-non-utf8",              build_env_non_utf8,              RESULT (check_env_non_utf8) },
  { "cwd-is-file",               build_cwd_is_file,               SPAWN_ERROR (CHDIR) },
  { "cwd-missing",               build_cwd_missing,               SPAWN_ERROR (CHDIR) },
  { "cwd-empty",                 build_cwd_empty,                 SPAWN_ERROR (CHDIR) },
  { "cwd-non-utf8",              build_cwd_non_utf8,              SPAWN_ERROR (CHDIR) },
  { "kill-signal-zero",          build_kill_signal_zero,          IO_ERROR (INVALID_ARGUMENT) },
  { "kill-signal-negative",      build_kill_signal_negative,      IO_ERROR (INVALID_ARGUMENT) },
  { "kill-signal-9999",          build_kill_signal_huge,          IO_ERROR (INVALID_ARGUMENT) },
  { "kill-signal-nsig",          build_kill_signal_nsig,          IO_ERROR (INVALID_ARGUMENT) },
  { "kill-signal-sigrtmax",      build_kill_signal_rtmax,         RESULT (check_success) },
  { "kill-signal-sigstop",       build_kill_signal_sigstop,       RESULT (check_timed_out_killed) },
  { "kill-signal-ignored",       build_kill_signal_ignored,       RESULT (check_timed_out_killed) },
  { "timeout-max",               build_timeout_max,               RESULT (check_not_timed_out) },
  { "timeout-above-int-max",     build_timeout_above_int_max,     RESULT (check_not_timed_out) },
  { "timeout-1ms",               build_timeout_one_ms,            RESULT (check_timed_out_term) },
  { "max-output-1",              build_max_output_one,            RESULT (check_truncated_to_one) },
  { "max-output-exact",          build_max_output_exact,          RESULT (check_exact_limit) },
  { "input-large-child-exits",   build_input_large_child_exits,   RESULT (check_success) },
  { "input-empty",               build_input_empty,               RESULT (check_empty_output) },
  { "input-binary",              build_input_binary,              RESULT (check_binary_echo) },
  { "output-nul-bytes",          build_output_nul_bytes,          RESULT (check_nul_bytes) },
  { "cancelled-before",          build_cancelled_before,          IO_ERROR (CANCELLED) },
  { "pty-stdin-only",            build_pty_stdin_only,            IO_ERROR (INVALID_ARGUMENT) },
  { "pty-with-input",            build_pty_with_input,            IO_ERROR (INVALID_ARGUMENT) },
  { "pty-mode-unknown",          build_pty_mode_unknown,          IO_ERROR (INVALID_ARGUMENT) },
  { "pty-output",                build_pty_output,                RESULT (check_terminal_output) },
  { "pty-fd-negative",           build_pty_fd_negative,           IO_ERROR (INVALID_ARGUMENT) },
  { "pty-fd-not-a-terminal",     build_pty_fd_not_a_terminal,     SPAWN_ERROR (FAILED) },
  { "pty-fd-and-fd-0",           build_pty_fd_and_fd,             IO_ERROR (INVALID_ARGUMENT) },
  { "umask-negative",            build_umask_negative,            IO_ERROR (INVALID_ARGUMENT) },
  { "umask-too-big",             build_umask_too_big,             IO_ERROR (INVALID_ARGUMENT) },
  { "umask-0777",                build_umask_all,                 RESULT (check_umask_all) },
  { "rlimit-resource-unknown",   build_rlimit_resource_unknown,   IO_ERROR (INVALID_ARGUMENT) },
  { "rlimit-resource-negative",  build_rlimit_resource_negative,  IO_ERROR (INVALID_ARGUMENT) },
  { "rlimit-negative",           build_rlimit_negative,           IO_ERROR (INVALID_ARGUMENT) },
  { "rlimit-soft-above-hard",    build_rlimit_soft_above_hard,    IO_ERROR (INVALID_ARGUMENT) },
  { "rlimit-hard-raised",        build_rlimit_hard_raised,        SPAWN_ERROR (PERM) },
  { "rlimit-core-zero",          build_rlimit_core_zero,          RESULT (check_core_zero) },
  { "program-option-empty",      build_program_option_empty,      IO_ERROR (INVALID_ARGUMENT) },
  { "program-option-missing",    build_program_option_missing,    SPAWN_ERROR (NOENT) },
  { "no-search-bare-name",       build_no_search_bare_name,       SPAWN_ERROR (NOENT) },
};

static void
test_hostile (gconstpointer data)
{
  const HostileCase *hc = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  Input in = { 0 };

  hc->build (&in);
  if (in.argv != NULL)
    g_ptr_array_add (in.argv, NULL);

  result = sa_test_run (worker,
                        in.argv != NULL ? (const char * const *)in.argv->pdata : NULL,
                        in.options, in.cancellable, &error);

  if (hc->domain != NULL)
    {
      g_assert_null (result);
      g_assert_error (error, hc->domain (), hc->code);
      /* A GError message is UTF-8, whatever bytes the input held. */
      g_assert_cmpuint (strlen (error->message), >, 0);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      if (strlen (error->message) < 200)
        g_test_message ("%s", error->message);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_nonnull (result);
      hc->check (result);
    }

  /* The helper survived: same pid, and the next command works. */
  reliab_assert_worker_ok (worker, helper_pid);

  g_clear_pointer (&in.argv, g_ptr_array_unref);
  g_clear_object (&in.options);
  g_clear_object (&in.cancellable);
}

static void
make_fixtures (void)
{
  g_autofree char *dir = tmp_path ("sa-a-directory");
  g_autofree char *not_exec = tmp_path ("not-executable");
  g_autofree char *no_shebang = tmp_path ("no-shebang");
  g_autofree char *loop = tmp_path ("loop");
  g_autofree char *random = g_malloc (1 << 20);

  g_assert_no_errno (g_mkdir (dir, 0755));
  g_assert_true (g_file_set_contents (not_exec, "#!/bin/sh\necho hi\n", -1, NULL));
  g_assert_no_errno (chmod (not_exec, 0644));
  g_assert_true (g_file_set_contents (no_shebang, "echo hi\n", -1, NULL));
  g_assert_no_errno (chmod (no_shebang, 0755));
  g_assert_no_errno (symlink (loop, loop));

  for (guint i = 0; i < (1 << 20); i += 4)
    {
      guint32 r = g_random_int ();
      memcpy (random + i, &r, 4);
    }
  binary_input = g_bytes_new_take (g_steal_pointer (&random), 1 << 20);
}

static void
remove_fixtures (void)
{
  const char *names[] = { "sa-a-directory", "not-executable", "no-shebang", "loop" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = tmp_path (names[i]);

      g_remove (path);
    }
  g_rmdir (tmpdir);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  tmpdir = g_dir_make_tmp ("sa-hostile-XXXXXX", &error);
  g_assert_no_error (error);
  make_fixtures ();

  worker = sa_worker_new (NULL, &error);
  g_assert_no_error (error);
  helper_pid = sa_worker_get_helper_pid (worker);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reliability/hostile/%s", cases[i].name);

      g_test_add_data_func (path, &cases[i], test_hostile);
    }

  ret = g_test_run ();

  g_clear_object (&worker);
  g_clear_pointer (&binary_input, g_bytes_unref);
  remove_fixtures ();
  g_free (tmpdir);
  return ret;
}
