/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-request.c: argv and SaSpawnOptions made into a command, in the
 * caller's thread: every check that can be made at call time (so that
 * bad input fails there, with G_IO_ERROR_INVALID_ARGUMENT, and never
 * reaches the helper), the child's descriptors, and the SPAWN frame.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sa-process-private.h"
#include "sa-protocol.h"
#include "sa-request-private.h"
#include "sa-spawn-options-private.h"

/* Where argv[0] is looked up: the child's PATH, else the caller's, else
 * the system default. Empty for a program given with a slash. */
static const char *
search_path (const char         *program,
             const char * const *env)
{
  const char *path;

  if (strchr (program, '/') != NULL)
    return "";

  for (; env != NULL && *env != NULL; env++)
    if (g_str_has_prefix (*env, "PATH="))
      return *env + strlen ("PATH=");

  path = g_getenv ("PATH");
  return path != NULL ? path : "/bin:/usr/bin";
}

static gboolean
invalid (GError     **error,
         const char  *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError     **error,
         const char  *format,
         ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                                format, args));
  va_end (args);
  return FALSE;
}

static gboolean
validate (const char * const  *argv,
          const char * const  *env,
          int                  kill_signal,
          GError             **error)
{
  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    return invalid (error, "%s", _("The argument vector must hold at least a program name"));

  for (; env != NULL && *env != NULL; env++)
    {
      if (strchr (*env, '=') == NULL || (*env)[0] == '=')
        {
          /* The entry has no value to hide: it is the name that is wrong. */
          g_autofree char *entry = g_utf8_make_valid (*env, -1);

          return invalid (error, _("The environment entry “%s” is not of the form NAME=value"),
                          entry);
        }
    }

  if (kill_signal <= 0 || kill_signal >= NSIG)
    return invalid (error, _("%d is not a signal number"), kill_signal);

  return TRUE;
}

/* The child's descriptors, as the SPAWN frame says them, and the
 * caller's descriptors that travel with it (duplicates the command owns:
 * the options may be freed before the frame is sent). */
typedef struct
{
  guint32  stdio[3];                          /* SaProtoStdio */
  int32_t  targets[SA_PROTO_MAX_SPAWN_FDS];
  int      sources[SA_PROTO_MAX_SPAWN_FDS];
  guint    n;
} Descriptors;

static void
descriptors_clear (Descriptors *d)
{
  for (guint i = 0; i < d->n; i++)
    if (d->sources[i] >= 0)
      close (d->sources[i]);
  d->n = 0;
}

static gboolean
add_descriptor (Descriptors  *d,
                int           source,
                int           target,
                GError      **error)
{
  int copy;

  if (d->n >= SA_PROTO_MAX_SPAWN_FDS)
    return invalid (error, _("A command can be given at most %u descriptors"),
                    SA_PROTO_MAX_SPAWN_FDS);
  if (target >= SA_PROTO_MAX_TARGET_FD)
    return invalid (error, _("%d is too large for a descriptor number"), target);

  copy = fcntl (source, F_DUPFD_CLOEXEC, 3);
  if (copy < 0)
    {
      int errsv = errno;

      if (errsv == EBADF)
        return invalid (error, _("Descriptor %d, given to the child as %d, is not open"),
                        source, target);
      g_set_error (error, G_SPAWN_ERROR,
                   errsv == EMFILE ? G_SPAWN_ERROR_MFILE : G_SPAWN_ERROR_FAILED,
                   _("Failed to pass descriptor %d to the child: %s"),
                   source, g_strerror (errsv));
      return FALSE;
    }
  d->sources[d->n] = copy;
  d->targets[d->n] = target;
  d->n++;
  return TRUE;
}

static const char *
mode_name (SaStdio mode)
{
  switch (mode)
    {
    case SA_STDIO_NULL:    return "SA_STDIO_NULL";
    case SA_STDIO_PIPE:    return "SA_STDIO_PIPE";
    case SA_STDIO_INHERIT: return "SA_STDIO_INHERIT";
    case SA_STDIO_MERGE:   return "SA_STDIO_MERGE";
    case SA_STDIO_PTY:     return "SA_STDIO_PTY";
    default:               return "?";
    }
}

