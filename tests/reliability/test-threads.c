/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Threads: eight threads, each with its own GMainContext, share one
 * worker. Every answer is the right one, and every callback runs in the
 * thread (and context) that made the call, also when the worker is
 * destroyed or its helper killed under their feet.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reliab-util.h"

#define N_THREADS            8
#define COMMANDS_PER_THREAD  100

typedef struct
{
  SaWorker     *worker;
  guint         thread_index;
  GMainContext *context;
  GThread      *thread;
  guint         done;
  guint         results;
  guint         errors;
  guint         wrong;
  gint         *started_total;
} ThreadData;

typedef struct
{
  ThreadData *data;
  guint       index;
} Call;

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  Call *call = user_data;
  ThreadData *data = call->data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  /* In the calling thread, in its context. */
  if (g_thread_self () != data->thread ||
      g_main_context_get_thread_default () != data->context)
    data->wrong++;

  if (result != NULL)
    {
      g_autofree char *expected = g_strdup_printf ("%u-%u\n", data->thread_index, call->index);

      if (g_strcmp0 (sa_result_get_stdout (result), expected) != 0)
        data->wrong++;
      data->results++;
    }
  else if (g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED) ||
           g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
    data->errors++;
  else
    {
      g_printerr ("thread %u, command %u: %s\n", data->thread_index, call->index, error->message);
      data->wrong++;
    }

  data->done++;
  g_free (call);
}

static gpointer
thread_main (gpointer user_data)
{
  ThreadData *data = user_data;
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  g_main_context_push_thread_default (data->context);

  for (guint i = 0; i < COMMANDS_PER_THREAD; i++)
    {
      g_autofree char *word = g_strdup_printf ("%u-%u", data->thread_index, i);
      const char *argv[] = { "echo", word, NULL };
      Call *call = g_new0 (Call, 1);

      call->data = data;
      call->index = i;
      sa_worker_aspawn_async (data->worker, argv, NULL, NULL, on_done, call);
      g_atomic_int_inc (data->started_total);
      /* Let the answers come in while more calls go out. */
      while (g_main_context_iteration (data->context, FALSE))
        ;
    }

  while (data->done < COMMANDS_PER_THREAD && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (data->context, FALSE))
      g_usleep (500);

  g_main_context_pop_thread_default (data->context);
  return NULL;
}

typedef enum
{
  DISTURB_NONE,
  DISTURB_KILL_HELPER,
  DISTURB_DESTROY,
} Disturbance;

static void
run_threads (Disturbance disturbance)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = sa_worker_new (NULL, &error);
  ThreadData data[N_THREADS];
  gint started_total = 0;
  guint results = 0, errors = 0;

  g_assert_no_error (error);

  for (guint t = 0; t < N_THREADS; t++)
    {
      data[t] = (ThreadData) {
        .worker = worker,
        .thread_index = t,
        .context = g_main_context_new (),
        .started_total = &started_total,
      };
    }
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_autofree char *name = g_strdup_printf ("caller-%u", t);

      data[t].thread = g_thread_new (name, thread_main, &data[t]);
    }

  if (disturbance != DISTURB_NONE)
    {
      /* Once about a third of the calls have gone out. */
      while (g_atomic_int_get (&started_total) < N_THREADS * COMMANDS_PER_THREAD / 3)
        g_usleep (1000);
      if (disturbance == DISTURB_KILL_HELPER)
        kill (sa_worker_get_helper_pid (worker), SIGKILL);
      else
        sa_worker_destroy (worker);
    }

  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (data[t].thread);
      g_assert_cmpuint (data[t].done, ==, COMMANDS_PER_THREAD);
      g_assert_cmpuint (data[t].wrong, ==, 0);
      results += data[t].results;
      errors += data[t].errors;
      g_main_context_unref (data[t].context);
    }

  g_test_message ("%u results, %u errors", results, errors);
  g_assert_cmpuint (results + errors, ==, N_THREADS * COMMANDS_PER_THREAD);
  if (disturbance == DISTURB_NONE)
    g_assert_cmpuint (errors, ==, 0);
  else if (disturbance == DISTURB_DESTROY)
    g_assert_cmpuint (errors, >=, N_THREADS * COMMANDS_PER_THREAD / 2);
}

static void
test_shared_worker (void)
{
  run_threads (DISTURB_NONE);
}

static void
test_helper_killed (void)
{
  run_threads (DISTURB_KILL_HELPER);
}

static void
test_destroyed (void)
{
  run_threads (DISTURB_DESTROY);
}


/* -- the worker's own signals, in its owner's context ---------------------- */

typedef struct
{
  GThread *owner;
  guint    exits;
  guint    notifies;
  guint    wrong_thread;
} SignalLog;

static void
on_exit_logged (SaWorker     *worker,
                const GError *error,
                SignalLog    *log)
{
  log->exits++;
  if (g_thread_self () != log->owner)
    log->wrong_thread++;
}

static void
on_notify_logged (GObject    *worker,
                  GParamSpec *pspec,
                  SignalLog  *log)
{
  log->notifies++;
  if (g_thread_self () != log->owner)
    log->wrong_thread++;
}

static gpointer
unref_in_thread (gpointer data)
{
  g_object_unref (data);
  return NULL;
}

static gpointer
destroy_in_thread (gpointer data)
{
  sa_worker_destroy (data);
  return NULL;
}

/* The worker is created here (the main thread, the global default
 * context); another thread destroys it, or drops its last reference:
 * `exit` and `notify::helper-pid` come here, once, when this thread
 * iterates its context. They used to come in the other thread, and the
 * notify never came on the last unref. */
