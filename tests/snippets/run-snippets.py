#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every code block of the README and the docs that a user may copy.

Each ```c, ```js, ```python and ```vala block is either an include of a
tested example (`{{ include … }}`, run by the examples suite) or follows a
marker that says how to run it:

    <!-- snippet: HARNESS -->

HARNESS names one of HARNESSES below: a complete program, or the context
the snippet assumes (a worker, a result, an app's callbacks…). A block
whose marker is `<!-- snippet: none (why) -->` is not run: code of
another library that the page replaces. A block without a marker fails,
so that no snippet can be added untested.

A snippet passes when it builds, exits with 0 within 60 s, and (GJS)
writes no warning and no unhandled rejection. Each runs in a temporary
directory of its own, against the build tree.

Usage: run-snippets.py SOURCE_ROOT BUILD_ROOT GJS PYTHON VALAC CC FILE_OR_DIR...
(a directory: its *.md and *.md.in pages)
(an empty GJS, VALAC or CC: that tool is missing, and its snippets fail)
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FENCE = re.compile(r'^```(\w*)\n(.*?)^```\s*$', re.S | re.M)
MARKER = re.compile(r'<!--\s*snippet:\s*(.*?)\s*-->\s*$')
LANGUAGES = {'c', 'js', 'python', 'vala'}
DEFAULT_CALLBACKS = {
    'on_done': 'snippet_on_result', 'on_status': 'snippet_on_result',
    'on_line': 'snippet_on_line',
}

JS_IMPORTS = """import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sa from 'gi://Sa?version=1.0';
"""
JS_WORKER = JS_IMPORTS + """Gio._promisify(Sa.Worker.prototype, 'aspawn_async', 'aspawn_finish');
const worker = Sa.Worker.new(null);
"""
JS_APP = JS_WORKER + """const result = await worker.aspawn_async(['echo', 'hello'], null, null);
const input = '/nonexistent/in.png', output = 'out.png';
const notify = message => print(`notify: ${message}`);
"""
PY_IMPORTS = """import gi
gi.require_version('Sa', '1.0')
from gi.repository import Gio, GLib, Sa
"""
# Callbacks that raise do not stop PyGObject: fail the snippet instead.
PY_LOOP = """
import sys, time
def _fail(*info):
    sys.__excepthook__(*info)
    sys.exit(1)
sys.excepthook = _fail
_context, _deadline, _quiet, _dispatched = GLib.MainContext.default(), time.monotonic() + 30, time.monotonic(), 0
while True:
    if _context.iteration(False):
        _quiet, _dispatched = time.monotonic(), _dispatched + 1
    elif time.monotonic() - _quiet > 1 and _dispatched:
        break
    elif time.monotonic() > _deadline:
        sys.exit('the snippet started nothing, or its callbacks did not run')
    else:
        time.sleep(0.001)
"""
VALA_MAIN = """int main () {
    @SNIPPET@
    return 0;
}
"""
VALA_ASYNC = """@SNIPPET@

int main () {
    var loop = new MainLoop ();
    var worker = new Sa.Worker (null);
    show_head.begin (worker, () => loop.quit ());
    loop.run ();
    return 0;
}
"""

# name: (language, template); @SNIPPET@ is the block. C templates are
# built by c_program().
HARNESSES = {
    'c-program': ('c', None),          # a whole file with main()
    'c-file': ('c', None),             # file scope: declarations, #if
    'c-main': ('c', None),             # functions, then statements for main()
    'js-module': ('js', '@SNIPPET@'),
    'js-imports': ('js', JS_IMPORTS + '@SNIPPET@'),
    'js-worker': ('js', JS_WORKER + '@SNIPPET@\nworker.destroy();\n'),
    'js-app': ('js', JS_APP + '@SNIPPET@\nworker.destroy();\n'),
    'python-script': ('python', '@SNIPPET@'),
    'python-imports': ('python', PY_IMPORTS + '@SNIPPET@'),
    'python-callbacks': ('python', PY_IMPORTS + '@SNIPPET@' + PY_LOOP),
    'python-worker-callbacks': ('python', PY_IMPORTS + 'worker = Sa.Worker.new(None)\n'
                                + '@SNIPPET@' + PY_LOOP),
    'vala-main': ('vala', VALA_MAIN),
    'vala-async': ('vala', VALA_ASYNC),
}


class Snippet:
    def __init__(self, path, line, language, body, harness):
        self.path, self.line, self.language = path, line, language
        self.body, self.harness = body, harness

    def __str__(self):
        return f'{os.path.relpath(self.path)}:{self.line} ({self.harness})'


def find_snippets(path):
    text = open(path, encoding='utf-8').read()
    found, problems = [], []
    for match in FENCE.finditer(text):
        language, body = match.group(1), match.group(2)
        if language not in LANGUAGES or '{{ include' in body:
            continue
        line = text.count('\n', 0, match.start()) + 1
        before = text[:match.start()].rstrip('\n').rsplit('\n', 1)[-1]
        marker = MARKER.search(before)
        where = f'{os.path.relpath(path)}:{line}'
        if marker is None:
            problems.append(f'{where}: a ```{language} block without a '
                            '<!-- snippet: … --> marker')
            continue
        harness = marker.group(1)
        if harness.startswith('none'):
            if not re.match(r'none \(.+\)$', harness):
                problems.append(f'{where}: "none" needs a reason in parentheses')
            continue
        if harness not in HARNESSES or HARNESSES[harness][0] != language:
            problems.append(f'{where}: no {language} harness "{harness}"')
            continue
        found.append(Snippet(path, line, language, body, harness))
    return found, problems


def split_c(body):
    """The snippet's function definitions (from a line `static …` at the
    start of a line to the next `}`) and the rest, its statements."""
    functions, statements, inside = [], [], False
    for line in body.splitlines(keepends=True):
        if not inside and line.startswith('static '):
            inside = True
        (functions if inside else statements).append(line)
        if inside and line.rstrip() == '}':
            inside = False
    return ''.join(functions), ''.join(statements)


def c_program(snippet):
    if snippet.harness == 'c-program':
        return snippet.body
    support = f'#include "{os.path.join(HERE, "snippet-support.h")}"\n'
    if snippet.harness == 'c-file':
        return support + snippet.body + '\nint\nmain (void)\n{\n  return 0;\n}\n'
    functions, statements = split_c(snippet.body)
    defaults = ''.join(f'#define {name} {default}\n' for name, default in DEFAULT_CALLBACKS.items()
                       if re.search(rf'\b{name}\b', snippet.body)
                       and not re.search(rf'^{name} \(', functions, re.M))
    expects = 'TRUE' if re.search(r'_async \(', snippet.body) else 'FALSE'
    return (support + defaults + functions +
            '\nint\nmain (void)\n{\n'
            '  g_autoptr(GError) snippet_error = NULL;\n\n'
            '  worker = sa_worker_new (NULL, &snippet_error);\n'
            '  g_assert_no_error (snippet_error);\n'
            '  options = sa_spawn_options_new ();\n'
            '  {\n' + statements + '  }\n'
            f'  snippet_run ({expects});\n'
            '  return 0;\n}\n')


def run(argv, env, cwd, what):
    """(None, the finished process), or (what went wrong, None)."""
    try:
        proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors='replace', timeout=60)
    except subprocess.TimeoutExpired:
        return f'{what}: no end after 60 s', None
    except OSError as error:
        return f'{what}: {error}', None
    if proc.returncode != 0:
        return f'{what} exited with status {proc.returncode}:\n{proc.stdout}{proc.stderr}', None
    return None, proc


