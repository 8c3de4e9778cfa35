/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault injection: the helper is killed, stopped, missing or keeps dying;
 * the caller is killed or runs out of file descriptors; children close
 * their output, write forever, daemonize or leave zombies. No command
 * may lose its answer, nothing the worker started may outlive it, and
 * the caller's resources must come back.
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

/* -- helpers ------------------------------------------------------------ */

typedef struct
{
  guint   exits;
  guint   errors;
  GError *last_exit;
  GError *last_error;
} WorkerEvents;

static void
on_exit_signal (SaWorker     *worker,
                const GError *error,
                WorkerEvents *events)
{
  events->exits++;
  g_clear_error (&events->last_exit);
  if (error != NULL)
    events->last_exit = g_error_copy (error);
}

static void
on_error_signal (SaWorker     *worker,
                 const GError *error,
                 WorkerEvents *events)
{
  events->errors++;
  g_clear_error (&events->last_error);
  events->last_error = g_error_copy (error);
}

static void
watch_events (SaWorker     *worker,
              WorkerEvents *events)
{
  g_signal_connect (worker, "exit", G_CALLBACK (on_exit_signal), events);
  g_signal_connect (worker, "error", G_CALLBACK (on_error_signal), events);
}

static void
clear_events (WorkerEvents *events)
{
  g_clear_error (&events->last_exit);
  g_clear_error (&events->last_error);
}

/* Waits until the worker runs a helper other than old_pid. */
static GPid
wait_new_helper (SaWorker *worker,
                 GPid      old_pid,
                 guint     timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  GPid pid;

  while ((pid = sa_worker_get_helper_pid (worker)) == 0 || pid == old_pid)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("no new helper after %u ms", timeout_ms);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  return pid;
}

static SaWorker *
new_worker (void)
{
  g_autoptr(GError) error = NULL;
  SaWorker *worker = sa_worker_new (NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), >, 0);
  return worker;
}

static guint
count_helper_zombies (GPid helper)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint count = 0;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/stat", name);
      g_autofree char *contents = NULL;
      const char *after_name;
      char state;
      int ppid;

      if (!g_ascii_isdigit (name[0]) ||
          !g_file_get_contents (path, &contents, NULL, NULL) ||
          (after_name = strrchr (contents, ')')) == NULL ||
          sscanf (after_name + 1, " %c %d", &state, &ppid) != 2)
        continue;
      if (ppid == helper && state == 'Z')
        count++;
    }
  return count;
}

/* -- the helper killed under load ---------------------------------------- */

#define LOAD_IN_FLIGHT  1000
#define LOAD_ROUNDS     10

