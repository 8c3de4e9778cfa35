/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a C snippet of the docs may take for granted: the headers, a
 * worker, options, an argv, an app's `self` and its report() and use().
 * run-snippets.py puts the snippet's functions after this and its
 * statements into main(), and adds the callbacks it names but does not
 * define. Names the snippet declares itself shadow these.
 */
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spawn-async.h>

typedef struct
{
  GCancellable     *cancellable;
  GDataInputStream *lines;
  SaProcess        *process;
} App;

static App app;
static App *self = &app;
static SaWorker *worker;
static SaSpawnOptions *options;
static GCancellable *cancellable;
static const char *argv[] = { "ls", "-l", "/etc/passwd", NULL };
static const char *dir = "/";
static const char *input = "b\na\n";
static gboolean done;

static void
report (GError *error)
{
  g_printerr ("report: %s\n", error->message);
  exit (1);
}

static void
use (const char *text)
{
  g_print ("use: %s", text);
}

/* The default callbacks, for the names a snippet uses without defining
 * them: they fail on what no snippet expects. */
static void G_GNUC_UNUSED
snippet_on_result (GObject      *source,
                   GAsyncResult *res,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  if (user_data == &done)
    done = TRUE;
  if (result == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    report (error);
}

static void G_GNUC_UNUSED
snippet_on_line (GObject      *source,
                 GAsyncResult *res,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                res, NULL, &error);

  if (error != NULL)
    report (error);
  if (line != NULL)
    g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT,
                                         NULL, snippet_on_line, user_data);
}

/* Iterates the default main context until nothing has happened for a
 * second; fails unless something was dispatched (the snippet's own
 * callbacks, or these), when it started something, within 30 s. */
static void
snippet_run (gboolean expects_callback)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  gint64 quiet_since = g_get_monotonic_time ();
  guint dispatched = 0;

  while (g_get_monotonic_time () < deadline)
    {
      if (g_main_context_iteration (NULL, FALSE))
        {
          quiet_since = g_get_monotonic_time ();
          dispatched++;
        }
      else if (g_get_monotonic_time () - quiet_since > G_USEC_PER_SEC &&
               (!expects_callback || dispatched > 0))
        return;
      else
        g_usleep (1000);
    }
  g_printerr ("the snippet's callbacks did not run\n");
  exit (1);
}