static void
run_signals_in_owner_context (gboolean last_unref)
{
  g_autoptr(GError) error = NULL;
  SaWorker *worker = sa_worker_new (NULL, &error);
  SignalLog log = { g_thread_self (), 0, 0, 0 };
  GPid helper;

  g_assert_no_error (error);
  helper = sa_worker_get_helper_pid (worker);
  g_signal_connect (worker, "exit", G_CALLBACK (on_exit_logged), &log);
  g_signal_connect (worker, "notify::helper-pid", G_CALLBACK (on_notify_logged), &log);

  if (last_unref)
    g_thread_join (g_thread_new ("unref", unref_in_thread, worker));
  else
    g_thread_join (g_thread_new ("destroy", destroy_in_thread, worker));

  /* Torn down already: the helper is gone before any signal. */
  sa_test_assert_pid_gone (helper, 2000);
  g_assert_cmpuint (log.exits, ==, 0);

  sa_test_wait_flag ((const gboolean *)&log.exits, 5000);
  reliab_iterate_for (50);
  g_assert_cmpuint (log.exits, ==, 1);
  g_assert_cmpuint (log.notifies, ==, 1);
  g_assert_cmpuint (log.wrong_thread, ==, 0);

  if (!last_unref)
    {
      g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, 0);
      g_object_unref (worker);
    }
}

static void
test_destroy_signals_in_owner_context (void)
{
  run_signals_in_owner_context (FALSE);
}

static void
test_last_unref_signals_in_owner_context (void)
{
  run_signals_in_owner_context (TRUE);
}

/* -- the library's thread takes none of the application's signals ----------- */

/* The application blocks SIGTERM in every thread of its own, to take it
 * with sigwait() (or a signalfd). A SIGTERM sent to the process must wait
 * for it, never be delivered to the worker's I/O thread (which killed the
 * process: exit 143). In a subprocess, since the signal is real. */
static void
test_blocked_signal_stays_pending (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaWorker) worker = NULL;
      g_autoptr(SaResult) result = NULL;
      const char *argv[] = { "true", NULL };
      struct timespec timeout = { 5, 0 };
      sigset_t term;
      int signum;

      sigemptyset (&term);
      sigaddset (&term, SIGTERM);
      pthread_sigmask (SIG_BLOCK, &term, NULL);

      worker = sa_worker_new (NULL, &error);
      g_assert_no_error (error);
      result = sa_test_run_ok (worker, argv, NULL);

      g_assert_no_errno (kill (getpid (), SIGTERM));
      signum = sigtimedwait (&term, NULL, &timeout);
      g_assert_cmpint (signum, ==, SIGTERM);
      g_clear_object (&result);
      result = sa_test_run_ok (worker, argv, NULL);
      g_assert_true (sa_result_get_successful (result));
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* -- fork() without exec ------------------------------------------------------ */

static void
on_answer (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

/* A child of the caller that uses the worker it inherited gets a clear
 * error and leaves the parent's helper and commands alone, also when it
 * destroys and drops its copy. */
static void
test_fork_child_cannot_use_worker (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = sa_worker_new (NULL, &error);
  g_autoptr(SaResult) result = NULL;
  const char *slow[] = { "sh", "-c", "sleep 0.3; echo parent-ok", NULL };
  GAsyncResult *slot = NULL;
  GPid helper, child;
  int status;

  g_assert_no_error (error);
  helper = sa_worker_get_helper_pid (worker);
  sa_worker_aspawn_async (worker, slow, NULL, NULL, on_answer, &slot);
  reliab_iterate_for (20);

  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      const char *argv[] = { "echo", "child", NULL };
      GAsyncResult *child_slot = NULL;
      g_autoptr(GError) child_error = NULL;
      g_autoptr(SaResult) child_result = NULL;
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
      const char *verdict = "exit 0";

      sa_worker_aspawn_async (worker, argv, NULL, NULL, on_answer, &child_slot);
      while (child_slot == NULL && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, FALSE);
      if (child_slot == NULL)
        verdict = "exit 10";
      else
        {
          child_result = sa_worker_aspawn_finish (worker, child_slot, &child_error);
          if (child_result != NULL ||
              !g_error_matches (child_error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED) ||
              strstr (child_error->message, "fork()") == NULL)
            verdict = "exit 11";
        }
      sa_worker_destroy (worker);
      g_object_unref (worker);    /* the child's copy of the reference */
      /* exec, not exit: the copy of the parent's other threads' memory
       * is not a leak of ours (valgrind would report it at exit). */
      execl ("/bin/sh", "sh", "-c", verdict, (char *)NULL);
      _exit (12);
    }

  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  /* The parent's command and helper are untouched. */
  sa_test_wait_pointer ((gpointer *)&slot, 10000);
  result = sa_worker_aspawn_finish (worker, slot, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sa_result_get_stdout (result), ==, "parent-ok\n");
  g_clear_object (&slot);
  reliab_assert_worker_ok (worker, helper);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/threads/shared-worker", test_shared_worker);
  g_test_add_func ("/reliability/threads/helper-killed", test_helper_killed);
  g_test_add_func ("/reliability/threads/destroyed", test_destroyed);
  g_test_add_func ("/reliability/threads/destroy-signals-in-owner-context",
                   test_destroy_signals_in_owner_context);
  g_test_add_func ("/reliability/threads/last-unref-signals-in-owner-context",
                   test_last_unref_signals_in_owner_context);
  g_test_add_func ("/reliability/threads/blocked-signal-stays-pending",
                   test_blocked_signal_stays_pending);
  g_test_add_func ("/reliability/threads/fork-child-cannot-use-worker",
                   test_fork_child_cannot_use_worker);

  return g_test_run ();
}
