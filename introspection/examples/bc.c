/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A live process from C: a conversation with bc. The child's stdin and
 * stdout are pipes the program writes and reads itself, asynchronously,
 * while bc runs; then it closes stdin and waits for bc to exit.
 *
 * Build: cc bc.c $(pkg-config --cflags --libs spawn-async-1)
 */
#include <spawn-async.h>
#include <string.h>

typedef struct
{
  GMainLoop        *loop;
  SaProcess        *process;
  GDataInputStream *answers;
  const char      **questions;
  guint             next;
} Talk;

static void ask (Talk *talk);

static void
on_exited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Talk *talk = user_data;
  g_autoptr(GError) error = NULL;

  if (sa_process_wait_check_finish (SA_PROCESS (source), result, &error))
    g_print ("bc exited with status %d\n", sa_process_get_exit_status (SA_PROCESS (source)));
  else
    g_printerr ("bc failed: %s\n", error->message);
  g_main_loop_quit (talk->loop);
}

static void
on_answer (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Talk *talk = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *answer =
    g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);

  if (answer == NULL)
    {
      g_printerr ("no answer: %s\n", error ? error->message : "end of output");
      g_main_loop_quit (talk->loop);
      return;
    }
  g_print ("%s = %s\n", talk->questions[talk->next], answer);
  talk->next++;
  ask (talk);
}

/* Writes the next question (a blocking write of a few bytes to a pipe
 * that bc reads: it never waits), or closes stdin when all are asked. */
static void
ask (Talk *talk)
{
  GOutputStream *to_bc = sa_process_get_stdin_pipe (talk->process);
  g_autofree char *line = NULL;

  if (talk->questions[talk->next] == NULL)
    {
      g_output_stream_close (to_bc, NULL, NULL);
      sa_process_wait_check_async (talk->process, NULL, on_exited, talk);
      return;
    }

  line = g_strconcat (talk->questions[talk->next], "\n", NULL);
  g_output_stream_write_all (to_bc, line, strlen (line), NULL, NULL, NULL);
  g_data_input_stream_read_line_async (talk->answers, G_PRIORITY_DEFAULT, NULL,
                                       on_answer, talk);
}

int
main (void)
{
  const char *questions[] = { "2+2", "6*7", "2^20", "scale=3; 1/3", NULL };
  const char *argv[] = { "bc", "-q", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(SaProcess) process = NULL;
  g_autoptr(GDataInputStream) answers = NULL;
  Talk talk = { 0 };

  worker = sa_worker_new (NULL, &error);
  if (worker == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  sa_spawn_options_set_stdin_mode (options, SA_STDIO_PIPE);
  sa_spawn_options_set_stderr_mode (options, SA_STDIO_MERGE);
  /* The blocking form is one round trip to the helper; spawn_async()
   * is the same without the wait. */
  process = sa_worker_spawn (worker, argv, options, NULL, &error);
  if (process == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  answers = g_data_input_stream_new (sa_process_get_stdout_pipe (process));
  talk = (Talk) { loop, process, answers, questions, 0 };
  ask (&talk);
  g_main_loop_run (loop);
  return 0;
}
