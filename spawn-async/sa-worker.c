/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sa-host-private.h"
#include "sa-command-private.h"
#include "sa-tsan-private.h"
#include "sa-connection-private.h"
#include "sa-debug-private.h"
#include "sa-error.h"
#include "sa-process-private.h"
#include "sa-protocol.h"
#include "sa-request-private.h"
#include "sa-task-private.h"
#include "sa-worker-private.h"

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
 * %SA_WORKER_ERROR_EXITED, every process group it started is killed,
 * [signal@Sa.Worker::exit] is emitted and a new helper is started.
 * [method@Sa.Worker.destroy] stops the helper and every child it started.
 *
 * Threads: a worker may be used from any thread. Each command's callback
 * runs in the thread-default main context of the thread that started it;
 * the worker's own signals, [signal@Sa.Worker::exit],
 * [signal@Sa.Worker::error] and `notify::helper-pid`, are emitted in the
 * thread-default main context of the thread that created the worker,
 * whichever thread destroys it or drops its last reference. That context
 * must keep running for them to be emitted (and, when the last reference
 * is dropped in another thread, for the worker to be freed).
 *
 * Processes: a worker belongs to the process that created it. After
 * `fork()`, the child's copy must not be used: its calls fail with
 * %SA_WORKER_ERROR_FAILED and never touch the parent's helper, and
 * destroying it or dropping it there does nothing (its memory is left
 * alone, as the copy of a thread that no longer exists).
 */
struct _SaWorker
{
  GObject        parent_instance;

  SaConnection  *connection;
  GMainContext  *owner_context;
  GThread       *owner_thread;
  int            helper_pid;       /* atomic: set from the I/O thread */
  GPid           notified_pid;     /* the owner's */
  int            destroyed;        /* atomic */
  gboolean       initialized;      /* the helper was ready: exit is owed */
  struct _Startup *startup;
  GStrv          launcher;         /* construct-only */
  char          *helper_path;      /* sa_worker_new_for_host(): the host's copy */
};

static void sa_worker_initable_iface_init       (GInitableIface      *iface);
static void sa_worker_async_initable_iface_init (GAsyncInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SaWorker, sa_worker, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      sa_worker_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                      sa_worker_async_initable_iface_init))

enum {
  PROP_0,
  PROP_HELPER_PID,
  PROP_LAUNCHER,
  N_PROPS
};

enum {
  EXIT,
  ERROR,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* -- events, emitted in the owner's context ------------------------------------ */

typedef enum
{
  EVENT_STARTED,
  EVENT_EXITED,
  EVENT_FAILED,
  EVENT_DESTROYED,
} EventKind;

typedef struct
{
  GWeakRef   worker;         /* events from the I/O thread */
  SaWorker  *strong;         /* EVENT_DESTROYED: keeps the worker until then */
  EventKind  kind;
  GError    *error;
} Event;

static void
event_free (gpointer data)
{
  Event *event = data;

  SA_TSAN_ACQUIRE (event);

  g_weak_ref_clear (&event->worker);
  g_clear_object (&event->strong);
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
  g_autoptr(SaWorker) self = NULL;

  SA_TSAN_ACQUIRE (event);
  self = event->strong ? g_object_ref (event->strong) : g_weak_ref_get (&event->worker);
  if (self == NULL)
    return G_SOURCE_REMOVE;

  if (event->kind == EVENT_DESTROYED)
    {
      notify_helper_pid (self);
      g_signal_emit (self, signals[EXIT], 0, NULL);
      return G_SOURCE_REMOVE;
    }

  /* The destruction said the last word. */
  if (g_atomic_int_get (&self->destroyed))
    return G_SOURCE_REMOVE;

  notify_helper_pid (self);
  if (event->kind == EVENT_EXITED)
    g_signal_emit (self, signals[EXIT], 0, event->error);
  else if (event->kind == EVENT_FAILED)
    g_signal_emit (self, signals[ERROR], 0, event->error);

  return G_SOURCE_REMOVE;
}

/* Always a new source in the owner's context, never a call in place:
 * events come from the I/O thread, or from a thread that is not the
 * owner's. */
static void
post_event (SaWorker     *self,
            Event        *event)
{
  GSource *source = g_idle_source_new ();

  SA_TSAN_RELEASE (event);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, deliver_event, event, event_free);
  g_source_set_static_name (source, "[spawn-async] worker event");
  g_source_attach (source, self->owner_context);
  g_source_unref (source);
}

