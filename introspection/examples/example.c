/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn-async from C: input on stdin, several commands at once, an exit
 * status, a missing program and a timeout.
 *
 * Build: cc example.c $(pkg-config --cflags --libs spawn-async-1)
 *
 * Every command is started at once; each callback stores its line, and
 * the lines are printed in order when the last command has ended.
 */
#include <locale.h>
#include <spawn-async.h>

enum
{
  SORT,
  ECHO_ONE,
  ECHO_TWO,
  ECHO_THREE,
  EXIT_STATUS,
  NOT_FOUND,
  TIMEOUT,
  N_COMMANDS
};

typedef struct
{
  GMainLoop *loop;
  guint      pending;
  char      *lines[N_COMMANDS];
} Example;

typedef struct
{
  Example *example;
  guint    index;
} Slot;

/* "cherry\napple\n" -> "cherry apple" */
static char *
words (const char *text)
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  g_auto(GStrv) lines = g_strsplit (copy, "\n", -1);

  return g_strjoinv (" ", lines);
}

static char *
describe (SaResult     *result,
          const GError *spawn_error)
{
  g_autoptr(GError) error = NULL;

  /* No result: the command could not run at all. */
  if (result == NULL)
    {
      if (g_error_matches (spawn_error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT))
        return g_strdup_printf ("not found: %s", spawn_error->message);
      return g_strdup_printf ("error: %s", spawn_error->message);
    }

  /* A result: the child ran. check() tells whether it ran cleanly. */
  if (sa_result_check (result, &error))
    return words (sa_result_get_stdout (result));

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_strdup_printf ("timed out: %s", error->message);

  if (error->domain == G_SPAWN_EXIT_ERROR)
    {
      g_autofree char *stderr_text = words (sa_result_get_stderr (result));

      return g_strdup_printf ("exit status %d: %s (stderr: %s)",
                              sa_result_get_exit_status (result),
                              error->message, stderr_text);
    }

  return g_strdup_printf ("failed: %s", error->message);
}

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  g_autofree Slot *slot = user_data;
  Example *example = slot->example;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = NULL;

  result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);
  example->lines[slot->index] = describe (result, error);

  if (--example->pending == 0)
    g_main_loop_quit (example->loop);
}

static void
start (Example            *example,
       SaWorker           *worker,
       guint               index,
       const char * const *argv,
       SaSpawnOptions     *options)
{
  Slot *slot = g_new0 (Slot, 1);

  slot->example = example;
  slot->index = index;
  example->pending++;
  sa_worker_aspawn_async (worker, argv, options, NULL, on_done, slot);
}

int
main (void)
{
  const char * const sort[] = { "sort", NULL };
  const char * const one[] = { "echo", "one", NULL };
  const char * const two[] = { "echo", "two", NULL };
  const char * const three[] = { "echo", "three", NULL };
  const char * const fail[] = { "sh", "-c", "echo oops >&2; exit 3", NULL };
  const char * const missing[] = { "spawn-async-no-such-program", NULL };
  const char * const slow[] = { "sleep", "10", NULL };
  static const char fruit[] = "cherry\napple\nbanana\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(SaSpawnOptions) with_input = NULL;
  g_autoptr(SaSpawnOptions) with_timeout = NULL;
  g_autoptr(GBytes) input = NULL;
  Example example = { 0 };

  /* The library's messages follow the user's locale, like GLib's. */
  setlocale (LC_ALL, "");

  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  /* Bytes for the child's stdin. */
  input = g_bytes_new_static (fruit, sizeof fruit - 1);
  with_input = sa_spawn_options_new ();
  sa_spawn_options_set_input (with_input, input);

  /* The child's process group gets SIGTERM after 100 ms. */
  with_timeout = sa_spawn_options_new ();
  sa_spawn_options_set_timeout_ms (with_timeout, 100);

  example.loop = g_main_loop_new (NULL, FALSE);
  start (&example, worker, SORT, sort, with_input);
  start (&example, worker, ECHO_ONE, one, NULL);
  start (&example, worker, ECHO_TWO, two, NULL);
  start (&example, worker, ECHO_THREE, three, NULL);
  start (&example, worker, EXIT_STATUS, fail, NULL);
  start (&example, worker, NOT_FOUND, missing, NULL);
  start (&example, worker, TIMEOUT, slow, with_timeout);
  g_main_loop_run (example.loop);

  g_print ("sort: %s\n", example.lines[SORT]);
  g_print ("parallel: %s %s %s\n",
           example.lines[ECHO_ONE], example.lines[ECHO_TWO], example.lines[ECHO_THREE]);
  g_print ("%s\n", example.lines[EXIT_STATUS]);
  g_print ("%s\n", example.lines[NOT_FOUND]);
  g_print ("%s\n", example.lines[TIMEOUT]);

  for (guint i = 0; i < N_COMMANDS; i++)
    g_free (example.lines[i]);
  g_main_loop_unref (example.loop);

  /* Stops the helper (the last unref would too). */
  sa_worker_destroy (worker);
  return 0;
}
