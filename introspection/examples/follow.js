// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A live process from GJS: follow a program's output line by line while
// it runs (as with `journalctl -f` or `git clone --progress`), then wait
// for its end. Run: gjs -m follow.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sa from 'gi://Sa?version=1.0';
import System from 'system';

Gio._promisify(Sa.Worker.prototype, 'spawn_async', 'spawn_finish');
Gio._promisify(Sa.Process.prototype, 'wait_check_async', 'wait_check_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');

const loop = new GLib.MainLoop(null, false);

async function follow() {
    const worker = Sa.Worker.new(null);
    try {
        // stderr in the same stream, in order.
        const options = new Sa.SpawnOptions({stderr_mode: Sa.Stdio.MERGE});
        const process = await worker.spawn_async(['sh', '-c',
            'for i in 1 2 3; do echo "step $i of 3"; sleep 0.1; done; echo done >&2'],
        options, null);

        const lines = new Gio.DataInputStream({base_stream: process.get_stdout_pipe()});
        for (;;) {
            // eslint-disable-next-line no-await-in-loop
            const [line] = await lines.read_line_async(GLib.PRIORITY_DEFAULT, null);
            if (line === null)
                break;
            print(`> ${line}`);
        }

        await process.wait_check_async(null);
        print(`exited with status ${process.get_exit_status()}`);
    } catch (e) {
        printerr(`failed: ${e.message}`);
        System.exit(1);
    } finally {
        worker.destroy();
        loop.quit();
    }
}

follow();
loop.run();
