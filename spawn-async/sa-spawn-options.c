/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <unistd.h>

#include "sa-enums.h"
#include "sa-spawn-options-private.h"

/**
 * SaSpawnOptions:
 *
 * How [method@Sa.Worker.aspawn_async] and [method@Sa.Worker.spawn_async]
 * run one command: its environment, working directory, standard input,
 * time limit and output limit; what its stdin, stdout and stderr are
 * ([enum@Sa.Stdio]), and which other descriptors it gets
 * ([method@Sa.SpawnOptions.take_fd]).
 *
 * A worker reads the options when the command is started; changing them
 * afterwards affects later commands only, so one `SaSpawnOptions` can be
 * reused for many commands.
 *
 * ```js
 * const options = new Sa.SpawnOptions({
 *     cwd: '/tmp',
 *     timeout_ms: 5000,
 *     input: new GLib.Bytes(new TextEncoder().encode('hello\n')),
 * });
 * ```
 */
struct _SaSpawnOptions
{
  GObject  parent_instance;

  char   **env;
  char    *cwd;
  GBytes  *input;
  guint    timeout_ms;
  int      kill_signal;
  guint64  max_output;
  SaStdio  stdio[3];
  GArray  *fds;           /* SaFdMapping, by target */
  char    *fd_problem;    /* a take_fd() that cannot work, for the next spawn */
};

