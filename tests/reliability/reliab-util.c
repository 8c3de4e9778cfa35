/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>

#include "reliab-util.h"

static void
batch_store (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  ReliabSlot *slot = user_data;

  g_assert_null (slot->result);
  slot->result = g_object_ref (result);
  slot->batch->done++;
}

ReliabBatch *
reliab_batch_new (SaWorker *worker,
                  guint     n)
{
  ReliabBatch *batch = g_new0 (ReliabBatch, 1);

  batch->worker = g_object_ref (worker);
  batch->slots = g_new0 (ReliabSlot, n);
  batch->n = n;
  for (guint i = 0; i < n; i++)
    {
      batch->slots[i].batch = batch;
      batch->slots[i].index = i;
    }
  return batch;
}

void
reliab_batch_start (ReliabBatch        *batch,
                    guint               index,
                    const char * const *argv,
                    SaSpawnOptions     *options)
{
  g_assert_cmpuint (index, <, batch->n);
  sa_worker_aspawn_async (batch->worker, argv, options, NULL,
                          batch_store, &batch->slots[index]);
}

void
reliab_batch_wait (ReliabBatch *batch,
                   guint        timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (batch->done < batch->n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out after %u ms: %u of %u commands answered",
                 timeout_ms, batch->done, batch->n);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (500);
    }
}

SaResult *
reliab_batch_finish (ReliabBatch  *batch,
                     guint         index,
                     GError      **error)
{
  g_assert_nonnull (batch->slots[index].result);
  return sa_worker_aspawn_finish (batch->worker, batch->slots[index].result, error);
}

void
reliab_batch_free (ReliabBatch *batch)
{
  for (guint i = 0; i < batch->n; i++)
    g_clear_object (&batch->slots[i].result);
  g_free (batch->slots);
  g_object_unref (batch->worker);
  g_free (batch);
}

void
reliab_iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

char *
reliab_proc_status (GPid        pid,
                    const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  gsize field_len = strlen (field);

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strncmp (lines[i], field, field_len) == 0 && lines[i][field_len] == ':')
      return g_strstrip (g_strdup (lines[i] + field_len + 1));
  return NULL;
}

gint64
reliab_proc_status_kb (GPid        pid,
                       const char *field)
{
  g_autofree char *value = reliab_proc_status (pid, field);

  return value != NULL ? g_ascii_strtoll (value, NULL, 10) : -1;
}

static gboolean
is_zombie (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *contents = NULL;
  const char *after_name;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return TRUE;
  after_name = strrchr (contents, ')');
  return after_name == NULL || after_name[1] == '\0' ||
         after_name[2] == 'Z' || after_name[2] == 'X';
}

guint
reliab_count_marked (const char *marker)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  gsize marker_len = strlen (marker) + 1;
  const char *name;
  guint count = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *env = NULL;
      gsize len;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_strdup_printf ("/proc/%s/environ", name);
      if (!g_file_get_contents (path, &env, &len, NULL) || len < marker_len)
        continue;
      for (gsize i = 0; i + marker_len <= len; i += strlen (env + i) + 1)
        if (memcmp (env + i, marker, marker_len) == 0)
          {
            if (!is_zombie (name))
              count++;
            break;
          }
    }
  return count;
}

void
reliab_assert_marked_gone (const char *marker,
                           guint       timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  guint left;

  while ((left = reliab_count_marked (marker)) > 0 &&
         g_get_monotonic_time () < deadline)
    g_usleep (10000);
  if (left > 0)
    g_error ("%u process(es) started by the worker still alive after %u ms",
             left, timeout_ms);
}

guint
reliab_raise_fd_limit (guint want)
{
  struct rlimit limit;

  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, &limit));
  if (limit.rlim_cur < want)
    {
      limit.rlim_cur = MIN ((rlim_t)want, limit.rlim_max);
      g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &limit));
    }
  return (guint)limit.rlim_cur;
}

