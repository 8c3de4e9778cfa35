/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "sa-error.h"
#include "sa-release-private.h"
#include "sa-result-private.h"

/**
 * SaResult:
 *
 * What a command run by [method@Sa.Worker.aspawn_async] did: its output,
 * how it ended, and whether spawn-async had to stop it.
 *
 * A result exists for every command that ran, whatever its exit status;
 * [method@Sa.Result.check] turns an unclean end into an error in the
 * manner of node-spawn-async:
 *
 * ```python
 * result = worker.aspawn_finish(task)
 * result.check()            # raises GLib.Error unless it exited with 0
 * print(result.get_stdout())
 * ```
 *
 * A result never changes once made and may be used from any thread.
 */
struct _SaResult
{
  GObject   parent_instance;

  GBytes   *streams[2];     /* stdout, stderr: exact bytes */
  char     *texts[2];       /* valid UTF-8 copies, made on demand */
  GPid      pid;
  int       wait_status;
  guint     timed_out : 1;
  guint     output_truncated : 1;
};

G_DEFINE_FINAL_TYPE (SaResult, sa_result, G_TYPE_OBJECT)

static void
sa_result_finalize (GObject *object)
{
  SaResult *self = (SaResult *)object;

  for (guint i = 0; i < G_N_ELEMENTS (self->streams); i++)
    {
      gsize size = g_bytes_get_size (self->streams[i]);

      /* A text that is the stream's own buffer is not a copy; a copy is
       * about as big as the stream, and given back off this thread. */
      if (self->texts[i] != NULL && self->texts[i] != g_bytes_get_data (self->streams[i], NULL))
        sa_release_memory (self->texts[i], size, size >= SA_RELEASE_ABOVE);
      g_clear_pointer (&self->streams[i], g_bytes_unref);
    }

  G_OBJECT_CLASS (sa_result_parent_class)->finalize (object);
}

static void
sa_result_class_init (SaResultClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = sa_result_finalize;
}

static void
sa_result_init (SaResult *self)
{
  /* What a result made by g_object_new() alone (from a binding) holds. */
  self->streams[0] = g_bytes_new_static ("", 0);
  self->streams[1] = g_bytes_new_static ("", 0);
  self->wait_status = 0;
}

SaResult *
sa_result_new (GPid      pid,
               int       wait_status,
               GBytes   *stdout_bytes,
               GBytes   *stderr_bytes,
               gboolean  timed_out,
               gboolean  output_truncated)
{
  SaResult *self = g_object_new (SA_TYPE_RESULT, NULL);

  self->pid = pid;
  self->wait_status = wait_status;
  g_bytes_unref (self->streams[0]);
  g_bytes_unref (self->streams[1]);
  self->streams[0] = stdout_bytes;
  self->streams[1] = stderr_bytes;
  self->timed_out = !!timed_out;
  self->output_truncated = !!output_truncated;

  return self;
}

/* The text of a stream: its own bytes when they are valid UTF-8 without
 * NUL (they are always followed by a NUL), else a copy with every
 * invalid sequence or NUL replaced by U+FFFD. Made once, on demand,
 * safely from any thread. */
static const char *
get_text (SaResult *self,
          guint     stream)
{
  const char *text = g_atomic_pointer_get (&self->texts[stream]);
  gsize len;
  const char *data;
  char *made;

  if (text != NULL)
    return text;

  data = g_bytes_get_data (self->streams[stream], &len);
  if (g_utf8_validate_len (data, len, NULL))
    made = (char *)data;
  else
    made = g_utf8_make_valid (data, len);

  if (!g_atomic_pointer_compare_and_exchange (&self->texts[stream], NULL, made))
    {
      if (made != data)
        g_free (made);
    }
  else if (made != data && len >= SA_RELEASE_ABOVE)
    sa_release_hold ();   /* the copy is given back by that thread */
  return g_atomic_pointer_get (&self->texts[stream]);
}

/**
 * sa_result_get_stdout:
 * @self: a #SaResult
 *
 * The child's standard output as text. Bytes that are not valid UTF-8
 * (and NUL bytes) are replaced by U+FFFD, so this never fails to decode;
 * use [method@Sa.Result.get_stdout_bytes] for the exact bytes.
 *
 * Returns: (transfer none): the output, valid UTF-8
 */
const char *
sa_result_get_stdout (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), NULL);

  return get_text (self, 0);
}

/**
 * sa_result_get_stderr:
 * @self: a #SaResult
 *
 * The child's standard error as text, like [method@Sa.Result.get_stdout].
 *
 * Returns: (transfer none): the error output, valid UTF-8
 */
const char *
sa_result_get_stderr (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), NULL);

  return get_text (self, 1);
}

/**
 * sa_result_get_stdout_bytes:
 * @self: a #SaResult
 *
 * The exact bytes the child wrote to its standard output (up to
 * [property@Sa.SpawnOptions:max-output]).
 *
 * Returns: (transfer none): the output
 */
GBytes *
sa_result_get_stdout_bytes (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), NULL);

  return self->streams[0];
}

/**
 * sa_result_get_stderr_bytes:
 * @self: a #SaResult
 *
 * The exact bytes the child wrote to its standard error.
 *
 * Returns: (transfer none): the error output
 */
GBytes *
sa_result_get_stderr_bytes (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), NULL);

  return self->streams[1];
}

/**
 * sa_result_get_pid:
 * @self: a #SaResult
 *
 * The process id the child had. It has been reaped: the number may
 * already belong to another process.
 *
 * Returns: the child's pid
 */
GPid
sa_result_get_pid (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), 0);

  return self->pid;
}

