/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn-async-helper: the small process that spawns children for
 * libspawn-async.
 *
 * It is started by the library with posix_spawn, talks to it over the
 * SOCK_SEQPACKET socketpair on fd 3, and serves any number of children
 * from one poll() loop. Started through a launcher that does not pass
 * fd 3 on (ssh), it talks over stdin and stdout instead, the same frames
 * as one byte stream and no descriptors: every pipe is then relayed, and
 * children send no STARTING (see "The stream" in docs/protocol.md).
 *
 *
 *  - SPAWN: create the pipes, start the child with clone(CLONE_VM |
 *    CLONE_VFORK) (posix_spawn semantics, no page tables copied), send
 *    SPAWNED with the parent ends of the pipes (SCM_RIGHTS) or
 *    SPAWN_FAILED with the errno of the stage that failed. Before it
 *    runs any code of its own, the child itself sends STARTING with its
 *    pid: should the helper die before SPAWNED is out, the library
 *    still knows the process group to kill;
 *  - SIGCHLD (signalfd): reap, send EXITED with the wait status (and
 *    whether the child's process group lives on without it);
 *  - deadlines: on a timeout send the child's process group its kill
 *    signal, then SIGKILL after KILL_GRACE_MS;
 *  - KILL: signal a child's process group (cancellation, output limit);
 *  - the relay (SPAWN's RELAY flag, when the library holds as many pipes
 *    as it may): the helper keeps the pipes, sends what it reads from
 *    stdout and stderr in OUTPUT frames, and writes INPUT frames to stdin,
 *    one at a time (WROTE says when the next may come). It stops reading
 *    while RELAY_BACKLOG bytes wait for the socket, so a slow library
 *    slows its children down instead of growing the helper.
 *
 * A child's process group is remembered after the child is reaped for as
 * long as something in it lives (a background job, a daemon that did not
 * call setsid()): it is part of the command, and is killed with the rest.
 * The helper is a child subreaper, so such orphans are its own children.
 * The library is told (EXITED's LINGERS flag, then GROUP_GONE), so that
 * it can kill such groups itself if this helper dies.
 *
 * When the socket closes, a frame is malformed, or the parent dies
 * (PR_SET_PDEATHSIG), every child's process group is killed and the
 * helper exits. libc only: no GLib here.
 */

#include "sa-helper-input.h"
#include "sa-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SOCKET_FD            3
#define KILL_GRACE_MS        1000    /* kill signal -> SIGKILL */
#define CHILD_STACK_SIZE     (64 * 1024)
#define MAX_READS_PER_WAKEUP 64      /* keep reaping while flooded */
#define LINGER_CHECK_MS      1000    /* how often to look at lingering groups */
#define SIGNALS_PER_READ     8       /* > the 4 signals of the signalfd */
#define REPLIES_PER_SEND     32      /* replies per sendmmsg() */
#define RELAY_BACKLOG        (1024 * 1024)  /* relayed bytes waiting: stop reading */
#define RELAY_EVENTS         64      /* pipe events per epoll_wait() */
#define DRAIN_MS             100     /* a reaped child's pipes: see sa-connection.c */
#define DRAIN_MAX_READS      16      /* per relayed pipe, when the drain time is up */

/* The pipes of a relayed child, in epoll's data with the Child. */
enum { RELAY_STDOUT, RELAY_STDERR, RELAY_STDIN, RELAY_N };

typedef struct _Child Child;

/* One epoll registration: which pipe of which child. A Child is freed
 * only by prune_groups(), never while a batch of events is handled. */
typedef struct
{
  Child *child;
  int    slot;
} RelayWatch;

struct _Child
{
  uint32_t id;
  pid_t    pid;            /* also the process group id */
  int      kill_signal;
  int64_t  deadline;       /* timeout, ms on CLOCK_MONOTONIC; 0: none */
  int64_t  kill_deadline;  /* SIGKILL the group then; 0: none */
  bool     timed_out;
  bool     reaped;         /* kept for its group: a kill is due, or it lingers */
  bool     lingers;        /* EXITED said so: GROUP_GONE is owed */
  bool     detached;       /* never killed for the helper's sake */
  int      relay[RELAY_N];  /* pipes relayed (RELAY flag), -1: none (any more) */
  int64_t  drain_deadline;  /* reaped, its output still open: close it then */
  uint8_t *input;           /* what is left of the last INPUT, not yet written */
  size_t   input_len;
  size_t   input_offset;
  RelayWatch watch[RELAY_N];
};

typedef struct
{
  uint8_t bytes[SA_PROTO_REPLY_MAX_SIZE];
  uint8_t *data;            /* an OUTPUT frame (malloc), or NULL: bytes */
  size_t  len;
  int     fds[SA_PROTO_MAX_FDS];
  size_t  n_fds;
} Reply;

typedef union
{
  char           buf[CMSG_SPACE (sizeof (int) * SA_PROTO_MAX_FDS)];
  struct cmsghdr align;
} ReplyControl;

#define MAX_CHILD_FDS (3 + SA_PROTO_MAX_SPAWN_FDS)

/* What the child does before exec, prepared by the helper (the child
 * shares its memory, CLONE_VM, and must not allocate). */
typedef struct
{
  const SaSpawnRequest *request;
  uint32_t       id;
  int            src[MAX_CHILD_FDS];   /* the helper's descriptors... */
  int            dst[MAX_CHILD_FDS];   /* ...and their numbers in the child */
  int            tmp[MAX_CHILD_FDS];   /* the child's copies, above all of them */
  size_t         n;
  int            floor;                /* above every src and dst */
  int            kept[MAX_CHILD_FDS];  /* every dst >= 3, ascending */
  size_t         n_kept;
  bool           merge_stderr;         /* fd 2 is fd 1 */
  int            terminal;             /* made the controlling terminal; -1: none */
  pid_t          helper_pid;
  char          *path_buffer;          /* for the PATH search */
  volatile int   error;
  volatile int   stage;
} ChildSetup;

static struct
{
  int      sock;              /* the library's frames come from here... */
  int      out;               /* ...and ours go there: sock, or stdout */
  bool     stream;            /* stdin and stdout: no datagrams, no fds */
  size_t   out_partial;       /* stream: bytes of replies[0] already out */
  int      signal_fd;
  int      dev_null;          /* stdin of children without input */
  int      dev_null_w;        /* stdout or stderr sent nowhere */
  pid_t    pid;
  Child  **children;          /* each allocated: epoll events point to them */
  size_t   n_children;
  size_t   children_capacity;
  SaHelperInput input;
  Reply   *replies;           /* waiting for the socket to drain */
  size_t   n_replies;
  size_t   replies_capacity;
  void    *child_stack;
  int      max_fd;
  int64_t  next_linger_check;
  int      relay_epoll;       /* the relayed pipes */
  size_t   relay_backlog;     /* OUTPUT bytes waiting for the socket */
  struct rlimit nofile;       /* as the helper was started: for children */
} helper;

static void shut_down (int status) __attribute__ ((noreturn));

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
close_fds (int *fds, size_t n_fds)
{
  for (size_t i = 0; i < n_fds; i++)
    if (fds[i] >= 0)
      {
        close (fds[i]);
        fds[i] = -1;
      }
}

static void *
grow (void *array, size_t *capacity, size_t needed, size_t element_size)
{
  size_t new_capacity = *capacity ? *capacity : 16;
  void *new_array;

  if (needed <= *capacity)
    return array;
  while (new_capacity < needed)
    new_capacity *= 2;
  new_array = realloc (array, new_capacity * element_size);
  if (new_array == NULL)
    return NULL;
  *capacity = new_capacity;
  return new_array;
}

/* -- replies ------------------------------------------------------------ */

/* The message for one reply, its descriptors in @control. */
static void
prepare_message (Reply          *reply,
                 struct msghdr  *msg,
                 struct iovec   *iov,
                 ReplyControl   *control)
{
  iov->iov_base = reply->data != NULL ? reply->data : reply->bytes;
  iov->iov_len = reply->len;
  memset (msg, 0, sizeof *msg);
  msg->msg_iov = iov;
  msg->msg_iovlen = 1;

  if (reply->n_fds > 0)
    {
      struct cmsghdr *cmsg;

      memset (control, 0, sizeof *control);
      msg->msg_control = control->buf;
      msg->msg_controllen = CMSG_SPACE (sizeof (int) * reply->n_fds);
      cmsg = CMSG_FIRSTHDR (msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * reply->n_fds);
      memcpy (CMSG_DATA (cmsg), reply->fds, sizeof (int) * reply->n_fds);
    }
}

/* Sends the queued replies in order, REPLIES_PER_SEND per sendmmsg();
 * what the socket cannot take now stays queued until it is writable. */
static void
release_reply (Reply *r)
{
  close_fds (r->fds, r->n_fds);
  if (r->data != NULL)
    {
      helper.relay_backlog -= r->len;
      free (r->data);
    }
}

/* The stream: as many replies as one writev() takes, the first from
 * where the last write left it. Returns how many went out whole. */
static size_t
write_replies (void)
{
  struct iovec iovs[REPLIES_PER_SEND];
  size_t n = helper.n_replies < REPLIES_PER_SEND ? helper.n_replies : REPLIES_PER_SEND;
  size_t done = 0;
  size_t left;
  ssize_t ret;

  for (size_t i = 0; i < n; i++)
    {
      Reply *r = &helper.replies[i];

      iovs[i].iov_base = (r->data != NULL ? r->data : r->bytes) + (i == 0 ? helper.out_partial : 0);
      iovs[i].iov_len = r->len - (i == 0 ? helper.out_partial : 0);
    }
  do
    ret = writev (helper.out, iovs, (int) n);
  while (ret < 0 && errno == EINTR);
  if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return 0;
  if (ret < 0)
    shut_down (EXIT_SUCCESS);              /* the library has gone */

  for (left = (size_t) ret; done < n && left >= iovs[done].iov_len; done++)
    {
      left -= iovs[done].iov_len;
      release_reply (&helper.replies[done]);
    }
  /* What went out of the next one. */
  if (done == 0)
    helper.out_partial += left;
  else
    helper.out_partial = left;
  return done;
}

static void
flush_replies (void)
{
  size_t sent = 0;

  if (helper.stream)
    {
      size_t n;

      while (helper.n_replies > 0 && (n = write_replies ()) > 0)
        {
          memmove (helper.replies, helper.replies + n,
                   (helper.n_replies - n) * sizeof (Reply));
          helper.n_replies -= n;
        }
      return;
    }

  while (sent < helper.n_replies)
    {
      struct mmsghdr msgs[REPLIES_PER_SEND];
      struct iovec iovs[REPLIES_PER_SEND];
      ReplyControl controls[REPLIES_PER_SEND];
      size_t n = helper.n_replies - sent;
      int ret;

      if (n > REPLIES_PER_SEND)
        n = REPLIES_PER_SEND;
      for (size_t i = 0; i < n; i++)
        prepare_message (&helper.replies[sent + i], &msgs[i].msg_hdr, &iovs[i], &controls[i]);

      do
        ret = sendmmsg (helper.sock, msgs, (unsigned int) n, MSG_NOSIGNAL | MSG_DONTWAIT);
      while (ret < 0 && errno == EINTR);

      if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
        break;
      if (ret < 0)
        shut_down (EXIT_SUCCESS);          /* the library has gone */

      for (int i = 0; i < ret; i++)
        release_reply (&helper.replies[sent + (size_t) i]);
      sent += (size_t) ret;
      if ((size_t) ret < n)
        break;                             /* full: the rest when writable */
    }

  memmove (helper.replies, helper.replies + sent,
           (helper.n_replies - sent) * sizeof (Reply));
  helper.n_replies -= sent;
}

static void
queue_reply (Reply *r)
{
  helper.replies = grow (helper.replies, &helper.replies_capacity,
                         helper.n_replies + 1, sizeof (Reply));
  if (helper.replies == NULL)
    {
      close_fds (r->fds, r->n_fds);
      fputs ("spawn-async-helper: out of memory\n", stderr);
      shut_down (EXIT_FAILURE);
    }
  helper.replies[helper.n_replies++] = *r;
  if (r->data != NULL)
    helper.relay_backlog += r->len;

  if (helper.n_replies % REPLIES_PER_SEND == 0)
    flush_replies ();
}

/* Queues a reply (with its fds): replies go out together before the
 * helper waits again, or each time REPLIES_PER_SEND more are queued, so
 * that a busy helper wakes the library once for many of them (and one
 * that cannot send does not retry at every reply). */
static void
reply (uint16_t type, uint32_t id, const uint32_t *words, size_t n_words,
       const int *fds, size_t n_fds)
{
  Reply r;

  r.data = NULL;
  r.len = sa_proto_encode_words (r.bytes, type, (uint16_t) n_fds, id, words, n_words);
  r.n_fds = n_fds;
  if (n_fds > 0)            /* fds may be NULL then: memcpy (x, NULL, 0) is UB */
    memcpy (r.fds, fds, n_fds * sizeof (int));
  queue_reply (&r);
}

/* OUTPUT: n bytes of a relayed stream, or its end when n is 0. */
static void
reply_output (uint32_t id, uint32_t stream, const uint8_t *bytes, size_t n)
{
  Reply r = { .n_fds = 0 };

  r.data = malloc (SA_PROTO_HEADER_SIZE + 4 + n);
  if (r.data == NULL)
    {
      fputs ("spawn-async-helper: out of memory\n", stderr);
      shut_down (EXIT_FAILURE);
    }
  r.len = sa_proto_output_encode (r.data, id, stream, n);
  if (n > 0)
    memcpy (r.data + r.len, bytes, n);
  r.len += n;
  queue_reply (&r);
}

/* -- children ----------------------------------------------------------- */

static Child *
find_child (uint32_t id)
{
  for (size_t i = 0; i < helper.n_children; i++)
    if (helper.children[i]->id == id)
      return helper.children[i];
  return NULL;
}

/* Only from prune_groups(): no event of a batch points to it any more. */
static void
remove_child (size_t i)
{
  Child *child = helper.children[i];

  free (child->input);
  free (child);
  helper.children[i] = helper.children[--helper.n_children];
}

/* -- the relay ------------------------------------------------------------ */

static bool
relay_watch (Child *child, int slot, int op, uint32_t events)
{
  struct epoll_event event = { .events = events, .data.ptr = &child->watch[slot] };

  child->watch[slot] = (RelayWatch) { child, slot };
  return epoll_ctl (helper.relay_epoll, op, child->relay[slot], &event) == 0;
}

static bool
relay_open (const Child *child)
{
  return child->relay[RELAY_STDOUT] >= 0 || child->relay[RELAY_STDERR] >= 0 ||
         child->relay[RELAY_STDIN] >= 0;
}

static void
relay_close (Child *child, int slot)
{
  int fd = child->relay[slot];

  if (fd < 0)
    return;
  epoll_ctl (helper.relay_epoll, EPOLL_CTL_DEL, fd, NULL);
  close (fd);
  child->relay[slot] = -1;
  if (slot == RELAY_STDIN)
    {
      free (child->input);
      child->input = NULL;
      child->input_len = child->input_offset = 0;
    }
  else
    reply_output (child->id, slot == RELAY_STDOUT ? SA_OUTPUT_STDOUT : SA_OUTPUT_STDERR,
                  NULL, 0);
}

static void
relay_close_all (Child *child)
{
  for (int slot = 0; slot < RELAY_N; slot++)
    relay_close (child, slot);
  child->drain_deadline = 0;
}

/* One read of a relayed stream; false once it has ended (and is closed). */
static bool
relay_read (Child *child, int slot)
{
  static uint8_t buffer[SA_PROTO_MAX_RELAY];
  ssize_t n;

  do
    n = read (child->relay[slot], buffer, sizeof buffer);
  while (n < 0 && errno == EINTR);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return true;
  if (n <= 0)
    {
      relay_close (child, slot);
      return false;
    }
  reply_output (child->id, slot == RELAY_STDOUT ? SA_OUTPUT_STDOUT : SA_OUTPUT_STDERR,
                buffer, (size_t) n);
  return true;
}

/* What is in a reaped child's pipes now, bounded: before EXITED, so that
 * a short command's output, its end and its exit go out together; and
 * when its drain time is up. */
static void
relay_read_rest (Child *child)
{
  for (int slot = RELAY_STDOUT; slot <= RELAY_STDERR; slot++)
    for (int reads = 0; child->relay[slot] >= 0 && reads < DRAIN_MAX_READS; reads++)
      {
        size_t before = helper.relay_backlog;

        if (!relay_read (child, slot) || helper.relay_backlog == before)
          break;
      }
}

/* Writes the pending input; WROTE once it is all in the pipe, or when
 * the pipe is closed (the child does not read its input: its right). */
static void
relay_write (Child *child)
{
  uint32_t flags = 0;

  while (child->input_offset < child->input_len)
    {
      ssize_t n = write (child->relay[RELAY_STDIN], child->input + child->input_offset,
                         child->input_len - child->input_offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;                         /* EPOLLOUT is watched */
      if (n < 0)
        {
          flags = SA_WROTE_FLAG_CLOSED;
          break;
        }
      child->input_offset += (size_t) n;
    }

  free (child->input);
  child->input = NULL;
  child->input_len = child->input_offset = 0;
  if (flags & SA_WROTE_FLAG_CLOSED)
    relay_close (child, RELAY_STDIN);
  else
    relay_watch (child, RELAY_STDIN, EPOLL_CTL_MOD, 0);   /* until the next INPUT */
  reply (SA_MSG_WROTE, child->id, &flags, 1, NULL, 0);
}

static void
signal_group (Child *child, int signum, int64_t now)
{
  kill (-child->pid, signum);
  if (signum != SIGKILL && child->kill_deadline == 0)
    child->kill_deadline = now + KILL_GRACE_MS;
  else if (signum == SIGKILL)
    child->kill_deadline = 0;
}

static bool
group_alive (pid_t pgid)
{
  return kill (-pgid, 0) == 0 || errno != ESRCH;
}

/* Forgets reaped children once their relayed pipes are closed and
 * nothing in their group lives (a detached child's group is its own
 * business), telling the library about the groups it was told linger. */
static void
prune_groups (void)
{
  size_t i = 0;

  while (i < helper.n_children)
    {
      Child *child = helper.children[i];

      if (child->reaped && child->kill_deadline == 0 && !relay_open (child) &&
          (child->detached || !group_alive (child->pid)))
        {
          if (child->lingers)
            reply (SA_MSG_GROUP_GONE, child->id, NULL, 0, NULL, 0);
          remove_child (i);         /* the last one moved to i */
        }
      else
        i++;
    }
}

static void
reap_children (void)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG);

      if (pid <= 0)
        break;

      for (size_t i = 0; i < helper.n_children; i++)
        {
          Child *child = helper.children[i];
          uint32_t words[2];

          if (child->pid != pid || child->reaped)
            continue;

          /* Members of the group that are zombies still count: they are
           * ours to reap, and GROUP_GONE follows soon then. */
          child->reaped = true;
          child->deadline = 0;
          child->lingers = group_alive (child->pid);

          /* A detached child's group is its own business. */
          if (child->detached)
            child->lingers = false;

          /* Nobody reads its input now; what it wrote goes first, with
           * the ends of its streams when nothing else holds them. */
          relay_close (child, RELAY_STDIN);
          relay_read_rest (child);
          if (relay_open (child))
            child->drain_deadline = now_ms () + DRAIN_MS;

          words[0] = (uint32_t) status;
          words[1] = (child->timed_out ? SA_EXITED_FLAG_TIMED_OUT : 0) |
                     (child->lingers ? SA_EXITED_FLAG_LINGERS : 0);
          reply (SA_MSG_EXITED, child->id, words, 2, NULL, 0);
          break;
        }
    }

  /* Orphans of a group are this helper's children too (subreaper): their
   * deaths land here, so an emptied group is forgotten at once. */
  prune_groups ();
}

