/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stress: lands a cancel, a helper death or a destroy at random
 * microsecond offsets around each step of a command's life, from other
 * threads as well as from the caller's, and from inside the callbacks
 * and signal handlers a caller writes. Every call must be answered
 * exactly once, with a result or the error that fits, and nothing may
 * hang, crash or corrupt the heap (run it under ASan, TSan and
 * valgrind: .ci/sanitizers).
 *
 * Each case runs for SA_STRESS_SECONDS (default 3) or until it has done
 * its number of rounds, whichever comes first. Before the ownership
 * redesign, the first two cases aborted or crashed within a second.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "reliab-util.h"

#define MARKER_ENTRY  "SA_STRESS_MARKER=1"

/* -- shared pieces --------------------------------------------------------- */

static gint64
stress_deadline (void)
{
  const char *seconds = g_getenv ("SA_STRESS_SECONDS");
  guint64 s = seconds != NULL ? g_ascii_strtoull (seconds, NULL, 10) : 3;

  return g_get_monotonic_time () + (gint64)MAX (s, 1) * G_USEC_PER_SEC;
}

/* Spins (no sleeping: the offsets are microseconds) until the monotonic
 * clock reaches at. */
static void
spin_until (gint64 at)
{
  while (g_get_monotonic_time () < at)
    ;
}

/* One call: answered exactly once, with what the test accepts. */
typedef struct
{
  guint     answers;
  SaResult *result;
  GError   *error;
} Call;

static void
call_clear (Call *call)
{
  g_clear_object (&call->result);
  g_clear_error (&call->error);
  call->answers = 0;
}

static void
on_call_done (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Call *call = user_data;

  /* A second answer would be the lost-ownership bug itself. */
  g_assert_cmpuint (call->answers, ==, 0);
  call->answers++;
  call->result = sa_worker_aspawn_finish (SA_WORKER (source), res, &call->error);
}

static void
wait_answered (Call  *call,
               guint  timeout_ms)
{
  sa_test_wait_flag ((const gboolean *)&call->answers, timeout_ms);
}

static void
on_result_slot (GObject      *source,
                GAsyncResult *res,
                gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (res);
}

/* Waits until the worker runs a greeted helper other than old_pid. */
static GPid
wait_new_helper (SaWorker *worker,
                 GPid      old_pid)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  GPid pid;

  while ((pid = sa_worker_get_helper_pid (worker)) == 0 || pid == old_pid)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("no new helper after 10 s");
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (200);
    }
  return pid;
}

static SaSpawnOptions *
marked_options (void)
{
  g_auto(GStrv) env = reliab_environ_with (MARKER_ENTRY);
  SaSpawnOptions *options = sa_spawn_options_new ();

  sa_spawn_options_set_env (options, (const char * const *)env);
  return options;
}

/* Microseconds between two events: mostly within 200, now and then
 * within 2000, either order. */
static gint64
random_offset (void)
{
  gint32 range = g_random_boolean () ? 200 : 2000;

  return g_random_int_range (-range, range + 1);
}

/* A helper killed before it has spawned anything counts as one that
 * cannot start (restart back-off, then giving up): make sure it has. */
static void
prime_helper (SaWorker *worker)
{
  const char *argv[] = { "true", NULL };
  g_autoptr(SaResult) result = sa_test_run_ok (worker, argv, NULL);

  g_assert_true (sa_result_get_successful (result));
}

/* Kills the worker's helper and lands `action` offset_us away from it:
 * before the kill when negative, after it when positive. */
typedef void (*Action) (gpointer data);

static void
kill_helper_around (SaWorker *worker,
                    gint64    offset_us,
                    Action    action,
                    gpointer  data)
{
  GPid helper = sa_worker_get_helper_pid (worker);

  g_assert_cmpint (helper, >, 0);
  if (offset_us < 0)
    {
      action (data);
      spin_until (g_get_monotonic_time () - offset_us);
      kill (helper, SIGKILL);
    }
  else
    {
      kill (helper, SIGKILL);
      spin_until (g_get_monotonic_time () + offset_us);
      action (data);
    }
}

/* -- 1. cancels from other threads around the call ------------------------ */

#define CANCELLERS        3
#define SUBMIT_ROUNDS     40000
#define MAX_IN_FLIGHT     64

typedef struct
{
  GCancellable *cancellable;
  gint64        at;
} CancelJob;

static gpointer
canceller_main (gpointer data)
{
  GAsyncQueue *jobs = data;
  CancelJob *job;

  while ((job = g_async_queue_pop (jobs)) != NULL && job->cancellable != NULL)
    {
      spin_until (job->at);
      g_cancellable_cancel (job->cancellable);
      g_object_unref (job->cancellable);
      g_free (job);
    }
  g_free (job);
  return NULL;
}

static void
test_cancel_around_submit (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(GAsyncQueue) jobs = g_async_queue_new ();
  GThread *threads[CANCELLERS];
  Call *calls = g_new0 (Call, SUBMIT_ROUNDS);
  const char *argv[] = { "true", NULL };
  gint64 deadline = stress_deadline ();
  guint started = 0, answered = 0, results = 0, cancelled = 0;

  for (guint t = 0; t < CANCELLERS; t++)
    threads[t] = g_thread_new ("canceller", canceller_main, jobs);

  while (started < SUBMIT_ROUNDS && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      CancelJob *job = g_new0 (CancelJob, 1);

      /* Mostly 0-40 us from now: before, inside and after the call; now
       * and then within 5 ms: while the child runs and ends. */
      job->cancellable = g_object_ref (cancellable);
      job->at = g_get_monotonic_time () +
                (g_random_int_range (0, 8) != 0 ? g_random_int_range (0, 41)
                                                : g_random_int_range (0, 5001));
      g_async_queue_push (jobs, job);

      sa_worker_aspawn_async (worker, argv, NULL, cancellable, on_call_done, &calls[started]);
      started++;

      while (g_main_context_iteration (NULL, FALSE))
        ;
      while (answered < started && calls[answered].answers > 0)
        answered++;
      while (started - answered > MAX_IN_FLIGHT)
        {
          g_main_context_iteration (NULL, TRUE);
          while (answered < started && calls[answered].answers > 0)
            answered++;
        }
    }

  for (guint t = 0; t < CANCELLERS; t++)
    g_async_queue_push (jobs, g_new0 (CancelJob, 1));
  for (guint t = 0; t < CANCELLERS; t++)
    g_thread_join (threads[t]);

  for (guint i = 0; i < started; i++)
    {
      wait_answered (&calls[i], 30000);
      if (calls[i].result != NULL)
        {
          g_assert_true (sa_result_get_successful (calls[i].result));
          results++;
        }
      else
        {
          g_assert_error (calls[i].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          cancelled++;
        }
      call_clear (&calls[i]);
    }
  g_test_message ("%u calls: %u results, %u cancelled", started, results, cancelled);
  g_assert_cmpuint (results + cancelled, ==, started);

  reliab_assert_worker_ok (worker, sa_worker_get_helper_pid (worker));
  g_free (calls);
}

/* The same, with the calls coming from several threads at once, each with
 * its own main context, and cancels from the other threads. */

#define SUBMITTERS  3

typedef struct
{
  SaWorker     *worker;
  GAsyncQueue  *jobs;
  gint64        deadline;
  guint         started;
  guint         wrong;
} Submitter;

static gpointer
submitter_main (gpointer data)
{
  Submitter *s = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  Call *calls = g_new0 (Call, SUBMIT_ROUNDS);
  const char *argv[] = { "true", NULL };
  guint answered = 0;

  g_main_context_push_thread_default (context);

  while (s->started < SUBMIT_ROUNDS / SUBMITTERS && g_get_monotonic_time () < s->deadline)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      CancelJob *job = g_new0 (CancelJob, 1);

      job->cancellable = g_object_ref (cancellable);
      job->at = g_get_monotonic_time () + g_random_int_range (0, 41);
      g_async_queue_push (s->jobs, job);
      sa_worker_aspawn_async (s->worker, argv, NULL, cancellable, on_call_done, &calls[s->started]);
      s->started++;

      while (g_main_context_iteration (context, FALSE))
        ;
      while (answered < s->started && calls[answered].answers > 0)
        answered++;
      while (s->started - answered > MAX_IN_FLIGHT / SUBMITTERS)
        {
          g_main_context_iteration (context, TRUE);
          while (answered < s->started && calls[answered].answers > 0)
            answered++;
        }
    }

  while (answered < s->started)
    {
      g_main_context_iteration (context, TRUE);
      while (answered < s->started && calls[answered].answers > 0)
        answered++;
    }

  for (guint i = 0; i < s->started; i++)
    {
      if (!(calls[i].answers == 1 &&
            ((calls[i].result != NULL && sa_result_get_successful (calls[i].result)) ||
             g_error_matches (calls[i].error, G_IO_ERROR, G_IO_ERROR_CANCELLED))))
        s->wrong++;
      call_clear (&calls[i]);
    }

  g_main_context_pop_thread_default (context);
  g_free (calls);
  return NULL;
}

