# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sa.Process from PyGObject: live children, their pipes, signals and
waits, the stdio modes and take_fd()."""

import os
import signal
import tempfile

import pytest
from gi.repository import GLib, Gio, Sa

from conftest import (
    IO_ERROR, SA_SPAWN_ERROR, SA_WORKER_ERROR, SPAWN_ERROR, SPAWN_EXIT_ERROR,
    Wait, assert_error, assert_group_gone, assert_pid_gone, options, wait_for,
)


def pipes(stdin=Sa.Stdio.NULL, stdout=Sa.Stdio.PIPE, stderr=Sa.Stdio.PIPE, **props):
    return options(stdin_mode=stdin, stdout_mode=stdout, stderr_mode=stderr, **props)


def read_line(stream):
    line, _length = stream.read_line_utf8(None)
    return line


def test_echo_blocking(worker):
    process = worker.spawn(['echo', 'hello'], None, None)
    assert process.get_pid() > 1
    data = Gio.DataInputStream.new(process.get_stdout_pipe())
    assert read_line(data) == 'hello'
    assert read_line(data) is None
    assert process.wait_check(None)
    assert process.get_successful()
    assert process.get_identifier() is None


def test_lines_while_running(worker):
    argv = ['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.05; done']
    process = worker.spawn(argv, None, None)
    data = Gio.DataInputStream.new(process.get_stdout_pipe())
    lines = []
    while (line := read_line(data)) is not None:
        lines.append(line)
    assert lines == ['line 1', 'line 2', 'line 3']
    Wait(process, check=True).wait()


def test_spawn_async(worker):
    got = []
    worker.spawn_async(['true'], None, None, lambda w, res: got.append(w.spawn_finish(res)))
    wait_for(lambda: got, 'spawn_async')
    Wait(got[0], check=True).wait()


def test_conversation_with_bc(worker):
    process = worker.spawn(['bc', '-q'], pipes(stdin=Sa.Stdio.PIPE), None)
    answers = Gio.DataInputStream.new(process.get_stdout_pipe())
    questions = process.get_stdin_pipe()
    for question, answer in [('2+2', '4'), ('3*5', '15'), ('7-10', '-3')]:
        questions.write_all((question + '\n').encode(), None)
        assert read_line(answers) == answer
    questions.close(None)
    assert process.wait_check(None)


def test_stderr_merged(worker):
    process = worker.spawn(['sh', '-c', 'echo 1; echo 2 >&2; echo 3'],
                           pipes(stderr=Sa.Stdio.MERGE), None)
    assert process.get_stderr_pipe() is None
    data = Gio.DataInputStream.new(process.get_stdout_pipe())
    assert [read_line(data) for _ in range(3)] == ['1', '2', '3']
    assert process.wait_check(None)


def test_exit_status_errors(worker):
    process = worker.spawn(['sh', '-c', 'exit 4'], None, None)
    assert process.wait(None)
    assert process.get_if_exited()
    assert process.get_exit_status() == 4
    with pytest.raises(GLib.Error) as excinfo:
        process.wait_check(None)
    assert_error(excinfo.value, SPAWN_EXIT_ERROR, 4)


def test_signals(worker):
    process = worker.spawn(['sh', '-c', 'trap "echo got TERM; exit 3" TERM; echo ready; '
                            'while :; do sleep 0.01; done'], None, None)
    data = Gio.DataInputStream.new(process.get_stdout_pipe())
    assert read_line(data) == 'ready'
    process.send_signal(signal.SIGTERM)
    assert read_line(data) == 'got TERM'
    assert process.wait(None)
    assert process.get_exit_status() == 3
    process.send_signal(signal.SIGTERM)      # after the end: nothing
    process.force_exit()

    group = worker.spawn(['sh', '-c', 'sleep 100 & echo $!; sleep 100'], None, None)
    grandchild = int(read_line(Gio.DataInputStream.new(group.get_stdout_pipe())))
    group.force_exit()
    assert group.wait(None)
    assert group.get_if_signaled()
    assert group.get_term_sig() == signal.SIGKILL
    assert_pid_gone(grandchild)
    with pytest.raises(GLib.Error) as excinfo:
        group.wait_check(None)
    assert_error(excinfo.value, SA_SPAWN_ERROR, Sa.SpawnError.SIGNALED)


def test_wait_cancelled_child_lives(worker):
    process = worker.spawn(['cat'], pipes(stdin=Sa.Stdio.PIPE, stdout=Sa.Stdio.NULL,
                                          stderr=Sa.Stdio.NULL), None)
    cancellable = Gio.Cancellable()
    waiting = Wait(process, cancellable)
    cancellable.cancel()
    with pytest.raises(GLib.Error) as excinfo:
        waiting.wait()
    assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.CANCELLED)
    assert process.get_identifier() is not None
    process.get_stdin_pipe().close(None)
    assert process.wait_check(None)


def test_timeout(worker):
    process = worker.spawn(['sleep', '100'], options(timeout_ms=100), None)
    with pytest.raises(GLib.Error) as excinfo:
        process.wait_check(None)
    assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.TIMED_OUT)
    assert process.get_timed_out()


def test_worker_destroyed(worker):
    process = worker.spawn(['sh', '-c', 'sleep 100 & sleep 100'], None, None)
    waiting = Wait(process)
    worker.destroy()
    with pytest.raises(GLib.Error) as excinfo:
        waiting.wait()
    assert_error(excinfo.value, SA_WORKER_ERROR, Sa.WorkerError.DESTROYED)
    assert_group_gone(process.get_pid())


def test_take_fd_and_inherit(worker, tmp_path):
    read_end, write_end = os.pipe()
    out_path = tmp_path / 'out'
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT, 0o600)
    opts = Sa.SpawnOptions()
    opts.take_fd(write_end, 3)
    opts.take_fd(out_fd, 1)
    process = worker.spawn(['sh', '-c', 'echo to-three >&3; echo to-one'], opts, None)
    del opts                  # closes the options' copies
    with os.fdopen(read_end, 'rb') as reader:
        assert reader.read() == b'to-three\n'
    assert process.get_stdout_pipe() is None
    assert process.wait_check(None)
    assert out_path.read_bytes() == b'to-one\n'


def test_invalid_combinations(worker):
    cases = [
        pipes(stdin=Sa.Stdio.MERGE),
        pipes(stdout=Sa.Stdio.MERGE),
        options(input=GLib.Bytes.new(b'x')),        # input is for aspawn
    ]
    for opts in cases:
        with pytest.raises(GLib.Error) as excinfo:
            worker.spawn(['cat'], opts, None)
        assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT)
    with pytest.raises(GLib.Error) as excinfo:
        worker.spawn(['sa-no-such-program'], None, None)
    assert_error(excinfo.value, SPAWN_ERROR, GLib.SpawnError.NOENT)
