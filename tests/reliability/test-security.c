/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Security: what a child and the helper inherit from the caller (only
 * fds 0-2, its credentials, no signal state), how they are connected (an
 * unnamed socketpair), and that environment values never reach a log.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <sys/stat.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reliab-util.h"

static char *
run_stdout (SaWorker           *worker,
            const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_test_run (worker, argv, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (sa_result_get_successful (result));
  return g_strdup (sa_result_get_stdout (result));
}

/* Kills the helper and waits for the worker to start another. */
static void
wait_restart (SaWorker *worker)
{
  GPid old = sa_worker_get_helper_pid (worker);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_no_errno (kill (old, SIGKILL));
  while (sa_worker_get_helper_pid (worker) == 0 || sa_worker_get_helper_pid (worker) == old)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      reliab_iterate_for (5);
    }
}

/* -- file descriptors ------------------------------------------------------- */

static GArray *
leak_fds (guint n)
{
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));

  for (guint i = 0; i < n; i++)
    {
      int fd = dup (2);   /* dup() never sets FD_CLOEXEC */

      g_assert_cmpint (fd, >=, 0);
      g_array_append_val (fds, fd);
    }
  return fds;
}

static void
close_fds (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_unref (fds);
}

/* `ls -l /proc/self/fd` in the child: 0, 1 and 2, plus the directory ls
 * itself opened to list them. */
static void
assert_child_fds (SaWorker *worker)
{
  const char *argv[] = { "ls", "-l", "/proc/self/fd", NULL };
  g_autofree char *out = run_stdout (worker, argv);
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  g_autoptr(GRegex) regex = g_regex_new (" (\\d+) -> (.*)$", 0, 0, NULL);
  guint seen = 0, own_dir = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GMatchInfo) match = NULL;
      g_autofree char *fd = NULL;
      g_autofree char *target = NULL;

      if (!g_regex_match (regex, lines[i], 0, &match))
        continue;
      fd = g_match_info_fetch (match, 1);
      target = g_match_info_fetch (match, 2);

      if (g_str_equal (fd, "0"))
        g_assert_cmpstr (target, ==, "/dev/null");
      else if (g_str_equal (fd, "1") || g_str_equal (fd, "2"))
        g_assert_true (g_str_has_prefix (target, "pipe:["));
      else
        {
          /* ls's own handle on /proc/<its pid>/fd */
          g_assert_true (g_str_has_prefix (target, "/proc/"));
          g_assert_true (g_str_has_suffix (target, "/fd"));
          own_dir++;
          continue;
        }
      seen++;
    }
  g_assert_cmpuint (seen, ==, 3);
  g_assert_cmpuint (own_dir, <=, 1);
}

static void
test_child_fds (void)
{
  GArray *before = NULL, *after = NULL;
  g_autoptr(SaWorker) worker = NULL;
  GPid helper;

  reliab_raise_fd_limit (4096);

  /* 500 leaked fds before the worker exists, 500 after. */
  before = leak_fds (500);
  worker = sa_test_new_worker ();
  after = leak_fds (500);

  assert_child_fds (worker);

  /* The helper: 0-2, its socket (3), its signalfd, the two /dev/null
   * it gives children (for reading and for writing) and the epoll set of
   * the pipes it relays, nothing more. */
  helper = sa_worker_get_helper_pid (worker);
  g_assert_cmpuint (sa_test_count_fds_of (helper), <=, 8);

  /* A helper started now, with 1000 fds leaked, is no different. */
  wait_restart (worker);
  g_assert_cmpuint (sa_test_count_fds_of (sa_worker_get_helper_pid (worker)), <=, 8);
  assert_child_fds (worker);

  close_fds (before);
  close_fds (after);
}

/* -- the socket ------------------------------------------------------------ */