static void
test_cancel_around_submit_threads (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(GAsyncQueue) jobs = g_async_queue_new ();
  GThread *cancellers[CANCELLERS];
  GThread *threads[SUBMITTERS];
  Submitter submitters[SUBMITTERS] = { { 0 } };
  gint64 deadline = stress_deadline ();
  guint total = 0;

  for (guint t = 0; t < CANCELLERS; t++)
    cancellers[t] = g_thread_new ("canceller", canceller_main, jobs);
  for (guint t = 0; t < SUBMITTERS; t++)
    {
      submitters[t] = (Submitter) { worker, jobs, deadline, 0, 0 };
      threads[t] = g_thread_new ("submitter", submitter_main, &submitters[t]);
    }
  for (guint t = 0; t < SUBMITTERS; t++)
    {
      g_thread_join (threads[t]);
      g_assert_cmpuint (submitters[t].wrong, ==, 0);
      total += submitters[t].started;
    }
  for (guint t = 0; t < CANCELLERS; t++)
    g_async_queue_push (jobs, g_new0 (CancelJob, 1));
  for (guint t = 0; t < CANCELLERS; t++)
    g_thread_join (cancellers[t]);

  g_test_message ("%u calls from %u threads", total, SUBMITTERS);
  reliab_assert_worker_ok (worker, sa_worker_get_helper_pid (worker));
}

/* -- 2. the helper killed around a cancel, a timeout, an output limit ----- */

#define KILL_ROUNDS  300

static void
cancel_action (gpointer data)
{
  g_cancellable_cancel (data);
}

static void
nothing_action (gpointer data)
{
}

typedef enum
{
  AROUND_CANCEL,
  AROUND_TIMEOUT,
  AROUND_OUTPUT_LIMIT,
  AROUND_INPUT,
} Around;

/* Runs rounds of: start a command, let it get some way (0-10 ms), kill the
 * helper with a cancel (or nothing: the command's own timeout or output
 * limit is the other event) a random_offset() away. */
