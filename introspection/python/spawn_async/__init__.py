# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-async for asyncio: await commands and live processes.

    import spawn_async

    async with spawn_async.Worker() as worker:
        result = await worker.aspawn(['ls', '-l'])
        result.check()
        print(result.get_stdout())

        process = await worker.spawn(['journalctl', '-f'])
        async for line in process.stdout_lines():
            print(line)

- `await worker.aspawn(argv, options)` returns the `Sa.Result`, or raises
  the `GLib.Error` of `Sa.Worker.aspawn_finish()`, with the same domains
  and codes as the callback API.
- Cancelling the awaiting task (`task.cancel()`, `asyncio.wait_for()`,
  `asyncio.timeout()`) cancels the command: its process group is killed.
- `await worker.spawn(argv, options)` starts a live process and returns a
  `Process`: `async for line in process.stdout_lines()`,
  `await process.write(data)`, `await process.close_stdin()`,
  `await process.wait()`, `await process.wait_check()`,
  `process.send_signal(signum)`, `process.force_exit()`.
- Leaving `async with` (or `worker.close()`) destroys the worker: pending
  commands fail with `Sa.WorkerError.DESTROYED`, children are killed.

The worker finds out which loop it was created in. On an asyncio loop
that GLib drives (gbulb's, or PyGObject's own from 3.50 on) it makes its
calls in the loop's thread and its answers come back through the loop's
GLib main context: no thread, no hop. On any other loop a thread of its
own runs a private GLib main context and hands each answer over with
`call_soon_threadsafe()`; `worker.uses_thread` says which.
"""

import asyncio

from . import _typelib

_typelib.require()

from gi.repository import Gio, GLib, Sa  # noqa: E402

from ._runners import LoopRunner, ThreadRunner, glib_context_of  # noqa: E402

__all__ = ['Worker', 'Process']


class Worker:
    """An `Sa.Worker` whose commands are awaited from asyncio."""

    def __init__(self):
        """Starts the worker's helper, for the running asyncio loop (or,
        outside of one, for any loop, through a thread).

        Blocks for as long as `Sa.Worker.new()` does (about a
        millisecond); raises its `GLib.Error` when the helper cannot be
        started.
        """
        try:
            context = glib_context_of(asyncio.get_running_loop())
        except RuntimeError:
            context = None
        self._runner = LoopRunner(context) if context is not None else ThreadRunner()
        try:
            self.sa_worker = self._runner.call(Sa.Worker.new, None)
        except BaseException:
            self._runner.close()
            raise

    @property
    def uses_thread(self):
        """Whether answers come through a GLib thread of the worker's own
        (a plain asyncio loop) rather than the loop's own context."""
        return self._runner.uses_thread

    def _check_open(self):
        if self.sa_worker is None:
            raise RuntimeError('the worker is closed')

    async def _glib(self, start, cancellable=None):
        """Runs start(done) on the GLib side; start calls an async GLib
        function whose callback calls done(finish, result). Returns what
        finish(result) returns, or raises its error. Cancelling the
        awaiting task cancels cancellable."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        runner = self._runner

        def settle(error, value):
            # In the asyncio loop; the future may have been cancelled.
            if not future.done():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

        def done(finish, result):
            try:
                value, error = finish(result), None
            except GLib.Error as e:
                value, error = None, e
            runner.deliver(loop, settle, error, value)

        def run():
            try:
                start(done)
            except Exception as error:  # a wrong argument type, say
                runner.deliver(loop, settle, error, None)

        runner.start(run)
        try:
            return await future
        except asyncio.CancelledError:
            if cancellable is not None:
                cancellable.cancel()
            raise

    async def aspawn(self, argv, options=None):
        """Runs argv with the `Sa.SpawnOptions` options (or the defaults)
        to its end. Returns the `Sa.Result`; raises the `GLib.Error` of
        `Sa.Worker.aspawn_finish()` when there is none (a program that
        cannot be run, a destroyed worker, ...)."""
        self._check_open()
        worker = self.sa_worker
        cancellable = Gio.Cancellable()

        def start(done):
            worker.aspawn_async(argv, options, cancellable,
                                lambda source, result: done(source.aspawn_finish, result))
        return await self._glib(start, cancellable)

    async def spawn(self, argv, options=None):
        """Starts argv as a live process; returns a `Process` once it has
        started, or raises the `GLib.Error` of `Sa.Worker.spawn_finish()`.
        Cancelling the awaiting task kills a child that has started."""
        self._check_open()
        worker = self.sa_worker
        cancellable = Gio.Cancellable()

        def start(done):
            worker.spawn_async(argv, options, cancellable,
                               lambda source, result: done(source.spawn_finish, result))
        return Process(self, await self._glib(start, cancellable))

    def close(self):
        """Destroys the worker: pending commands fail with
        `Sa.WorkerError.DESTROYED` and children are killed. Blocks until
        the helper has exited."""
        if self.sa_worker is None:
            return
        worker, self.sa_worker = self.sa_worker, None
        self._runner.call(worker.destroy)
        self._runner.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        if self._runner.uses_thread:
            await asyncio.get_running_loop().run_in_executor(None, self.close)
        else:
            self.close()


class Process:
    """A live `Sa.Process`, used from asyncio (see `Worker.spawn()`).
    `sa_process` is the `Sa.Process` itself; with a thread (see
    `Worker.uses_thread`), call its stream methods from there only."""

    def __init__(self, worker, sa_process):
        self._worker = worker
        self.sa_process = sa_process
        self._lines = None

    @property
    def pid(self):
        return self.sa_process.get_pid()

    async def stdout_lines(self):
        """The child's stdout, line by line (without the newline), as it
        comes; the iteration ends with its output."""
        if self._lines is None:
            stream = self.sa_process.get_stdout_pipe()
            if stream is None:
                raise RuntimeError('stdout is not a pipe (stdout-mode)')
            self._lines = Gio.DataInputStream.new(stream)
        lines = self._lines

        def start(done):
            lines.read_line_async(
                GLib.PRIORITY_DEFAULT, None,
                lambda source, result: done(lambda r: source.read_line_finish_utf8(r)[0], result))
        while True:
            line = await self._worker._glib(start)
            if line is None:
                return
            yield line

    def _stdin(self):
        stream = self.sa_process.get_stdin_pipe()
        if stream is None:
            raise RuntimeError('stdin is not a pipe (stdin-mode)')
        return stream

    async def write(self, data):
        """Writes bytes to the child's stdin (stdin-mode PIPE)."""
        stream = self._stdin()

        def start(done):
            stream.write_all_async(data, GLib.PRIORITY_DEFAULT, None,
                                   lambda source, result: done(source.write_all_finish, result))
        await self._worker._glib(start)

    async def close_stdin(self):
        """Closes the child's stdin: it sees the end of its input."""
        stream = self._stdin()

        def start(done):
            stream.close_async(GLib.PRIORITY_DEFAULT, None,
                               lambda source, result: done(source.close_finish, result))
        await self._worker._glib(start)

    async def wait(self):
        """Waits for the end; cancelling the task cancels only the wait."""
        await self._wait('wait_async', 'wait_finish')

    async def wait_check(self):
        """Waits for the end; raises the `GLib.Error` of
        `Sa.Process.wait_check_finish()` unless it exited with status 0."""
        await self._wait('wait_check_async', 'wait_check_finish')

    async def _wait(self, method, finish):
        cancellable = Gio.Cancellable()
        process = self.sa_process

        def start(done):
            getattr(process, method)(cancellable,
                                     lambda source, result: done(getattr(source, finish), result))
        await self._worker._glib(start, cancellable)

    def send_signal(self, signum):
        self._worker._runner.start(lambda: self.sa_process.send_signal(signum))

    def force_exit(self):
        self._worker._runner.start(self.sa_process.force_exit)
