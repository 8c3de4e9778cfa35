/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <sys/resource.h>
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
  int      pty_fd;        /* take_pty_fd(), owned; -1: none */
  gboolean new_session;
  gboolean detached;
  int      umask;         /* -1: inherit; checked when a command starts */
  char    *program;
  gboolean search_path;
  GArray  *rlimits;       /* SaProtoRlimit, by resource */
  char    *problem;       /* a take_fd() or set_rlimit() that cannot work,
                           * for the next spawn */
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
  PROP_NEW_SESSION,
  PROP_DETACHED,
  PROP_UMASK,
  PROP_PROGRAM,
  PROP_SEARCH_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Takes problem: what the next spawn fails with (the first one). */
static void
add_problem (SaSpawnOptions *self,
             char           *problem)
{
  /* The first one is what the next spawn says. */
  if (self->problem == NULL)
    self->problem = problem;
  else
    g_free (problem);
}

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
  if (self->pty_fd >= 0)
    close (self->pty_fd);
  g_clear_pointer (&self->program, g_free);
  g_clear_pointer (&self->rlimits, g_array_unref);
  g_clear_pointer (&self->problem, g_free);

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
    case PROP_NEW_SESSION:
      g_value_set_boolean (value, self->new_session);
      break;
    case PROP_DETACHED:
      g_value_set_boolean (value, self->detached);
      break;
    case PROP_UMASK:
      g_value_set_int (value, self->umask);
      break;
    case PROP_PROGRAM:
      g_value_take_string (value, self->program ? g_utf8_make_valid (self->program, -1) : NULL);
      break;
    case PROP_SEARCH_PATH:
      g_value_set_boolean (value, self->search_path);
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
    case PROP_NEW_SESSION:
      sa_spawn_options_set_new_session (self, g_value_get_boolean (value));
      break;
    case PROP_DETACHED:
      sa_spawn_options_set_detached (self, g_value_get_boolean (value));
      break;
    case PROP_UMASK:
      sa_spawn_options_set_umask (self, g_value_get_int (value));
      break;
    case PROP_PROGRAM:
      sa_spawn_options_set_program (self, g_value_get_string (value));
      break;
    case PROP_SEARCH_PATH:
      sa_spawn_options_set_search_path (self, g_value_get_boolean (value));
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
   * %SA_STDIO_INHERIT (the caller's own stdin), or %SA_STDIO_PTY (a
   * terminal the helper makes; with [method@Sa.Worker.aspawn_async],
   * stdout must be one too).
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
   * %SA_STDIO_NULL, %SA_STDIO_INHERIT or %SA_STDIO_PTY (a terminal the
   * helper makes: [method@Sa.Process.get_pty]; the result's stdout with
   * aspawn).
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
   * %SA_STDIO_NULL, %SA_STDIO_INHERIT, %SA_STDIO_MERGE (the same as
   * stdout: one interleaved stream, in order), or %SA_STDIO_PTY (the
   * terminal of the other streams that have it).
   *
   * Since: 1.2
   */
  properties[PROP_STDERR_MODE] =
    g_param_spec_enum ("stderr-mode", NULL, NULL,
                       SA_TYPE_STDIO, SA_STDIO_PIPE,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:new-session:
   *
   * Whether the child starts a new session (`setsid()`), rather than a
   * new process group in the caller's session: it then has no
   * controlling terminal, and a terminal opened later may become its
   * own. What `setsid()` in a GLib `child_setup` does. Implied by
   * %SA_STDIO_PTY, [method@Sa.SpawnOptions.take_pty_fd] and
   * [property@Sa.SpawnOptions:detached].
   *
   * Since: 1.2
   */
  properties[PROP_NEW_SESSION] =
    g_param_spec_boolean ("new-session", NULL, NULL, FALSE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:detached:
   *
   * Whether the child outlives its worker: it is not killed when the
   * worker is destroyed, when its helper dies or when the caller exits.
   * The one opt-out of "no orphans", for launchers ("open with") whose
   * programs must stay when the launcher goes. A detached child runs in
   * a new session. Timeouts, cancellation and
   * [method@Sa.Process.force_exit] still stop it while the worker lives.
   *
   * Give a detached child no pipes it outlives: after its worker has
   * gone, writing to one kills it with `SIGPIPE`. %SA_STDIO_NULL or a
   * file of [method@Sa.SpawnOptions.take_fd] is what it wants.
   *
   * Since: 1.2
   */
  properties[PROP_DETACHED] =
    g_param_spec_boolean ("detached", NULL, NULL, FALSE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:umask:
   *
   * The child's file mode creation mask, 0 to 0777, or -1 (the default)
   * for the caller's. Any other value makes the next command fail with
   * `G_IO_ERROR_INVALID_ARGUMENT`.
   *
   * Since: 1.2
   */
  properties[PROP_UMASK] =
    g_param_spec_int ("umask", NULL, NULL, G_MININT, G_MAXINT, -1,
                      (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:program:
   *
   * The executable to run, when it differs from `argv[0]` (which the
   * child then sees as its name, as `exec -a` in a shell). %NULL, the
   * default: `argv[0]`. It is looked up in `PATH` as `argv[0]` would be
   * ([property@Sa.SpawnOptions:search-path]).
   *
   * Since: 1.2
   */
  properties[PROP_PROGRAM] =
    g_param_spec_string ("program", NULL, NULL, NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaSpawnOptions:search-path:
   *
   * Whether a program name without a `/` is looked up in `PATH` (the
   * child's, else the caller's): %TRUE, the default. With %FALSE, such
   * a name is a file in the working directory, as
   * `G_SPAWN_SEARCH_PATH` left out of GLib's flags.
   *
   * Since: 1.2
   */
  properties[PROP_SEARCH_PATH] =
    g_param_spec_boolean ("search-path", NULL, NULL, TRUE,
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
  self->pty_fd = -1;
  self->umask = -1;
  self->search_path = TRUE;
  self->rlimits = g_array_new (FALSE, FALSE, sizeof (SaProtoRlimit));
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
      add_problem (self, g_strdup_printf (_("take_fd (%d, %d): a descriptor cannot be negative"),
                                          source_fd, target_fd));
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

#define BOOLEAN_ACCESSORS(name, NAME)                                                   \
  gboolean                                                                              \
  sa_spawn_options_get_##name (SaSpawnOptions *self)                                    \
  {                                                                                     \
    g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), FALSE);                           \
    return self->name;                                                                  \
  }                                                                                     \
                                                                                        \
  void                                                                                  \
  sa_spawn_options_set_##name (SaSpawnOptions *self,                                    \
                               gboolean        name)                                    \
  {                                                                                     \
    g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));                                      \
    name = !!name;                                                                      \
    if (self->name == name)                                                             \
      return;                                                                           \
    self->name = name;                                                                  \
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_##NAME]);                \
  }

/**
 * sa_spawn_options_get_new_session:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:new-session].
 *
 * Returns: whether the child starts a new session
 *
 * Since: 1.2
 */
/**
 * sa_spawn_options_set_new_session:
 * @self: a #SaSpawnOptions
 * @new_session: whether the child starts a new session
 *
 * Sets [property@Sa.SpawnOptions:new-session].
 *
 * Since: 1.2
 */
BOOLEAN_ACCESSORS (new_session, NEW_SESSION)

/**
 * sa_spawn_options_get_detached:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:detached].
 *
 * Returns: whether the child outlives its worker
 *
 * Since: 1.2
 */
/**
 * sa_spawn_options_set_detached:
 * @self: a #SaSpawnOptions
 * @detached: whether the child outlives its worker
 *
 * Sets [property@Sa.SpawnOptions:detached].
 *
 * Since: 1.2
 */
BOOLEAN_ACCESSORS (detached, DETACHED)

/**
 * sa_spawn_options_get_search_path:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:search-path].
 *
 * Returns: whether a bare program name is looked up in `PATH`
 *
 * Since: 1.2
 */
/**
 * sa_spawn_options_set_search_path:
 * @self: a #SaSpawnOptions
 * @search_path: whether a bare program name is looked up in `PATH`
 *
 * Sets [property@Sa.SpawnOptions:search-path].
 *
 * Since: 1.2
 */
BOOLEAN_ACCESSORS (search_path, SEARCH_PATH)

/**
 * sa_spawn_options_get_umask:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:umask].
 *
 * Returns: the child's umask, or -1 for the caller's
 *
 * Since: 1.2
 */
int
sa_spawn_options_get_umask (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), -1);

  return self->umask;
}

