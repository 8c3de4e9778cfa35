#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SaWorker:launcher = ssh HOST, with a real sshd: it listens on
127.0.0.1 only, on a free port, with host and client keys made for the
test, and the client checks the host key. The helper then speaks over
the ssh channel's byte stream (stdin and stdout): the stream suite
(test-stream) runs through it, so output, input, exit statuses, limits,
timeouts, cancels, live processes' streams and the clear errors for
what needs descriptors are checked over ssh.

Usage: test-ssh.py PROGRAM [ARGUMENT...]: runs PROGRAM with
SA_TEST_LAUNCHER set to the ssh launcher (shell-quoted), and exits with
its status; meson runs `test-stream --tap` so (TAP on stdout, test-stream's).
bench/launchers.py takes the same variable.
"""

import getpass
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SSHD = '/usr/sbin/sshd'

command = sys.argv[1:]


def skip_all(why):
    print('1..0 # SKIP ' + why)
    sys.exit(0)


missing = [name for name, path in [('sshd (openssh-server)', SSHD if os.access(SSHD, os.X_OK) else None),
                                   ('ssh and ssh-keygen (openssh-client)',
                                    shutil.which('ssh') and shutil.which('ssh-keygen'))]
           if path is None]
if missing:
    skip_all('not installed: ' + ', '.join(missing))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f'Bail out! sshd exited with status {process.returncode}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f'Bail out! sshd does not listen on 127.0.0.1:{port}')


work = tempfile.mkdtemp(prefix='sa-ssh-')
sshd = None
try:
    os.chmod(work, 0o700)
    host_key = os.path.join(work, 'host_key')
    client_key = os.path.join(work, 'client_key')
    for key in (host_key, client_key):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key], check=True)
    authorized = os.path.join(work, 'authorized_keys')
    shutil.copy(client_key + '.pub', authorized)
    port = free_port()
    with open(host_key + '.pub') as f:
        host_public = ' '.join(f.read().split()[:2])
    known_hosts = os.path.join(work, 'known_hosts')
    with open(known_hosts, 'w') as f:
        f.write(f'[127.0.0.1]:{port} {host_public}\n')

    # bash reads ~/.bashrc for ssh's commands: the user's own start-up
    # files (slow, or printing) are not what this tests.
    home = os.path.join(work, 'home')
    os.makedirs(home)
    config = os.path.join(work, 'sshd_config')
    with open(config, 'w') as f:
        f.write(f'''ListenAddress 127.0.0.1
Port {port}
HostKey {host_key}
AuthorizedKeysFile {authorized}
PidFile {os.path.join(work, 'sshd.pid')}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PrintMotd no
SetEnv HOME={home}
LogLevel ERROR
''')
    if os.geteuid() == 0:
        os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
    sshd = subprocess.Popen([SSHD, '-D', '-e', '-f', config], stdin=subprocess.DEVNULL)
    wait_for_port(port, sshd)

    launcher = ['ssh', '-F', '/dev/null', '-p', str(port), '-i', client_key,
                '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
                '-o', 'StrictHostKeyChecking=yes', '-o', f'UserKnownHostsFile={known_hosts}',
                '-o', 'LogLevel=ERROR', f'{getpass.getuser()}@127.0.0.1']
    # The channel works at all: a clear failure here beats one per test.
    probe = subprocess.run(launcher + ['true'], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        sys.exit('Bail out! ssh to the test sshd fails: ' + probe.stderr.strip())

    env = dict(os.environ, SA_TEST_LAUNCHER=shlex.join(launcher))
    sys.stdout.flush()
    status = subprocess.run(command, env=env, check=False).returncode
finally:
    if sshd is not None:
        sshd.terminate()
        try:
            sshd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sshd.kill()
            sshd.wait()
    shutil.rmtree(work, ignore_errors=True)
sys.exit(status)