static void
test_helper_sigkill_load (void)
{
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autofree char *marker = g_strdup_printf ("SA_RELIAB_MARK=sigkill-%d-%u",
                                             (int)getpid (), g_random_int ());
  g_auto(GStrv) env = reliab_environ_with (marker);
  const char *quick[] = { "true", NULL };
  const char *slow[] = { "sleep", "100", NULL };
  WorkerEvents events = { 0 };
  guint fds_before = 0, fds_warm = 0;
  gsize heap_warm = 0;
  guint total_results = 0;

  if (reliab_raise_fd_limit (3 * LOAD_IN_FLIGHT + 256) < 3 * LOAD_IN_FLIGHT + 256)
    {
      g_test_skip ("RLIMIT_NOFILE is too low for 1000 commands in flight");
      return;
    }

  sa_spawn_options_set_env (options, (const char * const *)env);
  worker = new_worker ();
  watch_events (worker, &events);
  reliab_assert_worker_ok (worker, sa_worker_get_helper_pid (worker));
  fds_before = sa_test_count_fds ();

  for (guint round = 0; round < LOAD_ROUNDS; round++)
    {
      g_autoptr(ReliabBatch) batch = reliab_batch_new (worker, LOAD_IN_FLIGHT);
      GPid helper = sa_worker_get_helper_pid (worker);
      gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
      guint results = 0;

      for (guint i = 0; i < LOAD_IN_FLIGHT; i++)
        reliab_batch_start (batch, i, i % 2 ? slow : quick, options);

      /* Let a good part of them start and some end, then pull the rug. */
      while (sa_test_count_children (helper) < 50 || batch->done < 10)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          reliab_iterate_for (5);
        }
      g_assert_cmpuint (batch->done, <, LOAD_IN_FLIGHT);
      g_assert_no_errno (kill (helper, SIGKILL));

      reliab_batch_wait (batch, 120000);
      for (guint i = 0; i < LOAD_IN_FLIGHT; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(SaResult) result = reliab_batch_finish (batch, i, &error);

          if (result != NULL)
            {
              /* Only a quick one can have finished before the kill. */
              g_assert_true (i % 2 == 0);
              g_assert_true (sa_result_get_successful (result));
              results++;
            }
          else
            {
              g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
              g_assert_cmpstr (error->message, ==, "worker process exited unexpectedly");
            }
        }
      total_results += results;

      /* A new helper, one `exit` per death, and no survivor. */
      wait_new_helper (worker, helper, 10000);
      while (events.exits < round + 1)
        reliab_iterate_for (5);
      g_assert_cmpuint (events.exits, ==, round + 1);
      g_assert_error (events.last_exit, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
      g_assert_cmpuint (events.errors, ==, 0);
      reliab_assert_marked_gone (marker, 5000);

      if (round == 0)
        {
          fds_warm = sa_test_count_fds ();
          heap_warm = reliab_heap_in_use ();
        }
      g_test_message ("round %u: %u results, %u errors, fds %u, heap %" G_GSIZE_FORMAT,
                      round, results, LOAD_IN_FLIGHT - results,
                      sa_test_count_fds (), reliab_heap_in_use ());
    }

  g_test_message ("%u of %u commands finished before their helper was killed",
                  total_results, LOAD_IN_FLIGHT * LOAD_ROUNDS);
  g_assert_cmpuint (sa_test_count_fds (), ==, fds_warm);
  g_assert_cmpuint (sa_test_count_fds (), ==, fds_before);
  /* 9000 more commands: a leak of 100 bytes each would show. */
  g_assert_cmpint ((gssize)(reliab_heap_in_use () - heap_warm), <, 512 * 1024);

  reliab_assert_worker_ok (worker, sa_worker_get_helper_pid (worker));
  clear_events (&events);
}

/* -- the helper stopped and continued --------------------------------------- */

static void
test_helper_sigstop (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(ReliabBatch) batch = reliab_batch_new (worker, 200);
  GPid helper = sa_worker_get_helper_pid (worker);
  WorkerEvents events = { 0 };

  watch_events (worker, &events);

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *arg = g_strdup_printf ("%u", i);
      const char *argv[] = { "echo", arg, NULL };

      reliab_batch_start (batch, i, argv, NULL);
    }
  g_assert_no_errno (kill (helper, SIGSTOP));
  for (guint i = 100; i < 200; i++)
    {
      g_autofree char *arg = g_strdup_printf ("%u", i);
      const char *argv[] = { "echo", arg, NULL };

      reliab_batch_start (batch, i, argv, NULL);
    }
  reliab_iterate_for (300);
  g_assert_no_errno (kill (helper, SIGCONT));

  reliab_batch_wait (batch, 60000);
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = reliab_batch_finish (batch, i, &error);
      g_autofree char *expected = g_strdup_printf ("%u\n", i);

      g_assert_no_error (error);
      g_assert_true (sa_result_get_successful (result));
      g_assert_cmpstr (sa_result_get_stdout (result), ==, expected);
    }

  g_assert_cmpuint (events.exits, ==, 0);
  reliab_assert_worker_ok (worker, helper);
  clear_events (&events);
}

/* -- the helper missing or not executable ------------------------------------ */

static void
assert_helper_rejected (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;

  /* Natively posix_spawn() reports the exec error; under valgrind (which
   * runs its CLONE_VFORK child as a fork) the helper is seen to exit
   * before its HELLO instead. Both name the path. */
  g_setenv ("SPAWN_ASYNC_HELPER", path, TRUE);
  worker = sa_worker_new (NULL, &error);
  reliab_use_real_helper ();

  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, path));
  g_test_message ("%s", error->message);
}

static void
test_helper_missing (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "no-such-helper", NULL);

  reliab_real_helper ();
  assert_helper_rejected (path);
  g_rmdir (dir);
}