/* What fds 0, 1 and 2 are, from the modes, the input, take_fd() and
 * take_pty_fd(). The combinations that make no sense fail here (the
 * table is in docs/c-guide.md.in). */
static gboolean
resolve_descriptors (SaSpawnOptions  *options,
                     gboolean         for_process,
                     gboolean         has_input,
                     Descriptors     *d,
                     guint32         *flags,
                     GError         **error)
{
  static const char * const names[3] = { "stdin", "stdout", "stderr" };
  SaStdio modes[3] = { SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_PIPE };
  const SaFdMapping *mappings = NULL;
  gboolean targeted[3] = { FALSE, FALSE, FALSE };
  const char *problem = NULL;
  guint n_mappings = 0;
  int pty_fd = -1;

  if (options != NULL)
    {
      modes[0] = sa_spawn_options_get_stdin_mode (options);
      modes[1] = sa_spawn_options_get_stdout_mode (options);
      modes[2] = sa_spawn_options_get_stderr_mode (options);
      mappings = sa_spawn_options_get_fds (options, &n_mappings, &problem);
      pty_fd = sa_spawn_options_get_pty_fd (options);
    }

  if (problem != NULL)
    return invalid (error, "%s", problem);
  for (int fd = 0; fd < 3; fd++)
    if ((guint)modes[fd] > SA_STDIO_PTY)
      return invalid (error, _("%d is not a mode for %s"), (int)modes[fd], names[fd]);
  for (guint i = 0; i < n_mappings; i++)
    if (mappings[i].target < 3)
      targeted[mappings[i].target] = TRUE;

  if (pty_fd >= 0)
    {
      /* The terminal is 0, 1 and 2, whatever the modes say. */
      for (int fd = 0; fd < 3; fd++)
        if (targeted[fd])
          return invalid (error, _("take_pty_fd() gives the child its %s: take_fd() cannot "
                                   "give it %d too"), names[fd], fd);
      for (int fd = 0; fd < 3; fd++)
        {
          targeted[fd] = TRUE;
          if (!add_descriptor (d, pty_fd, fd, error))
            return FALSE;
        }
      *flags |= SA_SPAWN_FLAG_NEW_SESSION | SA_SPAWN_FLAG_CTTY;
    }
  else
    {
      for (int fd = 0; fd < 2; fd++)
        if (modes[fd] == SA_STDIO_MERGE)
          return invalid (error, _("SA_STDIO_MERGE is for stderr only, not for %s"), names[fd]);
    }

  if (has_input)
    {
      if (for_process)
        return invalid (error, "%s", _("Input is for aspawn: a process's stdin is its stdin pipe "
                                       "(SA_STDIO_PIPE)"));
      if (targeted[0] || (modes[0] != SA_STDIO_NULL && modes[0] != SA_STDIO_PIPE))
        return invalid (error, _("Input needs stdin to be a pipe, not %s"),
                        pty_fd >= 0  ? "the terminal of take_pty_fd()" :
                        targeted[0] ? "a descriptor of take_fd()" : mode_name (modes[0]));
      modes[0] = SA_STDIO_PIPE;
    }

  /* aspawn reads a terminal's output as stdout: one it cannot read is
   * a terminal nobody would see. */
  for (int fd = 0; fd < 3; fd += 2)
    if (!for_process && modes[fd] == SA_STDIO_PTY && !targeted[fd] &&
        (modes[1] != SA_STDIO_PTY || targeted[1]))
      return invalid (error, _("With aspawn, a terminal's output is the result's stdout: "
                               "SA_STDIO_PTY for %s needs it for stdout too"), names[fd]);

  for (guint i = 0; i < n_mappings; i++)
    if (!add_descriptor (d, mappings[i].source, mappings[i].target, error))
      return FALSE;

  for (int fd = 0; fd < 3; fd++)
    {
      if (targeted[fd])
        d->stdio[fd] = SA_PROTO_STDIO_FD;
      else if (modes[fd] == SA_STDIO_INHERIT)
        {
          d->stdio[fd] = SA_PROTO_STDIO_FD;
          if (!add_descriptor (d, fd, fd, error))
            return FALSE;
        }
      else if (modes[fd] == SA_STDIO_PIPE)
        d->stdio[fd] = SA_PROTO_STDIO_PIPE;
      else if (modes[fd] == SA_STDIO_MERGE)
        d->stdio[fd] = SA_PROTO_STDIO_MERGE;
      else if (modes[fd] == SA_STDIO_PTY)
        {
          d->stdio[fd] = SA_PROTO_STDIO_PTY;
          *flags |= SA_SPAWN_FLAG_NEW_SESSION;
        }
      else
        d->stdio[fd] = SA_PROTO_STDIO_NULL;
    }
  return TRUE;
}

