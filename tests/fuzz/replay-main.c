/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replay-main.c: runs a fuzz target over files and directories of
 * inputs, without libFuzzer. The committed corpus runs this way in the
 * 'fuzz' suite of every build, so that it stays a regression test.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file (const char *path)
{
  FILE *file = fopen (path, "rb");
  uint8_t *data;
  long size;

  if (file == NULL || fseek (file, 0, SEEK_END) != 0 || (size = ftell (file)) < 0)
    {
      perror (path);
      return 1;
    }
  rewind (file);
  data = malloc ((size_t) size + 1);
  if (data == NULL || fread (data, 1, (size_t) size, file) != (size_t) size)
    {
      perror (path);
      return 1;
    }
  fclose (file);
  LLVMFuzzerTestOneInput (data, (size_t) size);
  free (data);
  return 0;
}

static int
run_path (const char *path, unsigned *count)
{
  struct stat st;
  DIR *dir;
  struct dirent *entry;
  int failed = 0;

  if (stat (path, &st) != 0)
    {
      perror (path);
      return 1;
    }
  if (!S_ISDIR (st.st_mode))
    {
      (*count)++;
      return run_file (path);
    }

  dir = opendir (path);
  if (dir == NULL)
    {
      perror (path);
      return 1;
    }
  while ((entry = readdir (dir)) != NULL)
    {
      char child[4096];

      if (entry->d_name[0] == '.')
        continue;
      snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
      failed |= run_path (child, count);
    }
  closedir (dir);
  return failed;
}

int
main (int argc, char **argv)
{
  unsigned count = 0;
  int failed = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    failed |= run_path (argv[i], &count);

  /* TAP, for meson test */
  printf ("1..1\n%s 1 - %u inputs of %s\n", failed || count == 0 ? "not ok" : "ok",
          count, argv[1]);
  return failed || count == 0;
}
