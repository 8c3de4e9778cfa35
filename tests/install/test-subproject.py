#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-async as a meson subproject.

Copies SOURCE_ROOT into subprojects/spawn-async of a new project that
uses `dependency('spawn-async-1')` (resolved by the subproject's
meson.override_dependency()), builds it, and runs tests/install/consumer.c
with `meson devenv`, which must point the library at the subproject's
helper.

Usage: test-subproject.py SOURCE_ROOT VERSION
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CONSUMER_MESON = """\
# SPDX-License-Identifier: LGPL-2.1-or-later
project('spawn-async-consumer', 'c', meson_version: '>= 1.0.0')

subproject('spawn-async', default_options: [
  'tests=false', 'documentation=disabled', 'introspection=disabled',
])
executable('consumer', 'consumer.c',
  dependencies: dependency('spawn-async-1'),
)
"""


def run(argv, env, cwd=None):
    print('$ ' + shlex.join(argv), flush=True)
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          encoding='utf-8', errors='replace')
    if proc.returncode != 0:
        print(proc.stdout)
        sys.exit(f'{argv[0]} exited with status {proc.returncode}')
    return proc.stdout


def ignore_builds(directory, names):
    """Leaves out .git and build directories (those meson set up)."""
    return [name for name in names
            if name in ('.git', '__pycache__')
            or os.path.isdir(os.path.join(directory, name, 'meson-private'))]


def main():
    source_root, version = sys.argv[1:3]
    env = dict(os.environ)
    for name in ('SPAWN_ASYNC_HELPER', 'SPAWN_ASYNC_LOCALEDIR', 'LD_LIBRARY_PATH',
                 'GI_TYPELIB_PATH', 'PKG_CONFIG_PATH', 'LANGUAGE', 'MESONINTROSPECT'):
        env.pop(name, None)
    env['LC_ALL'] = 'C.UTF-8'

    with tempfile.TemporaryDirectory(prefix='spawn-async-subproject-') as tmp:
        project = os.path.join(tmp, 'consumer')
        shutil.copytree(source_root, os.path.join(project, 'subprojects', 'spawn-async'),
                        ignore=ignore_builds, symlinks=True)
        shutil.copy(os.path.join(HERE, 'consumer.c'), project)
        with open(os.path.join(project, 'meson.build'), 'w', encoding='utf-8') as f:
            f.write(CONSUMER_MESON)

        build = os.path.join(project, '_build')
        run(['meson', 'setup', build, project, '--wrap-mode=nodownload'], env)
        run(['meson', 'compile', '-C', build], env)
        output = run(['meson', 'devenv', '-C', build, os.path.join(build, 'consumer')], env)

        helper = os.path.join(build, 'subprojects', 'spawn-async', 'spawn-async',
                              'helper', 'spawn-async-helper')
        wanted = (f'helper: {helper}\n'
                  'output: spawn-async works\n'
                  'missing: Failed to execute “spawn-async-no-such-program”: '
                  'No such file or directory\n'
                  f'version: {version} {version}\n')
        if output != wanted:
            sys.exit(f'the consumer printed:\n{output}\ninstead of:\n{wanted}')
        print(output, end='')
    print('spawn-async works as a subproject')
    return 0


if __name__ == '__main__':
    sys.exit(main())
