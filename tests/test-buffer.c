/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-buffer.c: the output buffer (sa-buffer.c) on its own: what is
 * written comes back exactly, followed by a NUL, on the heap and in its
 * own mapping, and a buffer always has room after a reserve. A big
 * output's mapping is given back by the release thread (sa-release.c),
 * not by the thread that drops the last reference.
 */
#include <stdio.h>
#include <string.h>

#include "sa-buffer-private.h"
#include "sa-release-private.h"

#define MiB (1024 * 1024)

/* Fills the buffer to size in writes of at most chunk bytes, as reads
 * of a pipe would, each byte telling its offset. */
static void
fill (SaBuffer *buffer,
      gsize     size,
      gsize     chunk)
{
  while (buffer->len < size)
    {
      gsize room;
      char *at = sa_buffer_reserve (buffer, 4096, &room);
      gsize n = MIN (MIN (room, chunk), size - buffer->len);

      g_assert_cmpuint (room, >, 0);
      g_assert_true (at == buffer->data + buffer->len);
      g_assert_cmpuint (buffer->len + room, <, buffer->capacity);
      for (gsize i = 0; i < n; i++)
        at[i] = (char)((buffer->len + i) % 251);
      buffer->len += n;
    }
}

static void
assert_pattern (GBytes *bytes,
                gsize   size)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  g_assert_cmpuint (len, ==, size);
  for (gsize i = 0; i < size; i++)
    if (data[i] != (char)(i % 251))
      g_error ("byte %" G_GSIZE_FORMAT " is wrong", i);
  g_assert_cmpint (data[size], ==, '\0');
}

static void
test_sizes (void)
{
  const gsize sizes[] = { 1, 4095, 4096, MiB - 1, MiB, MiB + 1, 3 * MiB + 5, 17 * MiB };
  const gsize chunks[] = { 1000, 65536, MiB };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (guint j = 0; j < G_N_ELEMENTS (chunks); j++)
      {
        SaBuffer buffer = { 0 };
        GBytes *bytes;

        fill (&buffer, sizes[i], chunks[j]);
        g_assert_cmpint (buffer.mapped, ==, buffer.capacity > MiB);
        bytes = sa_buffer_steal (&buffer);
        g_assert_null (buffer.data);
        g_assert_cmpuint (buffer.len, ==, 0);
        assert_pattern (bytes, sizes[i]);
        g_bytes_unref (bytes);
      }
}

static void
test_empty (void)
{
  SaBuffer buffer = { 0 };
  GBytes *bytes = sa_buffer_steal (&buffer);

  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);
  g_assert_cmpint (*(const char *)g_bytes_get_data (bytes, NULL), ==, '\0');
  g_bytes_unref (bytes);
}

static void
test_clear (void)
{
  SaBuffer heap = { 0 }, mapped = { 0 };
  GBytes *bytes;

  fill (&heap, 1000, 1000);
  fill (&mapped, 5 * MiB, MiB);
  g_assert_false (heap.mapped);
  g_assert_true (mapped.mapped);
  sa_buffer_clear (&heap);
  sa_buffer_clear (&mapped);
  g_assert_null (heap.data);
  g_assert_null (mapped.data);

  /* A cleared buffer is a new one. */
  fill (&mapped, 100, 100);
  bytes = sa_buffer_steal (&mapped);
  assert_pattern (bytes, 100);
  g_bytes_unref (bytes);
}

/* Whether [address, address + size) is still mapped, from /proc/self/maps. */
static gboolean
is_mapped (const void *address)
{
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;
  guintptr at = (guintptr)address;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      unsigned long start, end;

      if (sscanf (lines[i], "%lx-%lx", &start, &end) == 2 && start <= at && at < end)
        return TRUE;
    }
  return FALSE;
}

static gboolean
release_thread_exists (void)
{
  g_autoptr(GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  const char *task;

  g_assert_nonnull (tasks);
  while ((task = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", task);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) &&
          g_str_equal (g_strstrip (comm), "sa-release"))
        return TRUE;
    }
  return FALSE;
}

static void
test_released_off_thread (void)
{
  SaBuffer buffer = { 0 };
  GBytes *bytes;
  const char *data;
  char *copy;

  fill (&buffer, 64 * MiB, MiB);
  /* The buffer moved into a mapping: the release thread was started
   * then (it names itself once running), not where the result will be
   * dropped, and stays while the mapping is out. */
  for (int i = 0; i < 500 && !release_thread_exists (); i++)
    g_usleep (10000);
  g_assert_true (release_thread_exists ());
  bytes = sa_buffer_steal (&buffer);
  data = g_bytes_get_data (bytes, NULL);
  g_assert_true (is_mapped (data));
  g_bytes_unref (bytes);
  sa_release_flush ();
  g_assert_false (is_mapped (data));

  /* Big malloc()ed memory (a text made valid) goes the same way; small
   * blocks are freed at once. Leaks show under ASan and valgrind. */
  copy = g_malloc (8 * MiB);
  memset (copy, 'x', 8 * MiB);
  sa_release_hold ();
  sa_release_memory (copy, 8 * MiB, TRUE);
  sa_release_memory (g_malloc (100), 100, FALSE);
  sa_release_flush ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/buffer/sizes", test_sizes);
  g_test_add_func ("/buffer/empty", test_empty);
  g_test_add_func ("/buffer/clear", test_clear);
  g_test_add_func ("/buffer/released-off-thread", test_released_off_thread);

  return g_test_run ();
}
