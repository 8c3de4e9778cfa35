/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "sa-command-private.h"

G_BEGIN_DECLS

/* Called in the connection's I/O thread. */
typedef struct
{
  void (*helper_started) (GPid          pid,
                          gpointer      user_data);
  void (*helper_exited)  (const GError *error,
                          gpointer      user_data);
  void (*failed)         (const GError *error,
                          gpointer      user_data);
} SaConnectionCallbacks;

SaConnection *sa_connection_new          (const char                  *helper_path,
                                          const SaConnectionCallbacks *callbacks,
                                          gpointer                     user_data,
                                          GError                     **error);
gboolean      sa_connection_submit       (SaConnection                *self,
                                          SaCommand                   *command,
                                          GError                     **error);
void          sa_connection_shutdown     (SaConnection                *self);
void          sa_connection_free         (SaConnection                *self);

/* For commands, in the I/O thread. */
gboolean      sa_connection_watch        (SaConnection                *self,
                                          int                          fd,
                                          guint32                      events,
                                          SaWatch                     *watch);
void          sa_connection_queue_cancel (SaConnection                *self,
                                          SaCommand                   *command);
void          sa_connection_forget_cancel (SaConnection               *self,
                                           SaCommand                  *command);
void          sa_connection_kill_command (SaConnection                *self,
                                          SaCommand                   *command,
                                          int                          signum);
void          sa_connection_release      (SaConnection                *self,
                                          SaCommand                   *command);

G_END_DECLS
