/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sa-command-private.h"
#include "sa-connection-private.h"
#include "sa-debug-private.h"
#include "sa-error.h"
#include "sa-protocol.h"
#include "sa-worker.h"

/**
 * SaWorker:
 *
 * Runs commands asynchronously through a small helper process.
 *
 * A `SaWorker` starts `spawn-async-helper` with `posix_spawn()` when it
 * is created, and the helper creates every child. The calling process
 * never forks, so spawning costs the same with a 16 MiB heap as with an
 * 8 GiB one, and the caller's main loop never waits for a child to be
 * created: [method@Sa.Worker.aspawn_async] only hands the command over
 * (one non-blocking send to the helper, or a queue).
 *
 * ```c
 * static void
 * on_done (GObject *source, GAsyncResult *res, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);
 *
 *   if (result == NULL || !sa_result_check (result, &error))
 *     g_printerr ("%s\n", error->message);
 *   else
 *     g_print ("%s", sa_result_get_stdout (result));
 * }
 *
 * const char *argv[] = { "ls", "-l", "/etc/passwd", NULL };
 * sa_worker_aspawn_async (worker, argv, NULL, NULL, on_done, NULL);
 * ```
 *
 * If the helper dies, the commands in flight fail with
 * %SA_WORKER_ERROR_EXITED, [signal@Sa.Worker::exit] is emitted and a new
 * helper is started. [method@Sa.Worker.destroy] (or the last unref) stops
 * the helper and every child it started.
 */
struct _SaWorker
{
  GObject        parent_instance;

  SaConnection  *connection;
  GMainContext  *owner_context;
  int            helper_pid;       /* atomic: set from the I/O thread */
  GPid           notified_pid;
  gboolean       destroyed;
};

static void sa_worker_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SaWorker, sa_worker, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      sa_worker_initable_iface_init))

enum {
  PROP_0,
  PROP_HELPER_PID,
  N_PROPS
};

enum {
  EXIT,
  ERROR,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* -- events from the I/O thread ------------------------------------------ */

typedef enum
{
  EVENT_STARTED,
  EVENT_EXITED,
  EVENT_FAILED,
} EventKind;

typedef struct
{
  GWeakRef   worker;
  EventKind  kind;
  GError    *error;
} Event;

static void
event_free (gpointer data)
{
  Event *event = data;

  g_weak_ref_clear (&event->worker);
  g_clear_error (&event->error);
  g_free (event);
}

static void
notify_helper_pid (SaWorker *self)
{
  GPid pid = sa_worker_get_helper_pid (self);

  if (pid != self->notified_pid)
    {
      self->notified_pid = pid;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELPER_PID]);
    }
}

static gboolean
deliver_event (gpointer data)
{
  Event *event = data;
  g_autoptr(SaWorker) self = g_weak_ref_get (&event->worker);

  if (self == NULL || self->destroyed)
    return G_SOURCE_REMOVE;

  notify_helper_pid (self);

  if (event->kind == EVENT_EXITED)
    g_signal_emit (self, signals[EXIT], 0, event->error);
  else if (event->kind == EVENT_FAILED)
    g_signal_emit (self, signals[ERROR], 0, event->error);

  return G_SOURCE_REMOVE;
}

/* Runs in the I/O thread, which must never hold a reference to the
 * worker: the event only carries a weak one to the owner's context. */
static void
post_event (SaWorker     *self,
            EventKind     kind,
            const GError *error)
{
  Event *event = g_new0 (Event, 1);

  g_weak_ref_init (&event->worker, self);
  event->kind = kind;
  event->error = error ? g_error_copy (error) : NULL;
  g_main_context_invoke_full (self->owner_context, G_PRIORITY_DEFAULT,
                              deliver_event, event, event_free);
}

static void
on_helper_started (GPid     pid,
                   gpointer user_data)
{
  SaWorker *self = user_data;

  g_atomic_int_set (&self->helper_pid, pid);
  post_event (self, EVENT_STARTED, NULL);
}

