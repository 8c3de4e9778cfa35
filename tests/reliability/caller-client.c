/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * caller-client DIR N: a small spawn-async caller for the fault tests.
 *
 * Creates a worker, prints "helper PID" on stdout, starts N children that
 * each write their pid to DIR/child-I.pid and then sleep for 100 s, and
 * runs its main loop forever, waiting to be killed.
 */
#include <spawn-async.h>
#include <stdio.h>
#include <stdlib.h>

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) res = sa_worker_aspawn_finish (SA_WORKER (source), result, &error);

  g_printerr ("caller-client: a child ended early: %s\n",
              error != NULL ? error->message : "no error");
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  int n;

  if (argc != 3)
    {
      g_printerr ("usage: %s DIR N\n", argv[0]);
      return 2;
    }
  n = atoi (argv[2]);

  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    {
      g_printerr ("caller-client: %s\n", error->message);
      return 1;
    }
  printf ("helper %d\n", sa_worker_get_helper_pid (worker));
  fflush (stdout);

  for (int i = 0; i < n; i++)
    {
      g_autofree char *script =
        g_strdup_printf ("echo $$ > '%s/child-%d.pid'; exec sleep 100", argv[1], i);
      const char *child_argv[] = { "/bin/sh", "-c", script, NULL };

      sa_worker_aspawn_async (worker, child_argv, NULL, NULL, on_done, NULL);
    }

  loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  return 0;
}