G_DEFINE_FINAL_TYPE (SaSpawnOptions, sa_spawn_options, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ENV,
  PROP_CWD,
  PROP_INPUT,
  PROP_TIMEOUT_MS,
  PROP_KILL_SIGNAL,
  PROP_MAX_OUTPUT,
  PROP_STDIN_MODE,
  PROP_STDOUT_MODE,
  PROP_STDERR_MODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/**
 * sa_spawn_options_new:
 *
 * Creates options with every property at its default: the caller's
 * environment, the caller's working directory, stdin from `/dev/null`,
 * no timeout, `SIGTERM` as kill signal and
 * %SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT as output limit.
 *
 * Returns: (transfer full): new options
 */
SaSpawnOptions *
sa_spawn_options_new (void)
{
  return g_object_new (SA_TYPE_SPAWN_OPTIONS, NULL);
}

static void
sa_spawn_options_finalize (GObject *object)
{
  SaSpawnOptions *self = (SaSpawnOptions *)object;

  g_clear_pointer (&self->env, g_strfreev);
  g_clear_pointer (&self->cwd, g_free);
  g_clear_pointer (&self->input, g_bytes_unref);
  for (guint i = 0; i < self->fds->len; i++)
    close (g_array_index (self->fds, SaFdMapping, i).source);
  g_clear_pointer (&self->fds, g_array_unref);
  g_clear_pointer (&self->fd_problem, g_free);

  G_OBJECT_CLASS (sa_spawn_options_parent_class)->finalize (object);
}

/* A string property is UTF-8 (bindings decode it as such): the exact
 * bytes are for the methods, the properties show invalid ones as U+FFFD. */
static char **
utf8_strv (char **strv)
{
  char **copy;
  guint n;

  if (strv == NULL)
    return NULL;
  n = g_strv_length (strv);
  copy = g_new (char *, n + 1);
  for (guint i = 0; i < n; i++)
    copy[i] = g_utf8_make_valid (strv[i], -1);
  copy[n] = NULL;
  return copy;
}

static void set_mode (SaSpawnOptions *self,
                      guint           fd,
                      SaStdio         mode);

static void
sa_spawn_options_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  SaSpawnOptions *self = SA_SPAWN_OPTIONS (object);

  switch (prop_id)
    {
    case PROP_ENV:
      g_value_take_boxed (value, utf8_strv (self->env));
      break;
    case PROP_CWD:
      g_value_take_string (value, self->cwd ? g_utf8_make_valid (self->cwd, -1) : NULL);
      break;
    case PROP_INPUT:
      g_value_set_boxed (value, self->input);
      break;
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_KILL_SIGNAL:
      g_value_set_int (value, self->kill_signal);
      break;
    case PROP_MAX_OUTPUT:
      g_value_set_uint64 (value, self->max_output);
      break;
    case PROP_STDIN_MODE:
    case PROP_STDOUT_MODE:
    case PROP_STDERR_MODE:
      g_value_set_enum (value, self->stdio[prop_id - PROP_STDIN_MODE]);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sa_spawn_options_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  SaSpawnOptions *self = SA_SPAWN_OPTIONS (object);

  switch (prop_id)
    {
    case PROP_ENV:
      sa_spawn_options_set_env (self, g_value_get_boxed (value));
      break;
    case PROP_CWD:
      sa_spawn_options_set_cwd (self, g_value_get_string (value));
      break;
    case PROP_INPUT:
      sa_spawn_options_set_input (self, g_value_get_boxed (value));
      break;
    case PROP_TIMEOUT_MS:
      sa_spawn_options_set_timeout_ms (self, g_value_get_uint (value));
      break;
    case PROP_KILL_SIGNAL:
      sa_spawn_options_set_kill_signal (self, g_value_get_int (value));
      break;
    case PROP_MAX_OUTPUT:
      sa_spawn_options_set_max_output (self, g_value_get_uint64 (value));
      break;
    case PROP_STDIN_MODE:
    case PROP_STDOUT_MODE:
    case PROP_STDERR_MODE:
      set_mode (self, prop_id - PROP_STDIN_MODE, g_value_get_enum (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sa_spawn_options_class_init (SaSpawnOptionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = sa_spawn_options_finalize;
  object_class->get_property = sa_spawn_options_get_property;
  object_class->set_property = sa_spawn_options_set_property;

  /**
   * SaSpawnOptions:env:
   *
   * The child's exact environment, as `NAME=value` entries. %NULL (the
   * default) gives the child the caller's environment as it is when the
   * command is started. An entry without `=` fails the command with
   * `G_IO_ERROR_INVALID_ARGUMENT`.
   *
   * `argv[0]` without a `/` is looked up in the `PATH` of this
   * environment, or in the caller's `PATH` when it has none.
   *
   * Like every string property it is UTF-8: entries that are not read
   * back with U+FFFD in place of their invalid bytes. Use
   * [method@Sa.SpawnOptions.set_env] and [method@Sa.SpawnOptions.get_env]
   * for entries in other encodings; they take and give the exact bytes.
   */
  properties[PROP_ENV] =
    g_param_spec_boxed ("env", NULL, NULL,
                        G_TYPE_STRV,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:cwd:
   *
   * The child's working directory; %NULL: the caller's. A directory that
   * does not exist fails the command with `G_SPAWN_ERROR_CHDIR`.
   *
   * Like every string property it is UTF-8: a name that is not reads
   * back with U+FFFD in place of its invalid bytes. Use
   * [method@Sa.SpawnOptions.set_cwd] and [method@Sa.SpawnOptions.get_cwd]
   * for a directory whose name is not UTF-8; they take and give the
   * exact bytes (a `bytes` or a `str` with surrogate escapes in Python).
   */
  properties[PROP_CWD] =
    g_param_spec_string ("cwd", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:input:
   *
   * Bytes written to the child's standard input, which is then closed.
   * Any size works, also when the child exits without reading it.
   * %NULL (the default): stdin is `/dev/null`.
   */
  properties[PROP_INPUT] =
    g_param_spec_boxed ("input", NULL, NULL,
                        G_TYPE_BYTES,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:timeout-ms:
   *
   * Milliseconds the child may run; 0 (the default): no limit. When it
   * expires the helper sends the child's whole process group
   * [property@Sa.SpawnOptions:kill-signal], then `SIGKILL` one second
   * later if anything in it is still alive. The result then says
   * [method@Sa.Result.get_timed_out].
   */
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:kill-signal:
   *
   * The signal sent to the child's process group on a timeout or when it
   * exceeds [property@Sa.SpawnOptions:max-output]; `SIGTERM` by default.
   * A number that is not a signal fails the command with
   * `G_IO_ERROR_INVALID_ARGUMENT`.
   */
  properties[PROP_KILL_SIGNAL] =
    g_param_spec_int ("kill-signal", NULL, NULL,
                      G_MININT, G_MAXINT, SIGTERM,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:max-output:
   *
   * The most bytes kept of each of stdout and stderr; 0: no limit. Past
   * it the child's process group gets the kill signal, the output is
   * truncated to the limit and [method@Sa.Result.get_output_truncated]
   * is %TRUE. The default, %SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT (1 GiB),
   * only stops runaway children.
   */
  properties[PROP_MAX_OUTPUT] =
    g_param_spec_uint64 ("max-output", NULL, NULL,
                         0, G_MAXUINT64, SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:stdin-mode:
   *
   * What the child's stdin is: %SA_STDIO_NULL (the default: `/dev/null`,
   * or a pipe fed with [property@Sa.SpawnOptions:input] when it is set),
   * %SA_STDIO_PIPE (a pipe: fed with the input by
   * [method@Sa.Worker.aspawn_async], or [method@Sa.Process.get_stdin_pipe]),
   * or %SA_STDIO_INHERIT (the caller's own stdin).
   *
   * Since: 1.2
   */
  properties[PROP_STDIN_MODE] =
    g_param_spec_enum ("stdin-mode", NULL, NULL,
                       SA_TYPE_STDIO, SA_STDIO_NULL,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:stdout-mode:
   *
   * What the child's stdout is: %SA_STDIO_PIPE (the default: captured by
   * [method@Sa.Worker.aspawn_async], or [method@Sa.Process.get_stdout_pipe]),
   * %SA_STDIO_NULL or %SA_STDIO_INHERIT.
   *
   * Since: 1.2
   */
  properties[PROP_STDOUT_MODE] =
    g_param_spec_enum ("stdout-mode", NULL, NULL,
                       SA_TYPE_STDIO, SA_STDIO_PIPE,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:stderr-mode:
   *
   * What the child's stderr is: %SA_STDIO_PIPE (the default),
   * %SA_STDIO_NULL, %SA_STDIO_INHERIT, or %SA_STDIO_MERGE (the same as
   * stdout: one interleaved stream, in order).
   *
   * Since: 1.2
   */
  properties[PROP_STDERR_MODE] =
    g_param_spec_enum ("stderr-mode", NULL, NULL,
                       SA_TYPE_STDIO, SA_STDIO_PIPE,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
sa_spawn_options_init (SaSpawnOptions *self)
{
  self->kill_signal = SIGTERM;
  self->max_output = SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT;
  self->stdio[0] = SA_STDIO_NULL;
  self->stdio[1] = SA_STDIO_PIPE;
  self->stdio[2] = SA_STDIO_PIPE;
  self->fds = g_array_new (FALSE, FALSE, sizeof (SaFdMapping));
}

/**
 * sa_spawn_options_get_env:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:env].
 *
 * Returns: (nullable) (array zero-terminated=1) (element-type filename) (transfer none):
 *   the child's environment, or %NULL for the caller's
 */
const char * const *
sa_spawn_options_get_env (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), NULL);

  return (const char * const *)self->env;
}

/**
 * sa_spawn_options_set_env:
 * @self: a #SaSpawnOptions
 * @env: (nullable) (array zero-terminated=1) (element-type filename):
 *   `NAME=value` entries, or %NULL for the caller's environment; like
 *   file names, they are bytes in no particular encoding
 *
 * Sets [property@Sa.SpawnOptions:env].
 */
void
sa_spawn_options_set_env (SaSpawnOptions     *self,
                          const char * const *env)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (self->env == NULL && env == NULL)
    return;
  if (self->env != NULL && env != NULL &&
      g_strv_equal ((const char * const *)self->env, env))
    return;

  g_strfreev (self->env);
  self->env = g_strdupv ((char **)env);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENV]);
}

/**
 * sa_spawn_options_get_cwd:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:cwd].
 *
 * Returns: (nullable) (type filename): the child's working directory
 */
const char *
sa_spawn_options_get_cwd (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), NULL);

  return self->cwd;
}

/**
 * sa_spawn_options_set_cwd:
 * @self: a #SaSpawnOptions
 * @cwd: (nullable) (type filename): a directory, or %NULL for the caller's
 *
 * Sets [property@Sa.SpawnOptions:cwd].
 */
void
sa_spawn_options_set_cwd (SaSpawnOptions *self,
                          const char     *cwd)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (g_strcmp0 (self->cwd, cwd) == 0)
    return;

  g_free (self->cwd);
  self->cwd = g_strdup (cwd);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CWD]);
}

/**
 * sa_spawn_options_get_input:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:input].
 *
 * Returns: (nullable) (transfer none): the bytes for the child's stdin
 */
GBytes *
sa_spawn_options_get_input (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), NULL);

  return self->input;
}

/**
 * sa_spawn_options_set_input:
 * @self: a #SaSpawnOptions
 * @input: (nullable): bytes for the child's stdin, or %NULL for `/dev/null`
 *
 * Sets [property@Sa.SpawnOptions:input].
 */
void
sa_spawn_options_set_input (SaSpawnOptions *self,
                            GBytes         *input)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (self->input == input)
    return;

  g_clear_pointer (&self->input, g_bytes_unref);
  self->input = input ? g_bytes_ref (input) : NULL;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INPUT]);
}