static void
test_helper_not_executable (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "spawn-async-helper", NULL);
  g_autofree char *contents = NULL;
  gsize len;

  /* The real helper's bytes, without the execute bit. */
  g_assert_true (g_file_get_contents (reliab_real_helper (), &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, (gssize)len, NULL));
  g_assert_no_errno (chmod (path, 0644));
  assert_helper_rejected (path);

  /* A directory is no better. */
  assert_helper_rejected (dir);

  g_unlink (path);
  g_rmdir (dir);
}

/* -- a helper that keeps dying ---------------------------------------------- */

static void
assert_gives_up (const char *mode,
                 gboolean    kill_first)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *log = g_build_filename (dir, "starts", NULL);
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) early = NULL;
  g_autoptr(SaResult) result = NULL;
  const char *argv[] = { "true", NULL };
  WorkerEvents events = { 0 };
  guint starts;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  reliab_use_fake_helper (mode, log);
  worker = sa_worker_new (NULL, &error);
  g_assert_no_error (error);
  watch_events (worker, &events);

  if (kill_first)
    kill (sa_worker_get_helper_pid (worker), SIGKILL);

  /* A command sent meanwhile gets an answer, whatever it is. */
  sa_test_start (worker, argv, NULL, NULL, &early);

  while (events.errors == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      reliab_iterate_for (10);
    }
  sa_test_wait_pointer ((gpointer *)&early, 10000);
  result = sa_worker_aspawn_finish (worker, early, &error);
  g_assert_null (result);
  g_assert_true (g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED) ||
                 g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED));
  g_clear_error (&error);

  g_assert_cmpuint (events.errors, ==, 1);
  g_assert_error (events.last_error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (events.last_error->message, SA_FAKE_HELPER_PATH));
  g_test_message ("error: %s", events.last_error->message);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, 0);

  /* A few tries, no busy loop, and no more tries afterwards. */
  starts = reliab_count_lines (log);
  g_test_message ("%u starts, %u exit signals", starts, events.exits);
  g_assert_cmpuint (starts, >=, 2);
  g_assert_cmpuint (starts, <=, 10);
  reliab_iterate_for (1500);
  g_assert_cmpuint (reliab_count_lines (log), ==, starts);

  /* New commands fail at once with the same error. */
  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, events.last_error->message);

  reliab_use_real_helper ();
  g_clear_object (&worker);
  g_unlink (log);
  g_rmdir (dir);
  clear_events (&events);
}

static void
test_helper_dies_after_hello (void)
{
  assert_gives_up ("hello-exit", FALSE);
}

static void
test_helper_exits_at_restart (void)
{
  assert_gives_up ("real-then-exit", TRUE);
}

static void
test_helper_exits_before_hello (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *log = g_build_filename (dir, "starts", NULL);
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;

  reliab_use_fake_helper ("exit", log);
  worker = sa_worker_new (NULL, &error);
  reliab_use_real_helper ();

  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, SA_FAKE_HELPER_PATH));
  g_assert_cmpuint (reliab_count_lines (log), ==, 1);
  g_unlink (log);
  g_rmdir (dir);
}

/* A helper that is gone before the library has even sent its HELLO:
 * sa_worker_new() must fail, never hang. The window is short, so try
 * many times, with a watchdog. */
typedef struct
{
  gint     progress;
  gboolean stop;
} Watchdog;

static gpointer
watchdog_main (gpointer data)
{
  Watchdog *watchdog = data;
  gint last = -1;
  gint64 last_change = g_get_monotonic_time ();

  while (!g_atomic_int_get (&watchdog->stop))
    {
      gint now = g_atomic_int_get (&watchdog->progress);

      if (now != last)
        {
          last = now;
          last_change = g_get_monotonic_time ();
        }
      else if (g_get_monotonic_time () - last_change > 20 * G_USEC_PER_SEC)
        g_error ("sa_worker_new() hung at try %d with a helper that exits at once", now);
      g_usleep (10000);
    }
  return NULL;
}

static void
test_helper_gone_before_hello_sent (void)
{
  Watchdog watchdog = { 0 };
  GThread *thread = g_thread_new ("watchdog", watchdog_main, &watchdog);

  reliab_use_fake_helper ("exit", NULL);
  for (guint i = 0; i < 300; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaWorker) worker = sa_worker_new (NULL, &error);

      g_assert_null (worker);
      g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
      g_atomic_int_inc (&watchdog.progress);
    }
  reliab_use_real_helper ();

  g_atomic_int_set (&watchdog.stop, TRUE);
  g_thread_join (thread);
}

