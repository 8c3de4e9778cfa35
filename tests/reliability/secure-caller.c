/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * secure-caller: a caller for the setuid test of test-security.c. It
 * links the library's objects (a setuid program ignores the build tree's
 * RPATH) and prints, one per line:
 *
 *   at-secure 0|1        whether the kernel runs it in secure mode
 *   localedir DIR        where the library's translations are read from
 *   worker               or the error sa_worker_new() gave
 */
#include <libintl.h>
#include <sys/auxv.h>

#include <spawn-async.h>

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SaWorker) worker = NULL;

  g_type_class_unref (g_type_class_ref (SA_TYPE_WORKER));   /* binds the text domain */
  g_print ("at-secure %lu\n", getauxval (AT_SECURE));
  g_print ("localedir %s\n", bindtextdomain ("spawn-async-1", NULL));
  worker = sa_worker_new (NULL, &error);
  g_print ("%s\n", worker != NULL ? "worker" : error->message);
  return 0;
}