/* Runs in the I/O thread, which must never hold a reference to the
 * worker: the event only carries a weak one to the owner's context. */
static void
post_io_event (SaWorker     *self,
               EventKind     kind,
               const GError *error)
{
  Event *event = g_new0 (Event, 1);

  g_weak_ref_init (&event->worker, self);
  event->kind = kind;
  event->error = error ? g_error_copy (error) : NULL;
  post_event (self, event);
}

/* In the owner's thread, or through its context when it is iterated by
 * this thread. */
static gboolean
in_owner_context (SaWorker *self)
{
  return g_thread_self () == self->owner_thread ||
         g_main_context_is_owner (self->owner_context);
}

/* -- what the I/O thread reports ------------------------------------------------ */

typedef struct _Startup
{
  gatomicrefcount  ref_count;
  GMutex           lock;
  GCond            cond;
  gboolean         done;         /* ready, failed, or cancelled */
  gboolean         cancelled;
  GError          *error;
  GTask           *task;         /* sa_worker_new_async(): returned once */
} Startup;

static Startup *
startup_new (void)
{
  Startup *startup = g_new0 (Startup, 1);

  g_atomic_ref_count_init (&startup->ref_count);
  g_mutex_init (&startup->lock);
  g_cond_init (&startup->cond);
  return startup;
}

static Startup *
startup_ref (Startup *startup)
{
  g_atomic_ref_count_inc (&startup->ref_count);
  return startup;
}

static void
startup_unref (Startup *startup)
{
  if (!g_atomic_ref_count_dec (&startup->ref_count))
    return;

  g_assert (startup->task == NULL);
  g_clear_error (&startup->error);
  g_mutex_clear (&startup->lock);
  g_cond_clear (&startup->cond);
  g_free (startup);
}

static void
startup_unref_closure (gpointer  data,
                       GClosure *closure)
{
  startup_unref (data);
}

/* The first of the helper's readiness and a cancellation decides. */
static void
startup_finish (Startup      *startup,
                const GError *error,
                gboolean      cancelled)
{
  GTask *task = NULL;

  sa_mutex_lock (&startup->lock);
  if (!startup->done)
    {
      startup->done = TRUE;
      startup->cancelled = cancelled;
      startup->error = error ? g_error_copy (error) : NULL;
      task = g_steal_pointer (&startup->task);
      g_cond_broadcast (&startup->cond);
    }
  sa_mutex_unlock (&startup->lock);

  if (task == NULL)
    return;
  if (cancelled)
    sa_task_return_error_later (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                           _("Operation was cancelled")));
  else if (error != NULL)
    sa_task_return_error_later (task, g_error_copy (error));
  else
    sa_task_return_boolean_later (task, TRUE);
}

static void
on_startup_cancelled (GCancellable *cancellable,
                      Startup      *startup)
{
  startup_finish (startup, NULL, TRUE);
}

static void
on_ready (const GError *error,
          gpointer      user_data)
{
  SaWorker *self = user_data;

  startup_finish (self->startup, error, FALSE);
}

static void
on_helper_started (GPid     pid,
                   gpointer user_data)
{
  SaWorker *self = user_data;

  g_atomic_int_set (&self->helper_pid, pid);
  post_io_event (self, EVENT_STARTED, NULL);
}

static void
on_helper_exited (const GError *error,
                  gpointer      user_data)
{
  SaWorker *self = user_data;

  g_atomic_int_set (&self->helper_pid, 0);
  post_io_event (self, EVENT_EXITED, error);
}

