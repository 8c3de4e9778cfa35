/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program built the way users build against spawn-async: with
 * pkg-config against an installed copy, or as a meson subproject. It
 * prints what the tests check: the helper the worker runs, the output of
 * a command, the error for a missing program (in the user's locale) and
 * the version it was compiled against.
 */
#include <locale.h>
#include <spawn-async.h>

typedef struct
{
  GMainLoop *loop;
  SaResult  *result;
  GError    *error;
} Outcome;

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->result = sa_worker_aspawn_finish (SA_WORKER (source), res, &outcome->error);
  g_main_loop_quit (outcome->loop);
}

static void
run (SaWorker           *worker,
     const char * const *argv,
     Outcome            *outcome)
{
  sa_worker_aspawn_async (worker, argv, NULL, NULL, on_done, outcome);
  g_main_loop_run (outcome->loop);
}

int
main (void)
{
  const char * const echo[] = { "echo", "spawn-async works", NULL };
  const char * const missing[] = { "spawn-async-no-such-program", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  g_autofree char *exe_link = NULL;
  g_autofree char *helper = NULL;
  Outcome outcome = { 0 };

  setlocale (LC_ALL, "");

  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    {
      g_printerr ("consumer: %s\n", error->message);
      return 1;
    }

  exe_link = g_strdup_printf ("/proc/%d/exe", sa_worker_get_helper_pid (worker));
  helper = g_file_read_link (exe_link, &error);
  g_print ("helper: %s\n", helper ? helper : error->message);

  outcome.loop = g_main_loop_new (NULL, FALSE);
  run (worker, echo, &outcome);
  if (outcome.result != NULL && sa_result_check (outcome.result, &outcome.error))
    g_print ("output: %s", sa_result_get_stdout (outcome.result));
  else
    g_print ("output failed: %s\n", outcome.error->message);
  g_clear_object (&outcome.result);
  g_clear_error (&outcome.error);

  run (worker, missing, &outcome);
  g_print ("missing: %s\n", outcome.error ? outcome.error->message : "no error");
  g_clear_object (&outcome.result);
  g_clear_error (&outcome.error);
  g_main_loop_unref (outcome.loop);

  g_print ("version: %s %d.%d.%d\n", SA_VERSION_S,
           SA_MAJOR_VERSION, SA_MINOR_VERSION, SA_MICRO_VERSION);
  return 0;
}
