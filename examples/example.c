/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The smallest use of spawn-async: run `ls -l /etc/passwd` through a
 * worker and print what it wrote, from the callback.
 */
#include <spawn-async.h>

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  GMainLoop *loop = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  if (result == NULL || !sa_result_check (result, &error))
    g_printerr ("ls failed: %s\n", error->message);
  else
    g_print ("%s", sa_result_get_stdout (result));

  g_main_loop_quit (loop);
}

int
main (void)
{
  const char *argv[] = { "ls", "-l", "/etc/passwd", NULL };
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = sa_worker_new (NULL, &error);

  if (worker == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  sa_worker_aspawn_async (worker, argv, NULL, NULL, on_done, loop);
  g_main_loop_run (loop);
  return 0;
}
