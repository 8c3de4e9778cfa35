// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A shell in a real terminal widget: a Vte.Terminal in a GTK window, its
// shell started through SaWorker on the terminal's child side with
// SpawnOptions.take_pty_fd(). Closing the window kills the shell; the
// shell's exit closes the window.
//
// Run: gjs -m vte-terminal.js  (needs Debian's gir1.2-vte-2.91)
//
// With --test it types `echo hello`, waits to read a line `hello` back
// from the terminal, types `exit`, and exits with 0 only if it read it
// and the shell exited with 0. run-vte-example.py runs it under Xvfb.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gtk from 'gi://Gtk?version=3.0';
import Vte from 'gi://Vte?version=2.91';
import Sa from 'gi://Sa?version=1.0';
import System from 'system';

Gio._promisify(Sa.Worker.prototype, 'spawn_async', 'spawn_finish');
Gio._promisify(Sa.Process.prototype, 'wait_async', 'wait_finish');

const test = System.programArgs.includes('--test');
const TYPED = 'echo hello\n';
const EXPECTED = 'hello';

// The child's side of VTE's terminal, as a descriptor that the caller
// owns. VtePty keeps the master (pty.get_fd()); VTE 0.70 has no public
// call that gives the peer (vte_pty_child_setup() opens it only inside
// a GLib spawn's child_setup), and GJS cannot call ptsname(). So the
// peer's number N of /dev/pts/N comes from the master's fdinfo: Linux
// shows a ptmx descriptor's "tty-index".
function openPeer(pty) {
    const [, info] = GLib.file_get_contents(`/proc/self/fdinfo/${pty.get_fd()}`);
    const index = /^tty-index:\s*(\d+)$/m.exec(new TextDecoder().decode(info));
    if (!index)
        throw new Error('no tty-index in the terminal\'s fdinfo (not Linux?)');

    // open_readwrite() opens the peer O_RDWR, as a terminal that is
    // stdin and stdout must be (read() gives O_RDONLY). That descriptor
    // is its stream's, which closes it; take_pty_fd() must own its own,
    // so Gio.UnixFDList.append() duplicates it, steal_fds() hands the
    // copy over and the stream closes the original. (GIO opens without
    // O_NOCTTY: were this process a session leader with no controlling
    // terminal, the peer would become its own.)
    const stream = Gio.File.new_for_path(`/dev/pts/${index[1]}`).open_readwrite(null);
    const fds = new Gio.UnixFDList();
    fds.append(stream.get_output_stream().get_fd());
    stream.close(null);
    return fds.steal_fds()[0];
}

// --test: the terminal's whole text, scrollback included, as lines.
function terminalLines(terminal) {
    const out = Gio.MemoryOutputStream.new_resizable();
    terminal.write_contents_sync(out, Vte.WriteFlags.DEFAULT, null);
    out.close(null);
    return new TextDecoder().decode(out.steal_as_bytes().toArray()).split('\n');
}

// --test: once the shell has printed its prompt (text typed before it
// would be echoed above it, and `hello` would follow the prompt), types
// `echo hello`; once `hello` is a line of its own, types `exit`. Gives
// up after 20 s. Polls until state.ended.
function typeAndRead(terminal, process) {
    const state = {seen: false, ended: false};
    const deadline = GLib.get_monotonic_time() + 20 * GLib.USEC_PER_SEC;
    let typed = false;
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 100, () => {
        if (state.ended)
            return GLib.SOURCE_REMOVE;
        const lines = terminalLines(terminal);
        if (!typed && lines.join('').trim() !== '') {
            terminal.feed_child(new TextEncoder().encode(TYPED));
            typed = true;
        } else if (typed && lines.includes(EXPECTED)) {
            print(`read "${EXPECTED}" back from the terminal`);
            terminal.feed_child(new TextEncoder().encode('exit\n'));
            state.seen = true;
            return GLib.SOURCE_REMOVE;
        }
        if (GLib.get_monotonic_time() < deadline)
            return GLib.SOURCE_CONTINUE;
        printerr(`no line "${EXPECTED}" in the terminal, which reads:\n${lines.join('\n')}`);
        process.force_exit();
        return GLib.SOURCE_REMOVE;
    });
    return state;
}

const loop = new GLib.MainLoop(null, false);
let ok = false;

async function main() {
    Gtk.init(null);
    const terminal = new Vte.Terminal();
    const window = new Gtk.Window({title: 'spawn-async: a shell in a Vte.Terminal'});
    window.add(terminal);
    window.show_all();

    const worker = Sa.Worker.new(null);
    try {
        // VTE makes the terminal (posix_openpt(), grantpt(), unlockpt())
        // and reads and writes its master; the shell gets the peer as 0,
        // 1 and 2, in a new session, as its controlling terminal.
        const pty = Vte.Pty.new_sync(Vte.PtyFlags.DEFAULT, null);
        terminal.set_pty(pty);
        const options = new Sa.SpawnOptions();
        options.take_pty_fd(openPeer(pty));
        options.set_env(GLib.environ_setenv(GLib.get_environ(), 'TERM', 'xterm-256color', true));

        const shell = test ? '/bin/sh' : Vte.get_user_shell() ?? '/bin/sh';
        const process = await worker.spawn_async([shell], options, null);
        // Closing the window ends the shell (and its process group).
        window.connect('delete-event', () => {
            process.force_exit();
            return true;
        });

        const state = test ? typeAndRead(terminal, process) : null;
        await process.wait_async(null);
        const status = process.get_exit_status();
        print(`the shell exited with status ${status}`);
        if (state)
            state.ended = true;
        ok = !test || (status === 0 && state.seen);
    } catch (e) {
        printerr(`failed: ${e.message}`);
    } finally {
        worker.destroy();
        window.destroy();
        loop.quit();
    }
}

main();
loop.run();
System.exit(ok ? 0 : 1);
