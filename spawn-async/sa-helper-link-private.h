/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "sa-inbox-private.h"

G_BEGIN_DECLS

typedef struct _SaHelperLink SaHelperLink;

/* One message from the helper: exactly one frame, with its descriptors
 * (taken; the callee closes what it does not keep, also on FALSE).
 * fds_lost: more were sent than could be received (out of descriptors).
 * FALSE: the message is malformed, and the link records a fault. */
typedef gboolean (*SaLinkMessageFunc) (const guint8 *data,
                                       gsize         len,
                                       int          *fds,
                                       guint         n_fds,
                                       gboolean      fds_lost,
                                       gpointer      user_data);

SaHelperLink *sa_helper_link_new        (const char         *helper_path,
                                         const char * const *launcher,
                                         GMainContext       *context,
                                         SaInbox            *inbox,
                                         SaLinkMessageFunc   func,
                                         gpointer            user_data);
void          sa_helper_link_free       (SaHelperLink       *self);

gboolean      sa_helper_link_start      (SaHelperLink       *self,
                                         GError            **error);
void          sa_helper_link_greeted    (SaHelperLink       *self);
void          sa_helper_link_close_and_drain (SaHelperLink  *self);
void          sa_helper_link_stop       (SaHelperLink       *self,
                                         guint               grace_ms);

gboolean      sa_helper_link_is_up      (SaHelperLink       *self);
gboolean      sa_helper_link_is_greeted (SaHelperLink       *self);
GPid          sa_helper_link_get_pid    (SaHelperLink       *self);
guint         sa_helper_link_get_generation (SaHelperLink   *self);
const char   *sa_helper_link_get_path   (SaHelperLink       *self);

void          sa_helper_link_queue      (SaHelperLink       *self,
                                         const guint8       *frame,
                                         gsize               len);
void          sa_helper_link_queue_with_fds (SaHelperLink   *self,
                                             const guint8   *frame,
                                             gsize           len,
                                             int            *fds,
                                             guint           n_fds);
void          sa_helper_link_queue_words (SaHelperLink      *self,
                                          guint16            type,
                                          guint32            id,
                                          const guint32     *words,
                                          gsize              n_words);
void          sa_helper_link_flush      (SaHelperLink       *self,
                                         gboolean            allow_direct);

/* Bytes queued and not sent yet. */
gsize         sa_helper_link_get_backlog (SaHelperLink      *self);
gboolean      sa_helper_link_has_launcher (SaHelperLink     *self);
gboolean      sa_helper_link_carries_fds (SaHelperLink      *self);

char         *sa_helper_link_take_fault (SaHelperLink       *self);

/* Any thread: one non-blocking datagram, with descriptors (SCM_RIGHTS);
 * sendv: of two pieces. */
gssize        sa_helper_send            (int                 fd,
                                         const void         *data,
                                         gsize               len,
                                         const int          *fds,
                                         guint               n_fds);
gssize        sa_helper_sendv           (int                 fd,
                                         const void         *data,
                                         gsize               len,
                                         const void         *more,
                                         gsize               more_len,
                                         const int          *fds,
                                         guint               n_fds);

G_END_DECLS
