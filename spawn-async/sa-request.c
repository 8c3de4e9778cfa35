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
    default:               return "?";
    }
}

/* What fds 0, 1 and 2 are, from the modes, the input and take_fd(). The
 * combinations that make no sense fail here (the table is in docs/c-guide.md.in). */
static gboolean
resolve_descriptors (SaSpawnOptions  *options,
                     gboolean         for_process,
                     gboolean         has_input,
                     Descriptors     *d,
                     GError         **error)
{
  static const char * const names[3] = { "stdin", "stdout", "stderr" };
  SaStdio modes[3] = { SA_STDIO_NULL, SA_STDIO_PIPE, SA_STDIO_PIPE };
  const SaFdMapping *mappings = NULL;
  gboolean targeted[3] = { FALSE, FALSE, FALSE };
  const char *problem = NULL;
  guint n_mappings = 0;

  if (options != NULL)
    {
      modes[0] = sa_spawn_options_get_stdin_mode (options);
      modes[1] = sa_spawn_options_get_stdout_mode (options);
      modes[2] = sa_spawn_options_get_stderr_mode (options);
      mappings = sa_spawn_options_get_fds (options, &n_mappings, &problem);
    }

  if (problem != NULL)
    return invalid (error, "%s", problem);
  for (int fd = 0; fd < 3; fd++)
    if ((guint)modes[fd] > SA_STDIO_MERGE)
      return invalid (error, _("%d is not a mode for %s"), (int)modes[fd], names[fd]);
  for (int fd = 0; fd < 2; fd++)
    if (modes[fd] == SA_STDIO_MERGE)
      return invalid (error, _("SA_STDIO_MERGE is for stderr only, not for %s"), names[fd]);
  for (guint i = 0; i < n_mappings; i++)
    if (mappings[i].target < 3)
      targeted[mappings[i].target] = TRUE;

  if (has_input)
    {
      if (for_process)
        return invalid (error, "%s", _("Input is for aspawn: a process's stdin is its stdin pipe "
                                       "(SA_STDIO_PIPE)"));
      if (targeted[0] || (modes[0] != SA_STDIO_NULL && modes[0] != SA_STDIO_PIPE))
        return invalid (error, _("Input needs stdin to be a pipe, not %s"),
                        targeted[0] ? "a descriptor of take_fd()" : mode_name (modes[0]));
      modes[0] = SA_STDIO_PIPE;
    }

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
      else
        d->stdio[fd] = SA_PROTO_STDIO_NULL;
    }
  return TRUE;
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
  const char * const *child_env;
  const char *path;
  SaCommand *command;
  guint8 *frame;
  gsize size;

  if (!validate (argv, env, kill_signal, error) ||
      !resolve_descriptors (options, for_process, input != NULL, &d, error))
    {
      descriptors_clear (&d);
      return NULL;
    }

  /* NULL: the caller's environment as it is now. */
  child_env = env != NULL ? env : (const char * const *)environ;
  path = search_path (argv[0], child_env);

  size = sa_proto_spawn_size (argv, child_env, path, cwd, d.n);
  if (size == 0)
    {
      g_autofree char *program = g_utf8_make_valid (argv[0], -1);

      descriptors_clear (&d);
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_TOO_BIG,
                   _("Failed to execute “%s”: %s"), program, g_strerror (E2BIG));
      return NULL;
    }

  memcpy (fds.stdio, d.stdio, sizeof fds.stdio);
  fds.n_targets = d.n;
  fds.targets = d.targets;
  frame = g_malloc (size);
  sa_proto_spawn_encode (frame, 0, 0, timeout_ms, kill_signal, &fds,
                         argv, child_env, path, cwd);

  /* A stdin pipe without input, in aspawn: the child reads an empty one. */
  if (!for_process && d.stdio[0] == SA_PROTO_STDIO_PIPE && input == NULL)
    input = g_bytes_new_static ("", 0);
  else if (input != NULL)
    g_bytes_ref (input);

  command = sa_command_new (task, argv[0], cwd, frame, size, input, max_output, kill_signal);
  g_clear_pointer (&input, g_bytes_unref);
  memcpy (command->stdio, d.stdio, sizeof command->stdio);
  if (d.n > 0)
    {
      command->send_fds = g_memdup2 (d.sources, d.n * sizeof (int));
      command->n_send_fds = d.n;
    }
  if (for_process)
    command->process_shared = sa_process_shared_new ();
  return command;
}
