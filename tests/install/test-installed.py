#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-async installed into a prefix, used as its users use it.

Configures a separate build of SOURCE_ROOT with --prefix set to a
temporary directory and installs it; checks the installed files; then,
with nothing but the prefix in the search paths and no
SPAWN_ASYNC_HELPER (the library must find its helper in libexecdir):

- builds tests/install/consumer.c and the C example with
  `pkg-config --cflags --libs spawn-async-1` and runs them, in English
  and, with the installed catalog, in German;
- runs the GJS and Python examples against the installed typelib;
- imports the spawn_async package with the prefix's own interpreter and
  no environment at all pointing at the prefix (no PYTHONPATH, no
  GI_TYPELIB_PATH, no LD_LIBRARY_PATH), and runs the asyncio examples.
  The prefix is a virtual environment (with the system's site packages,
  for gi) in which meson finds that interpreter first on PATH, as a
  user's would be;
- builds the Vala example against the installed VAPI and runs it.

Usage: test-installed.py SOURCE_ROOT VERSION
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


class Failure(Exception):
    pass


def log(message):
    print(message, flush=True)


def run(argv, env, cwd=None):
    log('$ ' + shlex.join(str(a) for a in argv))
    proc = subprocess.run([str(a) for a in argv], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, encoding='utf-8', errors='replace')
    if proc.returncode != 0:
        log(proc.stdout)
        raise Failure(f'{argv[0]} exited with status {proc.returncode}')
    return proc.stdout


def expect(what, got, wanted):
    if got != wanted:
        raise Failure(f'{what}:\n  got    {got!r}\n  wanted {wanted!r}')
    log(f'ok: {what}')


def base_env():
    """The environment without anything that points into a build tree."""
    env = dict(os.environ)
    for name in ('SPAWN_ASYNC_HELPER', 'SPAWN_ASYNC_LOCALEDIR', 'GI_TYPELIB_PATH',
                 'LD_LIBRARY_PATH', 'PKG_CONFIG_PATH', 'LANGUAGE', 'LC_ALL',
                 'MESONINTROSPECT', 'PYTHONPATH'):
        env.pop(name, None)
    env['LC_ALL'] = 'C.UTF-8'
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    return env


def read_lines(path):
    with open(path, encoding='utf-8') as f:
        return ''.join(line for line in f if not line.startswith('#'))


def find_libdir(prefix):
    for root, _dirs, files in os.walk(prefix):
        if 'libspawn-async-1.so' in files:
            return root
    raise Failure(f'no libspawn-async-1.so under {prefix}')


def check_files(prefix, libdir, with_docs):
    include = os.path.join(prefix, 'include', 'spawn-async-1')
    headers = sorted(os.listdir(include))
    expect('installed headers', headers, sorted([
        'sa-enums.h', 'sa-error.h', 'sa-process.h', 'sa-result.h', 'sa-spawn-options.h',
        'sa-version-macros.h', 'sa-version.h', 'sa-worker.h', 'spawn-async.h']))

    wanted = [
        os.path.join(libdir, 'libspawn-async-1.so.0'),
        os.path.join(libdir, 'pkgconfig', 'spawn-async-1.pc'),
        os.path.join(libdir, 'girepository-1.0', 'Sa-1.0.typelib'),
        os.path.join(prefix, 'share', 'gir-1.0', 'Sa-1.0.gir'),
        os.path.join(prefix, 'share', 'vala', 'vapi', 'spawn-async-1.vapi'),
        os.path.join(prefix, 'share', 'vala', 'vapi', 'spawn-async-1.deps'),
        os.path.join(prefix, 'libexec', 'spawn-async-helper'),
        os.path.join(prefix, 'share', 'locale', 'de', 'LC_MESSAGES', 'spawn-async-1.mo'),
        os.path.join(prefix, 'share', 'locale', 'fr', 'LC_MESSAGES', 'spawn-async-1.mo'),
    ]
    if with_docs:
        wanted += [
            os.path.join(prefix, 'share', 'doc', 'spawn-async-1', 'index.html'),
            os.path.join(prefix, 'share', 'doc', 'spawn-async-1', 'protocol.html'),
        ]
    missing = [path for path in wanted if not os.path.exists(path)]
    expect('missing installed files', missing, [])
    if not os.access(os.path.join(prefix, 'libexec', 'spawn-async-helper'), os.X_OK):
        raise Failure('the helper is not executable')


def make_german_locale(tmp, env):
    locales = os.path.join(tmp, 'locales')
    os.mkdir(locales)
    run(['localedef', '-i', 'de_DE', '-f', 'UTF-8',
         os.path.join(locales, 'de_DE.UTF-8')], env)
    return locales