static void
on_helper_exited (const GError *error,
                  gpointer      user_data)
{
  SaWorker *self = user_data;

  g_atomic_int_set (&self->helper_pid, 0);
  post_event (self, EVENT_EXITED, error);
}

static void
on_failed (const GError *error,
           gpointer      user_data)
{
  SaWorker *self = user_data;

  g_atomic_int_set (&self->helper_pid, 0);
  post_event (self, EVENT_FAILED, error);
}

static const SaConnectionCallbacks connection_callbacks = {
  .helper_started = on_helper_started,
  .helper_exited = on_helper_exited,
  .failed = on_failed,
};

/* -- construction ------------------------------------------------------- */

/**
 * sa_worker_new:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates a worker and starts its helper process, waiting until the
 * helper is ready (about a millisecond). The helper is
 * `spawn-async-helper` in the library's `libexecdir`, or the program
 * named by the `SPAWN_ASYNC_HELPER` environment variable.
 *
 * Returns: (transfer full): a new worker, or %NULL with @error set
 *   (%SA_WORKER_ERROR_FAILED) when the helper could not be started
 */
SaWorker *
sa_worker_new (GCancellable  *cancellable,
               GError       **error)
{
  return g_initable_new (SA_TYPE_WORKER, cancellable, error, NULL);
}

static gboolean
sa_worker_initable_init (GInitable     *initable,
                         GCancellable  *cancellable,
                         GError       **error)
{
  SaWorker *self = SA_WORKER (initable);
  const char *helper_path = g_getenv ("SPAWN_ASYNC_HELPER");

  g_return_val_if_fail (self->connection == NULL, FALSE);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  if (helper_path == NULL || helper_path[0] == '\0')
    helper_path = SA_HELPER_PATH;

  self->connection = sa_connection_new (helper_path, &connection_callbacks, self, error);
  if (self->connection == NULL)
    return FALSE;

  notify_helper_pid (self);
  return TRUE;
}

static void
sa_worker_initable_iface_init (GInitableIface *iface)
{
  iface->init = sa_worker_initable_init;
}

static void
sa_worker_dispose (GObject *object)
{
  sa_worker_destroy (SA_WORKER (object));

  G_OBJECT_CLASS (sa_worker_parent_class)->dispose (object);
}

static void
sa_worker_finalize (GObject *object)
{
  SaWorker *self = (SaWorker *)object;

  g_clear_pointer (&self->connection, sa_connection_free);
  g_clear_pointer (&self->owner_context, g_main_context_unref);

  G_OBJECT_CLASS (sa_worker_parent_class)->finalize (object);
}

