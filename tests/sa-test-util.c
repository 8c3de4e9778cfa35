/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sa-test-util.h"

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

void
sa_test_start (SaWorker            *worker,
               const char * const  *argv,
               SaSpawnOptions      *options,
               GCancellable        *cancellable,
               GAsyncResult       **slot)
{
  *slot = NULL;
  sa_worker_aspawn_async (worker, argv, options, cancellable, store_result, slot);
}

void
sa_test_wait_pointer (gpointer *pointer,
                      guint     timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  GMainContext *context = g_main_context_get_thread_default ();

  while (g_atomic_pointer_get (pointer) == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out after %u ms waiting for a callback", timeout_ms);
      g_main_context_iteration (context, FALSE);
      if (g_atomic_pointer_get (pointer) == NULL)
        g_usleep (500);
    }
}

void
sa_test_wait_flag (const gboolean *flag,
                   guint           timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  GMainContext *context = g_main_context_get_thread_default ();

  while (!g_atomic_int_get (flag))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out after %u ms waiting for a condition", timeout_ms);
      g_main_context_iteration (context, FALSE);
      if (!g_atomic_int_get (flag))
        g_usleep (500);
    }
}

SaWorker *
sa_test_new_worker (void)
{
  g_autoptr(GError) error = NULL;
  SaWorker *worker = sa_worker_new (NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (worker);
  return worker;
}

SaResult *
sa_test_run (SaWorker            *worker,
             const char * const  *argv,
             SaSpawnOptions      *options,
             GCancellable        *cancellable,
             GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  sa_test_start (worker, argv, options, cancellable, &result);
  sa_test_wait_pointer ((gpointer *)&result, 60000);
  return sa_worker_aspawn_finish (worker, result, error);
}

SaResult *
sa_test_run_ok (SaWorker           *worker,
                const char * const *argv,
                SaSpawnOptions     *options)
{
  g_autoptr(GError) error = NULL;
  SaResult *result = sa_test_run (worker, argv, options, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (result);
  return result;
}

void
sa_test_assert_fails (SaWorker           *worker,
                      const char * const *argv,
                      SaSpawnOptions     *options,
                      GQuark              domain,
                      int                 code,
                      const char         *in_message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_test_run (worker, argv, options, NULL, &error);

  g_assert_null (result);
  g_assert_error (error, domain, code);
  if (in_message != NULL && strstr (error->message, in_message) == NULL)
    g_error ("“%s” not in the message “%s”", in_message, error->message);
}

/* Fields of /proc/PID/stat after the command name: state, ppid, pgrp. */
static gboolean
read_stat (GPid  pid,
           char *state,
           GPid *ppid,
           GPid *pgrp)
{
  char path[64];
  g_autofree char *contents = NULL;
  const char *after_name;
  int p, g;

  g_snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  after_name = strrchr (contents, ')');
  if (after_name == NULL ||
      sscanf (after_name + 1, " %c %d %d", state, &p, &g) != 3)
    return FALSE;
  if (ppid != NULL)
    *ppid = p;
  if (pgrp != NULL)
    *pgrp = g;
  return TRUE;
}

gboolean
sa_test_pid_alive (GPid pid)
{
  char state;

  return read_stat (pid, &state, NULL, NULL) && state != 'Z' && state != 'X';
}

static guint
count_processes (GPid pgid,
                 GPid parent)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint count = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char state;
      GPid ppid, pgrp;
      GPid pid = (GPid)g_ascii_strtoll (name, NULL, 10);

      if (pid <= 0 || !read_stat (pid, &state, &ppid, &pgrp) ||
          state == 'Z' || state == 'X')
        continue;
      if ((pgid > 0 && pgrp == pgid) || (parent > 0 && ppid == parent))
        count++;
    }
  return count;
}

/* "pid ppid state cmdline" of each live member, for failure messages
 * (without forking: some tests forbid it). Leaks: the test is over. */
static char *
describe_group (GPid pgid)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  GString *out = g_string_new (NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      char state;
      GPid ppid, pgrp;
      GPid pid = (GPid)g_ascii_strtoll (name, NULL, 10);
      g_autofree char *path = g_strdup_printf ("/proc/%s/cmdline", name);
      g_autofree char *cmdline = NULL;
      gsize len = 0;

      if (pid <= 0 || !read_stat (pid, &state, &ppid, &pgrp) || pgrp != pgid)
        continue;
      if (g_file_get_contents (path, &cmdline, &len, NULL))
        for (gsize i = 0; i + 1 < len; i++)
          if (cmdline[i] == '\0')
            cmdline[i] = ' ';
      g_string_append_printf (out, "  %d (parent %d) %c %s\n", pid, ppid, state,
                              cmdline ? cmdline : "?");
    }
  return g_string_free (out, FALSE);
}

guint
sa_test_group_size (GPid pgid)
{
  return count_processes (pgid, 0);
}

guint
sa_test_count_children (GPid pid)
{
  return count_processes (0, pid);
}

void
sa_test_assert_group_gone (GPid  pgid,
                           guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  guint left;

  g_assert_cmpint (pgid, >, 1);
  while ((left = sa_test_group_size (pgid)) > 0 && g_get_monotonic_time () < deadline)
    g_usleep (2000);
  if (left > 0)
    g_error ("%u process(es) of group %d still alive after %u ms:\n%s",
             left, pgid, timeout_ms, describe_group (pgid));
}

void
sa_test_assert_pid_gone (GPid  pid,
                         guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  g_assert_cmpint (pid, >, 1);
  while (sa_test_pid_alive (pid) && g_get_monotonic_time () < deadline)
    g_usleep (2000);
  if (sa_test_pid_alive (pid))
    g_error ("process %d still alive after %u ms", pid, timeout_ms);
}

GPid
sa_test_read_pid_file (const char *path,
                       guint       timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      g_autofree char *contents = NULL;

      if (g_file_get_contents (path, &contents, NULL, NULL) &&
          strchr (contents, '\n') != NULL)
        return (GPid)g_ascii_strtoll (contents, NULL, 10);
      if (g_get_monotonic_time () > deadline)
        g_error ("no pid in %s after %u ms", path, timeout_ms);
      g_usleep (2000);
    }
}

guint
sa_test_count_fds_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint count = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count;
}

guint
sa_test_count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint count = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count - 1;   /* the directory's own fd */
}
