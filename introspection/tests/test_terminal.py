# SPDX-License-Identifier: LGPL-2.1-or-later
"""Terminals and pre-exec options from PyGObject: Sa.Stdio.PTY and
Sa.Process.get_pty(), take_pty_fd(), new-session, umask, set_rlimit(),
program, search-path and detached.

Everything read from a terminal is read with a deadline, so a child that
never answers fails the test instead of hanging it.
"""

import os
import re
import resource
import select
import signal
import subprocess
import sys
import time

import pytest
from gi.repository import GLib, Gio, Sa

from conftest import (
    IO_ERROR, SPAWN_ERROR,
    Call, Wait, assert_error, assert_group_gone, assert_pid_gone, options, pid_alive, spawn,
    wait_for,
)

# How long a terminal may take to show something; generous, the machine
# is shared.
TERMINAL_TIMEOUT_S = 20
PROMPT = 'SA-PROMPT> '
PTS = re.compile(r'^/dev/pts/[0-9]+$')


def pty_options(**props):
    return options(stdin_mode=Sa.Stdio.PTY, stdout_mode=Sa.Stdio.PTY,
                   stderr_mode=Sa.Stdio.PTY, **props)


def proc_stat(pid):
    """ppid, pgrp and session of a process, from /proc/PID/stat."""
    with open(f'/proc/{pid}/stat', 'rb') as f:
        text = f.read()
    fields = text[text.rindex(b')') + 2:].split()
    return {'state': fields[0].decode(), 'ppid': int(fields[1]),
            'pgrp': int(fields[2]), 'session': int(fields[3])}


def children_named(ppid, name):
    """The live children of ppid whose command name is name."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/comm') as f:
                comm = f.read().strip()
            stat = proc_stat(entry)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if stat['ppid'] == ppid and comm == name and stat['state'] not in ('Z', 'X'):
            found.append(int(entry))
    return found


class Terminal:
    """The master side of a Sa.Process's terminal, read asynchronously
    (read_bytes_async() over the main context) and written to."""

    def __init__(self, stream):
        assert isinstance(stream, Gio.IOStream)
        self.stream = stream
        self.input = stream.get_input_stream()
        self.output = stream.get_output_stream()
        self.cancellable = Gio.Cancellable()
        self.text = ''          # read and not consumed by expect() yet
        self.eof = False
        self.error = None
        self.pending = False
        self._read()

    def _read(self):
        self.pending = True
        self.input.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, self.cancellable, self._on_read)

    def _on_read(self, stream, res):
        self.pending = False
        try:
            data = stream.read_bytes_finish(res).get_data()
        except GLib.Error as error:
            self.error = error
            return
        if not data:
            self.eof = True
            return
        self.text += data.decode('utf-8', 'replace')
        self._read()

    def expect(self, regex, timeout=TERMINAL_TIMEOUT_S):
        """Waits until regex matches what was read; consumes the text up to
        the end of the match and returns the match."""
        pattern = re.compile(regex, re.DOTALL)
        match = None

        def found():
            nonlocal match
            match = pattern.search(self.text)
            return match is not None or self.eof or self.error is not None

        try:
            wait_for(found, 'the terminal', timeout)
        except AssertionError:
            raise AssertionError(f'timed out after {timeout} s waiting for {regex!r} '
                                 f'on the terminal, which showed {self.text!r}') from None
        if match is None:
            raise AssertionError(f'the terminal ended (eof={self.eof}, error={self.error!r}) '
                                 f'before {regex!r}; it showed {self.text!r}')
        self.text = self.text[match.end():]
        return match

    def type(self, text):
        ok, written = self.output.write_all(text.encode(), None)
        assert ok and written == len(text.encode())

    def command(self, line):
        """Types line into the shell and returns what it printed, up to the
        next prompt."""
        self.type(line + '\n')
        return self.expect(re.escape(line) + r'\r\n(.*?)' + re.escape(PROMPT)).group(1)

    def wait_eof(self, timeout=TERMINAL_TIMEOUT_S):
        try:
            wait_for(lambda: self.eof or self.error is not None, 'the end of the terminal',
                     timeout)
        except AssertionError:
            raise AssertionError(f'the terminal did not end within {timeout} s; '
                                 f'it showed {self.text!r}') from None
        assert self.error is None, f'reading the terminal failed: {self.error!r}'

    def close(self):
        self.cancellable.cancel()
        wait_for(lambda: not self.pending, 'the cancelled read')


def read_master(fd, until, timeout=TERMINAL_TIMEOUT_S):
    """Reads a pty master (os.openpty()'s) until until(data) is true or the
    child's side is closed; never longer than timeout."""
    data = b''
    deadline = time.monotonic() + timeout
    while not until(data):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f'timed out after {timeout} s reading the terminal: {data!r}')
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:          # EIO: no one holds the child's side any more
            break
        if not chunk:
            break
        data += chunk
    return data


