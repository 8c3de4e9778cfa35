/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(SPAWN_ASYNC_INSIDE) && !defined(SPAWN_ASYNC_COMPILATION)
# error "Only <spawn-async.h> can be included directly."
#endif

#include <glib-object.h>

#include "sa-version-macros.h"

G_BEGIN_DECLS

/**
 * SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT:
 *
 * The default of [property@Sa.SpawnOptions:max-output]: 1 GiB per stream.
 */
#define SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT (G_GUINT64_CONSTANT (1) << 30)

/**
 * SaStdio:
 * @SA_STDIO_NULL: `/dev/null`
 * @SA_STDIO_PIPE: a pipe: captured by [method@Sa.Worker.aspawn_async]
 *   (fed with [property@Sa.SpawnOptions:input] for stdin), a stream on
 *   [class@Sa.Process]
 * @SA_STDIO_INHERIT: the caller's own fd 0, 1 or 2, as it is when the
 *   command starts
 * @SA_STDIO_MERGE: stderr only: the same as stdout, so that both are one
 *   interleaved stream, in the order they were written
 * @SA_STDIO_PTY: a pseudo-terminal the helper makes: one for all the
 *   streams given it, the child's controlling terminal in a new session.
 *   [method@Sa.Process.get_pty] is its other side; with
 *   [method@Sa.Worker.aspawn_async] its output is the result's stdout
 *   (with the terminal's `\r\n` line ends), and stdout must then be
 *   %SA_STDIO_PTY too.
 *
 * What a child's stdin, stdout or stderr is.
 *
 * Since: 1.2
 */
typedef enum
{
  SA_STDIO_NULL,
  SA_STDIO_PIPE,
  SA_STDIO_INHERIT,
  SA_STDIO_MERGE,
  SA_STDIO_PTY,
} SaStdio;

/**
 * SA_RLIMIT_INFINITY:
 *
 * No limit, for [method@Sa.SpawnOptions.set_rlimit] (`RLIM_INFINITY`).
 *
 * Since: 1.2
 */
#define SA_RLIMIT_INFINITY (-1)

#define SA_TYPE_SPAWN_OPTIONS (sa_spawn_options_get_type ())

SA_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (SaSpawnOptions, sa_spawn_options, SA, SPAWN_OPTIONS, GObject)

SA_AVAILABLE_IN_1_0
SaSpawnOptions      *sa_spawn_options_new            (void);

SA_AVAILABLE_IN_1_0
const char * const  *sa_spawn_options_get_env        (SaSpawnOptions     *self);
SA_AVAILABLE_IN_1_0
void                 sa_spawn_options_set_env        (SaSpawnOptions     *self,
                                                      const char * const *env);
SA_AVAILABLE_IN_1_0
const char          *sa_spawn_options_get_cwd        (SaSpawnOptions     *self);
SA_AVAILABLE_IN_1_0
void                 sa_spawn_options_set_cwd        (SaSpawnOptions     *self,
                                                      const char         *cwd);
SA_AVAILABLE_IN_1_0
GBytes              *sa_spawn_options_get_input      (SaSpawnOptions     *self);
SA_AVAILABLE_IN_1_0
void                 sa_spawn_options_set_input      (SaSpawnOptions     *self,
                                                      GBytes             *input);
SA_AVAILABLE_IN_1_0
guint                sa_spawn_options_get_timeout_ms (SaSpawnOptions     *self);
SA_AVAILABLE_IN_1_0
void                 sa_spawn_options_set_timeout_ms (SaSpawnOptions     *self,
                                                      guint               timeout_ms);
SA_AVAILABLE_IN_1_0
int                  sa_spawn_options_get_kill_signal (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_0
void                 sa_spawn_options_set_kill_signal (SaSpawnOptions    *self,
                                                       int                kill_signal);
SA_AVAILABLE_IN_1_0
guint64              sa_spawn_options_get_max_output (SaSpawnOptions     *self);
SA_AVAILABLE_IN_1_0
void                 sa_spawn_options_set_max_output (SaSpawnOptions     *self,
                                                      guint64             max_output);
SA_AVAILABLE_IN_1_2
SaStdio              sa_spawn_options_get_stdin_mode  (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_stdin_mode  (SaSpawnOptions    *self,
                                                       SaStdio            mode);
SA_AVAILABLE_IN_1_2
SaStdio              sa_spawn_options_get_stdout_mode (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_stdout_mode (SaSpawnOptions    *self,
                                                       SaStdio            mode);
SA_AVAILABLE_IN_1_2
SaStdio              sa_spawn_options_get_stderr_mode (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_stderr_mode (SaSpawnOptions    *self,
                                                       SaStdio            mode);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_take_fd         (SaSpawnOptions    *self,
                                                       int                source_fd,
                                                       int                target_fd);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_take_pty_fd     (SaSpawnOptions    *self,
                                                       int                pty_fd);
SA_AVAILABLE_IN_1_2
gboolean             sa_spawn_options_get_new_session (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_new_session (SaSpawnOptions    *self,
                                                       gboolean           new_session);
SA_AVAILABLE_IN_1_2
gboolean             sa_spawn_options_get_detached    (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_detached    (SaSpawnOptions    *self,
                                                       gboolean           detached);
SA_AVAILABLE_IN_1_2
int                  sa_spawn_options_get_umask       (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_umask       (SaSpawnOptions    *self,
                                                       int                umask);
SA_AVAILABLE_IN_1_2
const char          *sa_spawn_options_get_program     (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_program     (SaSpawnOptions    *self,
                                                       const char        *program);
SA_AVAILABLE_IN_1_2
gboolean             sa_spawn_options_get_search_path (SaSpawnOptions    *self);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_search_path (SaSpawnOptions    *self,
                                                       gboolean           search_path);
SA_AVAILABLE_IN_1_2
void                 sa_spawn_options_set_rlimit      (SaSpawnOptions    *self,
                                                       int                resource,
                                                       gint64             soft,
                                                       gint64             hard);

G_END_DECLS
