/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's messages are translated under a German or French locale
 * and English otherwise, with nothing installed: SPAWN_ASYNC_LOCALEDIR
 * points at the catalogs of the build tree and LOCPATH at locales that
 * main() compiles with localedef into a temporary directory.
 *
 * Each case runs in a subprocess of its own: GLib caches the strings of
 * g_strerror() in the first locale it sees.
 */
#include <errno.h>
#include <locale.h>
#include <spawn-async.h>

#define MISSING "spawn-async-no-such-program"

static char *locale_dir;

typedef struct
{
  SaResult *result;
  GError   *error;
  gboolean  done;
} Outcome;

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->result = sa_worker_aspawn_finish (SA_WORKER (source), res, &outcome->error);
  outcome->done = TRUE;
}

static void
run (SaWorker            *worker,
     const char * const  *argv,
     Outcome             *outcome)
{
  sa_worker_aspawn_async (worker, argv, NULL, NULL, on_done, outcome);
  while (!outcome->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
outcome_clear (Outcome *outcome)
{
  g_clear_object (&outcome->result);
  g_clear_error (&outcome->error);
  outcome->done = FALSE;
}

static void
use_locale (const char *name)
{
  g_assert_nonnull (setlocale (LC_ALL, name));
}

/* The messages of one locale: a program that is not found, a child that
 * exits with status 3, and a destroyed worker. */
static void
check_messages (const char *noent_message,
                const char *exit_message,
                const char *destroyed_message)
{
  const char * const missing[] = { MISSING, NULL };
  const char * const exit3[] = { "sh", "-c", "exit 3", NULL };
  g_autoptr(SaWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  Outcome outcome = { 0 };

  worker = sa_worker_new (NULL, &error);
  g_assert_no_error (error);

  run (worker, missing, &outcome);
  g_assert_error (outcome.error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT);
  g_assert_cmpstr (outcome.error->message, ==, noent_message);
  outcome_clear (&outcome);

  run (worker, exit3, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_false (sa_result_check (outcome.result, &error));
  g_assert_error (error, G_SPAWN_EXIT_ERROR, 3);
  g_assert_cmpstr (error->message, ==, exit_message);
  g_clear_error (&error);
  outcome_clear (&outcome);

  sa_worker_destroy (worker);
  run (worker, exit3, &outcome);
  g_assert_error (outcome.error, SA_WORKER_ERROR, SA_WORKER_ERROR_DESTROYED);
  g_assert_cmpstr (outcome.error->message, ==, destroyed_message);
  outcome_clear (&outcome);
}

static void
test_german (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *noent = NULL;

      use_locale ("de_DE.UTF-8");
      /* The reason after the colon comes from the C library: German
       * too, so the locale really is in use. */
      g_assert_cmpstr (g_strerror (ENOENT), ==, "Datei oder Verzeichnis nicht gefunden");
      noent = g_strdup_printf ("„%s“ konnte nicht ausgeführt werden: %s",
                               MISSING, g_strerror (ENOENT));
      check_messages (noent,
                      "Kindprozess mit Status 3 beendet",
                      "Arbeitsprozess wurde zerstört");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT |
                                   G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_french (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *noent = NULL;

      use_locale ("fr_FR.UTF-8");
      noent = g_strdup_printf ("Impossible d’exécuter «\u00a0%s\u00a0»\u00a0: %s",
                               MISSING, g_strerror (ENOENT));
      check_messages (noent,
                      "processus enfant terminé avec le code 3",
                      "le processus de travail a été détruit");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT |
                                   G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* The English messages, in a locale with no catalog of ours. */
static void
check_english (const char *locale)
{
  if (g_test_subprocess ())
    {
      g_autofree char *noent = NULL;

      use_locale (locale);
      noent = g_strdup_printf ("Failed to execute “%s”: %s", MISSING, g_strerror (ENOENT));
      check_messages (noent,
                      "child exited with status 3",
                      "worker process was destroyed");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT |
                                   G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_english (void)
{
  check_english ("C");
}

/* A locale for which no catalog is shipped gets the English messages. */
static void
test_untranslated_locale (void)
{
  check_english ("en_GB.UTF-8");
}

/* Compiles the locales the tests use, so that nothing needs to be
 * generated on the system (the `locales` package has their sources). */
static void
make_locales (void)
{
  const char *locales[] = { "de_DE", "fr_FR", "en_GB" };
  g_autoptr(GError) error = NULL;

  locale_dir = g_dir_make_tmp ("spawn-async-locales-XXXXXX", &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (locales); i++)
    {
      g_autofree char *output = g_strdup_printf ("%s/%s.UTF-8", locale_dir, locales[i]);
      const char *argv[] = { "localedef", "-i", locales[i], "-f", "UTF-8", output, NULL };
      g_autofree char *err = NULL;
      int status;

      if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                         NULL, NULL, NULL, &err, &status, &error) ||
          !g_spawn_check_wait_status (status, &error))
        g_error ("localedef -i %s failed (is the locales package installed?): %s\n%s",
                 locales[i], error->message, err ? err : "");
    }

  g_setenv ("LOCPATH", locale_dir, TRUE);
}

static void
remove_locales (void)
{
  const char *argv[] = { "rm", "-rf", locale_dir, NULL };

  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                NULL, NULL, NULL, NULL, NULL, NULL);
  g_free (locale_dir);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  /* LANGUAGE would override the locale's language. */
  g_unsetenv ("LANGUAGE");
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("SPAWN_ASYNC_LOCALEDIR") == NULL)
    g_error ("SPAWN_ASYNC_LOCALEDIR must name the build tree's po directory");

  g_test_add_func ("/i18n/messages/german", test_german);
  g_test_add_func ("/i18n/messages/french", test_french);
  g_test_add_func ("/i18n/messages/english", test_english);
  g_test_add_func ("/i18n/messages/untranslated-locale", test_untranslated_locale);

  if (!g_test_subprocess ())
    make_locales ();
  ret = g_test_run ();
  if (!g_test_subprocess ())
    remove_locales ();
  return ret;
}