static void
run_deadlines (int64_t now)
{
  bool lingering = false;

  for (size_t i = 0; i < helper.n_children; i++)
    {
      Child *child = helper.children[i];

      if (child->deadline != 0 && now >= child->deadline)
        {
          child->deadline = 0;
          child->timed_out = true;
          signal_group (child, child->kill_signal, now);
        }
      if (child->kill_deadline != 0 && now >= child->kill_deadline)
        signal_group (child, SIGKILL, now);
      if (child->drain_deadline != 0 && now >= child->drain_deadline)
        {
          /* Something in its group (or a daemon) holds its output open:
           * keep what is there and stop waiting, as the library does
           * with the pipes it reads itself. */
          relay_read_rest (child);
          relay_close_all (child);
        }
      lingering |= child->reaped;
    }

  if (lingering && now >= helper.next_linger_check)
    {
      prune_groups ();
      helper.next_linger_check = now + LINGER_CHECK_MS;
    }
}

static int
poll_timeout (int64_t now)
{
  int64_t next = 0;

  for (size_t i = 0; i < helper.n_children; i++)
    {
      const Child *child = helper.children[i];

      if (child->drain_deadline != 0 && (next == 0 || child->drain_deadline < next))
        next = child->drain_deadline;
      if (child->reaped && (next == 0 || helper.next_linger_check < next))
        next = helper.next_linger_check;

      if (child->deadline != 0 && (next == 0 || child->deadline < next))
        next = child->deadline;
      if (child->kill_deadline != 0 && (next == 0 || child->kill_deadline < next))
        next = child->kill_deadline;
    }
  if (next == 0)
    return -1;
  if (next <= now)
    return 0;
  return next - now > INT_MAX ? INT_MAX : (int) (next - now);   /* 24.8 days */
}