/* -- the caller killed -------------------------------------------------------- */

static void
test_caller_sigkill (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) client = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  GPid children[5];
  GPid helper;

  client = reliab_spawn_tied (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             SA_CALLER_CLIENT_PATH, dir, "5", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (client));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "helper "));
  helper = (GPid)g_ascii_strtoll (line + strlen ("helper "), NULL, 10);
  g_assert_cmpint (helper, >, 1);

  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    {
      g_autofree char *name = g_strdup_printf ("child-%u.pid", i);
      g_autofree char *path = g_build_filename (dir, name, NULL);

      children[i] = sa_test_read_pid_file (path, 20000);
      g_assert_true (sa_test_pid_alive (children[i]));
      g_unlink (path);
    }
  g_assert_true (sa_test_pid_alive (helper));

  g_subprocess_send_signal (client, SIGKILL);
  g_subprocess_wait (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_signaled (client));

  sa_test_assert_pid_gone (helper, 1000);
  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    sa_test_assert_group_gone (children[i], 1000);
  g_rmdir (dir);
}

/* -- out of file descriptors ------------------------------------------------- */

static void
test_caller_out_of_fds (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GArray) taken = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  const char *argv[] = { "echo", "hello", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  guint fds_before = sa_test_count_fds ();
  struct rlimit saved, low;
  int fd;

  reliab_assert_worker_ok (worker, helper);

  if (reliab_under_valgrind ())
    {
      /* Its limit is not the kernel's: the pipes would still arrive. */
      g_test_skip ("valgrind virtualizes RLIMIT_NOFILE");
      return;
    }

  /* Every descriptor taken: the helper's pipes cannot be received. */
  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, &saved));
  low = saved;
  low.rlim_cur = fds_before + 64;
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &low));
  while ((fd = dup (0)) >= 0)
    g_array_append_val (taken, fd);
  g_assert_cmpint (errno, ==, EMFILE);

  for (guint i = 0; i < 3; i++)
    {
      result = sa_test_run (worker, argv, NULL, NULL, &error);
      g_assert_null (result);
      g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE);
      g_test_message ("%s", error->message);
      g_clear_error (&error);
    }

  for (guint i = 0; i < taken->len; i++)
    close (g_array_index (taken, int, i));
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &saved));

  /* The worker goes on with the same helper. */
  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "hello\n");
  reliab_assert_worker_ok (worker, helper);
  g_assert_cmpuint (sa_test_count_fds (), ==, fds_before);
}