static void
on_failed (const GError *error,
           gpointer      user_data)
{
  SaWorker *self = user_data;

  g_atomic_int_set (&self->helper_pid, 0);
  post_io_event (self, EVENT_FAILED, error);
}

static const SaConnectionCallbacks connection_callbacks = {
  .ready = on_ready,
  .helper_started = on_helper_started,
  .helper_exited = on_helper_exited,
  .failed = on_failed,
};

/* -- construction ----------------------------------------------------------------- */

/**
 * sa_worker_new:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates a worker and starts its helper process, waiting until the
 * helper is ready (about a millisecond, at most 5 seconds for a helper
 * that does not answer, 30 through a [property@Sa.Worker:launcher]). Cancelling @cancellable from another thread
 * ends the wait at once. Use [func@Sa.Worker.new_async] in a program whose
 * main loop must never wait.
 *
 * The helper is `spawn-async-helper` in the library's `libexecdir`, or
 * the program named by the `SPAWN_ASYNC_HELPER` environment variable
 * (which is ignored in a setuid, setgid or file-capability process).
 *
 * Returns: (transfer full): a new worker, or %NULL with @error set
 *   (%SA_WORKER_ERROR_FAILED when the helper could not be started,
 *   `G_IO_ERROR_CANCELLED`)
 */
SaWorker *
sa_worker_new (GCancellable  *cancellable,
               GError       **error)
{
  return g_initable_new (SA_TYPE_WORKER, cancellable, error, NULL);
}

/**
 * sa_worker_new_async:
 * @io_priority: the I/O priority of the request (unused)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the worker is ready, in the
 *   thread-default main context of the calling thread
 * @user_data: (closure): data for @callback
 *
 * Creates a worker without waiting for its helper: the call returns at
 * once (it starts the worker's thread, which starts the helper), and
 * @callback is called when the helper is ready or could not be started.
 * Get the worker with [ctor@Sa.Worker.new_finish].
 *
 * Since: 1.2
 */
void
sa_worker_new_async (int                  io_priority,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_async_initable_new_async (SA_TYPE_WORKER, io_priority, cancellable,
                              callback, user_data, NULL);
}

/**
 * sa_worker_new_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the worker created by [func@Sa.Worker.new_async].
 *
 * Returns: (transfer full): the worker, or %NULL with @error set, as
 *   for [ctor@Sa.Worker.new]
 *
 * Since: 1.2
 */
SaWorker *
sa_worker_new_finish (GAsyncResult  *result,
                      GError       **error)
{
  g_autoptr(GObject) source = g_async_result_get_source_object (result);
  GObject *object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);

  return object != NULL ? SA_WORKER (object) : NULL;
}

/* The helper this process runs: SPAWN_ASYNC_HELPER, else the installed
 * one. Not from the environment of a setuid, setgid or file-capability
 * process: the user who runs it would choose what it runs. */
static const char *
default_helper_path (void)
{
  const char *helper_path = secure_getenv ("SPAWN_ASYNC_HELPER");

  return helper_path != NULL && helper_path[0] != '\0' ? helper_path : SA_HELPER_PATH;
}

/**
 * sa_worker_new_for_host:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Inside a Flatpak sandbox, creates a worker whose helper, and so every
 * command, runs on the host: the helper is started with `flatpak-spawn
 * --host --watch-bus --forward-fd=3` (the application needs
 * `--talk-name=org.freedesktop.Flatpak` in its `finish-args`), from a
 * copy in the application's runtime directory, which the host shares.
 * Everything works as with [ctor@Sa.Worker.new], terminals, signals and
 * live processes included; process ids are the host's. When the
 * application dies, the host's commands die with it.
 *
 * Outside a sandbox it is [ctor@Sa.Worker.new]. See the “Host,
 * containers and remote machines” page.
 *
 * Returns: (transfer full): a new #SaWorker, or %NULL with @error set
 *   (%SA_WORKER_ERROR_FAILED when the helper cannot be copied or
 *   started on the host)
 *
 * Since: 1.2
 */