# -- Sa.Stdio.PTY ----------------------------------------------------------------

def test_pty_aspawn_is_a_terminal(worker):
    result = spawn(worker, ['sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo isatty; tty'],
                   pty_options())
    assert result.check()
    out = result.get_stdout()
    lines = out.split('\r\n')
    assert lines[0] == 'isatty', out
    assert PTS.match(lines[1]), out
    assert lines[2:] == [''], out


def test_pty_aspawn_stdout_only(worker):
    # stdout alone on a terminal: stdin is /dev/null, stderr a pipe.
    result = spawn(worker, ['sh', '-c', 'test -t 1 && echo out-tty; test -t 0 || echo in-not;'
                            ' test -t 2 || echo err-not >&2'],
                   options(stdout_mode=Sa.Stdio.PTY))
    assert result.check()
    assert result.get_stdout() == 'out-tty\r\nin-not\r\n'
    assert result.get_stderr() == 'err-not\n'


def test_pty_needs_stdout_pty(worker):
    for opts in [options(stdin_mode=Sa.Stdio.PTY),
                 options(stderr_mode=Sa.Stdio.PTY),
                 options(stdin_mode=Sa.Stdio.PTY, stderr_mode=Sa.Stdio.PTY)]:
        with pytest.raises(GLib.Error) as excinfo:
            Call(worker, ['true'], opts).wait()
        assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT)
    assert spawn(worker, ['echo', 'still working']).get_stdout() == 'still working\n'


def test_interactive_shell(worker):
    env = [f'PS1={PROMPT}', 'TERM=dumb', f'PATH={os.environ["PATH"]}']
    process = worker.spawn(['sh', '-i'], pty_options(env=env), None)
    assert process.get_stdout_pipe() is None
    assert process.get_stdin_pipe() is None
    assert process.get_stderr_pipe() is None
    terminal = Terminal(process.get_pty())
    shell = process.get_pid()
    try:
        terminal.expect(re.escape(PROMPT))

        # A session and process group of its own, on its own terminal.
        stat = proc_stat(shell)
        assert stat['session'] == shell
        assert stat['pgrp'] == shell
        name = terminal.command('tty')
        assert PTS.match(name.removesuffix('\r\n')), name
        assert os.readlink(f'/proc/{shell}/fd/0') == name.removesuffix('\r\n')

        assert terminal.command('stty size') == '24 80\r\n'
        assert process.set_window_size(40, 100)
        assert terminal.command('stty size') == '40 100\r\n'

        for rows, columns in [(0, 80), (24, 0), (65536, 80), (24, 65536)]:
            with pytest.raises(GLib.Error) as excinfo:
                process.set_window_size(rows, columns)
            assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT)
        assert terminal.command('stty size') == '40 100\r\n'
        assert process.set_window_size(65535, 65535)
        assert terminal.command('stty size') == '65535 65535\r\n'

        # Ctrl+C interrupts the foreground command, and only it.
        terminal.type('sleep 100\n')
        terminal.expect(r'sleep 100\r\n')
        wait_for(lambda: children_named(shell, 'sleep'), 'sleep to run')
        sleeper = children_named(shell, 'sleep')[0]
        started = time.monotonic()
        terminal.type('\x03')
        terminal.expect(re.escape(PROMPT), timeout=5)
        assert time.monotonic() - started < 5
        assert_pid_gone(sleeper)
        assert terminal.command('echo $?') == '130\r\n'

        terminal.type('exit 3\n')
        Wait(process).wait()
        assert process.get_if_exited()
        assert process.get_exit_status() == 3
        terminal.wait_eof()
    finally:
        terminal.close()
        process.force_exit()
    assert_group_gone(shell)


def test_window_size_needs_a_pty(worker):
    process = worker.spawn(['true'], None, None)
    assert process.get_pty() is None
    with pytest.raises(GLib.Error) as excinfo:
        process.set_window_size(24, 80)
    assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.NOT_SUPPORTED)
    Wait(process).wait()


# -- take_pty_fd() ---------------------------------------------------------------

