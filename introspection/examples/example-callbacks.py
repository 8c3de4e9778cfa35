#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-async from Python with callbacks and a GLib main loop: input on
stdin, several commands at once, an exit status, a missing program and a
timeout.

Every command is started at once; each callback stores its line, and the
lines are printed in order when the last command has ended.
"""

import sys

import gi

gi.require_version('Sa', '1.0')
from gi.repository import Gio, GLib, Sa  # noqa: E402


def words(text):
    """'cherry\\napple\\n' -> 'cherry apple'"""
    return ' '.join(text.strip().split('\n'))


def describe(worker, task):
    try:
        result = worker.aspawn_finish(task)
    except GLib.Error as error:
        # No result: the command could not run at all.
        if error.matches(GLib.spawn_error_quark(), GLib.SpawnError.NOENT):
            return f'not found: {error.message}'
        return f'error: {error.message}'

    # A result: the child ran. check() tells whether it ran cleanly.
    try:
        result.check()
    except GLib.Error as error:
        if error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
            return f'timed out: {error.message}'
        if error.domain == GLib.quark_to_string(GLib.spawn_exit_error_quark()):
            return (f'exit status {result.get_exit_status()}: {error.message} '
                    f'(stderr: {words(result.get_stderr())})')
        return f'failed: {error.message}'
    return words(result.get_stdout())


class Example:
    def __init__(self):
        self.worker = Sa.Worker.new(None)
        self.loop = GLib.MainLoop()
        self.lines = {}
        self.pending = 0

    def start(self, name, argv, options=None):
        self.pending += 1
        self.worker.aspawn_async(argv, options, None, self.on_done, name)

    def on_done(self, worker, task, name):
        self.lines[name] = describe(worker, task)
        self.pending -= 1
        if self.pending == 0:
            self.loop.quit()


def main():
    example = Example()

    # Bytes for the child's stdin.
    fruit = GLib.Bytes.new(b'cherry\napple\nbanana\n')
    example.start('sort', ['sort'], Sa.SpawnOptions(input=fruit))
    for word in ('one', 'two', 'three'):
        example.start(word, ['echo', word])
    example.start('exit', ['sh', '-c', 'echo oops >&2; exit 3'])
    example.start('missing', ['spawn-async-no-such-program'])
    # The child's process group gets SIGTERM after 100 ms.
    example.start('slow', ['sleep', '10'], Sa.SpawnOptions(timeout_ms=100))
    example.loop.run()

    lines = example.lines
    print(f"sort: {lines['sort']}")
    print(f"parallel: {lines['one']} {lines['two']} {lines['three']}")
    print(lines['exit'])
    print(lines['missing'])
    print(lines['slow'])

    # Stops the helper and every child it still runs.
    example.worker.destroy()
    return 0


if __name__ == '__main__':
    sys.exit(main())