/* A worker, not initialized yet, that starts helper_path (taken) on the
 * Flatpak host. */
static SaWorker *
host_worker_new (char *helper_path)
{
  g_auto(GStrv) launcher = sa_host_launcher ();
  SaWorker *self = g_object_new (SA_TYPE_WORKER, "launcher", launcher, NULL);

  self->helper_path = helper_path;
  return self;
}

SaWorker *
sa_worker_new_for_host (GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(SaWorker) self = NULL;
  char *helper_path;

  if (!sa_host_in_flatpak ())
    return sa_worker_new (cancellable, error);

  helper_path = sa_host_prepare_helper (default_helper_path (), cancellable, error);
  if (helper_path == NULL)
    return NULL;
  self = host_worker_new (helper_path);
  if (!g_initable_init (G_INITABLE (self), cancellable, error))
    return NULL;
  return g_steal_pointer (&self);
}

static void
host_worker_ready (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (g_async_initable_init_finish (G_ASYNC_INITABLE (source), result, &error))
    g_task_return_pointer (task, g_object_ref (source), g_object_unref);
  else
    g_task_return_error (task, error);
}

static void
prepare_helper_in_thread (GTask        *task,
                          gpointer      source,
                          gpointer      task_data,
                          GCancellable *cancellable)
{
  GError *error = NULL;
  char *path = sa_host_prepare_helper (task_data, cancellable, &error);

  if (path != NULL)
    g_task_return_pointer (task, path, g_free);
  else
    g_task_return_error (task, error);
}

static void
helper_prepared (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  char *helper_path = g_task_propagate_pointer (G_TASK (result), &error);
  SaWorker *self;

  if (helper_path == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  self = host_worker_new (helper_path);
  g_async_initable_init_async (G_ASYNC_INITABLE (self), g_task_get_priority (task),
                               g_task_get_cancellable (task), host_worker_ready,
                               g_object_ref (task));
  g_object_unref (self);
}

/**
 * sa_worker_new_for_host_async:
 * @io_priority: the I/O priority of the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the worker is ready, in the
 *   thread-default main context of the calling thread
 * @user_data: (closure): data for @callback
 *
 * [ctor@Sa.Worker.new_for_host] without blocking: copying the helper
 * for the host happens in a thread, starting it as in
 * [func@Sa.Worker.new_async]. Get the worker with
 * [ctor@Sa.Worker.new_for_host_finish].
 *
 * Since: 1.2
 */
void
sa_worker_new_for_host_async (int                  io_priority,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) prepare = NULL;

  g_task_set_source_tag (task, sa_worker_new_for_host_async);
  g_task_set_priority (task, io_priority);

  if (!sa_host_in_flatpak ())
    {
      SaWorker *self = g_object_new (SA_TYPE_WORKER, NULL);

      g_async_initable_init_async (G_ASYNC_INITABLE (self), io_priority, cancellable,
                                   host_worker_ready, task);
      g_object_unref (self);
      return;
    }

  prepare = g_task_new (NULL, cancellable, helper_prepared, task);
  g_task_set_task_data (prepare, g_strdup (default_helper_path ()), g_free);
  g_task_run_in_thread (prepare, prepare_helper_in_thread);
}

/**
 * sa_worker_new_for_host_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the worker created by [func@Sa.Worker.new_for_host_async].
 *
 * Returns: (transfer full): the worker, or %NULL with @error set, as
 *   for [ctor@Sa.Worker.new_for_host]
 *
 * Since: 1.2
 */
