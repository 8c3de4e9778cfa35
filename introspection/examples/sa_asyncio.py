# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-async for asyncio programs.

PyGObject 3.42 cannot run GLib's main loop inside asyncio's, and
`Sa.Worker.aspawn_async()` calls back in a GLib main context. This
module bridges the two::

    async with sa_asyncio.Worker() as worker:
        result = await worker.aspawn(['ls', '-l'])
        result.check()
        print(result.get_stdout())

        process = await worker.spawn(['journalctl', '-f'])
        async for line in process.stdout_lines():
            print(line)

How it works: a thread of its own runs a private GLib main context. The
`Sa.Worker` is created in that thread and every command is started
there, so every callback runs there too; the callback hands the result
(or the error) to the asyncio loop with `call_soon_threadsafe()`. An
`Sa.Result` never changes and may be used from any thread.

- `await worker.aspawn(argv, options)` returns the `Sa.Result`, or raises
  the `GLib.Error` of `Sa.Worker.aspawn_finish()`.
- Cancelling the awaiting task (`task.cancel()`, `asyncio.wait_for()`)
  cancels the command: its process group is killed.
- `await worker.spawn(argv, options)` starts a live process and returns a
  `Process`: `async for line in process.stdout_lines()`,
  `await process.write(data)`, `await process.wait_check()`,
  `process.send_signal(signum)`, `process.force_exit()`. Its
  `Sa.Process` is `process.sa_process` (used in the GLib thread).
- The worker's `exit` and `error` signals are emitted in the GLib
  thread: connect to `worker.sa_worker` from there, or not at all.

A program whose main loop is GLib's (GTK, GNOME Shell, a GApplication)
does not need this: it uses the callbacks directly.
"""

import asyncio
import concurrent.futures
import threading

import gi

gi.require_version('Sa', '1.0')
from gi.repository import Gio, GLib, Sa  # noqa: E402


class Worker:
    """An `Sa.Worker` whose commands are awaited from asyncio."""

    def __init__(self):
        """Starts the GLib thread and the worker's helper.

        Blocks for as long as `Sa.Worker.new()` does (about a
        millisecond); raises its `GLib.Error` when the helper cannot be
        started.
        """
        self._context = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._context, False)
        self._thread = threading.Thread(target=self._run_glib,
                                        name='spawn-async-glib', daemon=True)
        self._thread.start()
        try:
            self.sa_worker = self._call(Sa.Worker.new, None)
        except BaseException:
            self._stop_glib()
            raise

    def _run_glib(self):
        self._context.push_thread_default()
        try:
            self._loop.run()
        finally:
            self._context.pop_thread_default()

    def _stop_glib(self):
        # At a low priority: after the answers already queued, such as
        # those of the commands a destroyed worker failed.
        self._invoke(self._loop.quit, GLib.PRIORITY_LOW)
        self._thread.join()

    def _invoke(self, function, priority=GLib.PRIORITY_DEFAULT):
        """Runs function() in the GLib thread, soon."""
        def once():
            function()
            return GLib.SOURCE_REMOVE
        self._context.invoke_full(priority, once)

    def _call(self, function, *args):
        """Runs function(*args) in the GLib thread and waits for it."""
        outcome = concurrent.futures.Future()

        def run():
            try:
                outcome.set_result(function(*args))
            except BaseException as error:  # handed to the caller
                outcome.set_exception(error)
        self._invoke(run)
        return outcome.result()

    async def aspawn(self, argv, options=None):
        """Runs argv with the `Sa.SpawnOptions` options (or the defaults).

        Returns the `Sa.Result` of the command; raises the `GLib.Error` of
        `Sa.Worker.aspawn_finish()` when there is none (a program that
        cannot be run, a destroyed worker, ...).
        """
        if self.sa_worker is None:
            raise RuntimeError('the worker is closed')

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        cancellable = Gio.Cancellable()
        worker = self.sa_worker

        def settle(error, result):
            # In the asyncio thread; the future may have been cancelled.
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        def hand_over(error, result):
            # In the GLib thread.
            try:
                loop.call_soon_threadsafe(settle, error, result)
            except RuntimeError:
                pass        # the asyncio loop is closed: nobody waits

        def on_done(source, task):
            try:
                result = source.aspawn_finish(task)
            except GLib.Error as error:
                hand_over(error, None)
            else:
                hand_over(None, result)

        def start():
            try:
                worker.aspawn_async(argv, options, cancellable, on_done)
            except Exception as error:  # a wrong argument type, say
                hand_over(error, None)

        self._invoke(start)
        try:
            return await future
        except asyncio.CancelledError:
            cancellable.cancel()
            raise

    async def _glib(self, start):
        """Runs start(done) in the GLib thread; start calls an async GLib
        function whose callback calls done(finish, result). Returns what
        finish(result) returns, or raises its GLib.Error."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(error, value):
            if not future.done():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

        def done(finish, result):
            # In the GLib thread.
            try:
                value, error = finish(result), None
            except GLib.Error as e:
                value, error = None, e
            try:
                loop.call_soon_threadsafe(settle, error, value)
            except RuntimeError:
                pass        # the asyncio loop is closed: nobody waits

        def run():
            try:
                start(done)
            except Exception as error:  # a wrong argument type, say
                loop.call_soon_threadsafe(settle, error, None)

        self._invoke(run)
        return await future

    async def spawn(self, argv, options=None):
        """Starts argv as a live process; returns a `Process` once it has
        started, or raises the `GLib.Error` of `Sa.Worker.spawn_finish()`.
        Cancelling the awaiting task kills a child that has started."""
        if self.sa_worker is None:
            raise RuntimeError('the worker is closed')
        cancellable = Gio.Cancellable()
        worker = self.sa_worker

        def start(done):
            worker.spawn_async(argv, options, cancellable,
                               lambda source, result: done(source.spawn_finish, result))
        try:
            sa_process = await self._glib(start)
        except asyncio.CancelledError:
            cancellable.cancel()
            raise
        return Process(self, sa_process)

    def close(self):
        """Destroys the worker (pending commands fail with
        `Sa.WorkerError.DESTROYED`, children are killed) and stops the
        GLib thread. Blocks until the helper has exited."""
        if self.sa_worker is None:
            return
        self._call(self.sa_worker.destroy)
        self.sa_worker = None
        self._stop_glib()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await asyncio.get_running_loop().run_in_executor(None, self.close)


