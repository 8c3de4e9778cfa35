# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures and helpers for the PyGObject tests of spawn-async.

Commands run through Sa.Worker.aspawn_async() with a plain callback, and
the default main context is iterated until the callback has run. Every
wait is bounded, so a lost callback fails the test instead of hanging.
"""

import os
import time

import gi
import pytest

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Sa', '1.0')
from gi.repository import GLib, Gio, Sa  # noqa: E402

# Upper bound for one command or one wait; generous, the machine is shared.
CALL_TIMEOUT_S = 60
GONE_TIMEOUT_S = 5

IO_ERROR = Gio.io_error_quark()
SPAWN_ERROR = GLib.spawn_error_quark()
SPAWN_EXIT_ERROR = GLib.spawn_exit_error_quark()
SA_SPAWN_ERROR = Sa.spawn_error_quark()
SA_WORKER_ERROR = Sa.worker_error_quark()


def wait_for(predicate, what, timeout=CALL_TIMEOUT_S):
    """Iterates the default main context until predicate() is true."""
    context = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    # Wakes the blocking iteration up now and then to look at the clock
    # and at conditions that no source reports (files, /proc).
    tick = GLib.timeout_add(10, lambda: GLib.SOURCE_CONTINUE)
    try:
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}')
            context.iteration(True)
    finally:
        GLib.source_remove(tick)


class Call:
    """One aspawn_async() call and what its callback got."""

    def __init__(self, worker, argv, options=None, cancellable=None):
        self.argv = argv
        self.calls = 0
        self.result = None
        self.error = None
        worker.aspawn_async(argv, options, cancellable, self._on_done)

    def _on_done(self, worker, res):
        self.calls += 1
        try:
            self.result = worker.aspawn_finish(res)
        except GLib.Error as error:
            self.error = error

    @property
    def done(self):
        return self.calls > 0

    def wait(self, timeout=CALL_TIMEOUT_S):
        """Waits for the callback; returns the result or raises its GLib.Error."""
        wait_for(lambda: self.done, f'the callback of {self.argv!r}', timeout)
        assert self.calls == 1, f'the callback of {self.argv!r} ran {self.calls} times'
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def spawn(worker, argv, options=None, cancellable=None):
    """Runs argv; returns its Sa.Result once no process of its group is left."""
    result = Call(worker, argv, options, cancellable).wait()
    assert result.get_pid() > 0
    assert_group_gone(result.get_pid())
    return result


def assert_error(error, domain, code, message=None):
    """Checks a GLib.Error's domain (a quark), code and, if given, message."""
    assert isinstance(error, GLib.Error), f'expected a GLib.Error, got {error!r}'
    assert error.matches(domain, code), \
        f'expected {GLib.quark_to_string(domain)} code {code}, got {error!r}'
    if message is not None:
        assert error.message == message


# -- processes -----------------------------------------------------------------

def _proc_stat(pid):
    """(state, pgrp) of a process, or None when there is none."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(b')') + 2:].split()
    return fields[0].decode(), int(fields[2])


def _live(stat):
    return stat is not None and stat[0] not in ('Z', 'X')


def pid_alive(pid):
    """Whether pid is a live process (a zombie counts as gone)."""
    return _live(_proc_stat(pid))


def group_members(pgids):
    """The live processes whose process group is in pgids."""
    pgids = set(pgids)
    members = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            stat = _proc_stat(name)
            if _live(stat) and stat[1] in pgids:
                members.append(int(name))
    return members


def assert_groups_gone(pgids, timeout=GONE_TIMEOUT_S):
    """Fails unless every process group in pgids is empty within timeout."""
    pgids = set(pgids)
    assert all(pgid > 0 for pgid in pgids)
    deadline = time.monotonic() + timeout
    while True:
        left = group_members(pgids)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f'processes {left} of groups {sorted(pgids)} are still running')
        time.sleep(0.02)


def assert_group_gone(pgid, timeout=GONE_TIMEOUT_S):
    assert_groups_gone([pgid], timeout)


def assert_pid_gone(pid, timeout=GONE_TIMEOUT_S):
    assert pid > 0
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f'process {pid} is still running')
        time.sleep(0.02)


def read_pid_file(path, timeout=CALL_TIMEOUT_S):
    """Waits for a child to write its pid ("echo $$ > path") and returns it,
    iterating the main context meanwhile."""
    pid = 0

    def ready():
        nonlocal pid
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return False
        if text.endswith('\n'):
            pid = int(text)
        return pid > 0

    wait_for(ready, f'a pid in {path}', timeout)
    return pid


# -- fixtures ------------------------------------------------------------------

@pytest.fixture
def worker():
    """A worker, destroyed after the test; its helpers must be gone then."""
    worker = Sa.Worker.new(None)
    helpers = {worker.props.helper_pid}
    handler = worker.connect('notify::helper-pid',
                             lambda w, pspec: helpers.add(w.props.helper_pid))
    yield worker
    worker.destroy()
    worker.disconnect(handler)
    assert worker.props.helper_pid == 0
    for pid in helpers - {0}:
        assert_pid_gone(pid)


def options(**props):
    opts = Sa.SpawnOptions()
    for name, value in props.items():
        opts.set_property(name.replace('_', '-'), value)
    return opts


class Wait:
    """One wait_async() and what its callback got."""

    def __init__(self, process, cancellable=None, check=False):
        self.calls = 0
        self.error = None
        self.check = check
        if check:
            process.wait_check_async(cancellable, self._on_done)
        else:
            process.wait_async(cancellable, self._on_done)

    def _on_done(self, process, res):
        self.calls += 1
        try:
            if self.check:
                process.wait_check_finish(res)
            else:
                process.wait_finish(res)
        except GLib.Error as error:
            self.error = error

    def wait(self):
        wait_for(lambda: self.calls > 0, 'the wait')
        assert self.calls == 1
        if self.error is not None:
            raise self.error
