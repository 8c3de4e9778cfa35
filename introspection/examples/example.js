// SPDX-License-Identifier: LGPL-2.1-or-later
//
// spawn-async from GJS: input on stdin, several commands at once, an exit
// status, a missing program and a timeout.
//
// Run: gjs -m example.js

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Sa from 'gi://Sa?version=1.0';
import System from 'system';

// Makes aspawn_async() return a Promise when it is given no callback.
Gio._promisify(Sa.Worker.prototype, 'aspawn_async', 'aspawn_finish');

// "cherry\napple\n" -> "cherry apple"
function words(text) {
    return text.trim().split('\n').join(' ');
}

async function main(worker) {
    // Bytes for the child's stdin.
    const input = new TextEncoder().encode('cherry\napple\nbanana\n');
    const sorted = await worker.aspawn_async(['sort'],
        new Sa.SpawnOptions({input: new GLib.Bytes(input)}), null);
    sorted.check();
    print(`sort: ${words(sorted.get_stdout())}`);

    // Several commands at once: each promise is one child.
    const echoes = await Promise.all(['one', 'two', 'three'].map(
        word => worker.aspawn_async(['echo', word], null, null)));
    print(`parallel: ${echoes.map(result => words(result.get_stdout())).join(' ')}`);

    // A child that fails still has a result; check() throws for it.
    const failed = await worker.aspawn_async(['sh', '-c', 'echo oops >&2; exit 3'],
        null, null);
    try {
        failed.check();
    } catch (error) {
        if (!error.matches(GLib.spawn_exit_error_quark(), 3))
            throw error;
        print(`exit status ${failed.get_exit_status()}: ${error.message} ` +
              `(stderr: ${words(failed.get_stderr())})`);
    }

    // A program that cannot run has no result: the promise rejects.
    try {
        await worker.aspawn_async(['spawn-async-no-such-program'], null, null);
    } catch (error) {
        if (!error.matches(GLib.SpawnError, GLib.SpawnError.NOENT))
            throw error;
        print(`not found: ${error.message}`);
    }

    // The child's process group gets SIGTERM after 100 ms.
    const slow = await worker.aspawn_async(['sleep', '10'],
        new Sa.SpawnOptions({timeout_ms: 100}), null);
    try {
        slow.check();
    } catch (error) {
        if (!error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT))
            throw error;
        print(`timed out: ${error.message}`);
    }
}

const worker = Sa.Worker.new(null);
const loop = new GLib.MainLoop(null, false);
let status = 0;

main(worker).catch(error => {
    logError(error);
    status = 1;
}).finally(() => {
    // Stops the helper and every child it still runs.
    worker.destroy();
    loop.quit();
});
loop.run();
System.exit(status);