/**
 * sa_result_get_if_exited:
 * @self: a #SaResult
 *
 * Whether the child ended by exiting (rather than by a signal). A child
 * stopped by a timeout or the output limit usually did not.
 *
 * Returns: %TRUE if the child exited
 */
gboolean
sa_result_get_if_exited (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), FALSE);

  return WIFEXITED (self->wait_status);
}

/**
 * sa_result_get_exit_status:
 * @self: a #SaResult
 *
 * The status the child passed to `exit()`, as `WEXITSTATUS()` gives it.
 *
 * Returns: the child's exit status, or -1 when it did not exit (see
 *   [method@Sa.Result.get_if_signaled])
 */
int
sa_result_get_exit_status (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), -1);

  return WIFEXITED (self->wait_status) ? WEXITSTATUS (self->wait_status) : -1;
}

/**
 * sa_result_get_if_signaled:
 * @self: a #SaResult
 *
 * Whether a signal ended the child: one it raised or was sent, or the
 * kill signal (or `SIGKILL`) of a timeout, a cancellation or the output
 * limit.
 *
 * Returns: %TRUE if a signal killed the child
 */
gboolean
sa_result_get_if_signaled (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), FALSE);

  return WIFSIGNALED (self->wait_status);
}

/**
 * sa_result_get_term_sig:
 * @self: a #SaResult
 *
 * The number of the signal that killed the child, as `WTERMSIG()` gives
 * it; see [method@Sa.Result.get_if_signaled].
 *
 * Returns: the signal that killed the child, or 0 when none did
 */
int
sa_result_get_term_sig (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), 0);

  return WIFSIGNALED (self->wait_status) ? WTERMSIG (self->wait_status) : 0;
}

/**
 * sa_result_get_successful:
 * @self: a #SaResult
 *
 * Whether the command ran cleanly: the child exited with status 0, was
 * not stopped by the timeout and its output was not truncated. This is
 * %TRUE exactly when [method@Sa.Result.check] succeeds.
 *
 * Returns: %TRUE for a clean run
 */
gboolean
sa_result_get_successful (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), FALSE);

  return sa_result_check (self, NULL);
}

/**
 * sa_result_get_timed_out:
 * @self: a #SaResult
 *
 * Whether [property@Sa.SpawnOptions:timeout-ms] expired and the child's
 * process group was sent the kill signal. The output holds what was read
 * before the child died.
 *
 * Returns: %TRUE if the command timed out
 */
gboolean
sa_result_get_timed_out (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), FALSE);

  return self->timed_out;
}

/**
 * sa_result_get_output_truncated:
 * @self: a #SaResult
 *
 * Whether the child wrote more than
 * [property@Sa.SpawnOptions:max-output] bytes to one of its streams: that
 * stream holds exactly the limit, and the child's process group was sent
 * the kill signal.
 *
 * Returns: %TRUE if the output was truncated
 */
gboolean
sa_result_get_output_truncated (SaResult *self)
{
  g_return_val_if_fail (SA_IS_RESULT (self), FALSE);

  return self->output_truncated;
}

/* "SIGUSR2" for SIGUSR2; interned, so it may be returned from any thread. */
const char *
sa_signal_name (int signum)
{
#ifdef HAVE_SIGABBREV_NP
  const char *abbrev = signum > 0 && signum < NSIG ? sigabbrev_np (signum) : NULL;

  if (abbrev != NULL)
    {
      char name[32];

      g_snprintf (name, sizeof name, "SIG%s", abbrev);
      return g_intern_string (name);
    }
#endif
  return g_intern_string (_("an unknown signal"));
}

/**
 * sa_result_check:
 * @self: a #SaResult
 * @error: return location for a #GError
 *
 * Raises the node-spawn-async style error for a command that did not run
 * cleanly, checked in this order:
 *
 * - a timeout: `G_IO_ERROR_TIMED_OUT`;
 * - truncated output: `SA_SPAWN_ERROR_OUTPUT_LIMIT`;
 * - a signal: `SA_SPAWN_ERROR_SIGNALED`, "child killed by signal SIGUSR2";
 * - a non-zero exit: `G_SPAWN_EXIT_ERROR` with the exit status as code,
 *   "child exited with status 2".
 *
 * Returns: %TRUE if the child exited with status 0
 */
gboolean
sa_result_check (SaResult  *self,
                 GError   **error)
{
  g_return_val_if_fail (SA_IS_RESULT (self), FALSE);

  return sa_check_wait_status (self->wait_status, self->timed_out,
                               self->output_truncated, error);
}

/* The errors of sa_result_check() and sa_process_wait_check(). */
gboolean
sa_check_wait_status (int       wait_status,
                      gboolean  timed_out,
                      gboolean  output_truncated,
                      GError  **error)
{
  if (timed_out)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           _("child timed out"));
      return FALSE;
    }
  if (output_truncated)
    {
      g_set_error_literal (error, SA_SPAWN_ERROR, SA_SPAWN_ERROR_OUTPUT_LIMIT,
                           _("child output exceeded the limit"));
      return FALSE;
    }
  if (WIFSIGNALED (wait_status))
    {
      g_set_error (error, SA_SPAWN_ERROR, SA_SPAWN_ERROR_SIGNALED,
                   _("child killed by signal %s"),
                   sa_signal_name (WTERMSIG (wait_status)));
      return FALSE;
    }
  if (!WIFEXITED (wait_status) || WEXITSTATUS (wait_status) != 0)
    {
      int status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;

      g_set_error (error, G_SPAWN_EXIT_ERROR, status,
                   _("child exited with status %d"), status);
      return FALSE;
    }
  return TRUE;
}