/**
 * sa_spawn_options_get_timeout_ms:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:timeout-ms].
 *
 * Returns: the time limit in milliseconds, 0 for none
 */
guint
sa_spawn_options_get_timeout_ms (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), 0);

  return self->timeout_ms;
}

/**
 * sa_spawn_options_set_timeout_ms:
 * @self: a #SaSpawnOptions
 * @timeout_ms: milliseconds, 0 for no limit
 *
 * Sets [property@Sa.SpawnOptions:timeout-ms].
 */
void
sa_spawn_options_set_timeout_ms (SaSpawnOptions *self,
                                 guint           timeout_ms)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (self->timeout_ms == timeout_ms)
    return;

  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}

/**
 * sa_spawn_options_get_kill_signal:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:kill-signal].
 *
 * Returns: the signal sent on a timeout or an exceeded output limit
 */
int
sa_spawn_options_get_kill_signal (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), SIGTERM);

  return self->kill_signal;
}

/**
 * sa_spawn_options_set_kill_signal:
 * @self: a #SaSpawnOptions
 * @kill_signal: a signal number, such as `SIGTERM` or `SIGINT`
 *
 * Sets [property@Sa.SpawnOptions:kill-signal].
 */
void
sa_spawn_options_set_kill_signal (SaSpawnOptions *self,
                                  int             kill_signal)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (self->kill_signal == kill_signal)
    return;

  self->kill_signal = kill_signal;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KILL_SIGNAL]);
}

