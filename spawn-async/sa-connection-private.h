/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "sa-command-private.h"

G_BEGIN_DECLS

typedef struct _SaConnection SaConnection;

/* Called in the connection's I/O thread, which must not block in them. */
typedef struct
{
  /* Exactly once, unless the connection is shut down first: the first
   * helper is ready (error NULL), or none could be started. */
  void (*ready)          (const GError *error,
                          gpointer      user_data);
  void (*helper_started) (GPid          pid,
                          gpointer      user_data);
  void (*helper_exited)  (const GError *error,
                          gpointer      user_data);
  /* After ready: the helper could not be restarted. */
  void (*failed)         (const GError *error,
                          gpointer      user_data);
} SaConnectionCallbacks;

/* Any thread */
SaConnection *sa_connection_new          (const char                  *helper_path,
                                          const char * const          *launcher,
                                          const SaConnectionCallbacks *callbacks,
                                          gpointer                     user_data,
                                          GError                     **error);
gboolean      sa_connection_submit       (SaConnection                *self,
                                          SaCommand                   *command,
                                          GError                     **error);
gboolean      sa_connection_is_foreign   (SaConnection                *self);
void          sa_connection_shutdown     (SaConnection                *self);
void          sa_connection_free         (SaConnection                *self);

/* Tests */
void          sa_connection_set_last_id  (SaConnection                *self,
                                          guint32                      id);

G_END_DECLS