class Process:
    """A live `Sa.Process`, used from asyncio (see `Worker.spawn()`)."""

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

    async def write(self, data):
        """Writes bytes to the child's stdin (stdin-mode PIPE)."""
        stream = self.sa_process.get_stdin_pipe()

        def start(done):
            stream.write_all_async(data, GLib.PRIORITY_DEFAULT, None,
                                   lambda source, result: done(source.write_all_finish, result))
        await self._worker._glib(start)

    async def close_stdin(self):
        """Closes the child's stdin: it sees the end of its input."""
        stream = self.sa_process.get_stdin_pipe()

        def start(done):
            stream.close_async(GLib.PRIORITY_DEFAULT, None,
                               lambda source, result: done(source.close_finish, result))
        await self._worker._glib(start)

    async def wait(self):
        """Waits for the end; cancelling the task cancels only the wait."""
        await self._wait('wait_async', 'wait_finish')

    async def wait_check(self):
        """Waits for the end; raises unless the child exited with status 0."""
        await self._wait('wait_check_async', 'wait_check_finish')

    async def _wait(self, method, finish):
        cancellable = Gio.Cancellable()
        process = self.sa_process

        def start(done):
            getattr(process, method)(cancellable,
                                     lambda source, result: done(getattr(source, finish), result))
        try:
            await self._worker._glib(start)
        except asyncio.CancelledError:
            cancellable.cancel()
            raise

    def send_signal(self, signum):
        self._worker._invoke(lambda: self.sa_process.send_signal(signum))

    def force_exit(self):
        self._worker._invoke(self.sa_process.force_exit)