def main():
    source_root, version = sys.argv[1:3]
    examples = os.path.join(source_root, 'introspection', 'examples')
    expected_output = read_lines(os.path.join(examples, 'expected-output.txt'))
    with_docs = shutil.which('gi-docgen') is not None

    with tempfile.TemporaryDirectory(prefix='spawn-async-install-') as tmp:
        prefix = os.path.join(tmp, 'prefix')
        build = os.path.join(tmp, 'build')
        env = base_env()

        run([sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip', prefix], env)
        prefix_python = os.path.join(prefix, 'bin', 'python3')
        setup_env = dict(env, PATH=os.path.join(prefix, 'bin') + os.pathsep + env['PATH'])
        run(['meson', 'setup', build, source_root, '--prefix', prefix,
             '-Dtests=false', '--wrap-mode=nodownload'], setup_env)
        run(['meson', 'install', '-C', build, '--quiet'], setup_env)

        libdir = find_libdir(prefix)
        check_files(prefix, libdir, with_docs)
        helper = os.path.join(prefix, 'libexec', 'spawn-async-helper')

        user = dict(env)
        user['PKG_CONFIG_PATH'] = os.path.join(libdir, 'pkgconfig')
        user['LD_LIBRARY_PATH'] = libdir
        user['GI_TYPELIB_PATH'] = os.path.join(libdir, 'girepository-1.0')

        expect('pkg-config --modversion',
               run(['pkg-config', '--modversion', 'spawn-async-1'], user).strip(), version)
        expect('pkg-config --variable=helper',
               run(['pkg-config', '--variable=helper', 'spawn-async-1'], user).strip(), helper)

        # C, with pkg-config
        flags = shlex.split(run(['pkg-config', '--cflags', '--libs', 'spawn-async-1'], user))
        cc = shlex.split(os.environ.get('CC', 'cc'))
        consumer = os.path.join(tmp, 'consumer')
        run([*cc, os.path.join(HERE, 'consumer.c'), '-o', consumer, *flags], user)
        expect('consumer, English', run([consumer], user),
               f'helper: {helper}\n'
               'output: spawn-async works\n'
               'missing: Failed to execute “spawn-async-no-such-program”: '
               'No such file or directory\n'
               # SA_VERSION_S, then SA_MAJOR_VERSION.SA_MINOR_VERSION.SA_MICRO_VERSION
               f'version: {version} {version}\n')

        german = dict(user, LC_ALL='de_DE.UTF-8', LOCPATH=make_german_locale(tmp, env))
        missing_de = [line for line in run([consumer], german).splitlines()
                      if line.startswith('missing: ')]
        expect('consumer, German, from the installed catalog', missing_de,
               ['missing: „spawn-async-no-such-program“ konnte nicht ausgeführt '
                'werden: Datei oder Verzeichnis nicht gefunden'])

        example_c = os.path.join(tmp, 'example-c')
        run([*cc, os.path.join(examples, 'example.c'), '-o', example_c, *flags], user)
        expect('C example', run([example_c], user), expected_output)

        # GJS and Python, with the installed typelib
        gjs_helper = run(['gjs', '-c', "imports.gi.versions.Sa = '1.0';"
                          "const {GLib, Sa} = imports.gi;"
                          "const worker = Sa.Worker.new(null);"
                          "print(GLib.file_read_link(`/proc/${worker.helper_pid}/exe`));"
                          "worker.destroy();"], user).strip()
        expect('GJS: the helper', gjs_helper, helper)
        expect('GJS example', run(['gjs', '-m', os.path.join(examples, 'example.js')], user),
               expected_output)
        expect('Python example',
               run([sys.executable, os.path.join(examples, 'example-callbacks.py')], user),
               expected_output)

        # The spawn_async package, with nothing in the environment
        package = run([prefix_python, '-c', 'import spawn_async, os; '
                       'print(os.path.dirname(spawn_async.__file__))'], env).strip()
        expect('spawn_async imported from the prefix', package,
               run([prefix_python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                   env).strip() + '/spawn_async')
        expect('Python asyncio example',
               run([prefix_python, os.path.join(examples, 'example-asyncio.py')], env),
               expected_output)
        expect('Python asyncio lines example',
               run([prefix_python, os.path.join(examples, 'lines-asyncio.py')], env),
               read_lines(os.path.join(examples, 'follow-expected.txt')))

        # Vala, with the installed VAPI
        example_vala = os.path.join(tmp, 'example-vala')
        run(['valac', '--vapidir', os.path.join(prefix, 'share', 'vala', 'vapi'),
             '--pkg', 'spawn-async-1', '-X', '-w', '-o', example_vala,
             os.path.join(examples, 'example.vala')], user, cwd=tmp)
        expect('Vala example', run([example_vala], user), expected_output)

    log('spawn-async works installed')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except Failure as failure:
        print(f'FAIL: {failure}', file=sys.stderr)
        sys.exit(1)
