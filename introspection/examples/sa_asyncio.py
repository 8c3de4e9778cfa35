# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-async for asyncio programs.

PyGObject 3.42 cannot run GLib's main loop inside asyncio's, and
`Sa.Worker.aspawn_async()` calls back in a GLib main context. This
module bridges the two::

    async with sa_asyncio.Worker() as worker:
        result = await worker.aspawn(['ls', '-l'])
        result.check()
        print(result.get_stdout())

How it works: a thread of its own runs a private GLib main context. The
`Sa.Worker` is created in that thread and every command is started
there, so every callback runs there too; the callback hands the result
(or the error) to the asyncio loop with `call_soon_threadsafe()`. An
`Sa.Result` never changes and may be used from any thread.

- `await worker.aspawn(argv, options)` returns the `Sa.Result`, or raises
  the `GLib.Error` of `Sa.Worker.aspawn_finish()`.
- Cancelling the awaiting task (`task.cancel()`, `asyncio.wait_for()`)
  cancels the command: its process group is killed.
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
