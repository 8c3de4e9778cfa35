#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs vte-terminal.js --test on a display of its own, under Xvfb.

Usage: run-vte-example.py GJS VTE-TERMINAL-JS

Starts Xvfb on a free display (Xvfb picks it and reports it through
-displayfd), runs `GJS -m VTE-TERMINAL-JS --test` there, and always
stops Xvfb. Exits with the example's status, or 1 when it times out or
when Xvfb or the Vte 2.91 typelib is not installed (a missing tool fails,
as for every example): on Debian, `apt-get install xvfb gir1.2-vte-2.91`,
which the README's test command does.
"""

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile

MISSING = 1
XVFB_START_TIMEOUT = 30   # seconds
EXAMPLE_TIMEOUT = 60      # seconds; the example itself gives up after 20


def missing(message):
    print(f'MISSING: {message}')
    return MISSING


def vte_missing(gjs):
    """Why GJS cannot load Vte 2.91 (with GTK 3), or None when it can."""
    check = subprocess.run(
        [gjs, '-c', "imports.gi.versions.Gtk = '3.0'; imports.gi.versions.Vte = '2.91'; "
                    'imports.gi.Vte;'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors='replace',
        timeout=EXAMPLE_TIMEOUT, check=False)
    if check.returncode == 0:
        return None
    return check.stdout.strip() or f'gjs exited with status {check.returncode}'


def start_xvfb(log):
    """Starts Xvfb on a display it chooses; returns (process, display number)."""
    read_end, write_end = os.pipe()
    try:
        xvfb = subprocess.Popen(
            ['Xvfb', '-displayfd', str(write_end), '-screen', '0', '1024x768x24',
             '-nolisten', 'tcp'],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=[write_end])
        os.close(write_end)
        write_end = -1
        # Xvfb writes the number and a newline once it accepts connections;
        # the pipe ends without them if it exits first.
        number = b''
        while not number.endswith(b'\n'):
            ready, _, _ = select.select([read_end], [], [], XVFB_START_TIMEOUT)
            chunk = os.read(read_end, 16) if ready else b''
            if not chunk:
                xvfb.kill()
                xvfb.wait()
                raise RuntimeError('Xvfb did not start' if ready else 'Xvfb did not report a display')
            number += chunk
        return xvfb, int(number)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def main():
    gjs, script = sys.argv[1], sys.argv[2]

    if shutil.which('Xvfb') is None:
        return missing('Xvfb is not installed (Debian: xvfb)')
    why = vte_missing(gjs)
    if why is not None:
        return missing(f'gjs cannot load Vte 2.91 (Debian: gir1.2-vte-2.91):\n{why}')

    with tempfile.TemporaryFile(mode='w+') as xvfb_log:
        try:
            xvfb, display = start_xvfb(xvfb_log)
        except RuntimeError as e:
            xvfb_log.seek(0)
            print(f'{e}:\n{xvfb_log.read()}', file=sys.stderr)
            return 1

        try:
            env = dict(os.environ, DISPLAY=f':{display}', GDK_BACKEND='x11', NO_AT_BRIDGE='1')
            env.pop('WAYLAND_DISPLAY', None)
            # Its own process group, to stop whatever it started on a
            # timeout; not its own session (start_new_session): a session
            # leader would make the terminal it opens its own controlling
            # terminal, and the shell could not.
            if sys.version_info >= (3, 11):
                group = {'process_group': 0}
            else:
                group = {'preexec_fn': os.setpgrp}
            example = subprocess.Popen([gjs, '-m', script, '--test'], env=env,
                                       stdin=subprocess.DEVNULL, **group)
            try:
                status = example.wait(timeout=EXAMPLE_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(example.pid, signal.SIGKILL)
                example.wait()
                print(f'{script} did not end within {EXAMPLE_TIMEOUT} s', file=sys.stderr)
                return 1
            if status != 0:
                print(f'{script} exited with status {status}', file=sys.stderr)
                return 1
            return 0
        finally:
            xvfb.terminate()
            try:
                xvfb.wait(timeout=10)
            except subprocess.TimeoutExpired:
                xvfb.kill()
                xvfb.wait()


if __name__ == '__main__':
    sys.exit(main())
