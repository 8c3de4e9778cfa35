# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sa.SpawnOptions from PyGObject: cwd, input, timeout, kill signal,
output limits, cancellation and binary data.

Every test checks that no process it started is left running: commands
that produce a result are checked through their process group (the
child's pid, see conftest.spawn()), the others through pid files.
"""

import os
import signal

import pytest
from gi.repository import GLib, Gio, Sa

from conftest import (
    IO_ERROR, SA_SPAWN_ERROR, SPAWN_ERROR,
    Call, assert_error, assert_group_gone, assert_groups_gone, assert_pid_gone,
    read_pid_file, spawn,
)

MiB = 1 << 20


def options(**props):
    opts = Sa.SpawnOptions()
    for name, value in props.items():
        opts.set_property(name.replace('_', '-'), value)
    return opts


def check_error(result):
    with pytest.raises(GLib.Error) as excinfo:
        result.check()
    return excinfo.value


def test_cwd(worker, tmp_path):
    result = spawn(worker, ['pwd'], options(cwd=str(tmp_path)))
    assert result.get_stdout() == os.path.realpath(tmp_path) + '\n'
    assert result.check()


def test_missing_cwd(worker, tmp_path):
    marker = tmp_path / 'ran'
    call = Call(worker, ['sh', '-c', f'touch {marker}'],
                options(cwd=str(tmp_path / 'missing')))
    with pytest.raises(GLib.Error) as excinfo:
        call.wait()
    assert_error(excinfo.value, SPAWN_ERROR, GLib.SpawnError.CHDIR)

    # The worker goes on, and the command never ran.
    assert spawn(worker, ['true']).check()
    assert not marker.exists()


def test_binary_input(worker):
    data = os.urandom(MiB)
    result = spawn(worker, ['cat'], options(input=GLib.Bytes.new(data)))
    assert result.check()
    assert result.get_stdout_bytes().get_data() == data


@pytest.mark.parametrize('argv', [['true'], ['sleep', '0.1']], ids=['true', 'sleep'])
def test_large_input_ignored(worker, argv):
    data = bytes(8 * MiB)
    result = spawn(worker, argv, options(input=GLib.Bytes.new(data)))
    assert result.get_if_exited()
    assert result.get_exit_status() == 0
    assert result.check()


def test_timeout(worker, tmp_path):
    pid_file = tmp_path / 'background.pid'
    result = spawn(worker, ['sh', '-c', f'sleep 100 & echo $! > {pid_file}; sleep 100; wait'],
                   options(timeout_ms=300))
    assert result.get_timed_out()
    assert result.get_if_signaled()
    assert result.get_term_sig() == signal.SIGTERM
    assert not result.get_successful()
    assert_error(check_error(result), IO_ERROR, Gio.IOErrorEnum.TIMED_OUT)
    # spawn() checked the group, which the background sleep belongs to.
    # Under heavy load the timeout may come before sh wrote its pid.
    if pid_file.exists() and pid_file.read_text().endswith('\n'):
        assert_pid_gone(int(pid_file.read_text()))


def test_timeout_sigterm_ignored(worker):
    # Leave sh the time to set its trap before the timeout, even under load.
    result = spawn(worker, ['sh', '-c', "trap '' TERM; sleep 100"], options(timeout_ms=1000))
    assert result.get_timed_out()
    assert result.get_if_signaled()
    assert result.get_term_sig() == signal.SIGKILL
    assert_error(check_error(result), IO_ERROR, Gio.IOErrorEnum.TIMED_OUT)


def test_kill_signal(worker):
    result = spawn(worker, ['sleep', '100'],
                   options(timeout_ms=300, kill_signal=signal.SIGINT))
    assert result.get_timed_out()
    assert result.get_if_signaled()
    assert result.get_term_sig() == signal.SIGINT == 2
    assert_error(check_error(result), IO_ERROR, Gio.IOErrorEnum.TIMED_OUT)


def test_max_output(worker):
    result = spawn(worker, ['yes'], options(max_output=1000))
    assert result.get_stdout_bytes().get_data() == b'y\n' * 500
    assert result.get_stdout() == 'y\n' * 500
    assert result.get_output_truncated()
    assert not result.get_timed_out()
    assert_error(check_error(result), SA_SPAWN_ERROR, Sa.SpawnError.OUTPUT_LIMIT)


def test_max_output_stderr(worker):
    result = spawn(worker, ['sh', '-c', 'exec yes >&2'], options(max_output=1000))
    assert result.get_stderr_bytes().get_data() == b'y\n' * 500
    assert result.get_stdout_bytes().get_data() == b''
    assert result.get_output_truncated()
    assert_error(check_error(result), SA_SPAWN_ERROR, Sa.SpawnError.OUTPUT_LIMIT)


def test_concurrent_inputs(worker):
    inputs = [os.urandom(64 * 1024 + i) for i in range(50)]
    calls = [Call(worker, ['cat'], options(input=GLib.Bytes.new(data))) for data in inputs]
    results = [call.wait() for call in calls]
    for data, result in zip(inputs, results):
        assert result.check()
        assert result.get_stdout_bytes().get_data() == data
    assert_groups_gone({result.get_pid() for result in results})


def test_cancel_running(worker, tmp_path):
    pid_file = tmp_path / 'sleep.pid'
    cancellable = Gio.Cancellable()
    call = Call(worker, ['sh', '-c', f'echo $$ > {pid_file}; exec sleep 100'],
                cancellable=cancellable)
    pid = read_pid_file(pid_file)
    assert not call.done

    cancellable.cancel()
    with pytest.raises(GLib.Error) as excinfo:
        call.wait(timeout=30)
    assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.CANCELLED)
    # sh exec'd sleep: its pid is the process group.
    assert_group_gone(pid)


def test_cancel_before(worker, tmp_path):
    marker = tmp_path / 'ran'
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    call = Call(worker, ['sh', '-c', f'touch {marker}'], cancellable=cancellable)
    with pytest.raises(GLib.Error) as excinfo:
        call.wait()
    assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.CANCELLED)

    # Give a child that should not exist time to show itself.
    assert spawn(worker, ['sleep', '0.2']).check()
    assert not marker.exists()


def test_cancel_right_after_call(worker, tmp_path):
    # Cancelled while the command is queued or being spawned: whether or
    # not the child got to start, the call fails with CANCELLED and no
    # process is left.
    calls = []
    for i in range(20):
        pid_file = tmp_path / f'{i}.pid'
        cancellable = Gio.Cancellable()
        calls.append((Call(worker, ['sh', '-c', f'echo $$ > {pid_file}; exec sleep 100'],
                           cancellable=cancellable), pid_file))
        cancellable.cancel()
    for call, _ in calls:
        with pytest.raises(GLib.Error) as excinfo:
            call.wait()
        assert_error(excinfo.value, IO_ERROR, Gio.IOErrorEnum.CANCELLED)

    # The helper handles commands in order: once this one ran, every
    # child of the cancelled calls that was going to start has started.
    assert spawn(worker, ['sleep', '0.2']).check()
    # A child killed between creating its pid file and writing to it
    # leaves the file empty.
    texts = [pid_file.read_text() for _, pid_file in calls if pid_file.exists()]
    started = [int(text) for text in texts if text.endswith('\n')]
    if started:
        assert_groups_gone(started)


def test_binary_output(worker):
    result = spawn(worker, ['printf', r'\000\377\376abc'])
    assert result.get_stdout_bytes().get_data() == b'\x00\xff\xfeabc'
    assert result.get_stdout() == '\ufffd\ufffd\ufffdabc'


def test_random_output(worker, tmp_path):
    copy = tmp_path / 'random'
    result = spawn(worker, ['sh', '-c', f'head -c 1048576 /dev/urandom | tee {copy}'])
    assert result.check()
    data = result.get_stdout_bytes().get_data()
    assert len(data) == MiB
    assert data == copy.read_bytes()
    text = result.get_stdout()
    assert text.encode('utf-8')  # valid text, no lone surrogates
    assert '\ufffd' in text


def test_large_output(worker):
    size = 64 * MiB
    result = spawn(worker, ['head', '-c', str(size), '/dev/zero'])
    assert result.check()
    data = result.get_stdout_bytes().get_data()
    assert len(data) == size
    assert data.count(0) == size
    assert not result.get_output_truncated()


def test_bytes_argv(worker):
    # argv is an array of file names: bytes in no particular encoding.
    result = spawn(worker, [b'printf', b'%s|%s', b'caf\xe9', 'str'])
    assert result.check()
    assert result.get_stdout_bytes().get_data() == b'caf\xe9|str'


def test_non_utf8_cwd(worker, tmp_path):
    directory = os.fsencode(tmp_path) + b'/dir\xff'
    os.mkdir(directory)
    opts = Sa.SpawnOptions()
    opts.set_cwd(directory)
    # The exact name comes back, as a str with a surrogate escape: no
    # UnicodeDecodeError. The property, UTF-8 like every string
    # property, shows the invalid byte as U+FFFD.
    assert os.fsencode(opts.get_cwd()) == directory
    assert opts.props.cwd == os.fsdecode(tmp_path) + '/dir\ufffd'
    result = spawn(worker, ['pwd'], opts)
    assert result.check()
    assert result.get_stdout_bytes().get_data() == os.path.realpath(directory) + b'\n'


def test_non_utf8_env(worker):
    opts = Sa.SpawnOptions()
    opts.set_env([b'VALUE=\xfe\xff', 'PATH=' + os.environ['PATH']])
    assert [os.fsencode(e) for e in opts.get_env()][0] == b'VALUE=\xfe\xff'
    assert opts.props.env[0] == 'VALUE=\ufffd\ufffd'
    result = spawn(worker, ['sh', '-c', 'printf %s "$VALUE"'], opts)
    assert result.get_stdout_bytes().get_data() == b'\xfe\xff'
