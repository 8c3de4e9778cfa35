/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-host.c: where sa_worker_new_for_host() runs the helper.
 *
 * Inside a Flatpak sandbox (/.flatpak-info exists) the helper is started
 * on the host with `flatpak-spawn --host --watch-bus --forward-fd=3`:
 * org.freedesktop.Flatpak's HostCommand runs it there, with the socket to
 * the library as its fd 3 (D-Bus passes the descriptor), so every later
 * spawn, signal, descriptor and terminal goes over the helper's own
 * protocol, with no D-Bus round trip per command. `--watch-bus` ends it
 * when the application's bus connection closes (the application died).
 *
 * The host has no /app. The helper is copied into the application's
 * runtime directory, $XDG_RUNTIME_DIR/app/$FLATPAK_ID, which Flatpak
 * shares with the host at the same path, under a name made of its
 * content's SHA-256: a new build never runs an old copy, and an unchanged
 * one is not copied again. The copy is written to a temporary name and
 * renamed, so a helper being started never sees half of it. The helper is
 * static (tests/install/check-helper-elf.py), so the host's C library
 * does not matter.
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "sa-error.h"
#include "sa-host-private.h"

#define FLATPAK_INFO  "/.flatpak-info"

gboolean
sa_host_in_flatpak (void)
{
  return g_file_test (FLATPAK_INFO, G_FILE_TEST_EXISTS);
}

/* The application's id: /.flatpak-info's [Application] name. */
static char *
app_id (GError **error)
{
  g_autoptr(GKeyFile) info = g_key_file_new ();

  if (!g_key_file_load_from_file (info, FLATPAK_INFO, G_KEY_FILE_NONE, error))
    return NULL;
  return g_key_file_get_string (info, "Application", "name", error);
}

/* The helper, copied where the host can run it; its path there. */
char *
sa_host_prepare_helper (const char    *helper_path,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  gsize len;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  id = app_id (&local_error);
  if (id == NULL)
    {
      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Cannot tell which Flatpak application this is (%s): %s"),
                   FLATPAK_INFO, local_error->message);
      return NULL;
    }

  if (!g_file_get_contents (helper_path, &contents, &len, &local_error))
    {
      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to read the helper “%s”: %s"), helper_path, local_error->message);
      return NULL;
    }

  dir = g_build_filename (g_get_user_runtime_dir (), "app", id, NULL);
  name = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *)contents, len);
  path = g_strdup_printf ("%s/spawn-async-helper-%.16s", dir, name);
  if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&path);

  if (g_mkdir_with_parents (dir, 0700) != 0 ||
      !g_file_set_contents_full (path, contents, (gssize)len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0700, &local_error))
    {
      int errsv = errno;

      g_set_error (error, SA_WORKER_ERROR, SA_WORKER_ERROR_FAILED,
                   _("Failed to copy the helper to “%s” for the host: %s"), dir,
                   local_error != NULL ? local_error->message : g_strerror (errsv));
      return NULL;
    }
  return g_steal_pointer (&path);
}

/* The launcher; the helper's path goes after it. */
GStrv
sa_host_launcher (void)
{
  const char * const launcher[] = {
    "flatpak-spawn", "--host", "--watch-bus", "--forward-fd=3", NULL
  };

  return g_strdupv ((char **)launcher);
}
