/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "sa-command-private.h"

G_BEGIN_DECLS

/* What other threads hand to a connection's I/O thread (sa-inbox.c). */

SaInbox      *sa_inbox_new                (GMainContext  *context);
SaInbox      *sa_inbox_ref                (SaInbox       *self);
void          sa_inbox_unref              (SaInbox       *self);

/* Any thread */
gboolean      sa_inbox_submit             (SaInbox       *self,
                                           SaCommand     *command,
                                           GError       **error);
void          sa_inbox_close              (SaInbox       *self);

SaCancelLink *sa_cancel_link_new          (SaInbox       *inbox);
void          sa_cancel_link_free         (SaCancelLink  *link);
void          sa_cancel_link_fire         (SaCancelLink  *link);

/* A signal for a live process (SaProcess), by way of the helper. */
typedef struct
{
  SaProcessShared *shared;     /* a reference: it names the command */
  int              signum;
  guint32          flags;      /* SA_KILL_FLAG_* */
} SaSignalRequest;

void          sa_inbox_signal             (SaInbox         *self,
                                           SaProcessShared *shared,
                                           int              signum,
                                           guint32          flags);

/* Any thread: a command that held n pipes of the budget is freed. */
void          sa_inbox_release_pipes      (guint          n);

/* The I/O thread */
gboolean      sa_inbox_take               (SaInbox       *self,
                                           GQueue        *commands,
                                           GArray        *cancels,
                                           GArray        *signals);
void          sa_inbox_fail               (SaInbox       *self,
                                           const GError  *error);
void          sa_inbox_release_ids        (SaInbox       *self,
                                           const guint32 *ids,
                                           guint          n_ids);
void          sa_inbox_detach             (SaInbox       *self);

/* The I/O thread's sends to the helper take the lock that callers' direct
 * sends take, and say when callers may send directly again. */
void          sa_inbox_lock               (SaInbox       *self);
void          sa_inbox_unlock             (SaInbox       *self);
void          sa_inbox_allow_direct_locked (SaInbox      *self,
                                            int           fd,
                                            guint         generation);

/* Tests */
void          sa_inbox_set_last_id        (SaInbox       *self,
                                           guint32        id);

G_END_DECLS