static void
test_helper_out_of_fds (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = g_bytes_new_static ("x", 1);
  const char *argv[] = { "echo", "hello", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  struct rlimit saved, low;

  reliab_assert_worker_ok (worker, helper);

  g_assert_no_errno (prlimit (helper, RLIMIT_NOFILE, NULL, &saved));
  low = saved;
  low.rlim_cur = sa_test_count_fds_of (helper);
  g_assert_no_errno (prlimit (helper, RLIMIT_NOFILE, &low, NULL));

  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE);
  g_assert_nonnull (strstr (error->message, "echo"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* With stdin too */
  sa_spawn_options_set_input (options, input);
  result = sa_test_run (worker, argv, options, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE);
  g_clear_error (&error);

  g_assert_no_errno (prlimit (helper, RLIMIT_NOFILE, &saved, NULL));
  result = sa_test_run (worker, argv, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "hello\n");
  reliab_assert_worker_ok (worker, helper);
}

/* -- children that misbehave ---------------------------------------------------- */

static void
test_child_closes_output (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  g_autoptr(GBytes) input = NULL;
  const char *close_stdout[] = { "sh", "-c", "exec >&-; sleep 0.1; echo err >&2; exit 3", NULL };
  const char *close_all[] = { "sh", "-c", "exec >&- 2>&- <&-; sleep 0.3; exit 4", NULL };
  const char *close_stdin[] = { "sh", "-c", "exec <&-; sleep 0.1; echo done", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);

  result = sa_test_run (worker, close_stdout, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sa_result_get_exit_status (result), ==, 3);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "");
  g_assert_cmpstr (sa_result_get_stderr (result), ==, "err\n");
  g_clear_object (&result);

  /* Every pipe closed long before the exit: the result waits for it. */
  result = sa_test_run (worker, close_all, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sa_result_get_if_exited (result));
  g_assert_cmpint (sa_result_get_exit_status (result), ==, 4);
  g_clear_object (&result);

  /* 8 MiB of input to a child that closes its stdin. */
  input = g_bytes_new_take (g_malloc0 (8 << 20), 8 << 20);
  sa_spawn_options_set_input (options, input);
  result = sa_test_run (worker, close_stdin, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "done\n");

  reliab_assert_worker_ok (worker, helper);
}

static void
test_child_writes_forever (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  const char *yes_out[] = { "yes", NULL };
  /* exec: a shell that waited for yes could exit 141 after its SIGPIPE,
   * before the kill reached the group. */
  const char *yes_err[] = { "sh", "-c", "exec yes error >&2", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);

  sa_spawn_options_set_max_output (options, 1 << 20);

  for (guint stream = 0; stream < 2; stream++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result =
        sa_test_run (worker, stream == 0 ? yes_out : yes_err, options, NULL, &error);
      GBytes *bytes;
      gsize len;
      const char *data;

      g_assert_no_error (error);
      g_assert_true (sa_result_get_output_truncated (result));
      bytes = stream == 0 ? sa_result_get_stdout_bytes (result)
                          : sa_result_get_stderr_bytes (result);
      data = g_bytes_get_data (bytes, &len);
      g_assert_cmpuint (len, ==, 1 << 20);
      g_assert_true (g_str_has_prefix (data, stream == 0 ? "y\ny\n" : "error\nerror\n"));
      g_assert_true (sa_result_get_if_signaled (result));
      g_assert_true (sa_result_get_term_sig (result) == SIGTERM ||
                     sa_result_get_term_sig (result) == SIGPIPE);
      g_assert_false (sa_result_check (result, &error));
      g_assert_error (error, SA_SPAWN_ERROR, SA_SPAWN_ERROR_OUTPUT_LIMIT);
    }

  reliab_assert_worker_ok (worker, helper);
}

static void
test_child_daemonizes (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "daemon.pid", NULL);
  g_autofree char *script =
    g_strdup_printf ("sleep 30 & echo $! > '%s'; echo started", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed_ms;
  GPid daemon;

  /* The background sleep holds stdout open for 30 s; the result must
   * not wait for it (DRAIN_TIMEOUT_MS after the shell exits). */
  result = sa_test_run (worker, argv, NULL, NULL, &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_no_error (error);
  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "started\n");
  g_test_message ("result after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint (elapsed_ms, <, 10000);

  daemon = sa_test_read_pid_file (pid_file, 5000);
  g_assert_true (sa_test_pid_alive (daemon));
  kill (daemon, SIGKILL);
  sa_test_assert_pid_gone (daemon, 5000);
  g_unlink (pid_file);
  g_rmdir (dir);

  reliab_assert_worker_ok (worker, helper);
}

static void
test_child_makes_zombies (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  /* sleep never reaps the five children it inherits from the shell. */
  const char *argv[] = { "sh", "-c", "for i in 1 2 3 4 5; do true & done; exec sleep 0.3", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);

  for (guint i = 0; i < 5; i++)
    {
      result = sa_test_run (worker, argv, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (sa_result_get_successful (result));
      g_clear_object (&result);
    }

  g_assert_cmpuint (count_helper_zombies (helper), ==, 0);
  g_assert_cmpuint (sa_test_count_children (helper), ==, 0);
  reliab_assert_worker_ok (worker, helper);
}

/* -- the helper vanishing while the library writes ------------------------------ */

static void
test_no_sigpipe_large_argv (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autofree char *big = g_malloc (8 << 20);
  const char *argv[] = { "echo", big, NULL };
  WorkerEvents events = { 0 };

  signal (SIGPIPE, SIG_DFL);
  memset (big, 'a', (8 << 20) - 1);
  big[(8 << 20) - 1] = '\0';
  watch_events (worker, &events);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GAsyncResult) pending = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = NULL;
      GPid helper = sa_worker_get_helper_pid (worker);

      /* A stopped helper does not read: the 8 MiB frame stays half sent. */
      g_assert_no_errno (kill (helper, SIGSTOP));
      sa_test_start (worker, argv, NULL, NULL, &pending);
      reliab_iterate_for (100);
      g_assert_null (pending);
      g_assert_no_errno (kill (helper, SIGKILL));

      sa_test_wait_pointer ((gpointer *)&pending, 30000);
      result = sa_worker_aspawn_finish (worker, pending, &error);
      g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
      wait_new_helper (worker, helper, 10000);
    }

  reliab_assert_worker_ok (worker, sa_worker_get_helper_pid (worker));
  clear_events (&events);
}

static void
test_no_sigpipe_large_input (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GBytes) input = g_bytes_new_take (g_malloc0 (16 << 20), 16 << 20);
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "child.pid", NULL);
  g_autofree char *script = g_strdup_printf ("echo $$ > '%s'; exec sleep 100", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };

  signal (SIGPIPE, SIG_DFL);
  sa_spawn_options_set_input (options, input);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GAsyncResult) pending = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = NULL;
      GPid helper = sa_worker_get_helper_pid (worker);
      GPid child;

      /* The child never reads: the library is stuck writing its input
       * when the helper (and with it the child) goes away. */
      sa_test_start (worker, argv, options, NULL, &pending);
      child = sa_test_read_pid_file (pid_file, 20000);
      g_unlink (pid_file);
      reliab_iterate_for (50);
      g_assert_null (pending);
      g_assert_no_errno (kill (helper, SIGKILL));

      sa_test_wait_pointer ((gpointer *)&pending, 30000);
      result = sa_worker_aspawn_finish (worker, pending, &error);
      g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
      sa_test_assert_pid_gone (child, 5000);
      wait_new_helper (worker, helper, 10000);
    }

  g_rmdir (dir);
  reliab_assert_worker_ok (worker, sa_worker_get_helper_pid (worker));
}