def test_take_pty_fd(worker):
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        opts = Sa.SpawnOptions()
        opts.take_pty_fd(slave)
        slave = -1
        process = worker.spawn(['sh', '-c', 'test -t 0 && test -t 2 && tty; '
                                'ps -o sid= -o pid= -p $$'], opts, None)
        del opts                # closes the options' copy
        assert process.get_pty() is None
        assert process.get_stdout_pipe() is None
        data = read_master(master, lambda data: data.count(b'\r\n') >= 2)
        Wait(process).wait()
        assert process.get_exit_status() == 0
        lines = data.decode().split('\r\n')
        assert lines[0] == name, data
        sid, pid = lines[1].split()
        assert int(sid) == int(pid) == process.get_pid(), data
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def test_take_pty_fd_not_a_terminal(worker):
    opts = Sa.SpawnOptions()
    opts.take_pty_fd(os.open('/dev/null', os.O_RDWR))
    with pytest.raises(GLib.Error) as excinfo:
        Call(worker, ['true'], opts).wait()
    assert_error(excinfo.value, SPAWN_ERROR, GLib.SpawnError.FAILED)
    assert 'Inappropriate ioctl for device' in excinfo.value.message

    opts = Sa.SpawnOptions()
    opts.take_pty_fd(-1)
    with pytest.raises(GLib.Error) as excinfo:
        Call(worker, ['true'], opts).wait()
    assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT)
    assert spawn(worker, ['true']).check()


# -- new-session, umask, set_rlimit() ----------------------------------------------

def test_new_session(worker):
    argv = ['ps', '-o', 'sid=', '-o', 'pgid=', '-o', 'pid=', '-p', '$$']
    argv = ['sh', '-c', ' '.join(argv)]
    result = spawn(worker, argv, options(new_session=True))
    sid, pgid, pid = (int(word) for word in result.get_stdout().split())
    assert sid == pgid == pid == result.get_pid()

    # Without: a process group of its own in the caller's session.
    result = spawn(worker, argv)
    sid, pgid, pid = (int(word) for word in result.get_stdout().split())
    assert pgid == pid == result.get_pid()
    assert sid == os.getsid(0)
    assert sid != pid


def test_umask(worker, tmp_path):
    result = spawn(worker, ['sh', '-c', 'umask; : > made'],
                   options(umask=0o027, cwd=str(tmp_path)))
    assert result.check()
    assert result.get_stdout() == '0027\n'
    assert (tmp_path / 'made').stat().st_mode & 0o7777 == 0o640

    result = spawn(worker, ['sh', '-c', 'umask'], options(umask=0))
    assert result.get_stdout() == '0000\n'
    # -1, the default: the caller's.
    mine = os.umask(0o022)
    os.umask(mine)
    result = spawn(worker, ['sh', '-c', 'umask'], options(umask=-1))
    assert result.get_stdout() == f'{mine:04o}\n'


def test_rlimit(worker):
    opts = Sa.SpawnOptions()
    opts.set_rlimit(resource.RLIMIT_NOFILE, 64, 64)
    result = spawn(worker, ['sh', '-c', 'ulimit -n; ulimit -Hn'], opts)
    assert result.get_stdout() == '64\n64\n'

    # Not for the caller, nor for the next command with other options.
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] != 64
    assert spawn(worker, ['sh', '-c', 'ulimit -n']).get_stdout() != '64\n'


def test_rlimit_infinity(worker):
    assert Sa.RLIMIT_INFINITY == -1
    # Lowering is always allowed; an unlimited hard limit is kept as is.
    assert resource.getrlimit(resource.RLIMIT_CPU)[1] == resource.RLIM_INFINITY, \
        'this test needs an unlimited RLIMIT_CPU hard limit'
    opts = Sa.SpawnOptions()
    opts.set_rlimit(resource.RLIMIT_CPU, 1000, Sa.RLIMIT_INFINITY)
    result = spawn(worker, ['sh', '-c', 'ulimit -t; ulimit -Ht'], opts)
    assert result.get_stdout() == '1000\nunlimited\n'


# -- program, search-path ------------------------------------------------------

def test_program(worker):
    result = spawn(worker, ['custom-name', '-c', 'echo $0'], options(program='/bin/sh'))
    assert result.get_stdout() == 'custom-name\n'
    # Looked up in PATH like argv[0] would be.
    result = spawn(worker, ['custom-name', '-c', 'echo $0'], options(program='sh'))
    assert result.get_stdout() == 'custom-name\n'

    process = worker.spawn(['renamed-sleep', '5'],
                           options(program='/bin/sleep', stdout_mode=Sa.Stdio.NULL,
                                   stderr_mode=Sa.Stdio.NULL), None)
    try:
        # The exec has happened when spawn() returns, but the kernel may
        # not have filled /proc/PID/cmdline in yet: it is empty until then.
        cmdline = b''

        def filled():
            nonlocal cmdline
            with open(f'/proc/{process.get_pid()}/cmdline', 'rb') as f:
                cmdline = f.read()
            return cmdline != b''

        wait_for(filled, 'the command line in /proc')
        assert cmdline == b'renamed-sleep\x005\x00'
        assert os.readlink(f'/proc/{process.get_pid()}/exe') == os.path.realpath('/bin/sleep')
    finally:
        process.force_exit()
    Wait(process).wait()
    assert process.get_if_signaled()
    assert_group_gone(process.get_pid())