/* -- spawning ----------------------------------------------------------- */

static void __attribute__ ((noreturn))
child_fail (ChildSetup *setup, int stage, int error)
{
  setup->stage = stage;
  setup->error = error;
  _exit (127);
}

static bool
path_error_is_final (int error)
{
  switch (error)
    {
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case ELOOP:
    case ENAMETOOLONG:
    case ESTALE:
    case ENODEV:
    case ETIMEDOUT:
      return false;
    default:
      return true;
    }
}

/* execvp(), without its ENOEXEC fallback to /bin/sh and without malloc;
 * with NO_SEARCH, execv(). */
static void
exec_child (ChildSetup *setup)
{
  const SaSpawnRequest *req = setup->request;
  const char *name = req->program != NULL ? req->program : req->argv[0];
  const char *dir = req->path;
  int error = ENOENT;

  if (strchr (name, '/') != NULL || (req->flags & SA_SPAWN_FLAG_NO_SEARCH) != 0)
    {
      execve (name, req->argv, req->envp);
      child_fail (setup, SA_SPAWN_STAGE_EXEC, errno);
    }

  while (*dir != '\0')
    {
      const char *end = strchrnul (dir, ':');
      size_t dir_len = (size_t) (end - dir);
      char *p = setup->path_buffer;

      memcpy (p, dir, dir_len);
      p += dir_len;
      if (dir_len > 0)
        *p++ = '/';
      strcpy (p, name);

      execve (setup->path_buffer, req->argv, req->envp);
      if (errno == EACCES)
        error = EACCES;
      else if (path_error_is_final (errno))
        child_fail (setup, SA_SPAWN_STAGE_EXEC, errno);

      dir = *end == ':' ? end + 1 : end;
    }
  child_fail (setup, SA_SPAWN_STAGE_EXEC, error);
}


