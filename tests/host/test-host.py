#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sa_worker_new_for_host() with the real Flatpak pieces: a private
`dbus-daemon --session` runs `flatpak-session-helper` (the real
org.freedesktop.Flatpak HostCommand); the application is host-client,
run in a bubblewrap sandbox with /.flatpak-info, its helper under /app
(which the host does not have), and a directory of the host hidden. Host
mode must see that directory, the sandbox must not; terminals, exit
statuses, signals and live processes must work on the host; and the
host's commands must die when the application is killed.

Usage: test-host.py HOST_CLIENT HELPER (TAP on stdout)
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FLATPAK_SPAWN_DIRS = ['/usr/libexec/flatpak-xdg-utils', '/usr/bin']
SESSION_HELPER = '/usr/libexec/flatpak-session-helper'

client, helper = sys.argv[1:3]
checks = []


def skip_all(why):
    print('1..0 # SKIP ' + why)
    sys.exit(0)


def check(name, ok, detail=''):
    checks.append(ok)
    print(f'{"ok" if ok else "not ok"} {len(checks)} {name}' + (f' # {detail}' if detail else ''))


flatpak_spawn = next((os.path.join(d, 'flatpak-spawn') for d in FLATPAK_SPAWN_DIRS
                      if os.access(os.path.join(d, 'flatpak-spawn'), os.X_OK)), None)
missing = [name for name, path in [('bwrap', shutil.which('bwrap')),
                                   ('dbus-daemon', shutil.which('dbus-daemon')),
                                   ('flatpak-spawn (flatpak-xdg-utils)', flatpak_spawn),
                                   ('flatpak-session-helper (flatpak)',
                                    SESSION_HELPER if os.access(SESSION_HELPER, os.X_OK) else None)]
           if path is None]
if missing:
    skip_all('not installed: ' + ', '.join(missing))
if subprocess.run(['bwrap', '--dev-bind', '/', '/', '--unshare-pid', 'true'],
                  capture_output=True, check=False).returncode != 0:
    skip_all('bwrap cannot make namespaces here')

work = tempfile.mkdtemp(prefix='sa-host-')
services = []
try:
    runtime = os.path.join(work, 'runtime')
    hidden = os.path.join(work, 'host-only')
    os.makedirs(runtime, mode=0o700)
    os.makedirs(hidden)
    marker = os.path.join(hidden, 'marker')
    open(marker, 'w').close()
    info = os.path.join(work, 'flatpak-info')
    with open(info, 'w') as f:
        f.write('[Application]\nname=org.gnome.SpawnAsyncTest\n')

    bus = os.path.join(work, 'bus')
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS='unix:path=' + bus,
               XDG_RUNTIME_DIR=runtime)
    # The system's programs get the system's libraries: a sanitizer run
    # points LD_LIBRARY_PATH at an instrumented GLib they cannot load.
    system_env = {k: v for k, v in env.items() if k != 'LD_LIBRARY_PATH'}
    tools = os.path.join(work, 'bin')
    os.makedirs(tools)
    with open(os.path.join(tools, 'flatpak-spawn'), 'w') as f:
        f.write(f'#!/bin/sh\nunset LD_LIBRARY_PATH\nexec {flatpak_spawn} "$@"\n')
    os.chmod(os.path.join(tools, 'flatpak-spawn'), 0o755)
    services.append(subprocess.Popen(['dbus-daemon', '--session', '--nofork',
                                      '--address=unix:path=' + bus],
                                     stdout=subprocess.DEVNULL, env=system_env))
    deadline = time.monotonic() + 10
    while not os.path.exists(bus):
        if time.monotonic() > deadline:
            raise SystemExit('Bail out! dbus-daemon did not start')
        time.sleep(0.02)
    services.append(subprocess.Popen([SESSION_HELPER], env=system_env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    # The sandbox's root is bwrap's own tmpfs with the host's top-level
    # directories bound in: /.flatpak-info and /app are made there, never
    # on the host's root (binding / itself would create them on it).
    root = []
    for name in sorted(os.listdir('/')):
        path = '/' + name
        if name in ('proc', 'dev', 'app', '.flatpak-info'):
            continue
        if os.path.islink(path):
            root += ['--symlink', os.readlink(path), path]
        elif os.path.isdir(path):
            root += ['--dev-bind', path, path]
        else:
            root += ['--ro-bind', path, path]
    sandbox = ['bwrap', *root, '--dev-bind', '/dev', '/dev', '--proc', '/proc',
               '--unshare-pid', '--die-with-parent',
               '--tmpfs', hidden,
               '--ro-bind', info, '/.flatpak-info',
               '--ro-bind', helper, '/app/libexec/spawn-async-helper',
               '--setenv', 'SPAWN_ASYNC_HELPER', '/app/libexec/spawn-async-helper',
               '--setenv', 'PATH', tools + ':' + os.environ['PATH'],
               '--']

    def run_client(*args, timeout=60):
        return subprocess.run(sandbox + [client, marker, *args], env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    # The session helper takes a moment to own its name.
    for attempt in range(50):
        done = run_client()
        if done.returncode == 0 or 'ServiceUnknown' not in done.stderr:
            break
        time.sleep(0.1)
    print(f'# {done.stderr.strip()}' if done.stderr.strip() else '# client ok')
    lines = done.stdout.splitlines()
    check('the client ran', done.returncode == 0, f'exit {done.returncode}')
    check('the sandbox hides the host directory', 'marker in the sandbox: no' in lines)
    check('host mode sees it', 'marker on the host: yes' in lines)
    host_pid = next((int(l.split()[-1]) for l in lines if l.startswith('host pid: ')), 0)
    check('pids are the host\'s', host_pid > 100, f'pid {host_pid}')
    check('a terminal on the host', 'stdout: a terminal' in lines)
    check('exit statuses as they are', 'exit status: 7' in lines)
    check('a signal reaches a live process', 'signalled: 15' in lines)
    copies = os.listdir(os.path.join(runtime, 'app', 'org.gnome.SpawnAsyncTest'))
    check('the helper was copied for the host', any(c.startswith('spawn-async-helper-') for c in copies),
          ', '.join(copies))

    done = run_client('--async')
    check('the async constructor', done.returncode == 0 and 'marker on the host: yes' in done.stdout,
          done.stderr.strip()[-200:])

    # Killed, the application takes its host commands with it.
    seconds = f'1000.{os.getpid()}'
    app = subprocess.Popen(sandbox + [client, marker, '--orphan', seconds], env=env,
                           stdout=subprocess.PIPE, text=True)
    ready = app.stdout.readline().strip() == 'waiting'

    def alive():
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    if seconds.encode() in f.read().split(b'\0'):
                        with open(f'/proc/{pid}/stat') as s:
                            if ') Z ' not in s.read():
                                return True
            except OSError:
                pass
        return False

    deadline = time.monotonic() + 10
    while ready and not alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = ready and alive()
    app.send_signal(signal.SIGKILL)
    app.wait()
    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    check('the host command ran, and died with the application', started and not alive())
finally:
    for service in reversed(services):
        service.terminate()
        service.wait()
    shutil.rmtree(work, ignore_errors=True)

print(f'1..{len(checks)}')
sys.exit(0 if all(checks) else 1)
