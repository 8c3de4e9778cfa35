/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-buffer.c: memory for a command's output.
 *
 * Most commands print little, so a buffer starts on the heap. One that
 * grows past MAP_ABOVE moves, once, into its own anonymous mapping, which
 * then grows with mremap() (no copy) and is populated ahead of the reads
 * (MADV_POPULATE_WRITE). Otherwise read() takes a page fault per 4 KiB of
 * fresh memory while it holds the pipe's lock, and the child, writing on
 * the other CPU, spins on that lock: measured, this halved the rate at
 * which a big output was read (1.3 against 2.4 GiB/s).
 *
 * The mapping asks for transparent huge pages (MADV_HUGEPAGE; nothing
 * where they are off): one fault per 2 MiB instead of 512. Without the
 * populating, a 2 MiB fault under the pipe's lock made the rate vary by
 * a factor of three; populated ahead, the faults happen here, outside
 * the lock. Where a fault is dear (a virtual machine whose host backs
 * memory lazily: ~18 µs per 4 KiB page), 512 MiB were read at 174-243
 * MiB/s with small pages and 224-1,044 with huge ones. What a huge page
 * costs: the tail past the data, unmapped at sa_buffer_steal(), is
 * given back when the kernel splits the page, not at once.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sa-buffer-private.h"
#include "sa-release-private.h"

#define MAP_ABOVE       (1024 * 1024)
#define POPULATE_AHEAD  (2 * 1024 * 1024)   /* > the biggest pipe we ask for */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23              /* Linux 5.14 */
#endif

typedef struct
{
  void  *address;
  gsize  size;
} Mapping;

static gsize
page_size (void)
{
  static gsize size;

  if (size == 0)
    size = (gsize)sysconf (_SC_PAGESIZE);
  return size;
}

static gsize
page_round (gsize size)
{
  return (size + page_size () - 1) / page_size () * page_size ();
}

static void
grow (SaBuffer *self,
      gsize     capacity)
{
  char *data;

  if (capacity <= MAP_ABOVE)
    {
      self->data = g_realloc (self->data, capacity);
      self->capacity = capacity;
      return;
    }

  capacity = page_round (capacity);
  if (self->mapped)
    data = mremap (self->data, self->capacity, capacity, MREMAP_MAYMOVE);
  else
    data = mmap (NULL, capacity, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED)
    g_error ("%s: failed to allocate %" G_GSIZE_FORMAT " bytes", G_STRLOC, capacity);

  if (!self->mapped)
    {
      /* mremap() keeps the advice. Failing, it is only advice. */
      (void) madvise (data, capacity, MADV_HUGEPAGE);
      /* Given back by the release thread, which starts here and not
       * where the result is dropped. */
      sa_release_hold ();
      if (self->len > 0)
        memcpy (data, self->data, self->len);
      g_free (self->data);
      self->mapped = TRUE;
      self->populated = page_round (self->len);
    }
  self->data = data;
  self->capacity = capacity;
}

/* Faults in the pages up to POPULATE_AHEAD past the data, in one call
 * and outside any pipe lock; returns how many bytes after the data are
 * ready. */
static gsize
populate (SaBuffer *self)
{
  gsize end = MIN (page_round (self->len + POPULATE_AHEAD), self->capacity);

  if (self->populated < end)
    {
      /* Without it (before Linux 5.14), read() faults the pages in. */
      if (madvise (self->data + self->populated, end - self->populated,
                   MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
        self->populated = self->capacity;
      else
        self->populated = end;
    }
  return MIN (self->populated, self->capacity - 1) - self->len;
}

/* Makes room for at least min_room bytes (and a NUL) after the data;
 * returns where to write and, in room, how much may be written there. */
char *
sa_buffer_reserve (SaBuffer *self,
                   gsize     min_room,
                   gsize    *room)
{
  if (self->capacity - self->len < min_room + 1)
    grow (self, MAX (self->capacity * 2, self->len + min_room + 1));

  *room = self->mapped ? populate (self) : self->capacity - self->len - 1;
  return self->data + self->len;
}

/* The GBytes' free function: runs where the last reference goes, often
 * the application's main loop, so the unmapping is handed over. */
static void
unmap (gpointer data)
{
  Mapping *mapping = data;

  sa_release_mapping (mapping->address, mapping->size, TRUE);
  g_free (mapping);
}

/* The data as GBytes, with a NUL after it; the buffer is empty after. */
GBytes *
sa_buffer_steal (SaBuffer *self)
{
  static const char empty[1] = "";
  char *data = g_steal_pointer (&self->data);
  gsize len = self->len;
  gboolean mapped = self->mapped;
  gsize capacity = self->capacity;
  Mapping *mapping;

  self->len = self->capacity = self->populated = 0;
  self->mapped = FALSE;

  if (data == NULL)
    return g_bytes_new_static (empty, 0);

  if (!mapped)
    {
      /* Give back the unused room. */
      data = g_realloc (data, len + 1);
      data[len] = '\0';
      return g_bytes_new_take (data, len);
    }

  /* Unmapping the tail never moves the rest. */
  mapping = g_new (Mapping, 1);
  mapping->address = data;
  mapping->size = page_round (len + 1);
  if (mapping->size < capacity)
    munmap (data + mapping->size, capacity - mapping->size);
  data[len] = '\0';
  return g_bytes_new_with_free_func (data, len, unmap, mapping);
}

void
sa_buffer_clear (SaBuffer *self)
{
  if (self->mapped)
    sa_release_mapping (self->data, self->capacity, TRUE);
  else
    g_free (self->data);
  self->data = NULL;
  self->len = self->capacity = self->populated = 0;
  self->mapped = FALSE;
}