/* In the child: STARTING, on the helper's socket, which the suspended
 * helper is not using. A blocking send: the library reads all the time,
 * and must have it before the program can start anything of its own.
 * When it cannot be sent, the library is going (or gone): the child
 * must not run at all. */
static void
announce (ChildSetup *setup)
{
  uint8_t frame[SA_PROTO_REPLY_MAX_SIZE];
  uint32_t pid = (uint32_t) getpid ();
  size_t len = sa_proto_encode_words (frame, SA_MSG_STARTING, 0, setup->id, &pid, 1);
  ssize_t n;

  do
    n = send (helper.sock, frame, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) len)
    child_fail (setup, SA_SPAWN_STAGE_RESOURCES, n < 0 ? errno : EPIPE);
}

static void
close_range_or_loop (unsigned int from, unsigned int to)
{
  if (syscall (SYS_close_range, from, to, 0u) != 0)
    for (unsigned int fd = from; fd <= to && fd <= (unsigned int) helper.max_fd; fd++)
      close (fd);
}

/* In the child: everything but 0, 1, 2 and the targets it was given. */
static void
close_others (ChildSetup *setup)
{
  unsigned int from = 3;

  for (size_t i = 0; i < setup->n_kept; i++)
    {
      unsigned int fd = (unsigned int) setup->kept[i];

      if (fd > from)
        close_range_or_loop (from, fd - 1);
      from = fd + 1;
    }
  close_range_or_loop (from, ~0u);
}

