/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* ThreadSanitizer sees pthread's locks but not GLib's: GMutex and GCond
 * are futex-based, and GLib itself is not instrumented, so a hand-off
 * through a GMutex or a GMainContext looks like a race to it. These say
 * what the library relies on, in a TSan build (.ci/sanitizers), and are
 * nothing otherwise:
 *
 *  - SA_TSAN_RELEASE (p) before p is handed to another thread (posted
 *    to a main context, connected as signal data, or a lock released);
 *  - SA_TSAN_ACQUIRE (p) where the other thread receives it (the posted
 *    function, the signal handler, the lock taken).
 */
#if defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define SA_TSAN 1
# endif
#endif
#if !defined(SA_TSAN) && defined(__SANITIZE_THREAD__)
# define SA_TSAN 1
#endif

#ifdef SA_TSAN
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
# define SA_TSAN_ACQUIRE(p) __tsan_acquire ((void *)(p))
# define SA_TSAN_RELEASE(p) __tsan_release ((void *)(p))
#else
# define SA_TSAN_ACQUIRE(p) ((void)0)
# define SA_TSAN_RELEASE(p) ((void)0)
#endif

/* A GMutex, as ThreadSanitizer should see it. */
#define sa_mutex_lock(m)   G_STMT_START { g_mutex_lock (m); SA_TSAN_ACQUIRE (m); } G_STMT_END
#define sa_mutex_unlock(m) G_STMT_START { SA_TSAN_RELEASE (m); g_mutex_unlock (m); } G_STMT_END
#define sa_cond_wait(c, m) G_STMT_START { SA_TSAN_RELEASE (m); g_cond_wait (c, m); SA_TSAN_ACQUIRE (m); } G_STMT_END