SaWorker *
sa_worker_new_for_host_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Starts the connection; the helper's readiness comes to startup. */
static gboolean
start_connection (SaWorker      *self,
                  GTask         *task,
                  GError       **error)
{
  /* Not from the environment of a setuid, setgid or file-capability
   * process: the user who runs it would choose what it runs. */
  const char *helper_path = self->helper_path != NULL ? self->helper_path
                                                      : default_helper_path ();

  if (self->connection != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("The worker is initialized already"));
      return FALSE;
    }

  self->startup = startup_new ();
  self->startup->task = task != NULL ? g_object_ref (task) : NULL;
  self->connection = sa_connection_new (helper_path, (const char * const *)self->launcher,
                                        &connection_callbacks, self, error);
  if (self->connection == NULL)
    {
      g_clear_object (&self->startup->task);
      return FALSE;
    }
  return TRUE;
}

static gulong
connect_startup_cancellable (SaWorker     *self,
                             GCancellable *cancellable)
{
  gulong handler;

  if (cancellable == NULL)
    return 0;

  handler = g_signal_connect_data (cancellable, "cancelled",
                                   G_CALLBACK (on_startup_cancelled),
                                   startup_ref (self->startup),
                                   startup_unref_closure, 0);
  if (g_cancellable_is_cancelled (cancellable))
    startup_finish (self->startup, NULL, TRUE);
  return handler;
}

static gboolean
sa_worker_initable_init (GInitable     *initable,
                         GCancellable  *cancellable,
                         GError       **error)
{
  SaWorker *self = SA_WORKER (initable);
  Startup *startup;
  gulong handler;
  gboolean ok;

  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      !start_connection (self, NULL, error))
    return FALSE;

  startup = self->startup;
  handler = connect_startup_cancellable (self, cancellable);

  sa_mutex_lock (&startup->lock);
  while (!startup->done)
    sa_cond_wait (&startup->cond, &startup->lock);
  sa_mutex_unlock (&startup->lock);

  /* Never waits for a handler running in another thread. */
  if (handler != 0)
    g_signal_handler_disconnect (cancellable, handler);

  if (startup->cancelled)
    ok = !g_cancellable_set_error_if_cancelled (cancellable, error);
  else if (startup->error != NULL)
    {
      g_propagate_error (error, g_error_copy (startup->error));
      ok = FALSE;
    }
  else
    ok = TRUE;

  /* What failed is shut down by the last unref, which follows. */
  if (ok)
    {
      self->initialized = TRUE;
      notify_helper_pid (self);
    }
  return ok;
}

static void
sa_worker_initable_iface_init (GInitableIface *iface)
{
  iface->init = sa_worker_initable_init;
}