/* Runs in the child, on its own stack, while the helper is suspended
 * (CLONE_VFORK): only async-signal-safe calls, no allocation. */
static int
child_main (void *data)
{
  ChildSetup *setup = data;
  const SaSpawnRequest *req = setup->request;
  sigset_t empty;

  if (req->flags & SA_SPAWN_FLAG_NEW_SESSION)
    setsid ();
  else
    setpgid (0, 0);
  if ((req->flags & SA_SPAWN_FLAG_DETACHED) == 0)
    prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != setup->helper_pid)
    _exit (127);
  /* A byte stream is the helper's alone: a frame of the child's could
   * land inside one of its replies. The library kills nothing across a
   * stream anyway (sa-connection.c); PR_SET_PDEATHSIG does. */
  if (!helper.stream)
    announce (setup);

  /* Every descriptor goes above all the numbers in play first, so that no
   * dup2() below closes one still to be placed; then onto its number
   * (dup2() clears close-on-exec). */
  for (size_t i = 0; i < setup->n; i++)
    {
      setup->tmp[i] = fcntl (setup->src[i], F_DUPFD_CLOEXEC, setup->floor);
      if (setup->tmp[i] < 0)
        child_fail (setup, SA_SPAWN_STAGE_RESOURCES, errno);
    }
  for (size_t i = 0; i < setup->n; i++)
    if (dup2 (setup->tmp[i], setup->dst[i]) < 0)
      child_fail (setup, SA_SPAWN_STAGE_RESOURCES, errno);
  if (setup->merge_stderr && dup2 (1, 2) < 0)
    child_fail (setup, SA_SPAWN_STAGE_RESOURCES, errno);
  close_others (setup);

  /* In its new session (the codec checked), the terminal is ours. */
  if (setup->terminal >= 0 && ioctl (setup->terminal, TIOCSCTTY, 0) != 0)
    child_fail (setup, SA_SPAWN_STAGE_SETUP, errno);
  if (req->umask >= 0)
    umask ((mode_t) req->umask);
  /* The descriptor limit the helper was started with, not the one it
   * raised for itself; the request's own limits come after. */
  if (helper.nofile.rlim_cur != RLIM_INFINITY)
    setrlimit (RLIMIT_NOFILE, &helper.nofile);
  for (uint32_t i = 0; i < req->n_rlimits; i++)
    {
      const SaProtoRlimit *limit = &req->rlimits[i];
      struct rlimit value = {
        .rlim_cur = limit->soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t) limit->soft,
        .rlim_max = limit->hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t) limit->hard,
      };

      if (setrlimit ((int) limit->resource, &value) != 0)
        child_fail (setup, SA_SPAWN_STAGE_SETUP, errno);
    }

  if (req->cwd != NULL && chdir (req->cwd) != 0)
    child_fail (setup, SA_SPAWN_STAGE_CHDIR, errno);

  /* The helper reset every disposition to SIG_DFL when it started;
   * what is left is the mask it blocks for its signalfd. */
  sigemptyset (&empty);
  sigprocmask (SIG_SETMASK, &empty, NULL);

  exec_child (setup);
  return 127;
}

static size_t
path_buffer_size (const SaSpawnRequest *req)
{
  size_t longest = 0;
  const char *dir = req->path;

  while (*dir != '\0')
    {
      const char *end = strchrnul (dir, ':');

      if ((size_t) (end - dir) > longest)
        longest = (size_t) (end - dir);
      dir = *end == ':' ? end + 1 : end;
    }
  return longest + strlen (req->program != NULL ? req->program : req->argv[0]) + 2;
}

/* A new pseudo-terminal: the master, and its peer in *peer (both
 * close-on-exec), 24 rows by 80 columns until the library says. */
static int
open_terminal (int *peer)
{
  struct winsize size = { .ws_row = 24, .ws_col = 80 };
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  int error;

  if (master < 0)
    return -1;
  /* grantpt() is nothing on devpts; unlockpt() is needed. */
  if (unlockpt (master) != 0)
    goto failed;
  *peer = -1;
#ifdef TIOCGPTPEER
  /* The peer of this very master, whatever /dev/pts is mounted here. */
  *peer = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
#endif
  if (*peer < 0)
    {
      char name[64];

      if (ptsname_r (master, name, sizeof name) != 0)
        goto failed;
      *peer = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (*peer < 0)
        goto failed;
    }
  ioctl (master, TIOCSWINSZ, &size);
  return master;

failed:
  error = errno;
  close (master);
  errno = error;
  return -1;
}

/* Adds a descriptor for the child: src (the helper's) as dst. */
static void
plan_fd (ChildSetup *setup, int src, int dst)
{
  size_t k;

  setup->src[setup->n] = src;
  setup->dst[setup->n] = dst;
  setup->n++;
  if (src >= setup->floor)
    setup->floor = src + 1;
  if (dst >= setup->floor)
    setup->floor = dst + 1;
  if (dst < 3)
    return;
  /* kept stays ascending: an insertion, n is small */
  for (k = setup->n_kept; k > 0 && setup->kept[k - 1] > dst; k--)
    setup->kept[k] = setup->kept[k - 1];
  setup->kept[k] = dst;
  setup->n_kept++;
}

static void
spawn_failed (uint32_t id, int stage, int error)
{
  uint32_t words[2] = { (uint32_t) stage, (uint32_t) error };

  reply (SA_MSG_SPAWN_FAILED, id, words, 2, NULL, 0);
}

/* -- frames from the library (checked by sa-helper-input.c) -------------- */

bool
sa_helper_has_child (uint32_t id)
{
  return find_child (id) != NULL;
}

void
sa_helper_on_spawn_nomem (uint32_t id)
{
  spawn_failed (id, SA_SPAWN_STAGE_RESOURCES, ENOMEM);
}