def test_search_path(worker, tmp_path):
    with pytest.raises(GLib.Error) as excinfo:
        Call(worker, ['true'], options(search_path=False, cwd=str(tmp_path))).wait()
    assert_error(excinfo.value, SPAWN_ERROR, GLib.SpawnError.NOENT)
    assert excinfo.value.matches(GLib.spawn_error_quark(), GLib.SpawnError.NOENT)

    assert spawn(worker, ['/bin/true'], options(search_path=False)).check()

    # A bare name is a file in the working directory then.
    script = tmp_path / 'sa-local'
    script.write_text('#!/bin/sh\necho local\n')
    script.chmod(0o755)
    result = spawn(worker, ['sa-local'], options(search_path=False, cwd=str(tmp_path)))
    assert result.get_stdout() == 'local\n'
    with pytest.raises(GLib.Error) as excinfo:
        Call(worker, ['sa-local'], options(cwd=str(tmp_path))).wait()
    assert_error(excinfo.value, SPAWN_ERROR, GLib.SpawnError.NOENT)


# -- values that are refused ---------------------------------------------------

def test_bad_values(worker):
    def rlimit(res, soft, hard):
        opts = Sa.SpawnOptions()
        opts.set_rlimit(res, soft, hard)
        return opts

    cases = {
        'negative soft limit': rlimit(resource.RLIMIT_NOFILE, -5, 1),
        'negative hard limit': rlimit(resource.RLIMIT_NOFILE, 1, -7),
        'unknown resource': rlimit(999, 1, 1),
        'negative resource': rlimit(-1, 1, 1),
        'soft above hard': rlimit(resource.RLIMIT_NOFILE, 64, 32),
        'umask 01000': options(umask=0o1000),
        'umask -2': options(umask=-2),
    }
    for what, opts in cases.items():
        call = Call(worker, ['sh', '-c', 'echo ran'], opts)
        with pytest.raises(GLib.Error) as excinfo:
            call.wait()
        assert excinfo.value.matches(IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT), \
            f'{what}: {excinfo.value!r}'
        # The worker goes on.
        assert spawn(worker, ['echo', 'next']).get_stdout() == 'next\n', what


# -- detached ----------------------------------------------------------------------

def quiet(**props):
    return options(stdin_mode=Sa.Stdio.NULL, stdout_mode=Sa.Stdio.NULL,
                   stderr_mode=Sa.Stdio.NULL, **props)


def kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_detached_outlives_the_worker(worker):
    helper = worker.props.helper_pid
    detached = worker.spawn(['sleep', '30'], quiet(detached=True), None)
    attached = worker.spawn(['sleep', '30'], quiet(), None)
    pids = [detached.get_pid(), attached.get_pid()]
    try:
        stat = proc_stat(detached.get_pid())
        assert stat['session'] == detached.get_pid()
        worker.destroy()
        assert_pid_gone(helper)
        assert_pid_gone(attached.get_pid())
        time.sleep(0.2)
        assert pid_alive(detached.get_pid())
        os.kill(detached.get_pid(), 0)
    finally:
        for pid in pids:
            kill_quietly(pid)
    assert_pid_gone(detached.get_pid())


def test_detached_outlives_the_helper(worker):
    detached = worker.spawn(['sleep', '30'], quiet(detached=True), None)
    attached = worker.spawn(['sleep', '30'], quiet(), None)
    pids = [detached.get_pid(), attached.get_pid()]
    try:
        helper = worker.props.helper_pid
        os.kill(helper, signal.SIGKILL)
        assert_pid_gone(helper)
        assert_pid_gone(attached.get_pid())
        time.sleep(0.2)
        assert pid_alive(detached.get_pid())
        # The worker goes on with a new helper.
        assert spawn(worker, ['echo', 'next']).get_stdout() == 'next\n'
    finally:
        for pid in pids:
            kill_quietly(pid)
    assert_pid_gone(detached.get_pid())


CALLER = '''
import gi
gi.require_version('Sa', '1.0')
from gi.repository import Sa
worker = Sa.Worker.new(None)
pids = []
for detached in (True, False):
    opts = Sa.SpawnOptions(stdin_mode=Sa.Stdio.NULL, stdout_mode=Sa.Stdio.NULL,
                           stderr_mode=Sa.Stdio.NULL, detached=detached)
    pids.append(worker.spawn(['sleep', '30'], opts, None).get_pid())
print(*pids, flush=True)
'''


def test_detached_outlives_the_caller():
    caller = subprocess.run([sys.executable, '-c', CALLER], capture_output=True, text=True,
                            timeout=60)
    assert caller.returncode == 0, caller.stderr
    detached, attached = (int(word) for word in caller.stdout.split())
    try:
        assert_pid_gone(attached)
        time.sleep(0.2)
        assert pid_alive(detached)
    finally:
        kill_quietly(detached)
        kill_quietly(attached)
    assert_pid_gone(detached)
