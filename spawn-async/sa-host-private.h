/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* sa-host.c: a helper on the host of a Flatpak sandbox. */
gboolean  sa_host_in_flatpak      (void);
char     *sa_host_prepare_helper  (const char    *helper_path,
                                   GCancellable  *cancellable,
                                   GError       **error);
GStrv     sa_host_launcher        (void);

G_END_DECLS
