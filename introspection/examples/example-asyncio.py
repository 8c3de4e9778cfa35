#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-async from asyncio, with the spawn_async package: input on stdin,
several commands at once, an exit status, a missing program and a
timeout."""

import asyncio

import spawn_async
from gi.repository import Gio, GLib, Sa


def words(text):
    """'cherry\\napple\\n' -> 'cherry apple'"""
    return ' '.join(text.strip().split('\n'))


async def main():
    async with spawn_async.Worker() as worker:
        # Bytes for the child's stdin.
        fruit = GLib.Bytes.new(b'cherry\napple\nbanana\n')
        result = await worker.aspawn(['sort'], Sa.SpawnOptions(input=fruit))
        result.check()
        print(f'sort: {words(result.get_stdout())}')

        # Several commands at once: each coroutine is one child.
        echoes = await asyncio.gather(
            *(worker.aspawn(['echo', word]) for word in ('one', 'two', 'three')))
        print(f"parallel: {' '.join(words(r.get_stdout()) for r in echoes)}")

        # A child that fails still has a result; check() raises for it.
        failed = await worker.aspawn(['sh', '-c', 'echo oops >&2; exit 3'])
        try:
            failed.check()
        except GLib.Error as error:
            if not error.matches(GLib.spawn_exit_error_quark(), 3):
                raise
            print(f'exit status {failed.get_exit_status()}: {error.message} '
                  f'(stderr: {words(failed.get_stderr())})')

        # A program that cannot run has no result: aspawn() raises.
        try:
            await worker.aspawn(['spawn-async-no-such-program'])
        except GLib.Error as error:
            if not error.matches(GLib.spawn_error_quark(), GLib.SpawnError.NOENT):
                raise
            print(f'not found: {error.message}')

        # The child's process group gets SIGTERM after 100 ms.
        slow = await worker.aspawn(['sleep', '10'], Sa.SpawnOptions(timeout_ms=100))
        try:
            slow.check()
        except GLib.Error as error:
            if not error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
                raise
            print(f'timed out: {error.message}')


if __name__ == '__main__':
    asyncio.run(main())