/* -- destroy under load ------------------------------------------------------ */

static void
test_destroy_under_load (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(ReliabBatch) batch = reliab_batch_new (worker, 300);
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autofree char *marker = g_strdup_printf ("SA_RELIAB_MARK=destroy-%d-%u",
                                             (int)getpid (), g_random_int ());
  g_auto(GStrv) env = reliab_environ_with (marker);
  const char *slow[] = { "sleep", "100", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  guint fds_before = sa_test_count_fds ();

  sa_spawn_options_set_env (options, (const char * const *)env);
  for (guint i = 0; i < batch->n; i++)
    reliab_batch_start (batch, i, slow, options);
  while (sa_test_count_children (helper) < 50)
    reliab_iterate_for (5);

  sa_worker_destroy (worker);
  reliab_batch_wait (batch, 30000);
  for (guint i = 0; i < batch->n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = reliab_batch_finish (batch, i, &error);

      g_assert_null (result);
      g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
    }
  sa_test_assert_pid_gone (helper, 2000);
  reliab_assert_marked_gone (marker, 2000);
  g_assert_cmpuint (sa_test_count_fds (), <, fds_before);
}


/* -- the helper killed while a command drains, or after it ended ------------ */

static GPid
parent_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *contents = NULL;
  const char *after_name;
  int ppid = 0;

  if (g_file_get_contents (path, &contents, NULL, NULL) &&
      (after_name = strrchr (contents, ')')) != NULL)
    sscanf (after_name + 1, " %*c %d", &ppid);
  return ppid;
}

/* sh exits at once with "hi", its background sleep holds stdout: the
 * command drains. The helper is killed then. The result is complete and
 * must be delivered; the sleep must die with the helper. */
static void
test_helper_killed_while_draining (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "pids", NULL);
  g_autofree char *script =
    g_strdup_printf ("sleep 30 & echo $! > '%s'; echo hi", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  GAsyncResult *slot = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;
  GPid background;

  sa_test_start (worker, argv, NULL, NULL, &slot);
  background = sa_test_read_pid_file (pid_file, 5000);
  /* sh is gone (reaped by the helper, EXITED sent) once the helper, its
   * subreaper, has adopted the background job. */
  while (parent_of (background) != helper)
    reliab_iterate_for (2);
  reliab_iterate_for (20);
  g_assert_null (slot);    /* still draining: the sleep holds stdout */

  kill (helper, SIGKILL);
  sa_test_wait_pointer ((gpointer *)&slot, 10000);
  result = sa_worker_aspawn_finish (worker, slot, &error);
  g_assert_no_error (error);
  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "hi\n");
  sa_test_assert_pid_gone (background, 2000);

  g_clear_object (&slot);
  g_unlink (pid_file);
  g_rmdir (dir);
  reliab_assert_worker_ok (worker, wait_new_helper (worker, helper, 5000));
}