static void
sa_worker_init_async (GAsyncInitable      *initable,
                      int                  io_priority,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  SaWorker *self = SA_WORKER (initable);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  gulong handler;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, sa_worker_init_async);
  g_task_set_name (task, "[spawn-async] new");

  if (g_task_return_error_if_cancelled (task))
    return;

  if (!start_connection (self, task, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The task keeps the handler's id for init_finish() to disconnect it
   * (never waiting for an emission). */
  handler = connect_startup_cancellable (self, cancellable);
  g_task_set_task_data (task, GSIZE_TO_POINTER (handler), NULL);
}

static gboolean
sa_worker_init_finish (GAsyncInitable  *initable,
                       GAsyncResult    *result,
                       GError         **error)
{
  SaWorker *self = SA_WORKER (initable);
  GCancellable *cancellable;
  gulong handler;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sa_worker_init_async, FALSE);

  cancellable = g_task_get_cancellable (G_TASK (result));
  handler = GPOINTER_TO_SIZE (g_task_get_task_data (G_TASK (result)));
  if (handler != 0)
    g_signal_handler_disconnect (cancellable, handler);
  g_task_set_task_data (G_TASK (result), NULL, NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;

  self->initialized = TRUE;
  notify_helper_pid (self);
  return TRUE;
}

static void
sa_worker_async_initable_iface_init (GAsyncInitableIface *iface)
{
  iface->init_async = sa_worker_init_async;
  iface->init_finish = sa_worker_init_finish;
}

static void
sa_worker_dispose (GObject *object)
{
  SaWorker *self = SA_WORKER (object);

  if (self->initialized && !g_atomic_int_get (&self->destroyed) &&
      !in_owner_context (self) &&
      !sa_connection_is_foreign (self->connection))
    {
      /* The last reference went in another thread. The worker is torn
       * down now, but `exit` is owed in the owner's context, and the
       * handlers must still be there then: the event keeps the worker
       * alive, and dispose runs again, there, when it lets go. */
      sa_worker_destroy (self);
      return;
    }

  sa_worker_destroy (self);

  G_OBJECT_CLASS (sa_worker_parent_class)->dispose (object);
}

static void
sa_worker_finalize (GObject *object)
{
  SaWorker *self = (SaWorker *)object;

  if (self->connection != NULL && !sa_connection_is_foreign (self->connection))
    sa_connection_free (self->connection);
  g_clear_pointer (&self->startup, startup_unref);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_clear_pointer (&self->launcher, g_strfreev);
  g_free (self->helper_path);

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
    case PROP_LAUNCHER:
      g_value_set_boxed (value, self->launcher);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sa_worker_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  SaWorker *self = SA_WORKER (object);

  switch (prop_id)
    {
    case PROP_LAUNCHER:
      g_clear_pointer (&self->launcher, g_strfreev);
      self->launcher = g_value_dup_boxed (value);
      /* An empty one is none. */
      if (self->launcher != NULL && self->launcher[0] == NULL)
        g_clear_pointer (&self->launcher, g_strfreev);
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
  object_class->set_property = sa_worker_set_property;

  /**
   * SaWorker:helper-pid:
   *
   * The process id of the running helper, 0 when there is none (after
   * [method@Sa.Worker.destroy], or while a dead helper is restarted).
   * Notified in the thread-default main context of the thread that
   * created the worker.
   */
  properties[PROP_HELPER_PID] =
    g_param_spec_int ("helper-pid", NULL, NULL,
                      0, G_MAXINT, 0,
                      (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * SaWorker:launcher:
   *
   * An argument vector through which the helper is started, instead of
   * being started itself: the helper's path is appended to it. With it
   * the helper, and every command, runs where the launcher puts it, for
   * example in a container:
   *
   * - `bwrap --dev-bind / / --unshare-pid --die-with-parent --`
   *   (bubblewrap: new mount and pid namespaces);
   * - `podman exec -i --preserve-fds=1 NAME`;
   * - `toolbox run -c NAME`;
   * - `ssh -o BatchMode=yes HOST` (another machine, where the helper is
   *   installed at the same path).
   *
   * The launcher should give the helper the descriptor 3 it was started
   * with (the socket to the library), as bubblewrap does by default and
   * podman with `--preserve-fds=1`, and must end when its parent does
   * (bubblewrap's `--die-with-parent`). One that cannot (ssh) must pass
   * stdin and stdout: the helper then speaks over them as a byte stream,
   * which carries no descriptors. Every pipe is then relayed, and a
   * command that needs descriptors of the caller
   * ([method@Sa.SpawnOptions.take_fd], %SA_STDIO_INHERIT, %SA_STDIO_PTY,
   * [method@Sa.SpawnOptions.take_pty_fd]) fails with
   * %G_IO_ERROR_NOT_SUPPORTED. Process ids in results and
   * processes are then those of the launcher's pid namespace, and the
   * library never signals them itself: when the worker is destroyed or
   * the helper is lost, the helper kills its children (or they die with
   * it), and [property@Sa.Worker:helper-pid] is the launcher's pid.
   * See the “Host, containers and remote machines” page.
   *
   * Construct-only; %NULL or empty: the helper is started itself.
   *
   * Since: 1.2
   */
  properties[PROP_LAUNCHER] =
    g_param_spec_boxed ("launcher", NULL, NULL,
                        G_TYPE_STRV,
                        (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * SaWorker::exit:
   * @self: a #SaWorker
   * @error: (nullable): why the helper exited
   *
   * The helper process exited. @error is %NULL after
   * [method@Sa.Worker.destroy] (or the last unref); when the helper died
   * on its own it is a %SA_WORKER_ERROR_EXITED error, the commands that
   * were pending have failed with it, and a new helper is being started.
   *
   * Emitted in the thread-default main context of the thread that
   * created the worker.
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
   *
   * Emitted in the thread-default main context of the thread that
   * created the worker.
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
  self->owner_thread = g_thread_self ();
}

/* -- spawning -------------------------------------------------------------- */

/* A new command's task, answered now with an error, or later by the I/O
 * thread. */
static void
submit (SaWorker            *self,
        const char * const  *argv,
        SaSpawnOptions      *options,
        gboolean             for_process,
        GCancellable        *cancellable,
        GAsyncReadyCallback  callback,
        gpointer             user_data,
        gpointer             source_tag,
        const char          *name)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  SaCommand *command;

  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, name);

  if (g_task_return_error_if_cancelled (task))
    return;

  if (self->connection == NULL)
    {
      g_task_return_new_error (task, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                               _("The worker was not initialized"));
      return;
    }

  command = sa_request_prepare (task, argv, options, for_process, &error);
  if (command == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!sa_connection_submit (self->connection, command, &error))
    {
      sa_command_answer (command, g_steal_pointer (&error));
      sa_command_free (command);
    }
}

/**
 * sa_worker_aspawn_async:
 * @self: a #SaWorker
 * @argv: (array zero-terminated=1) (element-type filename): the program
 *   and its arguments (bytes in no particular encoding, like file names);
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
  g_return_if_fail (SA_IS_WORKER (self));
  g_return_if_fail (options == NULL || SA_IS_SPAWN_OPTIONS (options));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  submit (self, argv, options, FALSE, cancellable, callback, user_data,
          sa_worker_aspawn_async, "[spawn-async] aspawn");
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
 * sa_worker_spawn_async:
 * @self: a #SaWorker
 * @argv: (array zero-terminated=1) (element-type filename): the program
 *   and its arguments; `argv[0]` without a `/` is looked up in `PATH`
 * @options: (nullable): how to run it, or %NULL for the defaults (stdin
 *   `/dev/null`, stdout and stderr pipes)
 * @cancellable: (nullable): a #GCancellable; cancelling it before the
 *   call completes kills the child if it has started
 * @callback: (scope async): called once the child has started (or
 *   failed to), in the thread-default main context of the calling thread
 * @user_data: (closure): data for @callback
 *
 * Starts @argv through the worker's helper as a live process: get the
 * [class@Sa.Process] with [method@Sa.Worker.spawn_finish], then talk to
 * the child through its pipes and wait for its end. As with
 * [method@Sa.Worker.aspawn_async], the call only hands the command over,
 * never blocks and may be made from any thread.
 *
 * [property@Sa.SpawnOptions:stdin-mode], `stdout-mode` and `stderr-mode`
 * choose which pipes the process has; [property@Sa.SpawnOptions:input]
 * does not apply (write to the stdin pipe), nor does
 * [property@Sa.SpawnOptions:max-output].
 *
 * Since: 1.2
 */
void
sa_worker_spawn_async (SaWorker            *self,
                       const char * const  *argv,
                       SaSpawnOptions      *options,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (SA_IS_WORKER (self));
  g_return_if_fail (options == NULL || SA_IS_SPAWN_OPTIONS (options));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  submit (self, argv, options, TRUE, cancellable, callback, user_data,
          sa_worker_spawn_async, "[spawn-async] spawn");
}

/**
 * sa_worker_spawn_finish:
 * @self: a #SaWorker
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the process started by [method@Sa.Worker.spawn_async]. It fails
 * as [method@Sa.Worker.aspawn_finish] does when the child could not be
 * started: `G_IO_ERROR_INVALID_ARGUMENT`, `G_SPAWN_ERROR`,
 * `G_IO_ERROR_CANCELLED` (the child, if it had started, is killed), or
 * a [error@Sa.WorkerError].
 *
 * Returns: (transfer full): the process, or %NULL with @error set
 *
 * Since: 1.2
 */
SaProcess *
sa_worker_spawn_finish (SaWorker      *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  SaSpawned *spawned;

  g_return_val_if_fail (SA_IS_WORKER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sa_worker_spawn_async, NULL);

  spawned = g_task_propagate_pointer (G_TASK (result), error);
  return spawned != NULL ? sa_process_new_take (spawned) : NULL;
}

static void
on_spawned_sync (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

/**
 * sa_worker_spawn:
 * @self: a #SaWorker
 * @argv: (array zero-terminated=1) (element-type filename): the program
 *   and its arguments; `argv[0]` without a `/` is looked up in `PATH`
 * @options: (nullable): how to run it, or %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of [method@Sa.Worker.spawn_async], for scripts: it
 * waits for one round trip to the helper (the child's start), never for
 * a fork of the caller.
 *
 * Returns: (transfer full): the process, or %NULL with @error set
 *
 * Since: 1.2
 */
SaProcess *
sa_worker_spawn (SaWorker            *self,
                 const char * const  *argv,
                 SaSpawnOptions      *options,
                 GCancellable        *cancellable,
                 GError             **error)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (SA_IS_WORKER (self), NULL);

  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  sa_worker_spawn_async (self, argv, options, cancellable, on_spawned_sync, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  return sa_worker_spawn_finish (self, result, error);
}

/**
 * sa_worker_destroy:
 * @self: a #SaWorker
 *
 * Stops the worker: pending commands fail with
 * %SA_WORKER_ERROR_DESTROYED (a command whose child has exited gets its
 * result), every child the worker started is killed with its process
 * group, the helper is stopped,
 * [property@Sa.Worker:helper-pid] becomes 0 and [signal@Sa.Worker::exit]
 * is emitted with a %NULL error, in the context of the thread that
 * created the worker. Later calls to [method@Sa.Worker.aspawn_async]
 * fail with %SA_WORKER_ERROR_DESTROYED.
 *
 * It may be called from any thread, from any callback or signal handler
 * (a `cancelled` handler of a pending command's cancellable included),
 * and more than once, also at the same time: each call returns when the
 * worker is stopped.
 *
 * Every pending command holds a reference to the worker, so the last
 * unref can only come when nothing is pending; it calls this too.
 */
void
sa_worker_destroy (SaWorker *self)
{
  g_return_if_fail (SA_IS_WORKER (self));

  if (self->connection != NULL && sa_connection_is_foreign (self->connection))
    {
      g_atomic_int_set (&self->destroyed, TRUE);
      return;
    }

  if (!g_atomic_int_compare_and_exchange (&self->destroyed, FALSE, TRUE))
    {
      /* Another call did, or does it now: return when it is done. */
      if (self->connection != NULL)
        sa_connection_shutdown (self->connection);
      return;
    }

  if (self->connection != NULL)
    sa_connection_shutdown (self->connection);
  g_atomic_int_set (&self->helper_pid, 0);

  if (!self->initialized)
    return;

  if (in_owner_context (self))
    {
      notify_helper_pid (self);
      g_signal_emit (self, signals[EXIT], 0, NULL);
    }
  else
    {
      Event *event = g_new0 (Event, 1);

      g_weak_ref_init (&event->worker, NULL);
      event->strong = g_object_ref (self);
      event->kind = EVENT_DESTROYED;
      post_event (self, event);
    }
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

void
sa_worker_set_last_command_id (SaWorker *self,
                               guint32   id)
{
  g_return_if_fail (SA_IS_WORKER (self) && self->connection != NULL);

  sa_connection_set_last_id (self->connection, id);
}