/* malloc_info() covers every arena (mallinfo2() only the main one):
 * memory taken from the system, less the free chunks kept. */
static gint64
xml_total (const char *xml,
           const char *tag)
{
  const char *p = g_strrstr (xml, tag);

  g_assert_nonnull (p);
  p = strstr (p, "size=\"");
  g_assert_nonnull (p);
  return g_ascii_strtoll (p + strlen ("size=\""), NULL, 10);
}

gsize
reliab_heap_in_use (void)
{
  g_autofree char *xml = NULL;
  size_t len = 0;
  FILE *stream = open_memstream (&xml, &len);

  g_assert_nonnull (stream);
  g_assert_no_errno (malloc_info (0, stream));
  fclose (stream);

  /* The totals come last, after the per-arena figures. */
  return (gsize)(xml_total (xml, "<system type=\"current\"") +
                 xml_total (xml, "<total type=\"mmap\"") -
                 xml_total (xml, "<total type=\"fast\"") -
                 xml_total (xml, "<total type=\"rest\""));
}

char **
reliab_environ_with (const char *entry)
{
  char **env = g_get_environ ();
  g_autofree char *name = g_strndup (entry, strcspn (entry, "="));

  return g_environ_setenv (env, name, strchr (entry, '=') + 1, TRUE);
}

static char *real_helper;

const char *
reliab_real_helper (void)
{
  if (real_helper == NULL)
    {
      real_helper = g_strdup (g_getenv ("SPAWN_ASYNC_HELPER"));
      g_assert_nonnull (real_helper);
    }
  return real_helper;
}

void
reliab_use_fake_helper (const char *mode,
                        const char *log_path)
{
  g_setenv ("SA_FAKE_HELPER_REAL", reliab_real_helper (), TRUE);
  g_setenv ("SPAWN_ASYNC_HELPER", SA_FAKE_HELPER_PATH, TRUE);
  g_setenv ("SA_FAKE_HELPER_MODE", mode, TRUE);
  if (log_path != NULL)
    g_setenv ("SA_FAKE_HELPER_LOG", log_path, TRUE);
  else
    g_unsetenv ("SA_FAKE_HELPER_LOG");
}

void
reliab_use_real_helper (void)
{
  g_setenv ("SPAWN_ASYNC_HELPER", reliab_real_helper (), TRUE);
  g_unsetenv ("SA_FAKE_HELPER_MODE");
  g_unsetenv ("SA_FAKE_HELPER_LOG");
  g_unsetenv ("SA_FAKE_HELPER_REAL");
}

guint
reliab_count_lines (const char *path)
{
  g_autofree char *contents = NULL;
  guint lines = 0;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  for (const char *p = contents; *p != '\0'; p++)
    if (*p == '\n')
      lines++;
  return lines;
}

void
reliab_assert_worker_ok (SaWorker *worker,
                         GPid      pid)
{
  const char *argv[] = { "true", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;

  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, pid);
  g_assert_true (sa_test_pid_alive (pid));
  result = sa_test_run (worker, argv, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sa_result_get_successful (result));
  g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, pid);
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
reliab_spawn_tied (GSubprocessFlags   flags,
                   GError           **error,
                   const char        *argv0,
                   ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *arg;
  va_list args;

  if ((flags & G_SUBPROCESS_FLAGS_STDOUT_PIPE) == 0)
    flags |= G_SUBPROCESS_FLAGS_STDOUT_SILENCE;
  flags |= G_SUBPROCESS_FLAGS_STDERR_SILENCE;
  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);

  g_ptr_array_add (argv, (char *)argv0);
  va_start (args, argv0);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *)arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  return g_subprocess_launcher_spawnv (launcher, (const char * const *)argv->pdata, error);
}

gboolean
reliab_under_valgrind (void)
{
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload != NULL && strstr (preload, "vgpreload") != NULL;
}
