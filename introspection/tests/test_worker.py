# SPDX-License-Identifier: LGPL-2.1-or-later
"""The tests of node-spawn-async, ported to PyGObject."""

import os
import signal

import pytest
from gi.repository import GLib, Gio, Sa

from conftest import (
    IO_ERROR, SA_SPAWN_ERROR, SA_WORKER_ERROR, SPAWN_ERROR, SPAWN_EXIT_ERROR,
    Call, assert_error, assert_groups_gone, assert_pid_gone, read_pid_file,
    spawn, wait_for,
)


def env_options(env):
    options = Sa.SpawnOptions()
    options.set_env(env)
    return options


@pytest.mark.parametrize('argv, options, domain, code, named', [
    pytest.param([], None, IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT, '',
                 id='empty-argv'),
    pytest.param(['true'], env_options(['PATH=/usr/bin:/bin', 'NOEQUALSIGN']),
                 IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT, 'NOEQUALSIGN',
                 id='env-without-equal-sign'),
    pytest.param(['sa-no-such-program'], None, SPAWN_ERROR, GLib.SpawnError.NOENT,
                 'sa-no-such-program', id='no-such-program'),
    pytest.param(['true'], Sa.SpawnOptions(kill_signal=0), IO_ERROR,
                 Gio.IOErrorEnum.INVALID_ARGUMENT, '0', id='kill-signal-0'),
])
def test_invalid_arguments(worker, argv, options, domain, code, named):
    call = Call(worker, argv, options)
    with pytest.raises(GLib.Error) as excinfo:
        call.wait()
    assert_error(excinfo.value, domain, code)
    assert named in excinfo.value.message

    result = spawn(worker, ['echo', 'still working'])
    assert result.get_stdout() == 'still working\n'


def test_echo(worker):
    result = spawn(worker, ['echo', 'hello world'])
    assert result.get_stdout() == 'hello world\n'
    assert result.get_stderr() == ''
    assert result.get_if_exited()
    assert result.get_exit_status() == 0
    assert not result.get_if_signaled()
    assert result.get_successful()
    assert result.check()


def test_inherited_environment(worker, monkeypatch):
    value = f'inherited-{os.getpid()}-{GLib.random_int()}'
    monkeypatch.setenv('SA_PY_TEST_VAR', value)
    GLib.setenv('SA_PY_TEST_VAR', value, True)
    try:
        result = spawn(worker, ['sh', '-c', 'echo "$SA_PY_TEST_VAR"'])
        assert result.get_stdout() == value + '\n'

        result = spawn(worker, ['env'])
        assert f'SA_PY_TEST_VAR={value}' in result.get_stdout().splitlines()
    finally:
        GLib.unsetenv('SA_PY_TEST_VAR')


def test_custom_environment(worker):
    result = spawn(worker, ['env'], env_options(['USER=someone_else']))
    assert result.get_stdout() == 'USER=someone_else\n'
    assert result.get_exit_status() == 0


def test_exit_status(worker):
    result = spawn(worker, ['grep'])
    assert result.get_if_exited()
    assert result.get_exit_status() == 2
    assert not result.get_successful()
    assert result.get_stdout() == ''
    assert 'usage' in result.get_stderr().lower()
    with pytest.raises(GLib.Error) as excinfo:
        result.check()
    assert_error(excinfo.value, SPAWN_EXIT_ERROR, 2, 'child exited with status 2')


def test_killed_by_signal(worker):
    result = spawn(worker, ['sh', '-c', 'echo out; echo err >&2; kill -USR2 $$'])
    assert result.get_stdout() == 'out\n'
    assert result.get_stderr() == 'err\n'
    assert result.get_if_signaled()
    assert not result.get_if_exited()
    assert result.get_exit_status() == -1
    assert result.get_term_sig() == signal.SIGUSR2 == 12
    assert not result.get_successful()
    with pytest.raises(GLib.Error) as excinfo:
        result.check()
    assert_error(excinfo.value, SA_SPAWN_ERROR, Sa.SpawnError.SIGNALED,
                 'child killed by signal SIGUSR2')
    assert excinfo.value.domain == 'sa-spawn-error-quark'


def test_helper_killed(worker, tmp_path):
    exits = []
    worker.connect('exit', lambda w, error: exits.append(error))
    notified = []
    worker.connect('notify::helper-pid', lambda w, pspec: notified.append(w.props.helper_pid))
    old_helper = worker.props.helper_pid
    assert old_helper > 0

    pid_file = tmp_path / 'sleep.pid'
    call = Call(worker, ['sh', '-c', f'echo $$ > {pid_file}; exec sleep 10'])
    sleep_pid = read_pid_file(pid_file)

    os.kill(old_helper, signal.SIGKILL)

    with pytest.raises(GLib.Error) as excinfo:
        call.wait()
    assert_error(excinfo.value, SA_WORKER_ERROR, Sa.WorkerError.EXITED,
                 'worker process exited unexpectedly')

    wait_for(lambda: exits, 'the exit signal')
    assert len(exits) == 1
    assert_error(exits[0], SA_WORKER_ERROR, Sa.WorkerError.EXITED,
                 'worker process exited unexpectedly')

    wait_for(lambda: worker.props.helper_pid not in (0, old_helper), 'a new helper')
    new_helper = worker.props.helper_pid
    wait_for(lambda: new_helper in notified, 'notify::helper-pid for the new helper')
    assert old_helper not in notified
    assert_pid_gone(old_helper)
    assert_pid_gone(sleep_pid)

    result = spawn(worker, ['echo', 'after restart'])
    assert result.get_stdout() == 'after restart\n'
    assert worker.props.helper_pid == new_helper
    assert len(exits) == 1


def test_destroy_pending(worker, tmp_path):
    exits = []
    worker.connect('exit', lambda w, error: exits.append(error))
    helper = worker.props.helper_pid

    pid_file = tmp_path / 'sleep.pid'
    call = Call(worker, ['sh', '-c', f'echo $$ > {pid_file}; exec sleep 10'])
    sleep_pid = read_pid_file(pid_file)

    worker.destroy()
    assert worker.props.helper_pid == 0
    with pytest.raises(GLib.Error) as excinfo:
        call.wait()
    assert_error(excinfo.value, SA_WORKER_ERROR, Sa.WorkerError.DESTROYED,
                 'worker process was destroyed')
    assert exits == [None]

    later = Call(worker, ['true'])
    with pytest.raises(GLib.Error) as excinfo:
        later.wait()
    assert_error(excinfo.value, SA_WORKER_ERROR, Sa.WorkerError.DESTROYED,
                 'worker process was destroyed')
    assert exits == [None]

    assert_pid_gone(sleep_pid)
    assert_pid_gone(helper)


def test_many_in_flight(worker):
    n = 200
    calls = [Call(worker, ['sh', '-c', f'echo {i}']) for i in range(n)]
    results = [call.wait() for call in calls]
    for i, result in enumerate(results):
        assert result.get_stdout() == f'{i}\n'
        assert result.get_exit_status() == 0
    pids = {result.get_pid() for result in results}
    assert len(pids) == n
    assert_groups_gone(pids)