/* fds: the request's descriptors (one per target), ours to close. */
void
sa_helper_on_spawn (uint32_t id, const SaSpawnRequest *request, int *fds)
{
  const SaSpawnRequest req = *request;
  ChildSetup setup = { 0 };
  /* for SPAWNED: stdout, stderr, stdin, the terminal's master */
  int parent_fds[4] = { -1, -1, -1, -1 };
  int child_pipes[3] = { -1, -1, -1 };  /* the pipes' child ends */
  int peer = -1;                        /* the terminal's, for the child */
  int relay_fds[RELAY_N] = { -1, -1, -1 };  /* the parent ends, relayed */
  Child *child;
  size_t n_parent_fds = 0;
  uint32_t pid_word;
  int clone_error;
  pid_t pid;

  /* Over the stream no descriptor can go back: the library relays
   * every pipe and asks for no terminal (sa-connection.c). */
  if (helper.stream && (sa_proto_spawn_has_pty (req.stdio) ||
                        ((req.flags & SA_SPAWN_FLAG_RELAY) == 0 &&
                         sa_proto_spawn_n_pipes (req.stdio) > 0)))
    {
      close_fds (fds, req.n_targets);
      spawn_failed (id, SA_SPAWN_STAGE_RESOURCES, EOPNOTSUPP);
      return;
    }

  setup.floor = 3;
  setup.terminal = (req.flags & SA_SPAWN_FLAG_CTTY) != 0 ? 0 : -1;
  if (sa_proto_spawn_has_pty (req.stdio))
    {
      parent_fds[3] = open_terminal (&peer);
      if (parent_fds[3] < 0)
        goto resources_failed;
    }
  for (int fd = 0; fd < 3; fd++)
    {
      int p[2];

      switch (req.stdio[fd])
        {
        case SA_PROTO_STDIO_PTY:
          plan_fd (&setup, peer, fd);
          if (setup.terminal < 0)
            setup.terminal = fd;
          break;
        case SA_PROTO_STDIO_NULL:
          plan_fd (&setup, fd == 0 ? helper.dev_null : helper.dev_null_w, fd);
          break;
        case SA_PROTO_STDIO_PIPE:
          if (pipe2 (p, O_CLOEXEC) != 0)
            goto resources_failed;
          child_pipes[fd] = fd == 0 ? p[0] : p[1];
          parent_fds[fd == 0 ? 2 : fd - 1] = fd == 0 ? p[1] : p[0];
          plan_fd (&setup, child_pipes[fd], fd);
          break;
        case SA_PROTO_STDIO_MERGE:
          setup.merge_stderr = true;
          break;
        default:                /* SA_PROTO_STDIO_FD: a target below */
          break;
        }
    }
  for (uint32_t i = 0; i < req.n_targets; i++)
    plan_fd (&setup, fds[i], req.targets[i]);

  /* Relayed, they stay here: stdout, stderr, stdin (RELAY_*). */
  if (req.flags & SA_SPAWN_FLAG_RELAY)
    for (int i = 0; i < RELAY_N; i++)
      {
        relay_fds[i] = parent_fds[i];
        parent_fds[i] = -1;
        if (relay_fds[i] >= 0 && fcntl (relay_fds[i], F_SETFL, O_NONBLOCK) != 0)
          goto resources_failed;
      }

  /* SPAWNED carries the parent ends in this order, without gaps (3 at
   * most: a terminal takes the place of a pipe). */
  for (int i = 0; i < 4; i++)
    if (parent_fds[i] >= 0)
      parent_fds[n_parent_fds++] = parent_fds[i];
  for (size_t i = n_parent_fds; i < 4; i++)
    parent_fds[i] = -1;

  setup.request = &req;
  setup.id = id;
  setup.helper_pid = helper.pid;
  setup.path_buffer = malloc (path_buffer_size (&req));
  if (setup.path_buffer == NULL)
    {
      errno = ENOMEM;
      goto resources_failed;
    }

  pid = clone (child_main, (char *) helper.child_stack + CHILD_STACK_SIZE,
               CLONE_VM | CLONE_VFORK | SIGCHLD, &setup);
  clone_error = errno;          /* before free() and close() touch it */
  free (setup.path_buffer);
  close_fds (child_pipes, 3);
  close_fds (&peer, 1);
  close_fds (fds, req.n_targets);

  if (pid < 0)
    {
      close_fds (parent_fds, 4);
      close_fds (relay_fds, RELAY_N);
      spawn_failed (id, SA_SPAWN_STAGE_RESOURCES, clone_error);
      return;
    }

  if (setup.error != 0)
    {
      /* The child has already exited: collect it here, not as EXITED. */
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
      close_fds (parent_fds, 4);
      close_fds (relay_fds, RELAY_N);
      spawn_failed (id, setup.stage, setup.error);
      return;
    }

  helper.children = grow (helper.children, &helper.children_capacity,
                          helper.n_children + 1, sizeof (Child *));
  child = helper.children != NULL ? malloc (sizeof (Child)) : NULL;
  if (child == NULL)
    {
      fputs ("spawn-async-helper: out of memory\n", stderr);
      kill (-pid, SIGKILL);
      shut_down (EXIT_FAILURE);
    }
  *child = (Child) {
    .id = id,
    .pid = pid,
    .kill_signal = req.kill_signal,
    .deadline = req.timeout_ms ? now_ms () + req.timeout_ms : 0,
    .detached = (req.flags & SA_SPAWN_FLAG_DETACHED) != 0,
  };
  helper.children[helper.n_children++] = child;

  /* SPAWNED first: OUTPUT and WROTE about a child come after it. */
  pid_word = (uint32_t) pid;
  reply (SA_MSG_SPAWNED, id, &pid_word, 1, parent_fds, n_parent_fds);

  for (int i = 0; i < RELAY_N; i++)
    {
      child->relay[i] = relay_fds[i];
      /* stdin is watched only while an INPUT waits to be written */
      if (relay_fds[i] >= 0 &&
          !relay_watch (child, i, EPOLL_CTL_ADD, i == RELAY_STDIN ? 0 : EPOLLIN))
        relay_close (child, i);       /* out of memory: it ends, and says so */
    }
  return;

resources_failed:
  {
    int error = errno;

    close_fds (child_pipes, 3);
    close_fds (&peer, 1);
    close_fds (fds, req.n_targets);
    close_fds (parent_fds, 4);
    close_fds (relay_fds, RELAY_N);
    spawn_failed (id, SA_SPAWN_STAGE_RESOURCES, error);
  }
}

