# SPDX-License-Identifier: LGPL-2.1-or-later
"""A helper reached over a byte stream, from Python: a launcher that does
not pass fd 3 on, as ssh cannot (docs/hosts.md, "Other machines")."""

import pytest
from gi.repository import Gio, GLib, Sa

from conftest import Call, assert_error, spawn

# What ssh does to the helper's fd 3, without an sshd.
CLOSES_FD_3 = ['sh', '-c', 'exec "$@" 3>&-', 'sh']


@pytest.fixture
def remote():
    worker = Sa.Worker(launcher=CLOSES_FD_3)
    worker.init(None)
    yield worker
    worker.destroy()


def test_output_input_and_status(remote):
    data = bytes(range(256)) * 400          # more than one 32 KiB frame
    options = Sa.SpawnOptions()
    options.set_input(GLib.Bytes.new(data))
    echoed = spawn(remote, ['cat'], options)
    assert echoed.get_stdout_bytes().get_data() == data

    failed = spawn(remote, ['sh', '-c', 'echo out; echo err >&2; exit 3'])
    assert failed.get_stdout() == 'out\n'
    assert failed.get_stderr() == 'err\n'
    assert failed.get_if_exited() and failed.get_exit_status() == 3


def test_live_process_streams(remote):
    options = Sa.SpawnOptions(stdin_mode=Sa.Stdio.PIPE)
    process = remote.spawn(['cat'], options, None)
    process.get_stdin_pipe().write_all(b'over the stream\n', None)
    process.get_stdin_pipe().close(None)
    data = b''
    while True:
        chunk = process.get_stdout_pipe().read_bytes(64, None).get_data()
        if not chunk:
            break
        data += chunk
    assert data == b'over the stream\n'
    assert process.wait_check(None)


def test_what_needs_descriptors_is_not_supported(remote):
    options = Sa.SpawnOptions(stdout_mode=Sa.Stdio.INHERIT)
    with pytest.raises(GLib.Error) as raised:
        Call(remote, ['true'], options).wait()
    assert_error(raised.value, Gio.io_error_quark(), Gio.IOErrorEnum.NOT_SUPPORTED)
    assert 'byte stream' in raised.value.message
    # The worker goes on.
    assert spawn(remote, ['echo', 'still here']).get_stdout() == 'still here\n'
