/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <stdlib.h>

#include "sa-debug-private.h"

/* The library binds its own text domain, so that its messages are
 * translated whatever the application does. The catalogs are those
 * installed in LOCALEDIR, unless SPAWN_ASYNC_LOCALEDIR names another
 * directory of LANG/LC_MESSAGES/spawn-async-1.mo files (the build
 * tree's po/ directory, for the tests). Not in a setuid, setgid or
 * file-capability process (secure_getenv()): the user who runs it must
 * not choose what it reads. */
void
sa_init_i18n (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      const char *localedir = secure_getenv ("SPAWN_ASYNC_LOCALEDIR");

      if (localedir == NULL || localedir[0] == '\0')
        localedir = LOCALEDIR;

      bindtextdomain (GETTEXT_PACKAGE, localedir);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&initialized, 1);
    }
}
