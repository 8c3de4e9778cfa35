/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-release.c: memory given back by a thread of the library's own.
 *
 * munmap() of a big mapping (and free() of a big malloc() block, which is
 * a mapping too) costs the calling thread time in proportion to its
 * size: about 20 ms for 256 MiB. A result is freed where the application
 * drops it, usually in its main loop, so big blocks are handed to the
 * "sa-release" thread instead (Linux refuses thread names over 15
 * characters). Small blocks (< SA_RELEASE_ABOVE) are cheaper to free at
 * once than to hand over.
 *
 * Starting a thread costs 50-250 µs, more than the hand-over is allowed
 * to, so the caller's thread should never be the one to start it: whoever
 * makes a block that will come here holds the thread (sa_release_hold(),
 * the I/O thread when an output moves into its own mapping), which starts
 * it then and keeps it until the block is handed over. It runs with every
 * signal blocked like the library's other threads, and ends after
 * RELEASE_IDLE_S with nothing to do and nothing held.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>

#include "sa-release-private.h"

#define RELEASE_IDLE_S  10

typedef struct
{
  void    *address;
  gsize    size;
  gboolean mapping;     /* else malloc()ed */
} Block;

/* All under lock. */
static GMutex lock;
static GCond  cond;
static GQueue blocks = G_QUEUE_INIT;
static gboolean running;
static guint busy;      /* blocks taken off the queue, not yet given back */
static guint holds;     /* sa_release_hold() not yet matched */

static void
give_back_memory (void     *address,
                  gsize     size,
                  gboolean  mapping)
{
  if (mapping)
    munmap (address, size);
  else
    g_free (address);
}

static void
give_back (Block *block)
{
  give_back_memory (block->address, block->size, block->mapping);
  g_free (block);
}

/* Under lock: a held block is given back, or handed over. */
static void
drop_hold_locked (void)
{
  g_warn_if_fail (holds > 0);
  holds -= holds > 0;
}

static gpointer
release_thread (gpointer data)
{
  struct sched_param param = { 0 };

  /* Woken by the hand-over, a normal thread often preempted the thread
   * that handed over, for as long as it unmapped: measured, 3 drops of
   * 10 took 2.4-3.3 ms where the rest took 15 µs. SCHED_BATCH never
   * preempts on wake-up; none of 30 then took over 71 µs. */
  pthread_setschedparam (pthread_self (), SCHED_BATCH, &param);
  g_mutex_lock (&lock);
  for (;;)
    {
      Block *block = g_queue_pop_head (&blocks);

      if (block == NULL)
        {
          gint64 until = g_get_monotonic_time () + RELEASE_IDLE_S * G_USEC_PER_SEC;

          if (!g_cond_wait_until (&cond, &lock, until) && g_queue_is_empty (&blocks) &&
              holds == 0)
            break;
          continue;
        }
      busy++;
      g_mutex_unlock (&lock);
      give_back (block);
      g_mutex_lock (&lock);
      busy--;
      g_cond_broadcast (&cond);
    }
  running = FALSE;
  g_cond_broadcast (&cond);
  g_mutex_unlock (&lock);
  return NULL;
}

/* Under lock. */
static gboolean
start_locked (void)
{
  sigset_t all, old;
  GThread *thread;

  if (running)
    return TRUE;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  thread = g_thread_try_new ("sa-release", release_thread, NULL, NULL);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (thread == NULL)
    return FALSE;
  g_thread_unref (thread);
  running = TRUE;
  return TRUE;
}

void
sa_release_hold (void)
{
  g_mutex_lock (&lock);
  holds++;
  start_locked ();    /* failing, the hand-over tries again */
  g_mutex_unlock (&lock);
}

static void
hand_over (void     *address,
           gsize     size,
           gboolean  mapping,
           gboolean  held)
{
  Block *block = g_new (Block, 1);

  *block = (Block) { address, size, mapping };
  g_mutex_lock (&lock);
  if (held)
    drop_hold_locked ();
  if (!start_locked ())
    {
      /* No thread: the caller pays, as it would have. */
      g_mutex_unlock (&lock);
      give_back (block);
      return;
    }
  g_queue_push_tail (&blocks, block);
  g_cond_broadcast (&cond);
  g_mutex_unlock (&lock);
}

static void
release (void     *address,
         gsize     size,
         gboolean  mapping,
         gboolean  held)
{
  if (size >= SA_RELEASE_ABOVE)
    {
      hand_over (address, size, mapping, held);
      return;
    }
  give_back_memory (address, size, mapping);
  if (held)
    {
      /* The thread may end now, if nothing else keeps it. */
      g_mutex_lock (&lock);
      drop_hold_locked ();
      g_cond_broadcast (&cond);
      g_mutex_unlock (&lock);
    }
}

void
sa_release_mapping (void     *address,
                    gsize     size,
                    gboolean  held)
{
  release (address, size, TRUE, held);
}

void
sa_release_memory (void     *memory,
                   gsize     size,
                   gboolean  held)
{
  release (memory, size, FALSE, held);
}

void
sa_release_flush (void)
{
  g_mutex_lock (&lock);
  while (!g_queue_is_empty (&blocks) || busy > 0)
    g_cond_wait (&cond, &lock);
  g_mutex_unlock (&lock);
}