/* A finished command left a background job in its group (no pipe held):
 * it is part of the command, and dies when the helper does, and when the
 * worker is destroyed after the helper died. */
static void
run_lingering_group (gboolean destroy)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "pids", NULL);
  g_autofree char *script =
    g_strdup_printf ("sleep 30 >/dev/null 2>&1 & echo $! > '%s'", pid_file);
  const char *argv[] = { "sh", "-c", script, NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);
  GPid helper = sa_worker_get_helper_pid (worker);
  GPid background = sa_test_read_pid_file (pid_file, 5000);

  g_assert_true (sa_result_get_successful (result));
  g_assert_true (sa_test_pid_alive (background));

  if (destroy)
    sa_worker_destroy (worker);
  else
    kill (helper, SIGKILL);
  sa_test_assert_pid_gone (background, 2000);

  g_unlink (pid_file);
  g_rmdir (dir);
  if (!destroy)
    reliab_assert_worker_ok (worker, wait_new_helper (worker, helper, 5000));
}

static void
test_helper_killed_lingering_group (void)
{
  run_lingering_group (FALSE);
}

static void
test_destroy_lingering_group (void)
{
  run_lingering_group (TRUE);
}

/* -- a stopped or silent helper does not hold up the caller ---------------- */

/* destroy() with the helper stopped (SIGSTOP): it does not wait for it,
 * and every child and background job is gone all the same. */
static void
test_destroy_stopped_helper (void)
{
  g_autoptr(SaWorker) worker = new_worker ();
  g_autoptr(ReliabBatch) batch = reliab_batch_new (worker, 20);
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autofree char *marker = g_strdup_printf ("SA_RELIAB_MARK=stopped-%d-%u",
                                             (int)getpid (), g_random_int ());
  g_auto(GStrv) env = reliab_environ_with (marker);
  const char *argv[] = { "sh", "-c", "sleep 100 & sleep 100", NULL };
  GPid helper = sa_worker_get_helper_pid (worker);
  gint64 start, elapsed;

  sa_spawn_options_set_env (options, (const char * const *)env);
  for (guint i = 0; i < batch->n; i++)
    reliab_batch_start (batch, i, argv, options);
  while (reliab_count_marked (marker) < 2 * batch->n)
    reliab_iterate_for (5);

  g_assert_no_errno (kill (helper, SIGSTOP));
  start = g_get_monotonic_time ();
  sa_worker_destroy (worker);
  elapsed = g_get_monotonic_time () - start;
  g_test_message ("destroy took %" G_GINT64_FORMAT " us with the helper stopped", elapsed);
  /* It used to wait 1 s for the helper; the design bound is 100 ms. */
  g_assert_cmpint (elapsed, <, 500 * 1000);

  reliab_batch_wait (batch, 10000);
  for (guint i = 0; i < batch->n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaResult) result = reliab_batch_finish (batch, i, &error);

      g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
    }
  sa_test_assert_pid_gone (helper, 2000);
  reliab_assert_marked_gone (marker, 2000);
}