void
sa_helper_on_kill (uint32_t id, int signum, uint32_t flags)
{
  Child *child = find_child (id);

  /* Not known (any more): it has exited, not an error. A reaped child
   * is still known while its group lingers; only the group is signalled
   * then, and only when asked: its pid may be another process's now. */
  if (child == NULL ||
      (child->reaped && (flags & (SA_KILL_FLAG_CHILD_ONLY | SA_KILL_FLAG_UNLESS_EXITED)) != 0))
    return;
  if (flags & SA_KILL_FLAG_CHILD_ONLY)
    kill (child->pid, signum);
  else
    signal_group (child, signum, now_ms ());
}

/* INPUT: bytes for a relayed stdin (the library sends the next once
 * WROTE says this one is in the pipe), or none: its end. Dropped when
 * stdin is closed already (the child exited): the library knows by then,
 * or learns it from EXITED, which is on its way. */
const char *
sa_helper_on_input (uint32_t id, const uint8_t *data, size_t len)
{
  Child *child = find_child (id);

  if (child == NULL || child->relay[RELAY_STDIN] < 0)
    return NULL;
  if (child->input != NULL)
    return "INPUT before WROTE";
  if (len == 0)
    {
      relay_close (child, RELAY_STDIN);
      return NULL;
    }
  child->input = malloc (len);
  if (child->input == NULL)
    {
      fputs ("spawn-async-helper: out of memory\n", stderr);
      shut_down (EXIT_FAILURE);
    }
  memcpy (child->input, data, len);
  child->input_len = len;
  child->input_offset = 0;
  relay_write (child);
  if (child->input != NULL)
    relay_watch (child, RELAY_STDIN, EPOLL_CTL_MOD, EPOLLOUT);
  return NULL;
}

/* CLOSE: nobody wants some of this child's output or input any more
 * (cancelled, the output limit): those pipes are closed, which ends
 * their streams. */
void
sa_helper_on_close (uint32_t id, uint32_t which)
{
  Child *child = find_child (id);

  for (int slot = 0; child != NULL && slot < RELAY_N; slot++)
    if (which & (1u << slot))
      relay_close (child, slot);
}

void
sa_helper_on_hello (uint32_t version)
{
  uint32_t words[2] = { SA_PROTO_VERSION, (uint32_t) helper.pid };

  reply (SA_MSG_HELLO, 0, words, 2, NULL, 0);
  if (version != SA_PROTO_VERSION)
    {
      /* Say which version this is before leaving. */
      flush_replies ();
      shut_down (EXIT_FAILURE);
    }
}

/* -- the connection ----------------------------------------------------- */

/* Datagrams with their descriptors; or, over the stream, bytes and
 * never descriptors. */
static void
read_socket (void)
{
  for (int reads = 0; reads < MAX_READS_PER_WAKEUP; reads++)
    {
      union {
        char           buf[CMSG_SPACE (sizeof (int) * SA_PROTO_MAX_SPAWN_FDS)];
        struct cmsghdr align;
      } control;
      struct iovec iov;
      struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof control.buf,
      };
      int fds[SA_PROTO_MAX_SPAWN_FDS];
      size_t n_fds = 0;
      size_t at = helper.input.len;
      const char *error = NULL;
      ssize_t n;

      iov.iov_base = sa_helper_input_reserve (&helper.input, SA_PROTO_MAX_MESSAGE);
      iov.iov_len = SA_PROTO_MAX_MESSAGE;
      if (iov.iov_base == NULL)
        {
          fputs ("spawn-async-helper: out of memory\n", stderr);
          shut_down (EXIT_FAILURE);
        }

      if (helper.stream)
        {
          msg.msg_controllen = 0;
          n = read (helper.sock, iov.iov_base, iov.iov_len);
        }
      else
        n = recvmsg (helper.sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n <= 0)
        shut_down (EXIT_SUCCESS);          /* the library has gone */

      for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
          {
            size_t count = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);

            for (size_t i = 0; i < count; i++)
              {
                int fd;

                memcpy (&fd, CMSG_DATA (cmsg) + i * sizeof (int), sizeof fd);
                if (n_fds < SA_PROTO_MAX_SPAWN_FDS)
                  fds[n_fds++] = fd;
                else
                  {
                    close (fd);
                    error = "too many descriptors";
                  }
              }
          }
      if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        error = "oversized message";
      if (error == NULL && n_fds > 0)
        error = sa_helper_input_add_fds (&helper.input, at, fds, n_fds);
      else
        close_fds (fds, n_fds);
      if (error != NULL)
        {
          fprintf (stderr, "spawn-async-helper: %s\n", error);
          shut_down (EXIT_FAILURE);
        }

      helper.input.len += (size_t) n;
      error = sa_helper_input_process (&helper.input);
      if (error != NULL)
        {
          fprintf (stderr, "spawn-async-helper: %s\n", error);
          shut_down (EXIT_FAILURE);
        }
    }
}

/* The relayed pipes that are ready, while the socket keeps up. */
static void
read_relays (void)
{
  struct epoll_event events[RELAY_EVENTS];
  int n;

  do
    n = epoll_wait (helper.relay_epoll, events, RELAY_EVENTS, 0);
  while (n < 0 && errno == EINTR);

  for (int i = 0; i < n; i++)
    {
      RelayWatch *watch = events[i].data.ptr;
      Child *child = watch->child;

      /* Closed earlier in this batch: the event is stale. */
      if (child->relay[watch->slot] < 0)
        continue;
      /* stdin is watched for EPOLLOUT only while an INPUT waits; epoll
       * reports EPOLLERR (its reader is gone) whatever it watches. With
       * an INPUT waiting, the write fails (EPIPE) and WROTE says so;
       * without one, no WROTE is owed: the pipe just closes, and a
       * later INPUT is dropped. */
      if (watch->slot == RELAY_STDIN && child->input != NULL)
        relay_write (child);
      else if (watch->slot == RELAY_STDIN)
        relay_close (child, RELAY_STDIN);
      else if (helper.relay_backlog < RELAY_BACKLOG)
        relay_read (child, watch->slot);
    }
}