/**
 * sa_spawn_options_set_umask:
 * @self: a #SaSpawnOptions
 * @umask: the child's umask (0 to 0777), or -1 for the caller's
 *
 * Sets [property@Sa.SpawnOptions:umask].
 *
 * Since: 1.2
 */
void
sa_spawn_options_set_umask (SaSpawnOptions *self,
                            int             umask)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (self->umask == umask)
    return;

  self->umask = umask;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UMASK]);
}

/**
 * sa_spawn_options_get_program:
 * @self: a #SaSpawnOptions
 *
 * Gets [property@Sa.SpawnOptions:program].
 *
 * Returns: (nullable) (type filename): the executable, or %NULL for `argv[0]`
 *
 * Since: 1.2
 */
const char *
sa_spawn_options_get_program (SaSpawnOptions *self)
{
  g_return_val_if_fail (SA_IS_SPAWN_OPTIONS (self), NULL);

  return self->program;
}

/**
 * sa_spawn_options_set_program:
 * @self: a #SaSpawnOptions
 * @program: (nullable) (type filename): the executable, or %NULL for `argv[0]`
 *
 * Sets [property@Sa.SpawnOptions:program]. An empty name makes the
 * next command fail with `G_IO_ERROR_INVALID_ARGUMENT`.
 *
 * Since: 1.2
 */
void
sa_spawn_options_set_program (SaSpawnOptions *self,
                              const char     *program)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (g_strcmp0 (self->program, program) == 0)
    return;

  g_free (self->program);
  self->program = g_strdup (program);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRAM]);
}

