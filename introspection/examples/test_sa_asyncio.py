# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of sa_asyncio.py, the asyncio bridge the Python guide documents."""

import asyncio
import os
import tempfile
import time

import gi
import pytest

gi.require_version('Sa', '1.0')
from gi.repository import GLib, Sa  # noqa: E402

import sa_asyncio  # noqa: E402


def run(coroutine):
    return asyncio.run(coroutine)


async def wait_for_file(path):
    """The pid a child wrote to path, once it has."""
    for _ in range(500):
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith('\n'):
                return int(text)
        except FileNotFoundError:
            pass
        await asyncio.sleep(0.02)
    raise AssertionError(f'{path} was never written')


async def wait_until_gone(pid):
    for _ in range(500):
        if not os.path.exists(f'/proc/{pid}'):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f'process {pid} is still alive')


def test_result():
    async def main():
        async with sa_asyncio.Worker() as worker:
            options = Sa.SpawnOptions(input=GLib.Bytes.new(b'b\na\n'))
            result = await worker.aspawn(['sort'], options)
            assert result.get_stdout() == 'a\nb\n'
            assert result.get_exit_status() == 0
            assert result.get_successful()

            failed = await worker.aspawn(['sh', '-c', 'exit 7'])
            assert failed.get_exit_status() == 7
            with pytest.raises(GLib.Error) as info:
                failed.check()
            assert info.value.matches(GLib.spawn_exit_error_quark(), 7)
    run(main())


def test_error_without_result():
    async def main():
        async with sa_asyncio.Worker() as worker:
            with pytest.raises(GLib.Error) as info:
                await worker.aspawn(['spawn-async-no-such-program'])
            assert info.value.matches(GLib.spawn_error_quark(), GLib.SpawnError.NOENT)

            with pytest.raises(GLib.Error) as info:
                await worker.aspawn(['true'], Sa.SpawnOptions(cwd='/nonexistent/dir'))
            assert info.value.matches(GLib.spawn_error_quark(), GLib.SpawnError.CHDIR)
    run(main())


def test_wrong_argument_raises_in_the_caller():
    async def main():
        async with sa_asyncio.Worker() as worker:
            with pytest.raises(TypeError):
                await worker.aspawn([1, 2])
            # The worker goes on.
            result = await worker.aspawn(['echo', 'still here'])
            assert result.get_stdout() == 'still here\n'
    run(main())


def test_gather_keeps_each_result_with_its_command():
    async def main():
        async with sa_asyncio.Worker() as worker:
            # The later commands end first.
            commands = [['sh', '-c', f'sleep 0.{9 - n}; echo {n}'] for n in range(8)]
            results = await asyncio.gather(*(worker.aspawn(c) for c in commands))
            assert [r.get_stdout() for r in results] == [f'{n}\n' for n in range(8)]
    run(main())


def test_cancel_kills_the_child():
    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            pid_file = os.path.join(tmp, 'pid')
            async with sa_asyncio.Worker() as worker:
                task = asyncio.create_task(worker.aspawn(
                    ['sh', '-c', f'echo $$ > {pid_file}; exec sleep 60']))
                pid = await wait_for_file(pid_file)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                # Killed by the cancellation, while the worker goes on.
                await wait_until_gone(pid)
                result = await worker.aspawn(['echo', 'next'])
                assert result.get_stdout() == 'next\n'
    run(main())


def test_wait_for_timeout_kills_the_child():
    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            pid_file = os.path.join(tmp, 'pid')
            async with sa_asyncio.Worker() as worker:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(worker.aspawn(
                        ['sh', '-c', f'echo $$ > {pid_file}; exec sleep 60']), 0.5)
                await wait_until_gone(await wait_for_file(pid_file))
    run(main())


def test_close_fails_pending_commands():
    async def main():
        worker = sa_asyncio.Worker()
        pending = asyncio.create_task(worker.aspawn(['sleep', '60']))
        await asyncio.sleep(0.2)
        await asyncio.get_running_loop().run_in_executor(None, worker.close)
        with pytest.raises(GLib.Error) as info:
            await pending
        assert info.value.matches(Sa.WorkerError.quark(), Sa.WorkerError.DESTROYED)
        assert info.value.message == 'worker process was destroyed'
        with pytest.raises(RuntimeError):
            await worker.aspawn(['true'])
    run(main())


def test_a_loop_that_does_nothing_else_is_not_needed():
    """The GLib thread serves commands while asyncio is blocked elsewhere."""
    async def main():
        async with sa_asyncio.Worker() as worker:
            task = asyncio.create_task(worker.aspawn(['echo', 'done']))
            await asyncio.sleep(0)          # start it
            time.sleep(0.3)                 # block the asyncio loop
            result = await task
            assert result.get_stdout() == 'done\n'
    run(main())