/**
 * sa_spawn_options_get_max_output:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:max-output].
 *
 * Returns: the most bytes kept per stream, 0 for no limit
 */
guint64
sa_spawn_options_get_max_output (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), 0);

  return self->max_output;
}

/**
 * sa_spawn_options_set_max_output:
 * @self: a #SaSpawnOptions
 * @max_output: bytes per stream, 0 for no limit
 *
 * Sets [property@Sa.SpawnOptions:max-output].
 */
void
sa_spawn_options_set_max_output (SaSpawnOptions *self,
                                 guint64         max_output)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (self->max_output == max_output)
    return;

  self->max_output = max_output;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_OUTPUT]);
}

static void
set_mode (SaSpawnOptions *self,
          guint           fd,
          SaStdio         mode)
{
  if (self->stdio[fd] == mode)
    return;

  self->stdio[fd] = mode;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STDIN_MODE + fd]);
}

/**
 * sa_spawn_options_get_stdin_mode:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:stdin-mode].
 *
 * Returns: what the child's stdin is
 *
 * Since: 1.2
 */
SaStdio
sa_spawn_options_get_stdin_mode (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), SA_STDIO_NULL);

  return self->stdio[0];
}

/**
 * sa_spawn_options_set_stdin_mode:
 * @self: a #SaSpawnOptions
 * @mode: what the child's stdin is
 *
 * Sets [property@Sa.SpawnOptions:stdin-mode].
 *
 * Since: 1.2
 */