/**
 * sa_spawn_options_set_rlimit:
 * @self: a #SaSpawnOptions
 * @resource: a resource, as `setrlimit()` names them (`RLIMIT_NOFILE`, …;
 *   Python's `resource.RLIMIT_NOFILE`)
 * @soft: the soft limit, or %SA_RLIMIT_INFINITY
 * @hard: the hard limit, or %SA_RLIMIT_INFINITY
 *
 * Sets a resource limit of the child, as `setrlimit()` in a GLib
 * `child_setup` would: `set_rlimit (RLIMIT_NOFILE, 64, 64)` shows as 64
 * in `ulimit -n`. Setting a resource again replaces its limits.
 *
 * An unknown resource, a negative limit (other than
 * %SA_RLIMIT_INFINITY) or a soft limit above the hard one make the next
 * command fail with `G_IO_ERROR_INVALID_ARGUMENT`. A hard limit above
 * the caller's own needs privileges: without them the command fails to
 * start with `G_SPAWN_ERROR_PERM`.
 *
 * Since: 1.2
 */
void
sa_spawn_options_set_rlimit (SaSpawnOptions *self,
                             int             resource,
                             gint64          soft,
                             gint64          hard)
{
  g_autofree char *call = NULL;
  SaProtoRlimit limit;

  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (resource < 0 || resource >= RLIM_NLIMITS)
    {
      add_problem (self, g_strdup_printf (_("set_rlimit (%d, …): %d is not a resource limit"),
                                          resource, resource));
      return;
    }
  call = g_strdup_printf ("set_rlimit (%d, %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")",
                          resource, soft, hard);
  if (soft < SA_RLIMIT_INFINITY || hard < SA_RLIMIT_INFINITY)
    {
      add_problem (self, g_strdup_printf (_("%s: a limit cannot be negative"), call));
      return;
    }

  limit.resource = (guint32)resource;
  limit.soft = soft == SA_RLIMIT_INFINITY ? G_MAXUINT64 : (guint64)soft;
  limit.hard = hard == SA_RLIMIT_INFINITY ? G_MAXUINT64 : (guint64)hard;
  if (limit.soft > limit.hard)
    {
      add_problem (self, g_strdup_printf (_("%s: the soft limit is above the hard one"), call));
      return;
    }

  for (guint i = 0; i < self->rlimits->len; i++)
    if (g_array_index (self->rlimits, SaProtoRlimit, i).resource == limit.resource)
      {
        g_array_index (self->rlimits, SaProtoRlimit, i) = limit;
        return;
      }
  g_array_append_val (self->rlimits, limit);
}

/**
 * sa_spawn_options_take_pty_fd:
 * @self: a #SaSpawnOptions
 * @pty_fd: the terminal's side for a child (a pseudo-terminal's peer,
 *   from `posix_openpt()` and `ptsname()`, or a `VtePty`'s), which the
 *   options now own
 *
 * Gives every command started with these options the terminal @pty_fd
 * as its stdin, stdout and stderr, in a new session, as its controlling
 * terminal: what a terminal emulator does for its shell, and what
 * `vte_pty_child_setup()` does in a GLib `child_setup`. It overrides
 * the three stdio modes and [property@Sa.SpawnOptions:input]; the
 * caller reads and writes the terminal's other side itself.
 *
 * For a terminal the helper makes, see %SA_STDIO_PTY. A negative
 * descriptor makes the next command fail with
 * `G_IO_ERROR_INVALID_ARGUMENT`; a descriptor that is not a terminal
 * makes it fail to start (`G_SPAWN_ERROR`, "Inappropriate ioctl for
 * device").
 *
 * Since: 1.2
 */
void
sa_spawn_options_take_pty_fd (SaSpawnOptions *self,
                              int             pty_fd)
{
  g_return_if_fail (SA_IS_SPAWN_OPTIONS (self));

  if (pty_fd < 0)
    {
      add_problem (self, g_strdup_printf (_("take_pty_fd (%d): a descriptor cannot be negative"),
                                          pty_fd));
      return;
    }

  fcntl (pty_fd, F_SETFD, FD_CLOEXEC);
  if (self->pty_fd >= 0 && self->pty_fd != pty_fd)
    close (self->pty_fd);
  self->pty_fd = pty_fd;
}

/* Library-private: the resource limits, and take_pty_fd()'s terminal. */
const SaProtoRlimit *
sa_spawn_options_get_rlimits (SaSpawnOptions *self,
                              guint          *n_rlimits)
{
  *n_rlimits = self->rlimits->len;
  return (const SaProtoRlimit *)(gpointer)self->rlimits->data;
}

int
sa_spawn_options_get_pty_fd (SaSpawnOptions *self)
{
  return self->pty_fd;
}

/* Library-private: the descriptors given with take_fd(), and what was
 * wrong with one (or with set_rlimit()), if anything. */
const SaFdMapping *
sa_spawn_options_get_fds (SaSpawnOptions *self,
                          guint          *n_fds,
                          const char    **problem)
{
  *n_fds = self->fds->len;
  *problem = self->problem;
  return (const SaFdMapping *)(gpointer)self->fds->data;
}