/* Standard signals do not queue: one read takes every pending one, and
 * leaves the signalfd empty without a second read() for EAGAIN. */
static void
read_signals (void)
{
  struct signalfd_siginfo info[SIGNALS_PER_READ];
  ssize_t n = read (helper.signal_fd, info, sizeof info);

  for (ssize_t i = 0; i < n / (ssize_t) sizeof info[0]; i++)
    if (info[i].ssi_signo != SIGCHLD)
      shut_down (EXIT_SUCCESS);
  reap_children ();
}

static void
shut_down (int status)
{
  for (size_t i = 0; i < helper.n_children; i++)
    if (!helper.children[i]->detached)
      kill (-helper.children[i]->pid, SIGKILL);
  _exit (status);
}

/* -- start-up ----------------------------------------------------------- */

/* glibc's sigaction() refuses its internal signals (32 and 33), and its
 * posix_spawn() starts us with them ignored, which every child would
 * inherit through exec. The raw call resets them too: an all-zero kernel
 * sigaction is SIG_DFL, no flags, empty mask, on every architecture. */
static void
reset_signal (int signum)
{
  unsigned long kernel_action[8] = { 0 };

  syscall (SYS_rt_sigaction, signum, kernel_action, NULL, (size_t) (NSIG / 8));
}

static bool
is_seqpacket (int fd)
{
  int type = 0;
  socklen_t len = sizeof type;

  return getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

static void
setup_process (pid_t parent)
{
  sigset_t mask;
  struct rlimit limit;
  int fd;

  /* 0, 1 and 2 must be taken, so that no pipe lands on them. */
  do
    fd = open ("/dev/null", O_RDWR);
  while (fd >= 0 && fd < 3);
  if (fd >= 0)
    close (fd);

  /* One /dev/null for every child's stdin: two syscalls less per spawn. */
  helper.dev_null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  helper.dev_null_w = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  if (helper.dev_null < 0 || helper.dev_null_w < 0)
    {
      perror ("spawn-async-helper: /dev/null");
      exit (EXIT_FAILURE);
    }

  /* Every disposition back to SIG_DFL, so that children inherit them. */
  for (int signum = 1; signum < NSIG; signum++)
    if (signum != SIGKILL && signum != SIGSTOP)
      reset_signal (signum);

  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  helper.signal_fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  /* A relayed stdin whose reader is gone fails with EPIPE; SIGPIPE stays
   * blocked (not ignored: children inherit dispositions, not the mask,
   * which child_main() empties). */
  sigaddset (&mask, SIGPIPE);
  sigprocmask (SIG_SETMASK, &mask, NULL);
  if (helper.signal_fd < 0)
    {
      perror ("spawn-async-helper: signalfd");
      exit (EXIT_FAILURE);
    }

  /* The library also sees the socket close; this is the second line. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  /* Orphaned descendants of children come to the helper, not to init. */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  if (parent > 0 && getppid () != parent)
    exit (EXIT_SUCCESS);

  helper.sock = helper.out = SOCKET_FD;
  if (parent == 0 && !is_seqpacket (SOCKET_FD))
    {
      /* A launcher that keeps fd 3 to itself (ssh): stdin and stdout. */
      helper.stream = true;
      helper.sock = STDIN_FILENO;
      helper.out = STDOUT_FILENO;
      /* (The socket stays blocking: children announce themselves on it.) */
      if (fcntl (helper.sock, F_SETFL, fcntl (helper.sock, F_GETFL) | O_NONBLOCK) != 0 ||
          fcntl (helper.out, F_SETFL, fcntl (helper.out, F_GETFL) | O_NONBLOCK) != 0)
        {
          perror ("spawn-async-helper: stdin or stdout");
          exit (EXIT_FAILURE);
        }
    }
  if (fcntl (helper.sock, F_SETFD, FD_CLOEXEC) != 0)
    {
      perror ("spawn-async-helper: socket");
      exit (EXIT_FAILURE);
    }

  helper.pid = getpid ();
  /* Relayed pipes are the helper's: it may hold thousands. Children get
   * the limit it was started with (child_main()). */
  if (getrlimit (RLIMIT_NOFILE, &helper.nofile) == 0)
    {
      limit = helper.nofile;
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  else
    helper.nofile.rlim_cur = helper.nofile.rlim_max = RLIM_INFINITY;
  helper.max_fd = getrlimit (RLIMIT_NOFILE, &limit) == 0 &&
                  limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 65536 ?
                  (int) limit.rlim_cur : 65536;
  helper.relay_epoll = epoll_create1 (EPOLL_CLOEXEC);
  if (helper.relay_epoll < 0)
    {
      perror ("spawn-async-helper: epoll_create1");
      exit (EXIT_FAILURE);
    }
  helper.child_stack = mmap (NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (helper.child_stack == MAP_FAILED)
    {
      perror ("spawn-async-helper: mmap");
      exit (EXIT_FAILURE);
    }
}

int
main (int argc, char **argv)
{
  pid_t parent = argc > 1 ? (pid_t) strtol (argv[1], NULL, 10) : 0;

  setup_process (parent);

  for (;;)
    {
      struct pollfd fds[4] = {
        { .fd = helper.sock, .events = POLLIN },
        { .fd = helper.signal_fd, .events = POLLIN },
        /* readable when a relayed pipe is ready; not while the library
         * has not taken what was read */
        { .fd = helper.relay_epoll,
          .events = helper.relay_backlog < RELAY_BACKLOG ? POLLIN : 0 },
        /* the stream's other half, while replies wait for it */
        { .fd = helper.stream && helper.n_replies > 0 ? helper.out : -1,
          .events = POLLOUT },
      };
      int ret;

      if (helper.n_replies > 0 && !helper.stream)
        fds[0].events |= POLLOUT;

      ret = poll (fds, 4, poll_timeout (now_ms ()));
      if (ret < 0 && errno != EINTR)
        {
          perror ("spawn-async-helper: poll");
          shut_down (EXIT_FAILURE);
        }

      if (fds[1].revents & POLLIN)
        read_signals ();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        read_socket ();
      if (fds[2].revents & POLLIN)
        read_relays ();
      run_deadlines (now_ms ());
      /* Everything this wakeup answered, in one go. */
      if (helper.n_replies > 0)
        flush_replies ();
    }
}