static void
sa_worker_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  SaWorker *self = SA_WORKER (object);

  switch (prop_id)
    {
    case PROP_HELPER_PID:
      g_value_set_int (value, sa_worker_get_helper_pid (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sa_worker_class_init (SaWorkerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  sa_init_i18n ();

  object_class->dispose = sa_worker_dispose;
  object_class->finalize = sa_worker_finalize;
  object_class->get_property = sa_worker_get_property;

  /**
   * SaWorker:helper-pid:
   *
   * The process id of the running helper, 0 when there is none (after
   * [method@Sa.Worker.destroy], or while a dead helper is restarted).
   */
  properties[PROP_HELPER_PID] =
    g_param_spec_int ("helper-pid", NULL, NULL,
                      0, G_MAXINT, 0,
                      (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * SaWorker::exit:
   * @self: a #SaWorker
   * @error: (nullable): why the helper exited
   *
   * The helper process exited. @error is %NULL after
   * [method@Sa.Worker.destroy]; when the helper died on its own it is a
   * %SA_WORKER_ERROR_EXITED error, the commands that were pending have
   * failed with it, and a new helper is being started.
   */
  signals[EXIT] =
    g_signal_new ("exit",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);

  /**
   * SaWorker::error:
   * @self: a #SaWorker
   * @error: why the worker cannot go on
   *
   * The worker can run no further commands: its helper could not be
   * restarted. Every later command fails with %SA_WORKER_ERROR_FAILED.
   */
  signals[ERROR] =
    g_signal_new ("error",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
sa_worker_init (SaWorker *self)
{
  self->owner_context = g_main_context_ref_thread_default ();
}

/* -- spawning -------------------------------------------------------------- */


/* Where argv[0] is looked up: the child's PATH, else the caller's, else
 * the system default. Empty for a program given with a slash. */
static const char *
search_path (const char         *program,
             const char * const *env)
{
  const char *path;

  if (strchr (program, '/') != NULL)
    return "";

  for (; env != NULL && *env != NULL; env++)
    if (g_str_has_prefix (*env, "PATH="))
      return *env + strlen ("PATH=");

  path = g_getenv ("PATH");
  return path != NULL ? path : "/bin:/usr/bin";
}

static gboolean
validate (const char * const  *argv,
          const char * const  *env,
          int                  kill_signal,
          GError             **error)
{
  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The argument vector must hold at least a program name"));
      return FALSE;
    }

  for (; env != NULL && *env != NULL; env++)
    {
      if (strchr (*env, '=') == NULL || (*env)[0] == '=')
        {
          /* The entry has no value to hide: it is the name that is wrong. */
          g_autofree char *entry = g_utf8_make_valid (*env, -1);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The environment entry “%s” is not of the form NAME=value"),
                       entry);
          return FALSE;
        }
    }

  if (kill_signal <= 0 || kill_signal >= NSIG)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%d is not a signal number"), kill_signal);
      return FALSE;
    }

  return TRUE;
}

static SaCommand *
prepare_command (GTask               *task,
                 const char * const  *argv,
                 SaSpawnOptions      *options,
                 GError             **error)
{
  const char * const *env = options ? sa_spawn_options_get_env (options) : NULL;
  const char *cwd = options ? sa_spawn_options_get_cwd (options) : NULL;
  GBytes *input = options ? sa_spawn_options_get_input (options) : NULL;
  guint timeout_ms = options ? sa_spawn_options_get_timeout_ms (options) : 0;
  int kill_signal = options ? sa_spawn_options_get_kill_signal (options) : SIGTERM;
  guint64 max_output = options ? sa_spawn_options_get_max_output (options)
                               : SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT;
  const char * const *child_env;
  const char *path;
  guint8 *frame;
  gsize size;

  if (!validate (argv, env, kill_signal, error))
    return NULL;

  /* NULL: the caller's environment as it is now. */
  child_env = env != NULL ? env : (const char * const *)environ;
  path = search_path (argv[0], child_env);

  size = sa_proto_spawn_size (argv, child_env, path, cwd);
  if (size == 0)
    {
      g_autofree char *program = g_utf8_make_valid (argv[0], -1);

      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_TOO_BIG,
                   _("Failed to execute “%s”: %s"), program, g_strerror (E2BIG));
      return NULL;
    }

  frame = g_malloc (size);
  sa_proto_spawn_encode (frame, 0, input ? SA_SPAWN_FLAG_STDIN_PIPE : 0,
                         timeout_ms, kill_signal, argv, child_env, path, cwd);

  return sa_command_new (task, argv[0], cwd, frame, size, input, max_output, kill_signal);
}

/**
 * sa_worker_aspawn_async:
 * @self: a #SaWorker
 * @argv: (array zero-terminated=1): the program and its arguments;
 *   `argv[0]` without a `/` is looked up in `PATH`
 * @options: (nullable): how to run it, or %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable; cancelling it kills the
 *   child's process group
 * @callback: (scope async): called with the result in the thread-default
 *   main context of the calling thread
 * @user_data: (closure): data for @callback
 *
 * Runs @argv through the worker's helper and calls @callback when it has
 * ended and its output has been read; get the [class@Sa.Result] with
 * [method@Sa.Worker.aspawn_finish]. This only hands the command over
 * (one non-blocking send to the helper, or a queue for the worker's
 * I/O thread): it never blocks, and it may be called from any thread.
 *
 * Any number of commands may be in flight at once; each gets its own
 * answer, in the order they end.
 *
 * The command has ended when its child has exited and its stdout and
 * stderr are closed. A child that leaves a background process holding
 * them open (a daemon, `sh -c 'server &'`) does not hold the answer: it
 * comes 100 ms after the child exited, with the output read until then,
 * and the pipes are closed. The background process keeps running, but it
 * is still part of the command: it is killed with the child's process
 * group when the worker is destroyed or the caller exits. A daemon that
 * should outlive the worker leaves the group with `setsid()`.
 */
void
sa_worker_aspawn_async (SaWorker            *self,
                        const char * const  *argv,
                        SaSpawnOptions      *options,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  SaCommand *command;

  g_return_if_fail (SA_IS_WORKER (self));
  g_return_if_fail (options == NULL || SA_IS_SPAWN_OPTIONS (options));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, sa_worker_aspawn_async);
  g_task_set_name (task, "[spawn-async] aspawn");

  if (g_task_return_error_if_cancelled (task))
    return;

  if (self->connection == NULL)
    {
      g_task_return_new_error (task, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                               _("The worker was not initialized"));
      return;
    }

  command = prepare_command (task, argv, options, &error);
  if (command == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!sa_connection_submit (self->connection, command, &error))
    {
      sa_command_fail (command, g_steal_pointer (&error));
      sa_command_free (command);
    }
}

/**
 * sa_worker_aspawn_finish:
 * @self: a #SaWorker
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the result of [method@Sa.Worker.aspawn_async]. There is a result
 * for every command that ran, whatever its exit status: call
 * [method@Sa.Result.check] to turn a failure of the child into an error.
 * This fails only when there is no result:
 *
 * - `G_IO_ERROR_INVALID_ARGUMENT`: empty argv, an environment entry
 *   without `=`, or a kill signal that is not a signal;
 * - `G_SPAWN_ERROR`: the program was not found or could not be executed,
 *   the working directory is missing (`G_SPAWN_ERROR_CHDIR`), the
 *   arguments are too long, …;
 * - `G_IO_ERROR_CANCELLED`: the cancellable was cancelled;
 * - %SA_WORKER_ERROR_DESTROYED, %SA_WORKER_ERROR_EXITED,
 *   %SA_WORKER_ERROR_FAILED: see [error@Sa.WorkerError].
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
SaResult *
sa_worker_aspawn_finish (SaWorker      *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (SA_IS_WORKER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sa_worker_aspawn_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * sa_worker_destroy:
 * @self: a #SaWorker
 *
 * Stops the worker: pending commands fail with
 * %SA_WORKER_ERROR_DESTROYED, every child the worker started is killed
 * with its process group, the helper exits, [property@Sa.Worker:helper-pid]
 * becomes 0 and [signal@Sa.Worker::exit] is emitted with a %NULL error.
 * Later calls to [method@Sa.Worker.aspawn_async] fail with
 * %SA_WORKER_ERROR_DESTROYED.
 *
 * Calling it again does nothing; the last unref calls it too.
 */
void
sa_worker_destroy (SaWorker *self)
{
  g_return_if_fail (SA_IS_WORKER (self));

  if (self->destroyed)
    return;
  self->destroyed = TRUE;

  if (self->connection != NULL)
    sa_connection_shutdown (self->connection);

  g_atomic_int_set (&self->helper_pid, 0);
  notify_helper_pid (self);

  if (self->connection != NULL)
    g_signal_emit (self, signals[EXIT], 0, NULL);
}

/**
 * sa_worker_get_helper_pid:
 * @self: a #SaWorker
 *
 * Gets the process id of the worker's running helper.
 *
 * Returns: the value of [property@Sa.Worker:helper-pid]
 */
GPid
sa_worker_get_helper_pid (SaWorker *self)
{
  g_return_val_if_fail (SA_IS_WORKER (self), 0);

  return g_atomic_int_get (&self->helper_pid);
}