static gpointer
cancel_later (gpointer data)
{
  g_usleep (50 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

/* sa_worker_new() waiting for a helper that never answers its handshake:
 * a cancel from another thread ends the wait at once (it used to wait the
 * 5 s of the handshake timeout). */
static void
test_new_cancelled_silent_helper (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  GThread *thread;
  gint64 start, elapsed;

  reliab_use_fake_helper ("silent", NULL);
  thread = g_thread_new ("cancel", cancel_later, cancellable);
  start = g_get_monotonic_time ();
  worker = sa_worker_new (cancellable, &error);
  elapsed = g_get_monotonic_time () - start;
  g_thread_join (thread);
  reliab_use_real_helper ();

  g_test_message ("sa_worker_new() returned after %" G_GINT64_FORMAT " us", elapsed);
  g_assert_null (worker);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (elapsed, <, 2 * G_USEC_PER_SEC);
}

static void
on_new_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static SaWorker *
new_async (GCancellable  *cancellable,
           gboolean       cancel_at_once,
           GError       **error)
{
  GAsyncResult *slot = NULL;
  SaWorker *worker;

  sa_worker_new_async (G_PRIORITY_DEFAULT, cancellable, on_new_done, &slot);
  if (cancel_at_once)
    g_cancellable_cancel (cancellable);
  sa_test_wait_pointer ((gpointer *)&slot, 10000);
  worker = sa_worker_new_finish (slot, error);
  g_object_unref (slot);
  return worker;
}

/* sa_worker_new_async(): a working worker; a helper that cannot start; a
 * silent helper, cancelled. */
static void
test_new_async (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = new_async (NULL, FALSE, &error);
  g_autofree char *dir = g_dir_make_tmp ("sa-reliab-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (dir, "no-such-helper", NULL);

  g_assert_no_error (error);
  g_assert_cmpint (sa_worker_get_helper_pid (worker), >, 0);
  reliab_assert_worker_ok (worker, sa_worker_get_helper_pid (worker));
  g_clear_object (&worker);

  g_setenv ("SPAWN_ASYNC_HELPER", missing, TRUE);
  worker = new_async (NULL, FALSE, &error);
  reliab_use_real_helper ();
  g_assert_null (worker);
  g_assert_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);
  g_rmdir (dir);

  reliab_use_fake_helper ("silent", NULL);
  worker = new_async (cancellable, TRUE, &error);
  reliab_use_real_helper ();
  g_assert_null (worker);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  reliab_real_helper ();

  g_test_add_func ("/reliability/faults/helper-sigkill-load", test_helper_sigkill_load);
  g_test_add_func ("/reliability/faults/helper-sigstop", test_helper_sigstop);
  g_test_add_func ("/reliability/faults/helper-missing", test_helper_missing);
  g_test_add_func ("/reliability/faults/helper-not-executable", test_helper_not_executable);
  g_test_add_func ("/reliability/faults/helper-exits-before-hello", test_helper_exits_before_hello);
  g_test_add_func ("/reliability/faults/helper-gone-before-hello-sent", test_helper_gone_before_hello_sent);
  g_test_add_func ("/reliability/faults/helper-dies-after-hello", test_helper_dies_after_hello);
  g_test_add_func ("/reliability/faults/helper-exits-at-restart", test_helper_exits_at_restart);
  g_test_add_func ("/reliability/faults/caller-sigkill", test_caller_sigkill);
  g_test_add_func ("/reliability/faults/caller-out-of-fds", test_caller_out_of_fds);
  g_test_add_func ("/reliability/faults/helper-out-of-fds", test_helper_out_of_fds);
  g_test_add_func ("/reliability/faults/child-closes-output", test_child_closes_output);
  g_test_add_func ("/reliability/faults/child-writes-forever", test_child_writes_forever);
  g_test_add_func ("/reliability/faults/child-daemonizes", test_child_daemonizes);
  g_test_add_func ("/reliability/faults/child-makes-zombies", test_child_makes_zombies);
  g_test_add_func ("/reliability/faults/no-sigpipe-large-argv", test_no_sigpipe_large_argv);
  g_test_add_func ("/reliability/faults/no-sigpipe-large-input", test_no_sigpipe_large_input);
  g_test_add_func ("/reliability/faults/destroy-under-load", test_destroy_under_load);
  g_test_add_func ("/reliability/faults/helper-killed-while-draining", test_helper_killed_while_draining);
  g_test_add_func ("/reliability/faults/helper-killed-lingering-group", test_helper_killed_lingering_group);
  g_test_add_func ("/reliability/faults/destroy-lingering-group", test_destroy_lingering_group);
  g_test_add_func ("/reliability/faults/destroy-stopped-helper", test_destroy_stopped_helper);
  g_test_add_func ("/reliability/faults/new-cancelled-silent-helper", test_new_cancelled_silent_helper);
  g_test_add_func ("/reliability/faults/new-async", test_new_async);

  return g_test_run ();
}
