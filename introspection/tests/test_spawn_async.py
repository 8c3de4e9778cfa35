# SPDX-License-Identifier: LGPL-2.1-or-later
"""The spawn_async package: every case on a plain asyncio loop (answers
through the worker's GLib thread) and on gbulb's GLib-driven loop (no
thread, no hop)."""

import asyncio
import os
import signal
import tempfile
import threading
import time

import pytest
from gi.repository import Gio, GLib, Sa

import spawn_async
from conftest import (
    IO_ERROR, SA_WORKER_ERROR, SPAWN_ERROR, SPAWN_EXIT_ERROR, assert_error, pid_alive,
)

LOOPS = ['asyncio', 'gbulb']


@pytest.fixture(params=LOOPS)
def run(request):
    """run(main) runs the coroutine function main on the loop of the
    parameter, as asyncio.run() does, and returns what it returns."""
    if request.param == 'gbulb':
        import gbulb     # python3-gbulb: a missing module fails, never skips
        asyncio.set_event_loop_policy(gbulb.GLibEventLoopPolicy())
    else:
        asyncio.set_event_loop_policy(None)
    try:
        yield lambda main: asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        asyncio.set_event_loop_policy(None)


@pytest.fixture
def loop_kind(request):
    return request.node.callspec.params['run']


async def gone(pid, timeout=5):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f'process {pid} still runs')
        await asyncio.sleep(0.01)


async def read_pid(path, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, encoding='ascii') as f:
                text = f.read()
            if text.endswith('\n'):
                return int(text)
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f'no pid in {path}')
        await asyncio.sleep(0.01)


def test_result_and_where_answers_come(run, loop_kind):
    async def main():
        threads = threading.active_count()
        async with spawn_async.Worker() as worker:
            result = await worker.aspawn(['sh', '-c', 'echo out; echo err >&2; exit 0'])
            assert result.get_stdout() == 'out\n'
            assert result.get_stderr() == 'err\n'
            assert result.check()
            # gbulb: the loop's own context; asyncio: one GLib thread
            assert worker.uses_thread == (loop_kind == 'asyncio')
            assert threading.active_count() - threads == (1 if worker.uses_thread else 0)
            options = Sa.SpawnOptions(input=GLib.Bytes.new(b'b\na\n'))
            assert (await worker.aspawn(['sort'], options)).get_stdout() == 'a\nb\n'
    run(main)


def test_errors_are_the_callback_apis(run):
    async def main():
        async with spawn_async.Worker() as worker:
            with pytest.raises(GLib.Error) as info:
                await worker.aspawn(['spawn-async-no-such-program'])
            assert_error(info.value, SPAWN_ERROR, GLib.SpawnError.NOENT)

            with pytest.raises(GLib.Error) as info:
                await worker.aspawn([])
            assert_error(info.value, IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT)

            result = await worker.aspawn(['sh', '-c', 'exit 3'])
            with pytest.raises(GLib.Error) as info:
                result.check()
            assert_error(info.value, SPAWN_EXIT_ERROR, 3)

            with pytest.raises(GLib.Error) as info:
                await worker.spawn(['spawn-async-no-such-program'])
            assert_error(info.value, SPAWN_ERROR, GLib.SpawnError.NOENT)

            with pytest.raises(TypeError):
                await worker.aspawn(['true'], 'not options')
    run(main)


def test_cancelling_the_task_kills_the_command(run):
    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            pid_file = os.path.join(tmp, 'pid')
            async with spawn_async.Worker() as worker:
                task = asyncio.ensure_future(worker.aspawn(
                    ['sh', '-c', f'echo $$ > {pid_file}; exec sleep 100']))
                pid = await read_pid(pid_file)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await gone(pid)

                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(worker.aspawn(['sleep', '100']), 0.2)
                assert (await worker.aspawn(['echo', 'still'])).get_stdout() == 'still\n'
    run(main)


def test_helper_killed(run):
    async def main():
        async with spawn_async.Worker() as worker:
            task = asyncio.ensure_future(worker.aspawn(['sleep', '100']))
            await asyncio.sleep(0.2)
            os.kill(worker.sa_worker.props.helper_pid, signal.SIGKILL)
            with pytest.raises(GLib.Error) as info:
                await task
            assert_error(info.value, SA_WORKER_ERROR, Sa.WorkerError.EXITED)
            # a new helper runs the next command
            assert (await worker.aspawn(['echo', 'again'])).get_stdout() == 'again\n'
    run(main)


def test_thousand_concurrent_awaits(run):
    async def main():
        async with spawn_async.Worker() as worker:
            results = await asyncio.gather(
                *(worker.aspawn(['sh', '-c', f'echo {i}']) for i in range(1000)))
            assert [r.get_stdout() for r in results] == [f'{i}\n' for i in range(1000)]
    run(main)


def test_close_fails_what_is_pending(run):
    async def main():
        worker = spawn_async.Worker()
        task = asyncio.ensure_future(worker.aspawn(['sleep', '100']))
        await asyncio.sleep(0.2)
        worker.close()
        with pytest.raises(GLib.Error) as info:
            await task
        assert_error(info.value, SA_WORKER_ERROR, Sa.WorkerError.DESTROYED)
        with pytest.raises(RuntimeError):
            await worker.aspawn(['true'])
    run(main)


def test_process_lines_and_wait_check(run):
    async def main():
        async with spawn_async.Worker() as worker:
            options = Sa.SpawnOptions(stderr_mode=Sa.Stdio.MERGE)
            process = await worker.spawn(
                ['sh', '-c', 'for i in 1 2 3; do echo "line $i"; sleep 0.05; done; echo end >&2'],
                options)
            assert process.pid > 1
            lines = [line async for line in process.stdout_lines()]
            assert lines == ['line 1', 'line 2', 'line 3', 'end']
            await process.wait_check()
            assert process.sa_process.get_exit_status() == 0

            failing = await worker.spawn(['sh', '-c', 'exit 4'])
            with pytest.raises(GLib.Error) as info:
                await failing.wait_check()
            assert_error(info.value, SPAWN_EXIT_ERROR, 4)
    run(main)


def test_process_conversation(run):
    async def main():
        async with spawn_async.Worker() as worker:
            process = await worker.spawn(['cat'], Sa.SpawnOptions(stdin_mode=Sa.Stdio.PIPE))
            lines = process.stdout_lines()
            for word in ('one', 'two', 'three'):
                await process.write(f'{word}\n'.encode())
                assert await lines.__anext__() == word
            await process.close_stdin()
            assert [line async for line in lines] == []
            await process.wait_check()
    run(main)


def test_process_wait_cancelled_then_signal(run):
    async def main():
        async with spawn_async.Worker() as worker:
            process = await worker.spawn(['sleep', '100'])
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 0.2)
            assert pid_alive(process.pid)          # only the wait was cancelled
            process.send_signal(signal.SIGTERM)
            await process.wait()
            assert process.sa_process.get_if_signaled()
            assert process.sa_process.get_term_sig() == signal.SIGTERM

            other = await worker.spawn(['sleep', '100'])
            other.force_exit()
            with pytest.raises(GLib.Error):
                await other.wait_check()
            assert other.sa_process.get_term_sig() == signal.SIGKILL
    run(main)


def test_spawn_cancelled(run):
    async def main():
        async with spawn_async.Worker() as worker:
            task = asyncio.ensure_future(worker.spawn(['sleep', '100']))
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await worker.aspawn(['true'])).get_successful()
    run(main)