static void
run_kill_around (Around around)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = marked_options ();
  g_autoptr(GBytes) input = NULL;
  const char *sleep_argv[] = { "sleep", "10", NULL };
  const char *yes_argv[] = { "yes", NULL };
  const char *cat_argv[] = { "cat", NULL };
  const char * const *argv = sleep_argv;
  gint64 deadline = stress_deadline ();
  guint rounds = 0, results = 0, exited = 0, other = 0;
  GPid helper = wait_new_helper (worker, 0);

  switch (around)
    {
    case AROUND_CANCEL:
      break;
    case AROUND_TIMEOUT:
      sa_spawn_options_set_timeout_ms (options, 2);
      break;
    case AROUND_OUTPUT_LIMIT:
      argv = yes_argv;
      sa_spawn_options_set_max_output (options, 1);
      break;
    case AROUND_INPUT:
      argv = cat_argv;
      input = g_bytes_new_take (g_malloc0 (256 * 1024), 256 * 1024);
      sa_spawn_options_set_input (options, input);
      break;
    }

  while (rounds < KILL_ROUNDS && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      Call call = { 0 };
      gint64 settle;

      prime_helper (worker);
      settle = g_get_monotonic_time () + g_random_int_range (0, 10001);
      sa_worker_aspawn_async (worker, argv, options, cancellable, on_call_done, &call);
      while (g_get_monotonic_time () < settle)
        g_main_context_iteration (NULL, FALSE);

      kill_helper_around (worker, random_offset (),
                          around == AROUND_CANCEL ? cancel_action : nothing_action,
                          cancellable);
      wait_answered (&call, 30000);

      if (call.result != NULL)
        {
          switch (around)
            {
            case AROUND_CANCEL:
              g_error ("round %u: a cancelled sleep 10 gave a result", rounds);
              break;
            case AROUND_TIMEOUT:
              g_assert_true (sa_result_get_timed_out (call.result));
              break;
            case AROUND_OUTPUT_LIMIT:
              g_assert_true (sa_result_get_output_truncated (call.result));
              g_assert_cmpstr (sa_result_get_stdout (call.result), ==, "y");
              break;
            case AROUND_INPUT:
              g_assert_true (sa_result_get_successful (call.result));
              g_assert_cmpuint (g_bytes_get_size (sa_result_get_stdout_bytes (call.result)), ==,
                                g_bytes_get_size (input));
              break;
            }
          results++;
        }
      else if (g_error_matches (call.error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
        exited++;
      else if (around == AROUND_CANCEL &&
               g_error_matches (call.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        other++;
      else
        g_error ("round %u: unexpected answer: %s", rounds,
                 call.error ? call.error->message : "?");

      call_clear (&call);
      helper = wait_new_helper (worker, helper);
      rounds++;
    }

  g_test_message ("%u rounds: %u results, %u helper exits, %u cancelled",
                  rounds, results, exited, other);
  g_assert_cmpuint (rounds, >, 0);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
  reliab_assert_worker_ok (worker, helper);
}

static void
test_kill_around_cancel (void)
{
  run_kill_around (AROUND_CANCEL);
}

static void
test_kill_around_timeout (void)
{
  run_kill_around (AROUND_TIMEOUT);
}

static void
test_kill_around_output_limit (void)
{
  run_kill_around (AROUND_OUTPUT_LIMIT);
}

static void
test_kill_around_input (void)
{
  run_kill_around (AROUND_INPUT);
}

/* Many commands at once whose input, output and exit race each other
 * and random cancels: children that stop reading their input at any
 * point (head -c, or closing fd 0 and going on), that pass the output
 * limit, that echo their input back, cancelled a random offset after
 * they were started. With the relay (stress-relayed), every INPUT,
 * WROTE, OUTPUT and CLOSE of them shares one socket: each answer must be
 * right or cancelled, and the helper must never be lost (a message one
 * end did not expect ends the connection). */
#define PIPES_AT_ONCE 24

typedef struct
{
  Call          call;
  GCancellable *cancellable;
  guint         kind;
  gsize         want;          /* head -c */
} PipeCall;

static void
test_pipes_in_flight (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(GBytes) input = g_bytes_new_take (g_malloc0 (300 * 1024), 300 * 1024);
  gint64 deadline = stress_deadline ();
  guint rounds = 0, results = 0, cancelled = 0;
  GPid helper = wait_new_helper (worker, 0);

  while (rounds < KILL_ROUNDS && g_get_monotonic_time () < deadline)
    {
      PipeCall calls[PIPES_AT_ONCE] = { { { 0 } } };

      for (guint i = 0; i < PIPES_AT_ONCE; i++)
        {
          PipeCall *pc = &calls[i];
          g_autoptr(SaSpawnOptions) options = sa_spawn_options_new ();
          g_autofree char *count = NULL;
          const char *argv[5] = { NULL };

          pc->kind = g_random_int_range (0, 4);
          pc->cancellable = g_cancellable_new ();
          switch (pc->kind)
            {
            case 0:     /* stops reading at a random point */
              pc->want = g_random_int_range (0, 300 * 1024 + 1);
              count = g_strdup_printf ("%" G_GSIZE_FORMAT, pc->want);
              argv[0] = "head", argv[1] = "-c", argv[2] = count;
              sa_spawn_options_set_input (options, input);
              break;
            case 1:     /* closes its input and goes on */
              argv[0] = "sh", argv[1] = "-c", argv[2] = "exec 0<&-; echo closed";
              sa_spawn_options_set_input (options, input);
              break;
            case 2:     /* passes the output limit */
              argv[0] = "yes";
              sa_spawn_options_set_max_output (options, g_random_int_range (1, 200 * 1024));
              break;
            default:    /* echoes all of it */
              argv[0] = "cat";
              sa_spawn_options_set_input (options, input);
              break;
            }
          sa_worker_aspawn_async (worker, argv, options, pc->cancellable, on_call_done, &pc->call);
        }

      /* Some are cancelled, each a random offset from now. */
      for (guint i = 0; i < PIPES_AT_ONCE; i++)
        if (g_random_int_range (0, 3) == 0)
          {
            spin_until (g_get_monotonic_time () + ABS (random_offset ()));
            g_cancellable_cancel (calls[i].cancellable);
          }

      for (guint i = 0; i < PIPES_AT_ONCE; i++)
        {
          PipeCall *pc = &calls[i];
          SaResult *result;

          wait_answered (&pc->call, 30000);
          result = pc->call.result;
          if (result == NULL)
            {
              if (!g_error_matches (pc->call.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                g_error ("round %u, kind %u: %s", rounds, pc->kind, pc->call.error->message);
              cancelled++;
            }
          else
            {
              gsize size = g_bytes_get_size (sa_result_get_stdout_bytes (result));

              switch (pc->kind)
                {
                case 0:
                  g_assert_true (sa_result_get_successful (result));
                  g_assert_cmpuint (size, ==, pc->want);
                  break;
                case 1:
                  g_assert_true (sa_result_get_successful (result));
                  g_assert_cmpstr (sa_result_get_stdout (result), ==, "closed\n");
                  break;
                case 2:
                  g_assert_true (sa_result_get_output_truncated (result));
                  break;
                default:
                  g_assert_true (sa_result_get_successful (result));
                  g_assert_cmpuint (size, ==, g_bytes_get_size (input));
                  break;
                }
              results++;
            }
          call_clear (&pc->call);
          g_object_unref (pc->cancellable);
        }

      g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, helper);
      rounds++;
    }

  g_test_message ("%u rounds of %u: %u results, %u cancelled",
                  rounds, PIPES_AT_ONCE, results, cancelled);
  g_assert_cmpuint (rounds, >, 0);
  reliab_assert_worker_ok (worker, helper);
}

/* A command that has exited and is draining (a background job holds its
 * stdout) when the helper is killed: its result is complete and must be
 * delivered; the background job must die with the helper. */
static void
test_kill_during_drain (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = marked_options ();
  const char *argv[] = { "sh", "-c", "echo hi; sleep 30 &", NULL };
  gint64 deadline = stress_deadline ();
  guint rounds = 0, results = 0, exited = 0;
  GPid helper = wait_new_helper (worker, 0);

  while (rounds < KILL_ROUNDS && g_get_monotonic_time () < deadline)
    {
      Call call = { 0 };
      gint64 at;

      prime_helper (worker);
      at = g_get_monotonic_time () + g_random_int_range (0, 20001);
      sa_worker_aspawn_async (worker, argv, options, NULL, on_call_done, &call);
      while (g_get_monotonic_time () < at)
        g_main_context_iteration (NULL, FALSE);
      kill (helper, SIGKILL);
      wait_answered (&call, 30000);

      if (call.result != NULL)
        {
          g_assert_true (sa_result_get_successful (call.result));
          g_assert_cmpstr (sa_result_get_stdout (call.result), ==, "hi\n");
          results++;
        }
      else
        {
          g_assert_error (call.error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED);
          exited++;
        }

      call_clear (&call);
      helper = wait_new_helper (worker, helper);
      rounds++;
    }

  g_test_message ("%u rounds: %u results, %u helper exits", rounds, results, exited);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
  reliab_assert_worker_ok (worker, helper);
}

/* -- 3. destroy and unref from the caller's own code ---------------------- */

#define HANDLER_ROUNDS  200

/* A watchdog for the deadlock cases: a hang fails the test in seconds,
 * not at meson's timeout. */
static void
arm_watchdog (guint seconds)
{
  alarm (seconds);
}

typedef struct
{
  SaWorker *worker;     /* the test's own reference, or NULL once dropped */
  gboolean  unref;      /* drop the reference instead of destroying */
  guint     hits;
} Victim;

static void
hit (Victim *victim)
{
  victim->hits++;
  if (victim->worker == NULL)
    return;
  if (victim->unref)
    g_clear_object (&victim->worker);
  else
    sa_worker_destroy (victim->worker);
}

static gpointer
cancel_in_thread (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

static void
on_cancelled_hit (GCancellable *cancellable,
                  Victim       *victim)
{
  hit (victim);
}

static void
check_destroyed_answer (Call *call)
{
  /* Whichever came first: the cancel or the destroy. */
  if (!g_error_matches (call->error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      !g_error_matches (call->error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED))
    g_error ("unexpected answer: %s", call->error ? call->error->message : "a result");
}

/* sa_worker_destroy() (or the last unref) in a `cancelled` handler of a
 * pending command's cancellable, cancelled from this thread or another. */
static void
run_destroy_in_cancelled (gboolean unref,
                          gboolean other_thread)
{
  g_autoptr(SaSpawnOptions) options = marked_options ();
  const char *argv[] = { "sleep", "10", NULL };
  gint64 deadline = stress_deadline ();
  guint rounds = 0;

  arm_watchdog (60);
  while (rounds < HANDLER_ROUNDS && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      Victim victim = { sa_test_new_worker (), unref, 0 };
      Call calls[3] = { { 0 } };
      gint64 settle = g_get_monotonic_time () + g_random_int_range (0, 2001);

      g_signal_connect (cancellable, "cancelled", G_CALLBACK (on_cancelled_hit), &victim);
      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        sa_worker_aspawn_async (victim.worker, argv, options, cancellable, on_call_done, &calls[i]);
      while (g_get_monotonic_time () < settle)
        g_main_context_iteration (NULL, FALSE);

      if (other_thread)
        {
          g_thread_join (g_thread_new ("cancel", cancel_in_thread, cancellable));
        }
      else
        g_cancellable_cancel (cancellable);

      g_assert_cmpuint (victim.hits, ==, 1);
      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        {
          wait_answered (&calls[i], 30000);
          check_destroyed_answer (&calls[i]);
          call_clear (&calls[i]);
        }
      g_clear_object (&victim.worker);
      rounds++;
    }
  alarm (0);

  g_test_message ("%u rounds", rounds);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}

static void
test_destroy_in_cancelled (void)
{
  run_destroy_in_cancelled (FALSE, FALSE);
}

static void
test_destroy_in_cancelled_other_thread (void)
{
  run_destroy_in_cancelled (FALSE, TRUE);
}

static void
test_unref_in_cancelled (void)
{
  run_destroy_in_cancelled (TRUE, FALSE);
}

/* A slow `cancelled` handler of a cancellable that the caller shares
 * with a command must not stall the I/O thread for the other commands
 * (it waited in g_cancellable_disconnect() for the emission to end). */
static gboolean slow_handler_entered;
static gboolean slow_handler_done;

static void
on_cancelled_slow (GCancellable *cancellable,
                   gpointer      data)
{
  g_atomic_int_set (&slow_handler_entered, TRUE);
  g_usleep (5 * G_USEC_PER_SEC);
  g_atomic_int_set (&slow_handler_done, TRUE);
}

static void
test_slow_cancelled_handler (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const char *sleep_argv[] = { "sleep", "10", NULL };
  const char *echo_argv[] = { "echo", "on time", NULL };
  Call slow = { 0 };
  GThread *thread;

  /* Connected after the call, so it runs after the library's own
   * handler: the command is cancelled (and answered) while this one
   * still sleeps in the emission. */
  sa_worker_aspawn_async (worker, sleep_argv, NULL, cancellable, on_call_done, &slow);
  g_signal_connect (cancellable, "cancelled", G_CALLBACK (on_cancelled_slow), NULL);
  reliab_iterate_for (50);

  thread = g_thread_new ("cancel", cancel_in_thread, cancellable);
  while (!g_atomic_int_get (&slow_handler_entered))
    g_usleep (100);

  /* While the handler sleeps: the cancelled command is answered, and
   * other commands come and go. */
  wait_answered (&slow, 4000);
  g_assert_error (slow.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(SaResult) result = sa_test_run_ok (worker, echo_argv, NULL);

      g_assert_cmpstr (sa_result_get_stdout (result), ==, "on time\n");
    }
  g_assert_false (g_atomic_int_get (&slow_handler_done));

  g_thread_join (thread);
  call_clear (&slow);
}

/* destroy or unref from the `exit` handler (the helper died), from the
 * `error` handler is in test-faults, and from a command's own callback. */
static void
on_exit_hit (SaWorker     *worker,
             const GError *error,
             Victim       *victim)
{
  hit (victim);
}

static void
run_destroy_in_exit (gboolean unref)
{
  g_autoptr(SaSpawnOptions) options = marked_options ();
  const char *argv[] = { "sleep", "10", NULL };
  gint64 deadline = stress_deadline ();
  guint rounds = 0;

  arm_watchdog (60);
  while (rounds < HANDLER_ROUNDS / 4 && g_get_monotonic_time () < deadline)
    {
      Victim victim = { sa_test_new_worker (), unref, 0 };
      g_autoptr(SaWorker) keep = g_object_ref (victim.worker);   /* for the pid */
      Call calls[4] = { { 0 } };
      GPid helper = wait_new_helper (victim.worker, 0);

      g_signal_connect (victim.worker, "exit", G_CALLBACK (on_exit_hit), &victim);
      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        sa_worker_aspawn_async (victim.worker, argv, options, NULL, on_call_done, &calls[i]);
      reliab_iterate_for (g_random_int_range (0, 3));
      kill (helper, SIGKILL);

      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        {
          wait_answered (&calls[i], 30000);
          if (!g_error_matches (calls[i].error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED) &&
              !g_error_matches (calls[i].error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED))
            g_error ("unexpected answer: %s", calls[i].error ? calls[i].error->message : "a result");
          call_clear (&calls[i]);
        }
      /* The handler ran for the helper's death (and, when it destroyed
       * the worker, once more for the destruction's own `exit`). */
      sa_test_wait_flag ((const gboolean *)&victim.hits, 10000);
      g_assert_cmpuint (victim.hits, >=, 1);
      g_clear_object (&victim.worker);
      g_signal_handlers_disconnect_by_data (keep, &victim);
      g_clear_object (&keep);
      rounds++;
    }
  alarm (0);
  g_test_message ("%u rounds", rounds);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}

static void
test_destroy_in_exit (void)
{
  run_destroy_in_exit (FALSE);
}

typedef struct
{
  Victim victim;
  guint  answers;
  guint  destroyed;
} CallbackHit;

static void
on_done_hit (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  CallbackHit *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SaResult) result = sa_worker_aspawn_finish (SA_WORKER (source), res, &error);

  if (result == NULL && g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED))
    data->destroyed++;
  else if (result == NULL || !sa_result_get_successful (result))
    g_error ("unexpected answer: %s", error ? error->message : "a failed result");
  data->answers++;
  hit (&data->victim);
}

static void
run_destroy_in_callback (gboolean unref)
{
  g_autoptr(SaSpawnOptions) options = marked_options ();
  const char *argv[] = { "true", NULL };
  gint64 deadline = stress_deadline ();
  guint rounds = 0;

  arm_watchdog (60);
  while (rounds < HANDLER_ROUNDS && g_get_monotonic_time () < deadline)
    {
      CallbackHit data = { { sa_test_new_worker (), unref, 0 }, 0, 0 };
      guint n = g_random_int_range (1, 9);

      for (guint i = 0; i < n; i++)
        sa_worker_aspawn_async (data.victim.worker, argv, options, NULL, on_done_hit, &data);
      while (data.answers < n)
        g_main_context_iteration (NULL, TRUE);
      g_clear_object (&data.victim.worker);
      rounds++;
    }
  alarm (0);
  g_test_message ("%u rounds", rounds);
}

static void
test_destroy_in_callback (void)
{
  run_destroy_in_callback (FALSE);
}

static void
test_unref_in_callback (void)
{
  run_destroy_in_callback (TRUE);
}

/* destroy from other threads, several at once, at a random moment while
 * commands of the main thread are in flight. */
typedef struct
{
  SaWorker *worker;
  gint64    at;
} DestroyJob;

static gpointer
destroy_main (gpointer data)
{
  DestroyJob *job = data;

  spin_until (job->at);
  sa_worker_destroy (job->worker);
  return NULL;
}

static void
test_destroy_from_threads (void)
{
  g_autoptr(SaSpawnOptions) options = marked_options ();
  const char *argv[] = { "sh", "-c", "echo hi; sleep 30 &", NULL };
  gint64 deadline = stress_deadline ();
  guint rounds = 0;

  arm_watchdog (60);
  while (rounds < HANDLER_ROUNDS && g_get_monotonic_time () < deadline)
    {
      g_autoptr(SaWorker) worker = sa_test_new_worker ();
      DestroyJob job = { worker, g_get_monotonic_time () + g_random_int_range (0, 5001) };
      GThread *threads[3];
      Call calls[8] = { { 0 } };

      for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
        threads[t] = g_thread_new ("destroy", destroy_main, &job);
      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        sa_worker_aspawn_async (worker, argv, options, NULL, on_call_done, &calls[i]);
      for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
        g_thread_join (threads[t]);

      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        {
          wait_answered (&calls[i], 30000);
          if (calls[i].result != NULL)
            g_assert_cmpstr (sa_result_get_stdout (calls[i].result), ==, "hi\n");
          else
            g_assert_error (calls[i].error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
          call_clear (&calls[i]);
        }
      g_assert_cmpint (sa_worker_get_helper_pid (worker), ==, 0);
      rounds++;
    }
  alarm (0);
  g_test_message ("%u rounds", rounds);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}


/* -- 4. live processes: waits, signals and spawns against exits and faults -- */

#define PROCESS_ROUNDS  200

typedef struct
{
  guint     answers;
  gboolean  ok;
  GError   *error;
} WaitCall;

static void
on_wait_done (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  WaitCall *call = user_data;

  g_assert_cmpuint (call->answers, ==, 0);
  call->answers++;
  call->ok = sa_process_wait_finish (SA_PROCESS (source), res, &call->error);
}

typedef struct
{
  GCancellable *cancellable;
  SaProcess    *process;
  gint64        at;
  gboolean      force;
} ProcessJob;

static gpointer
process_job_main (gpointer data)
{
  ProcessJob *job = data;

  spin_until (job->at);
  if (job->cancellable != NULL)
    g_cancellable_cancel (job->cancellable);
  if (job->force)
    sa_process_force_exit (job->process);
  else
    sa_process_send_signal (job->process, SIGTERM);
  return NULL;
}

/* A child that ends by itself within 0-2 ms, two waits on it, and from
 * another thread, at a random moment around that end: one wait's
 * cancellable cancelled and a signal or a force_exit sent. Each wait
 * answers once: the cancelled one with its end or CANCELLED, the other
 * with the end; nothing is left. */
static void
test_process_waits_around_exit (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = marked_options ();
  gint64 deadline = stress_deadline ();
  guint rounds = 0, cancelled = 0;

  sa_spawn_options_set_stdout_mode (options, SA_STDIO_NULL);
  sa_spawn_options_set_stderr_mode (options, SA_STDIO_NULL);
  while (rounds < PROCESS_ROUNDS && g_get_monotonic_time () < deadline)
    {
      g_autofree char *seconds = g_strdup_printf ("0.00%u", g_random_int_range (0, 3));
      const char *argv[] = { "sleep", seconds, NULL };
      g_autoptr(GError) error = NULL;
      g_autoptr(SaProcess) process = sa_worker_spawn (worker, argv, options, NULL, &error);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      WaitCall first = { 0 }, second = { 0 };
      ProcessJob job;
      GThread *thread;

      g_assert_no_error (error);
      job = (ProcessJob) { cancellable, process,
                           g_get_monotonic_time () + g_random_int_range (0, 8001),
                           g_random_boolean () };
      sa_process_wait_async (process, cancellable, on_wait_done, &first);
      sa_process_wait_async (process, NULL, on_wait_done, &second);
      thread = g_thread_new ("process-job", process_job_main, &job);
      sa_test_wait_flag ((const gboolean *)&second.answers, 30000);
      while (first.answers == 0)
        g_main_context_iteration (NULL, TRUE);
      g_thread_join (thread);
      g_assert_no_error (second.error);
      g_assert_true (second.ok);
      if (first.error != NULL)
        {
          g_assert_error (first.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          cancelled++;
        }
      g_clear_error (&first.error);
      rounds++;
    }
  g_test_message ("%u rounds, %u waits cancelled first", rounds, cancelled);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}

/* Cancels each cancellable it is handed, from its own thread, within a
 * few microseconds, until told to stop. */
typedef struct
{
  GCancellable *handed;    /* atomic; a reference */
  gint          stop;      /* atomic */
} EagerCanceller;

static gpointer
eager_canceller_main (gpointer data)
{
  EagerCanceller *canceller = data;

  while (!g_atomic_int_get (&canceller->stop))
    {
      GCancellable *cancellable = g_atomic_pointer_exchange (&canceller->handed, NULL);

      if (cancellable != NULL)
        {
          /* 0-4 µs: before, inside and after the call's own check. */
          spin_until (g_get_monotonic_time () + g_random_int_range (0, 5));
          g_cancellable_cancel (cancellable);
          g_object_unref (cancellable);
        }
    }
  return NULL;
}

static void
eager_canceller_hand (EagerCanceller *canceller,
                      GCancellable   *cancellable)
{
  GCancellable *old = g_atomic_pointer_exchange (&canceller->handed,
                                                 cancellable ? g_object_ref (cancellable) : NULL);

  g_clear_object (&old);
}

#define START_WAITS_US     8000
#define START_WAITS_CHILDREN  1

/* Waits started one after the other for 8 ms, in turn on four children
 * that end by themselves within that time, each with a cancellable that
 * another thread cancels within microseconds of being handed it:
 * cancels land inside sa_process_wait_async() (before its handler is
 * connected, and while it runs) just as a child's exit answers the waits
 * queued on it. Each wait answers once, with the end or CANCELLED, and
 * nothing is used after it is freed (a wait answered by the exit was
 * read again by the call that queued it: ASan's heap-use-after-free). */
static void
test_process_waits_starting_around_exit (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = marked_options ();
  gint64 deadline = stress_deadline ();
  EagerCanceller canceller = { NULL, 0 };
  GThread *thread = g_thread_new ("canceller", eager_canceller_main, &canceller);
  guint rounds = 0, waits = 0, cancelled = 0;

  sa_spawn_options_set_stdout_mode (options, SA_STDIO_NULL);
  sa_spawn_options_set_stderr_mode (options, SA_STDIO_NULL);
  while (g_get_monotonic_time () < deadline)
    {
      SaProcess *processes[START_WAITS_CHILDREN];
      g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func (g_free);
      gint64 until;

      for (guint p = 0; p < START_WAITS_CHILDREN; p++)
        {
          g_autofree char *seconds = g_strdup_printf ("0.00%u", g_random_int_range (0, 4));
          const char *argv[] = { "sleep", seconds, NULL };
          g_autoptr(GError) error = NULL;

          processes[p] = sa_worker_spawn (worker, argv, options, NULL, &error);
          g_assert_no_error (error);
        }

      until = g_get_monotonic_time () + START_WAITS_US;
      while (g_get_monotonic_time () < until)
        {
          g_autoptr(GCancellable) cancellable = g_cancellable_new ();
          WaitCall *call = g_new0 (WaitCall, 1);

          g_ptr_array_add (calls, call);
          eager_canceller_hand (&canceller, cancellable);
          sa_process_wait_async (processes[calls->len % START_WAITS_CHILDREN], cancellable,
                                 on_wait_done, call);
        }
      eager_canceller_hand (&canceller, NULL);

      for (guint i = 0; i < calls->len; i++)
        {
          WaitCall *call = g_ptr_array_index (calls, i);

          sa_test_wait_flag ((const gboolean *)&call->answers, 30000);
          if (call->error != NULL)
            {
              g_assert_error (call->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
              g_clear_error (&call->error);
              cancelled++;
            }
          else
            g_assert_true (call->ok);
        }
      for (guint p = 0; p < START_WAITS_CHILDREN; p++)
        g_object_unref (processes[p]);
      waits += calls->len;
      rounds++;
    }
  g_atomic_int_set (&canceller.stop, TRUE);
  g_thread_join (thread);
  /* How many were cancelled depends on the scheduler: under valgrind,
   * which runs one thread at a time, maybe none. */
  g_test_message ("%u rounds, %u waits, %u cancelled", rounds, waits, cancelled);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}

/* Every pipe and master the caller was given is closed again, once the
 * answers still queued in the main context have been dispatched. */
static void
assert_fds_back (guint fds_before)
{
  gint64 settle = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (sa_test_count_fds () > fds_before && g_get_monotonic_time () < settle)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  g_assert_cmpuint (sa_test_count_fds (), <=, fds_before);
}

/* The helper killed, or the worker destroyed from another thread, at a
 * random moment while processes start, run and end, with waits pending:
 * every spawn and every wait answers once, with what fits. With
 * terminal, each process has a terminal the helper made, whose master
 * travels with SPAWNED: none may be left open in the caller. */
static void
run_process_faults (gboolean destroy,
                    gboolean terminal)
{
  g_autoptr(SaSpawnOptions) options = marked_options ();
  const char *argv[] = { "sh", "-c", "sleep 0.00$$; sleep 30 &", NULL };
  SaStdio mode = terminal ? SA_STDIO_PTY : SA_STDIO_NULL;
  gint64 deadline = stress_deadline ();
  guint rounds = 0, fds_before = 0;

  sa_spawn_options_set_stdin_mode (options, mode);
  sa_spawn_options_set_stdout_mode (options, mode);
  sa_spawn_options_set_stderr_mode (options, mode);
  arm_watchdog (120);
  while (rounds < PROCESS_ROUNDS / 4 && g_get_monotonic_time () < deadline)
    {
      g_autoptr(SaWorker) worker = sa_test_new_worker ();
      GAsyncResult *spawns[6] = { NULL };
      WaitCall waits[6] = { { 0 } };
      SaProcess *processes[6] = { NULL };
      GPid helper = wait_new_helper (worker, 0);
      DestroyJob job = { worker, g_get_monotonic_time () + g_random_int_range (0, 8001) };
      GThread *thread = NULL;

      prime_helper (worker);
      for (guint i = 0; i < G_N_ELEMENTS (spawns); i++)
        sa_worker_spawn_async (worker, argv, options, NULL, on_result_slot, &spawns[i]);
      if (destroy)
        thread = g_thread_new ("destroy", destroy_main, &job);

      for (guint i = 0; i < G_N_ELEMENTS (spawns); i++)
        {
          g_autoptr(GError) error = NULL;

          sa_test_wait_pointer ((gpointer *)&spawns[i], 30000);
          processes[i] = sa_worker_spawn_finish (worker, spawns[i], &error);
          if (processes[i] != NULL)
            g_assert_true ((sa_process_get_pty (processes[i]) != NULL) == terminal);
          if (processes[i] != NULL)
            sa_process_wait_async (processes[i], NULL, on_wait_done, &waits[i]);
          else if (!g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED) &&
                   !g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
            g_error ("unexpected spawn error: %s", error->message);
          g_clear_object (&spawns[i]);
          if (!destroy && i == 2)
            kill (helper, SIGKILL);
        }
      if (thread != NULL)
        g_thread_join (thread);
      else
        sa_worker_destroy (worker);

      for (guint i = 0; i < G_N_ELEMENTS (processes); i++)
        {
          if (processes[i] == NULL)
            continue;
          while (waits[i].answers == 0)
            g_main_context_iteration (NULL, TRUE);
          if (!waits[i].ok &&
              !g_error_matches (waits[i].error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED) &&
              !g_error_matches (waits[i].error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
            g_error ("unexpected wait error: %s", waits[i].error->message);
          g_clear_error (&waits[i].error);
          g_object_unref (processes[i]);
        }
      rounds++;
      /* After one round, what GLib and the library open once per
       * process (event fds of contexts and threads) is open. */
      if (rounds == 1)
        fds_before = sa_test_count_fds ();
    }
  alarm (0);
  g_test_message ("%u rounds", rounds);
  assert_fds_back (fds_before);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}

static void
test_process_helper_killed (void)
{
  run_process_faults (FALSE, FALSE);
}

static void
test_process_destroy_from_thread (void)
{
  run_process_faults (TRUE, FALSE);
}

static void
test_terminal_helper_killed (void)
{
  run_process_faults (FALSE, TRUE);
}

static void
test_terminal_destroy_from_thread (void)
{
  run_process_faults (TRUE, TRUE);
}

/* Terminals: a spawn with a terminal the helper makes, and an aspawn
 * reading one, cancelled from another thread at a random microsecond
 * (before the call, while the master travels in SPAWNED, while the
 * child runs), and now and then the helper killed as well. Every call
 * answers once, with a process whose terminal works, a result, or an
 * error that fits; no master is left open in the caller; no child is
 * left. */
#define TERMINAL_ROUNDS 400

typedef struct
{
  GAsyncResult *spawn;
  Call          run;
} TerminalCalls;

static void
check_terminal_process (SaWorker     *worker,
                        GAsyncResult *res)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaProcess) process = sa_worker_spawn_finish (worker, res, &error);

  if (process == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
        g_error ("unexpected spawn error: %s", error->message);
      return;
    }
  g_assert_nonnull (sa_process_get_pty (process));
  if (!sa_process_set_window_size (process, 30, 90, &error))
    g_error ("a live process's terminal could not be resized: %s", error->message);
  sa_process_force_exit (process);
  if (!sa_process_wait (process, NULL, &error) &&
      !g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
    g_error ("unexpected wait error: %s", error->message);
}

static void
check_terminal_result (Call *call)
{
  g_assert_cmpuint (call->answers, ==, 1);
  if (call->result != NULL)
    g_assert_cmpstr (sa_result_get_stdout (call->result), ==, "tty\r\n");
  else if (!g_error_matches (call->error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
           !g_error_matches (call->error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED))
    g_error ("unexpected aspawn error: %s", call->error->message);
}

static void
test_terminal_cancel_around_spawn (void)
{
  g_autoptr(SaWorker) worker = sa_test_new_worker ();
  g_autoptr(SaSpawnOptions) options = marked_options ();
  g_autoptr(GAsyncQueue) jobs = g_async_queue_new ();
  const char *spawn_argv[] = { "sleep", "30", NULL };
  const char *run_argv[] = { "sh", "-c", "test -t 0 && test -t 1 && echo tty", NULL };
  GThread *canceller = g_thread_new ("canceller", canceller_main, jobs);
  gint64 deadline = stress_deadline ();
  guint rounds = 0, fds_before;

  sa_spawn_options_set_stdin_mode (options, SA_STDIO_PTY);
  sa_spawn_options_set_stdout_mode (options, SA_STDIO_PTY);
  sa_spawn_options_set_stderr_mode (options, SA_STDIO_PTY);
  /* warm up: the first helper, GIO's types */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SaProcess) process = sa_worker_spawn (worker, spawn_argv, options, NULL, &error);

    g_assert_no_error (error);
    sa_process_force_exit (process);
    g_assert_true (sa_process_wait (process, NULL, &error));
  }
  fds_before = sa_test_count_fds ();
  arm_watchdog (120);

  while (rounds < TERMINAL_ROUNDS && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      CancelJob *job = g_new0 (CancelJob, 1);
      TerminalCalls calls = { NULL };

      job->cancellable = g_object_ref (cancellable);
      job->at = g_get_monotonic_time () +
                (g_random_int_range (0, 4) != 0 ? g_random_int_range (0, 201)
                                                : g_random_int_range (0, 3001));
      g_async_queue_push (jobs, job);
      sa_worker_spawn_async (worker, spawn_argv, options, cancellable, on_result_slot,
                             &calls.spawn);
      sa_worker_aspawn_async (worker, run_argv, options, cancellable, on_call_done, &calls.run);
      if (g_random_int_range (0, 8) == 0)
        {
          /* 0 while a new helper starts: kill (0, …) would be ours */
          GPid helper = sa_worker_get_helper_pid (worker);

          spin_until (g_get_monotonic_time () + g_random_int_range (0, 301));
          if (helper > 1)
            kill (helper, SIGKILL);
        }

      sa_test_wait_pointer ((gpointer *)&calls.spawn, 30000);
      sa_test_wait_flag ((const gboolean *)&calls.run.answers, 30000);
      check_terminal_process (worker, calls.spawn);
      check_terminal_result (&calls.run);
      g_clear_object (&calls.spawn);
      call_clear (&calls.run);
      rounds++;
    }

  g_async_queue_push (jobs, g_new0 (CancelJob, 1));
  g_thread_join (canceller);
  alarm (0);
  g_test_message ("%u rounds", rounds);
  /* every master the caller was given is closed again */
  g_assert_cmpuint (sa_test_count_fds (), <=, fds_before);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}

/* -- 8. through a launcher, over fd 3 or over the byte stream ----------- */

#define LAUNCHER_ROUNDS  60

/* A process's stdout, read to its end in the background. */
typedef struct
{
  gboolean  done;
  gsize     bytes;
  guint8    buffer[4096];
} Drain;

static void
on_drain_read (GObject      *source,
               GAsyncResult *res,
               gpointer      user_data)
{
  Drain *drain = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, NULL);

  if (n <= 0)
    {
      drain->done = TRUE;
      return;
    }
  drain->bytes += (gsize)n;
  g_input_stream_read_async (G_INPUT_STREAM (source), drain->buffer, sizeof drain->buffer,
                             G_PRIORITY_DEFAULT, NULL, on_drain_read, drain);
}

static gboolean
launcher_error_fits (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_EXITED) ||
         g_error_matches (error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
}

/* Helpers started through a launcher that passes fd 3 on, or one that
 * does not (the byte stream, every pipe relayed, live processes' pipes
 * made by the I/O thread): captured commands with input, output limits
 * and timeouts, and live processes being written and read, while a
 * cancel, the helper's death or a destroy from another thread lands at
 * a random moment. Every call answers once with what fits, every
 * stream reaches its end, and no descriptor or child is left. */
static void
run_launcher_faults (gboolean stream)
{
  const char *passes_fd_3[] = { "sh", "-c", "exec \"$@\"", "sh", NULL };
  const char *closes_fd_3[] = { "sh", "-c", "exec \"$@\" 3>&-", "sh", NULL };
  g_autoptr(SaSpawnOptions) fed = marked_options ();
  g_autoptr(SaSpawnOptions) limited = marked_options ();
  g_autoptr(SaSpawnOptions) timed = marked_options ();
  g_autoptr(SaSpawnOptions) live = marked_options ();
  g_autoptr(GBytes) input = g_bytes_new_take (g_malloc0 (100 * 1024), 100 * 1024);
  const char *cat_argv[] = { "cat", NULL };
  const char *yes_argv[] = { "yes", NULL };
  const char *sleep_argv[] = { "sleep", "30", NULL };
  gint64 deadline = stress_deadline ();
  guint rounds = 0, fds_before = 0;

  sa_spawn_options_set_input (fed, input);
  sa_spawn_options_set_max_output (limited, 64 * 1024);
  sa_spawn_options_set_timeout_ms (timed, g_random_int_range (1, 20));
  sa_spawn_options_set_stdin_mode (live, SA_STDIO_PIPE);
  arm_watchdog (120);
  while (rounds < LAUNCHER_ROUNDS && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SaWorker) worker =
        g_initable_new (SA_TYPE_WORKER, NULL, &error,
                        "launcher", stream ? closes_fd_3 : passes_fd_3, NULL);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      const char * const *argvs[] = { cat_argv, yes_argv, sleep_argv, cat_argv };
      SaSpawnOptions *optionses[] = { fed, limited, timed, fed };
      Call calls[4] = { { 0 } };
      GAsyncResult *spawns[2] = { NULL };
      SaProcess *processes[2] = { NULL };
      WaitCall waits[2] = { { 0 } };
      Drain drains[2] = { { 0 } };
      DestroyJob job = { worker, 0 };
      GThread *thread = NULL;
      guint fault = g_random_int_range (0, 3);
      GPid helper;

      g_assert_no_error (error);
      prime_helper (worker);
      helper = sa_worker_get_helper_pid (worker);
      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        sa_worker_aspawn_async (worker, argvs[i], optionses[i], i == 3 ? cancellable : NULL,
                                on_call_done, &calls[i]);
      for (guint i = 0; i < G_N_ELEMENTS (spawns); i++)
        sa_worker_spawn_async (worker, cat_argv, live, NULL, on_result_slot, &spawns[i]);

      job.at = g_get_monotonic_time () + g_random_int_range (0, 5001);
      if (fault == 0)
        thread = g_thread_new ("destroy", destroy_main, &job);
      for (guint i = 0; i < G_N_ELEMENTS (spawns); i++)
        {
          g_autoptr(GError) spawn_error = NULL;

          sa_test_wait_pointer ((gpointer *)&spawns[i], 30000);
          processes[i] = sa_worker_spawn_finish (worker, spawns[i], &spawn_error);
          g_clear_object (&spawns[i]);
          if (processes[i] == NULL)
            {
              if (!launcher_error_fits (spawn_error))
                g_error ("unexpected spawn error: %s", spawn_error->message);
              continue;
            }
          g_input_stream_read_async (sa_process_get_stdout_pipe (processes[i]),
                                     drains[i].buffer, sizeof drains[i].buffer,
                                     G_PRIORITY_DEFAULT, NULL, on_drain_read, &drains[i]);
          /* Written (blocking, into a pipe) while the fault lands. */
          g_output_stream_write_all (sa_process_get_stdin_pipe (processes[i]), "abc\n", 4,
                                     NULL, NULL, NULL);
          if (i == 0)
            g_output_stream_close (sa_process_get_stdin_pipe (processes[i]), NULL, NULL);
          sa_process_wait_async (processes[i], NULL, on_wait_done, &waits[i]);
        }
      spin_until (job.at);
      if (fault == 1)
        kill (helper, SIGKILL);
      else if (fault == 2)
        g_cancellable_cancel (cancellable);
      if (thread != NULL)
        g_thread_join (thread);

      for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
        {
          wait_answered (&calls[i], 30000);
          if (calls[i].result == NULL && !launcher_error_fits (calls[i].error))
            g_error ("unexpected answer: %s", calls[i].error->message);
          call_clear (&calls[i]);
        }
      /* What is still alive ends with the worker. */
      sa_worker_destroy (worker);
      for (guint i = 0; i < G_N_ELEMENTS (processes); i++)
        {
          if (processes[i] == NULL)
            continue;
          while (waits[i].answers == 0 || !drains[i].done)
            g_main_context_iteration (NULL, TRUE);
          if (!waits[i].ok && !launcher_error_fits (waits[i].error))
            g_error ("unexpected wait error: %s", waits[i].error->message);
          g_clear_error (&waits[i].error);
          g_object_unref (processes[i]);
        }
      rounds++;
      if (rounds == 1)
        fds_before = sa_test_count_fds ();
    }
  alarm (0);
  g_test_message ("%u rounds", rounds);
  assert_fds_back (fds_before);
  reliab_assert_marked_gone (MARKER_ENTRY, 5000);
}

static void
test_launcher_faults (void)
{
  run_launcher_faults (FALSE);
}

static void
test_stream_faults (void)
{
  run_launcher_faults (TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/stress/cancel-around-submit", test_cancel_around_submit);
  g_test_add_func ("/reliability/stress/cancel-around-submit-threads", test_cancel_around_submit_threads);
  g_test_add_func ("/reliability/stress/kill-around-cancel", test_kill_around_cancel);
  g_test_add_func ("/reliability/stress/kill-around-timeout", test_kill_around_timeout);
  g_test_add_func ("/reliability/stress/kill-around-output-limit", test_kill_around_output_limit);
  g_test_add_func ("/reliability/stress/kill-around-input", test_kill_around_input);
  g_test_add_func ("/reliability/stress/kill-during-drain", test_kill_during_drain);
  g_test_add_func ("/reliability/stress/pipes-in-flight", test_pipes_in_flight);
  g_test_add_func ("/reliability/stress/destroy-in-cancelled", test_destroy_in_cancelled);
  g_test_add_func ("/reliability/stress/destroy-in-cancelled-other-thread", test_destroy_in_cancelled_other_thread);
  g_test_add_func ("/reliability/stress/unref-in-cancelled", test_unref_in_cancelled);
  g_test_add_func ("/reliability/stress/slow-cancelled-handler", test_slow_cancelled_handler);
  g_test_add_func ("/reliability/stress/destroy-in-exit", test_destroy_in_exit);
  g_test_add_func ("/reliability/stress/destroy-in-callback", test_destroy_in_callback);
  g_test_add_func ("/reliability/stress/unref-in-callback", test_unref_in_callback);
  g_test_add_func ("/reliability/stress/destroy-from-threads", test_destroy_from_threads);
  g_test_add_func ("/reliability/stress/process-waits-around-exit", test_process_waits_around_exit);
  g_test_add_func ("/reliability/stress/process-waits-starting-around-exit",
                   test_process_waits_starting_around_exit);
  g_test_add_func ("/reliability/stress/process-helper-killed", test_process_helper_killed);
  g_test_add_func ("/reliability/stress/process-destroy-from-thread", test_process_destroy_from_thread);
  g_test_add_func ("/reliability/stress/terminal-cancel-around-spawn",
                   test_terminal_cancel_around_spawn);
  g_test_add_func ("/reliability/stress/terminal-helper-killed", test_terminal_helper_killed);
  g_test_add_func ("/reliability/stress/terminal-destroy-from-thread",
                   test_terminal_destroy_from_thread);
  g_test_add_func ("/reliability/stress/launcher-faults", test_launcher_faults);
  g_test_add_func ("/reliability/stress/stream-faults", test_stream_faults);

  return g_test_run ();
}
