# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sa.Worker:launcher from Python: the helper in a bubblewrap container
(new mount and pid namespaces), as docs/hosts.md shows it."""

import shutil
import subprocess

import pytest
from gi.repository import Sa

from conftest import spawn


def bwrap_refused():
    if shutil.which('bwrap') is None:
        return 'bwrap (bubblewrap) is not installed'
    done = subprocess.run(['bwrap', '--dev-bind', '/', '/', '--unshare-pid', 'true'],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f'bwrap cannot make namespaces here: {done.stderr.strip()}'
    return None


pytestmark = pytest.mark.skipif(bwrap_refused() is not None, reason=str(bwrap_refused()))


@pytest.fixture
def hidden(tmp_path):
    """A directory with a file the container does not see."""
    (tmp_path / 'only-on-the-host').write_text('')
    return tmp_path


@pytest.fixture
def container(hidden):
    launcher = ['bwrap', '--dev-bind', '/', '/', '--proc', '/proc',
                '--unshare-pid', '--die-with-parent', '--tmpfs', str(hidden), '--']
    worker = Sa.Worker(launcher=launcher)
    worker.init(None)
    yield worker
    worker.destroy()


def test_launcher_property(container, hidden):
    assert container.props.launcher[0] == 'bwrap'
    assert container.props.launcher[-1] == '--'
    assert container.props.helper_pid > 0


def test_container_files_and_pids(container, worker, hidden):
    marker = str(hidden / 'only-on-the-host')
    assert spawn(worker, ['test', '-e', marker]).get_successful()
    inside = spawn(container, ['test', '-e', marker])
    assert inside.get_if_exited() and inside.get_exit_status() == 1

    pid = spawn(container, ['sh', '-c', 'echo $$'])
    assert int(pid.get_stdout()) < 100


def test_live_process_in_the_container(container):
    options = Sa.SpawnOptions(stdin_mode=Sa.Stdio.PIPE)
    process = container.spawn(['cat'], options, None)
    process.get_stdin_pipe().write_all(b'across namespaces\n', None)
    process.get_stdin_pipe().close(None)
    data = b''
    while True:
        chunk = process.get_stdout_pipe().read_bytes(64, None).get_data()
        if not chunk:
            break
        data += chunk
    assert data == b'across namespaces\n'
    assert process.wait_check(None)
