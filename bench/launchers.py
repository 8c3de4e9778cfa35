#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a launcher costs, side by side in one run: the same SaWorker
calls with no launcher, a launcher that passes fd 3 on
(`sh -c 'exec "$@"' sh`), one that does not, so that the helper speaks
over its stdin and stdout (`sh -c 'exec "$@" 3>&-' sh`, every pipe
relayed), and the launcher in SA_TEST_LAUNCHER if set (shell-quoted; run
this under tests/remote/test-ssh.py for ssh to a private sshd on
127.0.0.1).

For each: the time to a ready worker, the median of REPS sequential
`true` (end to end, callback included), and one capture of MIB MiB of
/dev/zero. Run it against the build tree (from the build directory):

    meson devenv -C _build /usr/bin/python3 ../bench/launchers.py
    meson devenv -C _build /usr/bin/python3 ../tests/remote/test-ssh.py \\
        /usr/bin/python3 ../bench/launchers.py

Usage: launchers.py [REPS [MIB]]   (defaults: 300, 256)
"""

import os
import shlex
import statistics
import sys
import time

import gi
gi.require_version('Sa', '1.0')
from gi.repository import GLib, Sa  # noqa: E402

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 256


def run(worker, argv):
    box = []
    worker.aspawn_async(argv, None, None, lambda w, res: box.append(w.aspawn_finish(res)))
    context = GLib.MainContext.default()
    while not box:
        context.iteration(True)
    return box[0]


launchers = [
    ('no launcher', None),
    ('launcher, fd 3 passed on', ['sh', '-c', 'exec "$@"', 'sh']),
    ('launcher, byte stream', ['sh', '-c', 'exec "$@" 3>&-', 'sh']),
]
if os.environ.get('SA_TEST_LAUNCHER'):
    launchers.append((os.environ['SA_TEST_LAUNCHER'].split()[0] + ' (SA_TEST_LAUNCHER)',
                      shlex.split(os.environ['SA_TEST_LAUNCHER'])))

print(f'| launcher | worker ready | `true`, median of {REPS} | {MIB} MiB captured |')
print('|---|---|---|---|')
for name, launcher in launchers:
    started = time.perf_counter()
    worker = Sa.Worker(launcher=launcher) if launcher else Sa.Worker()
    worker.init(None)
    ready = time.perf_counter() - started
    for _ in range(20):
        run(worker, ['true'])
    times = []
    for _ in range(REPS):
        started = time.perf_counter()
        run(worker, ['true'])
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    result = run(worker, ['head', '-c', str(MIB << 20), '/dev/zero'])
    capture = time.perf_counter() - started
    assert result.get_stdout_bytes().get_size() == MIB << 20
    worker.destroy()
    print(f'| {name} | {ready * 1e3:.0f} ms | {statistics.median(times) * 1e3:.2f} ms '
          f'| {capture * 1e3:.0f} ms ({MIB / capture:.0f} MiB/s) |')