/* new-session, detached, umask, program, search-path and the resource
 * limits, into flags and setup (which points into the options). */
static gboolean
resolve_setup (SaSpawnOptions  *options,
               guint32         *flags,
               SaSpawnSetup    *setup,
               GError         **error)
{
  *setup = (SaSpawnSetup) { -1, NULL, 0, NULL };
  if (options == NULL)
    return TRUE;

  setup->umask = sa_spawn_options_get_umask (options);
  if (setup->umask < -1)
    return invalid (error, _("%d is not a umask (0 to 0777, or -1 for the caller’s)"),
                    setup->umask);
  if (setup->umask > 0777)
    return invalid (error, _("%#o is not a umask (0 to 0777, or -1 for the caller’s)"),
                    (guint)setup->umask);
  setup->program = sa_spawn_options_get_program (options);
  if (setup->program != NULL && setup->program[0] == '\0')
    return invalid (error, "%s", _("The program to run cannot be an empty name"));
  setup->rlimits = sa_spawn_options_get_rlimits (options, &setup->n_rlimits);

  if (sa_spawn_options_get_new_session (options))
    *flags |= SA_SPAWN_FLAG_NEW_SESSION;
  if (sa_spawn_options_get_detached (options))
    *flags |= SA_SPAWN_FLAG_DETACHED | SA_SPAWN_FLAG_NEW_SESSION;
  if (!sa_spawn_options_get_search_path (options))
    *flags |= SA_SPAWN_FLAG_NO_SEARCH;
  return TRUE;
}

/* The environment as the last part of a SPAWN: its strings, each
 * NUL-terminated, in one block that every command with the same
 * environment shares. Thousands of commands queued at once then hold one
 * copy of a desktop session's kilobytes of environment, not one each. The
 * block is the strings as they are now, whatever environ becomes later. */
static GMutex env_lock;
static GBytes *env_cache;       /* under env_lock */
static guint32 env_cache_count;

static gboolean
env_block_matches (GBytes             *block,
                   guint32             count,
                   const char * const *envp,
                   guint32             n,
                   gsize               len)
{
  const char *at;

  if (block == NULL || count != n || g_bytes_get_size (block) != len)
    return FALSE;
  at = g_bytes_get_data (block, NULL);
  for (guint32 i = 0; i < n; i++)
    {
      gsize size = strlen (envp[i]) + 1;

      if (memcmp (at, envp[i], size) != 0)
        return FALSE;
      at += size;
    }
  return TRUE;
}

static GBytes *
env_block (const char * const *envp,
           guint32            *count)
{
  GBytes *block;
  gsize len = 0;
  guint32 n;
  char *data, *at;

  for (n = 0; envp[n] != NULL; n++)
    len += strlen (envp[n]) + 1;
  *count = n;

  g_mutex_lock (&env_lock);
  if (env_block_matches (env_cache, env_cache_count, envp, n, len))
    {
      block = g_bytes_ref (env_cache);
      g_mutex_unlock (&env_lock);
      return block;
    }
  g_mutex_unlock (&env_lock);

  at = data = g_malloc (MAX (len, 1));
  for (guint32 i = 0; i < n; i++)
    at = g_stpcpy (at, envp[i]) + 1;
  block = g_bytes_new_take (data, len);

  g_mutex_lock (&env_lock);
  g_clear_pointer (&env_cache, g_bytes_unref);
  env_cache = g_bytes_ref (block);
  env_cache_count = n;
  g_mutex_unlock (&env_lock);
  return block;
}