static void
test_socketpair (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  GPid helper = sa_worker_get_helper_pid (worker);
  g_autofree char *link_path = g_strdup_printf ("/proc/%d/fd/3", helper);
  g_autofree char *target = g_file_read_link (link_path, NULL);
  g_autofree char *table = NULL;
  g_autofree char *inode = NULL;
  g_auto(GStrv) lines = NULL;
  guint found = 0;

  g_assert_nonnull (target);
  g_assert_true (g_str_has_prefix (target, "socket:["));
  inode = g_strndup (target + strlen ("socket:["), strlen (target) - strlen ("socket:[]"));

  /* Num RefCount Protocol Flags Type St Inode [Path] */
  g_assert_true (g_file_get_contents ("/proc/net/unix", &table, NULL, NULL));
  lines = g_strsplit (table, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GPtrArray) words = g_ptr_array_new ();

      for (guint j = 0; fields[j] != NULL; j++)
        if (fields[j][0] != '\0')
          g_ptr_array_add (words, fields[j]);
      if (words->len < 7 || !g_str_equal (g_ptr_array_index (words, 6), inode))
        continue;

      found++;
      /* No path and no abstract name (they would be an 8th field). */
      g_assert_cmpuint (words->len, ==, 7);
      /* SOCK_SEQPACKET, not listening (no __SO_ACCEPTCON flag) */
      g_assert_cmpstr (g_ptr_array_index (words, 4), ==, "0005");
      g_assert_cmpint (g_ascii_strtoull (g_ptr_array_index (words, 3), NULL, 16) & 0x10000, ==, 0);
    }
  g_assert_cmpuint (found, ==, 1);
}

/* -- credentials ------------------------------------------------------------ */

static const char *credential_fields[] = {
  "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
  "NoNewPrivs", "Seccomp",
};

static char *
status_field (const char *status,
              const char *field)
{
  g_auto(GStrv) lines = g_strsplit (status, "\n", -1);
  gsize len = strlen (field);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strncmp (lines[i], field, len) == 0 && lines[i][len] == ':')
      return g_strstrip (g_strdup (lines[i] + len + 1));
  return NULL;
}

static void
test_credentials (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  GPid helper = sa_worker_get_helper_pid (worker);
  const char *argv[] = { "cat", "/proc/self/status", NULL };
  g_autofree char *child_status = run_stdout (worker, argv);
  g_autofree char *own_status = NULL;
  g_autofree char *helper_path = g_strdup_printf ("/proc/%d/status", helper);
  g_autofree char *helper_status = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/status", &own_status, NULL, NULL));
  g_assert_true (g_file_get_contents (helper_path, &helper_status, NULL, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (credential_fields); i++)
    {
      g_autofree char *own = status_field (own_status, credential_fields[i]);
      g_autofree char *of_helper = status_field (helper_status, credential_fields[i]);
      g_autofree char *of_child = status_field (child_status, credential_fields[i]);

      g_test_message ("%s: %s", credential_fields[i], own);
      g_assert_nonnull (own);
      g_assert_cmpstr (of_helper, ==, own);
      g_assert_cmpstr (of_child, ==, own);
    }
}

/* -- signals ----------------------------------------------------------------- */

static void
assert_no_signal_state (const char *status,
                        const char *who)
{
  g_autofree char *ignored = status_field (status, "SigIgn");
  g_autofree char *blocked = status_field (status, "SigBlk");

  g_test_message ("%s: SigIgn %s, SigBlk %s", who, ignored, blocked);
  g_assert_cmpstr (ignored, ==, "0000000000000000");
  g_assert_cmpstr (blocked, ==, "0000000000000000");
}

static void
test_signals_reset (void)
{
  g_autoptr(SaWorker) worker = NULL;
  const char *argv[] = { "cat", "/proc/self/status", NULL };
  struct sigaction ignore = { .sa_handler = SIG_IGN }, old_int, old_term;
  sigset_t usr1, old_mask;

  /* A caller with SIGINT and SIGTERM ignored and SIGUSR1 blocked; the
   * worker's thread inherits that mask. */
  sigaction (SIGINT, &ignore, &old_int);
  sigaction (SIGTERM, &ignore, &old_term);
  sigemptyset (&usr1);
  sigaddset (&usr1, SIGUSR1);
  pthread_sigmask (SIG_BLOCK, &usr1, &old_mask);

  worker = sa_test_new_worker ();
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *status = run_stdout (worker, argv);
      g_autofree char *helper_path =
        g_strdup_printf ("/proc/%d/status", sa_worker_get_helper_pid (worker));
      g_autofree char *helper_status = NULL;
      g_autofree char *helper_ignored = NULL;

      assert_no_signal_state (status, "child");

      /* The helper ignores nothing either (it blocks only what its
       * signalfd reads). */
      g_assert_true (g_file_get_contents (helper_path, &helper_status, NULL, NULL));
      helper_ignored = status_field (helper_status, "SigIgn");
      g_assert_cmpstr (helper_ignored, ==, "0000000000000000");

      /* Again with a helper restarted under the same caller state. */
      wait_restart (worker);
    }

  g_clear_object (&worker);
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  pthread_sigmask (SIG_SETMASK, &old_mask, NULL);
}

