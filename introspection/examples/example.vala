/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn-async from Vala: input on stdin, several commands at once, an
 * exit status, a missing program and a timeout.
 *
 * Build: valac --pkg spawn-async-1 example.vala
 */

/* "cherry\napple\n" -> "cherry apple" */
string words (string text) {
    return string.joinv (" ", text.strip ().split ("\n"));
}

async void run (Sa.Worker worker) throws Error {
    // Bytes for the child's stdin.
    var with_input = new Sa.SpawnOptions ();
    with_input.input = new Bytes ("cherry\napple\nbanana\n".data);
    var sorted = yield worker.aspawn ({ "sort" }, with_input, null);
    sorted.check ();
    print ("sort: %s\n", words (sorted.get_stdout ()));

    // Several commands at once: start them all, then wait for the last.
    string[] echo_words = { "one", "two", "three" };
    var echoes = new string[echo_words.length];
    var pending = echo_words.length;
    Error? echo_error = null;
    for (var i = 0; i < echo_words.length; i++) {
        var index = i;
        worker.aspawn.begin ({ "echo", echo_words[i] }, null, null, (obj, res) => {
            try {
                echoes[index] = words (worker.aspawn.end (res).get_stdout ());
            } catch (Error e) {
                echo_error = e;
            }
            if (--pending == 0)
                run.callback ();
        });
    }
    yield;
    if (echo_error != null)
        throw echo_error;
    print ("parallel: %s\n", string.joinv (" ", echoes));

    // A child that fails still has a result; check() throws for it.
    var failed = yield worker.aspawn ({ "sh", "-c", "echo oops >&2; exit 3" }, null, null);
    try {
        failed.check ();
    } catch (Error e) {
        print ("exit status %d: %s (stderr: %s)\n",
               failed.get_exit_status (), e.message, words (failed.get_stderr ()));
    }

    // A program that cannot run has no result: aspawn throws.
    try {
        yield worker.aspawn ({ "spawn-async-no-such-program" }, null, null);
    } catch (SpawnError.NOENT e) {
        print ("not found: %s\n", e.message);
    }

    // The child's process group gets SIGTERM after 100 ms.
    var with_timeout = new Sa.SpawnOptions ();
    with_timeout.timeout_ms = 100;
    var slow = yield worker.aspawn ({ "sleep", "10" }, with_timeout, null);
    try {
        slow.check ();
    } catch (IOError.TIMED_OUT e) {
        print ("timed out: %s\n", e.message);
    }
}

int main () {
    // The library's messages follow the user's locale, like GLib's.
    Intl.setlocale ();

    Sa.Worker worker;
    try {
        worker = new Sa.Worker ();
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }

    var loop = new MainLoop ();
    var status = 0;
    run.begin (worker, (obj, res) => {
        try {
            run.end (res);
        } catch (Error e) {
            printerr ("%s\n", e.message);
            status = 1;
        }
        loop.quit ();
    });
    loop.run ();

    // Stops the helper and every child it still runs.
    worker.destroy ();
    return status;
}