SaCommand *
sa_request_prepare (GTask               *task,
                    const char * const  *argv,
                    SaSpawnOptions      *options,
                    gboolean             for_process,
                    GError             **error)
{
  const char * const *env = options ? sa_spawn_options_get_env (options) : NULL;
  const char *cwd = options ? sa_spawn_options_get_cwd (options) : NULL;
  GBytes *input = options ? sa_spawn_options_get_input (options) : NULL;
  guint timeout_ms = options ? sa_spawn_options_get_timeout_ms (options) : 0;
  int kill_signal = options ? sa_spawn_options_get_kill_signal (options) : SIGTERM;
  guint64 max_output = options ? sa_spawn_options_get_max_output (options)
                               : SA_SPAWN_OPTIONS_DEFAULT_MAX_OUTPUT;
  Descriptors d = { { 0 } };
  SaSpawnFds fds;
  SaSpawnSetup setup;
  guint32 flags = 0;
  const char * const *child_env;
  const char *path;
  const char *program;
  SaCommand *command;
  g_autoptr(GBytes) env_strings = NULL;
  guint32 envc;
  guint8 *frame;
  gsize size, head_len;

  if (!validate (argv, env, kill_signal, error) ||
      !resolve_setup (options, &flags, &setup, error) ||
      !resolve_descriptors (options, for_process, input != NULL, &d, &flags, error))
    {
      descriptors_clear (&d);
      return NULL;
    }

  /* NULL: the caller's environment as it is now. */
  child_env = env != NULL ? env : (const char * const *)environ;
  program = setup.program != NULL ? setup.program : argv[0];
  path = (flags & SA_SPAWN_FLAG_NO_SEARCH) ? "" : search_path (program, child_env);

  size = sa_proto_spawn_size (argv, child_env, path, cwd, d.n, &setup);
  if (size == 0)
    {
      g_autofree char *valid_program = g_utf8_make_valid (program, -1);

      descriptors_clear (&d);
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_TOO_BIG,
                   _("Failed to execute “%s”: %s"), valid_program, g_strerror (E2BIG));
      return NULL;
    }

  memcpy (fds.stdio, d.stdio, sizeof fds.stdio);
  fds.n_targets = d.n;
  fds.targets = d.targets;
  /* The frame without its environment, which follows it on the wire. */
  env_strings = env_block (child_env, &envc);
  head_len = size - g_bytes_get_size (env_strings);
  frame = g_malloc (head_len);
  sa_proto_spawn_encode (frame, 0, flags, timeout_ms, kill_signal, &fds, &setup,
                         argv, NULL, path, cwd);
  sa_proto_spawn_set_env (frame, envc, g_bytes_get_size (env_strings));

  /* A stdin pipe without input, in aspawn: the child reads an empty one. */
  if (!for_process && d.stdio[0] == SA_PROTO_STDIO_PIPE && input == NULL)
    input = g_bytes_new_static ("", 0);
  else if (input != NULL)
    g_bytes_ref (input);

  command = sa_command_new (task, program, cwd, frame, head_len, env_strings,
                            input, max_output, kill_signal);
  g_clear_pointer (&input, g_bytes_unref);
  memcpy (command->stdio, d.stdio, sizeof command->stdio);
  command->detached = (flags & SA_SPAWN_FLAG_DETACHED) != 0;
  if (d.n > 0)
    {
      command->send_fds = g_memdup2 (d.sources, d.n * sizeof (int));
      command->n_send_fds = d.n;
    }
  if (for_process)
    command->process_shared = sa_process_shared_new ();
  else if (!sa_proto_spawn_has_pty (d.stdio))
    command->n_pipes = sa_proto_spawn_n_pipes (d.stdio);   /* may be relayed */
  return command;
}