def check(snippet, tools, env, tmp):
    language = snippet.language
    if language == 'c':
        if not tools['cc']:
            return 'no C compiler'
        source, program = os.path.join(tmp, 'snippet.c'), os.path.join(tmp, 'snippet')
        with open(source, 'w', encoding='utf-8') as f:
            f.write(c_program(snippet))
        flags = shlex.split(subprocess.run(
            ['pkg-config', '--cflags', '--libs', 'spawn-async-1'], env=env, check=True,
            stdout=subprocess.PIPE, text=True).stdout)
        failure, _ = run([*shlex.split(tools['cc']), '-Wall', '-Werror=implicit-function-declaration',
                          source, '-o', program, *flags], env, tmp, 'cc')
        if failure:
            return failure
        command = [program]
    elif language == 'vala':
        if not tools['valac']:
            return 'valac is missing'
        source = os.path.join(tmp, 'snippet.vala')
        with open(source, 'w', encoding='utf-8') as f:
            f.write(HARNESSES[snippet.harness][1].replace('@SNIPPET@', snippet.body))
        failure, _ = run([tools['valac'], '--vapidir', os.path.join(tools['build'], 'introspection'),
                          '--pkg', 'spawn-async-1', '--pkg', 'gio-2.0', '-X', '-w',
                          '-o', os.path.join(tmp, 'snippet'), source], env, tmp, 'valac')
        if failure:
            return failure
        command = [os.path.join(tmp, 'snippet')]
    else:
        template = HARNESSES[snippet.harness][1]
        suffix = '.js' if language == 'js' else '.py'
        source = os.path.join(tmp, 'snippet' + suffix)
        with open(source, 'w', encoding='utf-8') as f:
            f.write(template.replace('@SNIPPET@', snippet.body))
        if language == 'js':
            if not tools['gjs']:
                return 'gjs is missing'
            command = [tools['gjs'], '-m', source]
        else:
            command = [tools['python'], source]

    failure, proc = run(command, env, tmp, 'the snippet')
    if failure:
        return failure
    if language == 'js' and re.search(r'CRITICAL|WARNING|Unhandled promise rejection',
                                      proc.stderr):
        return f'GJS complained:\n{proc.stderr}'
    return None


def main():
    source_root, build_root, gjs, python, valac, cc, *files = sys.argv[1:]
    tools = {'gjs': gjs, 'python': python, 'valac': valac, 'cc': cc, 'build': build_root}
    env = dict(os.environ)
    env['PKG_CONFIG_PATH'] = os.path.join(build_root, 'meson-uninstalled')
    env['G_DEBUG'] = 'fatal-criticals'

    pages = []
    for path in files:
        if os.path.isdir(path):
            pages += sorted(os.path.join(path, name) for name in os.listdir(path)
                            if name.endswith(('.md', '.md.in')))
        else:
            pages.append(path)

    snippets, failures = [], []
    for path in pages:
        found, problems = find_snippets(path)
        snippets += found
        failures += problems

    for snippet in snippets:
        with tempfile.TemporaryDirectory(prefix='sa-snippet-') as tmp:
            failure = check(snippet, tools, env, tmp)
        print(f'{"FAIL" if failure else "ok"}: {snippet}', flush=True)
        if failure:
            failures.append(f'{snippet}: {failure}')

    for failure in failures:
        print(f'\n{failure}')
    print(f'\n{len(snippets)} snippets run, {len(failures)} failures')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