/* -- environment values and logs ------------------------------------------------ */

static GString *captured_log;
static guint captured_library_messages;
static GMutex log_lock;

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  g_mutex_lock (&log_lock);
  if (captured_log == NULL)
    {
      g_mutex_unlock (&log_lock);
      return g_log_writer_default (level, fields, n_fields, user_data);
    }
  for (gsize i = 0; i < n_fields; i++)
    {
      if (fields[i].length < 0)
        g_string_append (captured_log, fields[i].value);
      else
        g_string_append_len (captured_log, fields[i].value, fields[i].length);
      g_string_append_c (captured_log, '\t');
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN") &&
          g_strcmp0 (fields[i].value, "SpawnAsync") == 0)
        captured_library_messages++;
    }
  g_string_append_c (captured_log, '\n');
  g_mutex_unlock (&log_lock);
  return G_LOG_WRITER_HANDLED;
}

static void
test_env_not_logged (void)
{
  g_autofree char *secret = g_strdup_printf ("s3cr3t-%08x%08x", g_random_int (), g_random_int ());
  g_autofree char *entry = g_strconcat ("SA_SECRET=", secret, NULL);
  g_auto(GStrv) env = reliab_environ_with (entry);
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GString) errors = g_string_new (NULL);
  g_autofree char *dir = g_dir_make_tmp ("sa-security-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "daemon.pid", NULL);
  g_autofree char *daemon_script = g_strdup_printf ("sleep 30 & echo $! > '%s'", pid_file);
  const char *commands[][5] = {
    { "sh", "-c", "echo \"$SA_SECRET\"; echo \"$SA_SECRET\" >&2", NULL },
    { "sh", "-c", "exit 3", NULL },
    { "sa-no-such-program", NULL },
    { "sleep", "10", NULL },                    /* times out */
    { "yes", NULL },                            /* output limit */
    { "sh", "-c", daemon_script, NULL },        /* drain timeout */
  };
  const char *unsupported[] = { "true", NULL };
  const char *bad_env[] = { "PATH=/bin", "=also-not-logged", NULL };
  g_autoptr(GAsyncResult) pending = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const char *slow[] = { "sleep", "10", NULL };
  GPid daemon;

  g_mutex_lock (&log_lock);
  captured_log = g_string_new (NULL);
  g_mutex_unlock (&log_lock);
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);

  /* Explicit env, and NULL env (the caller's, holding the secret too). */
  g_setenv ("SA_SECRET", secret, TRUE);
  worker = sa_test_new_worker ();
  sa_spawn_options_set_env (options, (const char * const *)env);
  sa_spawn_options_set_timeout_ms (options, 50);
  sa_spawn_options_set_max_output (options, 4096);

  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(SaResult) result =
          sa_test_run (worker, commands[i], pass == 0 ? options : NULL, NULL, &error);

        if (error != NULL)
          g_string_append_printf (errors, "%s\n", error->message);
        else if (!sa_result_check (result, &error))
          g_string_append_printf (errors, "%s\n", error->message);
        if (pass == 1 && i == 3)
          break;      /* without the timeout, not this one */
      }

  /* Cancelled, and failed when the helper dies. */
  sa_test_start (worker, slow, options, cancellable, &pending);
  reliab_iterate_for (20);
  g_cancellable_cancel (cancellable);
  sa_test_wait_pointer ((gpointer *)&pending, 10000);
  g_clear_object (&pending);
  sa_test_start (worker, slow, NULL, NULL, &pending);
  reliab_iterate_for (50);
  wait_restart (worker);
  sa_test_wait_pointer ((gpointer *)&pending, 10000);
  g_clear_object (&pending);

  {
    g_autoptr(SaSpawnOptions) bad = sa_spawn_options_new ();
    g_autoptr(GError) error = NULL;
    g_autoptr(SaResult) result = NULL;

    sa_spawn_options_set_env (bad, bad_env);
    result = sa_test_run (worker, unsupported, bad, NULL, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
  sa_worker_destroy (worker);

  g_unsetenv ("SA_SECRET");
  g_unsetenv ("G_MESSAGES_DEBUG");

  daemon = sa_test_read_pid_file (pid_file, 5000);
  kill (daemon, SIGKILL);
  g_unlink (pid_file);
  g_rmdir (dir);

  g_test_message ("%u library log messages, %" G_GSIZE_FORMAT " bytes", captured_library_messages,
                  captured_log->len);
  /* The log was really captured, at every level, with the debug ones. */
  g_assert_cmpuint (captured_library_messages, >=, 10);
  g_assert_nonnull (strstr (captured_log->str, "started as pid"));
  g_assert_nonnull (strstr (captured_log->str, "sa-no-such-program"));
  g_assert_null (strstr (captured_log->str, secret));
  g_assert_null (strstr (errors->str, secret));

  g_mutex_lock (&log_lock);
  g_string_free (g_steal_pointer (&captured_log), TRUE);
  g_mutex_unlock (&log_lock);
}


/* -- the environment of a privileged caller --------------------------------- */

#define UNPRIVILEGED_USER "sa-unpriv-test"

/* Runs the secure caller as the unprivileged user, with an environment
 * that names a helper and a translation directory of that user's. */
static char *
run_secure_caller (const char *program,
                   uid_t       uid,
                   gid_t       gid,
                   const char *helper,
                   const char *localedir)
{
  g_autofree char *uid_arg = g_strdup_printf ("--reuid=%u", (guint)uid);
  g_autofree char *gid_arg = g_strdup_printf ("--regid=%u", (guint)gid);
  const char *argv[] = { "setpriv", uid_arg, gid_arg, "--clear-groups", program, NULL };
  g_autofree char *helper_entry = g_strdup_printf ("SPAWN_ASYNC_HELPER=%s", helper);
  g_autofree char *locale_entry = g_strdup_printf ("SPAWN_ASYNC_LOCALEDIR=%s", localedir);
  const char *envp[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", helper_entry, locale_entry, NULL };
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status;

  g_spawn_sync (NULL, (char **)argv, (char **)envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_test_message ("%s", out);
  return out;
}

/* SPAWN_ASYNC_HELPER and SPAWN_ASYNC_LOCALEDIR are ignored in a setuid
 * (or setgid, or file-capability) process: an unprivileged user must
 * not make a privileged caller run a program of theirs, or read
 * translations of theirs. The same program without the setuid bit
 * honours them, so the check can fail. */
static void
test_setuid_ignores_environment (void)
{
  g_autofree char *dir = NULL, *program = NULL, *evil = NULL, *out_dir = NULL;
  g_autofree char *marker = NULL, *script = NULL, *localedir = NULL;
  g_autofree char *secure = NULL, *plain = NULL;
  g_autofree char *expected_locale = NULL, *contents = NULL;
  const char *useradd[] = { "useradd", "--system", "--no-create-home",
                            "--shell", "/usr/sbin/nologin", UNPRIVILEGED_USER, NULL };
  const char *userdel[] = { "userdel", UNPRIVILEGED_USER, NULL };
  gboolean created_user = FALSE;
  struct passwd *pw;
  gsize length;

  if (getuid () != 0)
    {
      g_test_skip ("needs root, to make a setuid-root program and a user");
      return;
    }

  pw = getpwnam (UNPRIVILEGED_USER);
  if (pw == NULL)
    {
      int status;

      g_assert_true (g_spawn_sync (NULL, (char **)useradd, NULL,
                                   G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                                   NULL, NULL, NULL, NULL, &status, NULL));
      g_assert_true (g_spawn_check_wait_status (status, NULL));
      created_user = TRUE;
      pw = getpwnam (UNPRIVILEGED_USER);
      g_assert_nonnull (pw);
    }
  g_assert_cmpint (pw->pw_uid, !=, 0);

  dir = g_dir_make_tmp ("sa-setuid-XXXXXX", NULL);
  g_assert_no_errno (chmod (dir, 0755));
  out_dir = g_build_filename (dir, "out", NULL);
  g_assert_no_errno (g_mkdir (out_dir, 0777));
  g_assert_no_errno (chmod (out_dir, 0777));
  marker = g_build_filename (out_dir, "helper-ran", NULL);
  localedir = g_build_filename (dir, "locale", NULL);

  /* The user's "helper": it leaves a mark and exits. */
  evil = g_build_filename (dir, "users-helper", NULL);
  script = g_strdup_printf ("#!/bin/sh\ntouch '%s'\n", marker);
  g_assert_true (g_file_set_contents (evil, script, -1, NULL));
  g_assert_no_errno (chmod (evil, 0755));

  program = g_build_filename (dir, "secure-caller", NULL);
  g_assert_true (g_file_get_contents (SA_SECURE_CALLER_PATH, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (program, contents, (gssize)length, NULL));
  g_assert_no_errno (chown (program, 0, 0));

  /* setuid root, run by the user */
  g_assert_no_errno (chmod (program, 04755));
  secure = run_secure_caller (program, pw->pw_uid, pw->pw_gid, evil, localedir);
  g_assert_nonnull (strstr (secure, "at-secure 1\n"));
  expected_locale = g_strdup_printf ("localedir %s\n", localedir);
  g_assert_null (strstr (secure, expected_locale));
  g_assert_null (strstr (secure, evil));
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));

  /* the control: the same program, not setuid */
  g_assert_no_errno (chmod (program, 0755));
  plain = run_secure_caller (program, pw->pw_uid, pw->pw_gid, evil, localedir);
  g_assert_nonnull (strstr (plain, "at-secure 0\n"));
  g_assert_nonnull (strstr (plain, expected_locale));
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));

  g_unlink (marker);
  g_rmdir (out_dir);
  g_unlink (evil);
  g_unlink (program);
  g_rmdir (dir);
  if (created_user)
    g_spawn_sync (NULL, (char **)userdel, NULL, G_SPAWN_SEARCH_PATH,
                  NULL, NULL, NULL, NULL, NULL, NULL);
}

int
main (int argc, char **argv)
{
  /* Installed once, before anything logs; it captures only while
   * /reliability/security/env-not-logged runs. */
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/security/child-fds", test_child_fds);
  g_test_add_func ("/reliability/security/socketpair", test_socketpair);
  g_test_add_func ("/reliability/security/credentials", test_credentials);
  g_test_add_func ("/reliability/security/signals-reset", test_signals_reset);
  g_test_add_func ("/reliability/security/env-not-logged", test_env_not_logged);
  g_test_add_func ("/reliability/security/setuid-ignores-environment",
                   test_setuid_ignores_environment);

  return g_test_run ();
}
