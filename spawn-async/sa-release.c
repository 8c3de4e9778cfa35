/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-release.c: memory given back by a thread of the library's own.
 *
 * munmap() of a big mapping (and free() of a big malloc() block, which is
 * a mapping too) costs the calling thread time in proportion to its
 * size: about 20 ms for 256 MiB. A result is freed where the application
 * drops it, usually in its main loop, so big blocks are handed to the
 * "sa-release" thread instead (Linux refuses thread names over 15
 * characters). It starts when there is work, with every signal blocked
 * like the library's other threads, and ends after RELEASE_IDLE_S
 * without any. Small blocks (< RELEASE_ABOVE) are cheaper to free at
 * once than to hand over.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "sa-release-private.h"

#define RELEASE_ABOVE   (512 * 1024)
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

static void
give_back (Block *block)
{
  if (block->mapping)
    munmap (block->address, block->size);
  else
    g_free (block->address);
  g_free (block);
}

static gpointer
release_thread (gpointer data)
{
  g_mutex_lock (&lock);
  for (;;)
    {
      Block *block = g_queue_pop_head (&blocks);

      if (block == NULL)
        {
          gint64 until = g_get_monotonic_time () + RELEASE_IDLE_S * G_USEC_PER_SEC;

          if (!g_cond_wait_until (&cond, &lock, until) && g_queue_is_empty (&blocks))
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

static void
hand_over (void     *address,
           gsize     size,
           gboolean  mapping)
{
  Block *block = g_new (Block, 1);

  *block = (Block) { address, size, mapping };
  g_mutex_lock (&lock);
  g_queue_push_tail (&blocks, block);
  if (!running)
    {
      sigset_t all, old;
      GThread *thread;

      sigfillset (&all);
      pthread_sigmask (SIG_SETMASK, &all, &old);
      thread = g_thread_try_new ("sa-release", release_thread, NULL, NULL);
      pthread_sigmask (SIG_SETMASK, &old, NULL);
      if (thread == NULL)
        {
          /* No thread: the caller pays, as it would have. */
          g_queue_remove (&blocks, block);
          g_mutex_unlock (&lock);
          give_back (block);
          return;
        }
      g_thread_unref (thread);
      running = TRUE;
    }
  g_cond_broadcast (&cond);
  g_mutex_unlock (&lock);
}

void
sa_release_mapping (void  *address,
                    gsize  size)
{
  if (size < RELEASE_ABOVE)
    munmap (address, size);
  else
    hand_over (address, size, TRUE);
}

void
sa_release_memory (void  *memory,
                   gsize  size)
{
  if (size < RELEASE_ABOVE)
    g_free (memory);
  else
    hand_over (memory, size, FALSE);
}

void
sa_release_flush (void)
{
  g_mutex_lock (&lock);
  while (!g_queue_is_empty (&blocks) || busy > 0)
    g_cond_wait (&cond, &lock);
  g_mutex_unlock (&lock);
}