void
sa_spawn_options_set_stdin_mode (SaSpawnOptions *self,
                                 SaStdio         mode)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  set_mode (self, 0, mode);
}

/**
 * sa_spawn_options_get_stdout_mode:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:stdout-mode].
 *
 * Returns: what the child's stdout is
 *
 * Since: 1.2
 */
SaStdio
sa_spawn_options_get_stdout_mode (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), SA_STDIO_PIPE);

  return self->stdio[1];
}

/**
 * sa_spawn_options_set_stdout_mode:
 * @self: a #SaSpawnOptions
 * @mode: what the child's stdout is
 *
 * Sets [property@Sa.SpawnOptions:stdout-mode].
 *
 * Since: 1.2
 */
void
sa_spawn_options_set_stdout_mode (SaSpawnOptions *self,
                                  SaStdio         mode)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  set_mode (self, 1, mode);
}

/**
 * sa_spawn_options_get_stderr_mode:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:stderr-mode].
 *
 * Returns: what the child's stderr is
 *
 * Since: 1.2
 */
SaStdio
sa_spawn_options_get_stderr_mode (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), SA_STDIO_PIPE);

  return self->stdio[2];
}

/**
 * sa_spawn_options_set_stderr_mode:
 * @self: a #SaSpawnOptions
 * @mode: what the child's stderr is
 *
 * Sets [property@Sa.SpawnOptions:stderr-mode].
 *
 * Since: 1.2
 */
void
sa_spawn_options_set_stderr_mode (SaSpawnOptions *self,
                                  SaStdio         mode)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  set_mode (self, 2, mode);
}

/**
 * sa_spawn_options_take_fd:
 * @self: a #SaSpawnOptions
 * @source_fd: a file descriptor of the caller, which the options now own
 * @target_fd: its number in the child
 *
 * Gives every command started with these options @source_fd as its
 * descriptor @target_fd, as GSubprocessLauncher's `take_fd()`. Targets
 * 0, 1 and 2 override [property@Sa.SpawnOptions:stdin-mode],
 * `stdout-mode` and `stderr-mode` (a file as stdout, say); other targets
 * are extra descriptors (a pipe as fd 3). The child gets exactly 0, 1, 2
 * and its targets, nothing else.
 *
 * The options own @source_fd from now on and close it when they are
 * freed; it travels to the helper with each command (`SCM_RIGHTS`), so
 * options with descriptors can start many commands. Giving a target a
 * second time replaces (and closes) the first source.
 *
 * A negative descriptor, or more than 64 targets, makes the next
 * command fail with `G_IO_ERROR_INVALID_ARGUMENT`; a worker whose helper
 * runs on another machine cannot pass descriptors
 * (`G_IO_ERROR_NOT_SUPPORTED`).
 *
 * Since: 1.2
 */
void
sa_spawn_options_take_fd (SaSpawnOptions *self,
                          int             source_fd,
                          int             target_fd)
{
  SaFdMapping mapping = { source_fd, target_fd };

  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (source_fd < 0 || target_fd < 0)
    {
      if (self->fd_problem == NULL)
        self->fd_problem = g_strdup_printf (_("take_fd (%d, %d): a descriptor cannot be negative"),
                                            source_fd, target_fd);
      if (source_fd >= 0)
        close (source_fd);
      return;
    }

  /* Kept close-on-exec: it is the child's only through the helper. */
  fcntl (source_fd, F_SETFD, FD_CLOEXEC);

  for (guint i = 0; i < self->fds->len; i++)
    {
      SaFdMapping *old = &g_array_index (self->fds, SaFdMapping, i);

      if (old->target == target_fd)
        {
          if (old->source != source_fd)
            close (old->source);
          old->source = source_fd;
          return;
        }
    }
  g_array_append_val (self->fds, mapping);
}

/* Library-private: the descriptors given with take_fd(), and what was
 * wrong with one, if anything. */
const SaFdMapping *
sa_spawn_options_get_fds (SaSpawnOptions *self,
                          guint          *n_fds,
                          const char    **problem)
{
  *n_fds = self->fds->len;
  *problem = self->fd_problem;
  return (const SaFdMapping *)(gpointer)self->fds->data;
}
