# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where the GLib side of a Worker runs, and how its answers reach asyncio.

Both runners have the same four methods:

- call(function, *args): runs function on the GLib side now and returns
  what it returns (creating and destroying the worker);
- start(function): runs function on the GLib side, now or soon; it starts
  GLib async calls, whose callbacks then run on the GLib side too;
- deliver(loop, function, *args): from such a callback, runs function in
  the asyncio loop;
- close().

LoopRunner serves an asyncio loop that GLib drives (gbulb's, or the one
of PyGObject 3.50 and later): the loop iterates a GLib main context, so
the calls are made right there, with that context as the thread-default
one, and their callbacks come back in it. No thread, no hop.

ThreadRunner serves any other loop: a thread of its own runs a private
GLib main context, the calls are made there, and the callbacks hand over
with loop.call_soon_threadsafe().
"""

import concurrent.futures
import threading

from gi.repository import GLib


def glib_context_of(loop):
    """The GLib main context that loop iterates, or None when it is not
    GLib-driven. gbulb's GLibEventLoop and PyGObject's gi.events loop
    both keep it as _context."""
    context = getattr(loop, '_context', None)
    return context if isinstance(context, GLib.MainContext) else None


class LoopRunner:
    uses_thread = False

    def __init__(self, context):
        self._context = context

    def call(self, function, *args):
        self._context.push_thread_default()
        try:
            return function(*args)
        finally:
            self._context.pop_thread_default()

    def start(self, function):
        self.call(function)

    def deliver(self, loop, function, *args):
        function(*args)

    def close(self):
        pass


class ThreadRunner:
    uses_thread = True

    def __init__(self):
        self._context = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._context, False)
        self._thread = threading.Thread(target=self._run, name='spawn-async-glib', daemon=True)
        self._thread.start()

    def _run(self):
        self._context.push_thread_default()
        try:
            self._loop.run()
        finally:
            self._context.pop_thread_default()

    def _invoke(self, function, priority=GLib.PRIORITY_DEFAULT):
        def once():
            function()
            return GLib.SOURCE_REMOVE
        self._context.invoke_full(priority, once)

    def call(self, function, *args):
        outcome = concurrent.futures.Future()

        def run():
            try:
                outcome.set_result(function(*args))
            except BaseException as error:  # handed to the caller
                outcome.set_exception(error)
        self._invoke(run)
        return outcome.result()

    def start(self, function):
        self._invoke(function)

    def deliver(self, loop, function, *args):
        try:
            loop.call_soon_threadsafe(function, *args)
        except RuntimeError:
            pass        # the asyncio loop is closed: nobody waits

    def close(self):
        # At a low priority: after the answers already queued, such as
        # those of the commands a destroyed worker failed.
        self._invoke(self._loop.quit, GLib.PRIORITY_LOW)
        self._thread.join()
