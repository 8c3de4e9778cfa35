// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Terminals and pre-exec options from GJS: Sa.Stdio.PTY and
// Sa.Process.get_pty(), take_pty_fd(), new-session, umask, set_rlimit(),
// program, search-path and detached; run with `gjs -m`. Everything read
// from a terminal is read with a deadline.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sa from 'gi://Sa?version=1.0';

import {
    test, run, withWorker, sleep, waitUntil, makeTmpDir, removeTree, pidAlive,
    AssertionError, assertEqual, assertTrue, assertError, assertRejects, assertThrows,
    assertPidGone, assertGroupGone, liveProcesses, procStat,
} from './harness.js';

Gio._promisify(Sa.Worker.prototype, 'spawn_async', 'spawn_finish');
Gio._promisify(Sa.Process.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Gio.InputStream.prototype, 'read_bytes_async', 'read_bytes_finish');

const PROMPT = 'SA-PROMPT> ';
const PTS = /^\/dev\/pts\/[0-9]+$/;
const TERMINAL_TIMEOUT_MS = 20000;
const RLIMIT_CPU = 0;           // Linux
const RLIMIT_NOFILE = 7;        // Linux

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function options(props = {}) {
    return new Sa.SpawnOptions(props);
}

function ptyOptions(props = {}) {
    return options({
        stdin_mode: Sa.Stdio.PTY, stdout_mode: Sa.Stdio.PTY, stderr_mode: Sa.Stdio.PTY, ...props,
    });
}

function quiet(props = {}) {
    return options({
        stdin_mode: Sa.Stdio.NULL, stdout_mode: Sa.Stdio.NULL, stderr_mode: Sa.Stdio.NULL, ...props,
    });
}

function readText(path) {
    const [, contents] = GLib.file_get_contents(path);
    return decoder.decode(contents);
}

// The live children of ppid whose command name is name.
function childrenNamed(ppid, name) {
    return liveProcesses(stat => stat.ppid === ppid && stat.comm === name);
}

function killQuietly(pid) {
    Gio.Subprocess.new(['kill', '-KILL', String(pid)], Gio.SubprocessFlags.STDERR_SILENCE).wait(null);
}

function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// The master side of a terminal (a Gio.IOStream), read in the background
// and written to.
class Terminal {
    constructor(stream) {
        assertTrue(stream instanceof Gio.IOStream, 'the terminal is a Gio.IOStream');
        this.input = stream.get_input_stream();
        this.output = stream.get_output_stream();
        this.cancellable = new Gio.Cancellable();
        this.text = '';         // read and not consumed by expect() yet
        this.eof = false;
        this.error = null;
        this.pump = this._pump();
    }

    async _pump() {
        try {
            for (;;) {
                // eslint-disable-next-line no-await-in-loop
                const bytes = await this.input.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, this.cancellable);
                if (bytes.get_size() === 0) {
                    this.eof = true;
                    return;
                }
                // What the tests read is ASCII: no character spans two reads.
                this.text += decoder.decode(bytes.toArray());
            }
        } catch (err) {
            this.error = err;
        }
    }

    // Waits until regex matches what was read; consumes the text up to the
    // end of the match and returns the match.
    async expect(regex, timeoutMs = TERMINAL_TIMEOUT_MS) {
        let match = null;
        try {
            await waitUntil(() => (match = regex.exec(this.text)) !== null || this.eof || this.error !== null,
                `${regex} on the terminal`, timeoutMs);
        } catch (err) {
            throw new AssertionError(`${err.message}; the terminal showed ${JSON.stringify(this.text)}`);
        }
        if (match === null) {
            throw new AssertionError(`the terminal ended (eof ${this.eof}, error ${this.error}) before ${regex}; ` +
                `it showed ${JSON.stringify(this.text)}`);
        }
        this.text = this.text.slice(match.index + match[0].length);
        return match;
    }

    type(text) {
        const data = encoder.encode(text);
        const [ok, written] = this.output.write_all(data, null);
        assertTrue(ok && written === data.length, `typing ${JSON.stringify(text)}`);
    }

    // Types line into the shell; what it printed up to the next prompt.
    async command(line) {
        this.type(`${line}\n`);
        const match = await this.expect(new RegExp(`${escapeRegExp(line)}\\r\\n([^]*?)${escapeRegExp(PROMPT)}`));
        return match[1];
    }

    async waitEof(timeoutMs = TERMINAL_TIMEOUT_MS) {
        try {
            await waitUntil(() => this.eof || this.error !== null, 'the end of the terminal', timeoutMs);
        } catch (err) {
            throw new AssertionError(`${err.message}; it showed ${JSON.stringify(this.text)}`);
        }
        if (this.error !== null)
            throw this.error;
    }

    async close() {
        this.cancellable.cancel();
        await this.pump;
    }
}

// -- Sa.Stdio.PTY ------------------------------------------------------------

test('aspawn on a terminal', () => withWorker(async worker => {
    const result = await worker.aspawn_async(
        ['sh', '-c', 'test -t 0 && test -t 1 && test -t 2 && echo isatty; tty'], ptyOptions(), null);
    assertTrue(result.check(), 'success');
    const out = result.get_stdout();
    const lines = out.split('\r\n');
    assertEqual(lines[0], 'isatty', `first line of ${JSON.stringify(out)}`);
    assertTrue(PTS.test(lines[1]), `${JSON.stringify(lines[1])} is a /dev/pts/N`);
    assertEqual(lines.length, 3, `lines of ${JSON.stringify(out)}`);
    assertEqual(lines[2], '', 'after the last line end');
    await assertGroupGone(result.get_pid());
}));

test('a terminal for stdout alone', () => withWorker(async worker => {
    const result = await worker.aspawn_async(
        ['sh', '-c', 'test -t 1 && echo out-tty; test -t 0 || echo in-not; test -t 2 || echo err-not >&2'],
        options({stdout_mode: Sa.Stdio.PTY}), null);
    assertEqual(result.get_stdout(), 'out-tty\r\nin-not\r\n', 'stdout');
    assertEqual(result.get_stderr(), 'err-not\n', 'stderr');
}));

test('a terminal for stdin or stderr needs one for stdout', () => withWorker(async worker => {
    for (const props of [{stdin_mode: Sa.Stdio.PTY}, {stderr_mode: Sa.Stdio.PTY},
        {stdin_mode: Sa.Stdio.PTY, stderr_mode: Sa.Stdio.PTY}]) {
        // eslint-disable-next-line no-await-in-loop
        await assertRejects(worker.aspawn_async(['true'], options(props), null),
            Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT);
    }
    const result = await worker.aspawn_async(['echo', 'still working'], null, null);
    assertEqual(result.get_stdout(), 'still working\n', 'the worker goes on');
}));

test('an interactive shell on its terminal', () => withWorker(async worker => {
    const env = [`PS1=${PROMPT}`, 'TERM=dumb', `PATH=${GLib.getenv('PATH')}`];
    const process = await worker.spawn_async(['sh', '-i'], ptyOptions({env}), null);
    assertEqual(process.get_stdin_pipe(), null, 'no stdin pipe');
    assertEqual(process.get_stdout_pipe(), null, 'no stdout pipe');
    assertEqual(process.get_stderr_pipe(), null, 'no stderr pipe');
    const shell = process.get_pid();
    const terminal = new Terminal(process.get_pty());
    try {
        await terminal.expect(new RegExp(escapeRegExp(PROMPT)));

        const stat = procStat(shell);
        assertEqual(stat.session, shell, 'session');
        assertEqual(stat.pgrp, shell, 'process group');
        const name = (await terminal.command('tty')).replace(/\r\n$/, '');
        assertTrue(PTS.test(name), `${JSON.stringify(name)} is a /dev/pts/N`);
        assertEqual(GLib.file_read_link(`/proc/${shell}/fd/0`), name, 'the shell\'s stdin');

        assertEqual(await terminal.command('stty size'), '24 80\r\n', 'a new terminal');
        assertTrue(process.set_window_size(40, 100), 'set_window_size');
        assertEqual(await terminal.command('stty size'), '40 100\r\n', 'resized');
        for (const [rows, columns] of [[0, 80], [24, 0], [65536, 80], [24, 65536]]) {
            assertThrows(() => process.set_window_size(rows, columns),
                Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT);
        }
        assertEqual(await terminal.command('stty size'), '40 100\r\n', 'after the refused sizes');

        // Ctrl+C interrupts the foreground command.
        terminal.type('sleep 100\n');
        await terminal.expect(/sleep 100\r\n/);
        let sleepers = [];
        await waitUntil(() => (sleepers = childrenNamed(shell, 'sleep')).length > 0, 'sleep to run');
        const started = GLib.get_monotonic_time();
        terminal.type('\x03');
        await terminal.expect(new RegExp(escapeRegExp(PROMPT)), 5000);
        assertTrue(GLib.get_monotonic_time() - started < 5000000, 'interrupted within 5 s');
        await assertPidGone(sleepers[0]);
        assertEqual(await terminal.command('echo $?'), '130\r\n', 'status of the interrupted sleep');

        terminal.type('exit 3\n');
        await process.wait_async(null);
        assertTrue(process.get_if_exited(), 'exited');
        assertEqual(process.get_exit_status(), 3, 'exit status');
        await terminal.waitEof();
    } finally {
        await terminal.close();
        process.force_exit();
    }
    await assertGroupGone(shell);
}));

test('set_window_size needs a terminal', () => withWorker(async worker => {
    const process = await worker.spawn_async(['true'], null, null);
    assertEqual(process.get_pty(), null, 'get_pty()');
    assertThrows(() => process.set_window_size(24, 80), Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_SUPPORTED);
    await process.wait_async(null);
}));

// -- take_pty_fd() -----------------------------------------------------------
//
// GJS cannot open a pseudo-terminal pair itself (no openpty(), no
// unlockpt()), so the terminal comes from the helper: the peer of a first
// child's Sa.Stdio.PTY terminal, opened through /proc while that child
// holds it as its controlling terminal (so that opening it does not make
// it ours), kept once that child is gone (its session then no longer
// owns the terminal), and given to a second child; the second child's
// output is read from the first child's Sa.Process.get_pty().

test('take_pty_fd makes a terminal the child\'s own', () => withWorker(async worker => {
    const first = await worker.spawn_async(['sleep', '100'], ptyOptions(), null);
    const terminal = new Terminal(first.get_pty());
    let fd = -1;
    try {
        const name = GLib.file_read_link(`/proc/${first.get_pid()}/fd/0`);
        assertTrue(PTS.test(name), `${JSON.stringify(name)} is a /dev/pts/N`);
        const peer = Gio.File.new_for_path(`/proc/${first.get_pid()}/fd/0`).open_readwrite(null);
        const list = Gio.UnixFDList.new();
        list.append(Gio.FileDescriptorBased.prototype.get_fd.call(peer.get_output_stream()));
        [fd] = list.steal_fds();
        peer.close(null);
        first.force_exit();
        await first.wait_async(null);
        await assertGroupGone(first.get_pid());

        const opts = new Sa.SpawnOptions();
        opts.take_pty_fd(fd);
        fd = -1;
        const second = await worker.spawn_async(['sh', '-c',
            'test -t 0 && test -t 2 && tty; ps -o sid= -o pid= -p $$'], opts, null);
        assertEqual(second.get_pty(), null, 'get_pty() of a caller\'s terminal');
        assertEqual(second.get_stdout_pipe(), null, 'no stdout pipe');
        const match = await terminal.expect(/^(.*)\r\n(.*)\r\n/);
        assertEqual(match[1], name, 'the terminal\'s name');
        const [sid, pid] = match[2].trim().split(/\s+/).map(Number);
        assertEqual(sid, second.get_pid(), 'session');
        assertEqual(pid, second.get_pid(), 'pid');
        await second.wait_async(null);
        assertEqual(second.get_exit_status(), 0, 'exit status');
    } finally {
        await terminal.close();
        first.force_exit();
        if (fd >= 0)
            GLib.close(fd);
    }
}));

test('take_pty_fd with what is not a terminal', () => withWorker(async worker => {
    let opts = new Sa.SpawnOptions();
    const [fd, path] = GLib.file_open_tmp('sa-gjs-XXXXXX');
    GLib.unlink(path);
    opts.take_pty_fd(fd);
    await assertRejects(worker.aspawn_async(['true'], opts, null),
        GLib.SpawnError, GLib.SpawnError.FAILED, /Inappropriate ioctl for device/);

    opts = new Sa.SpawnOptions();
    opts.take_pty_fd(-1);
    await assertRejects(worker.aspawn_async(['true'], opts, null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT);
    const result = await worker.aspawn_async(['true'], null, null);
    assertTrue(result.check(), 'the worker goes on');
}));

// -- new-session, umask, set_rlimit() ----------------------------------------

test('new-session', () => withWorker(async worker => {
    const argv = ['sh', '-c', 'ps -o sid= -o pgid= -o pid= -p $$'];
    let result = await worker.aspawn_async(argv, options({new_session: true}), null);
    let [sid, pgid, pid] = result.get_stdout().trim().split(/\s+/).map(Number);
    assertEqual(pid, result.get_pid(), 'pid');
    assertEqual(sid, pid, 'session');
    assertEqual(pgid, pid, 'process group');

    // Without: a process group of its own in the caller's session.
    result = await worker.aspawn_async(argv, null, null);
    [sid, pgid, pid] = result.get_stdout().trim().split(/\s+/).map(Number);
    assertEqual(pgid, pid, 'process group');
    assertEqual(sid, procStat('self').session, 'the caller\'s session');
    assertTrue(sid !== pid, 'no new session');
}));

test('umask', () => withWorker(async worker => {
    const dir = makeTmpDir();
    try {
        const result = await worker.aspawn_async(['sh', '-c', 'umask; : > made'],
            options({umask: 0o027, cwd: dir}), null);
        assertEqual(result.get_stdout(), '0027\n', 'umask');
        const info = Gio.File.new_for_path(`${dir}/made`).query_info('unix::mode',
            Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
        assertEqual((info.get_attribute_uint32('unix::mode') & 0o7777).toString(8), '640', 'mode');
    } finally {
        removeTree(dir);
    }
    const result = await worker.aspawn_async(['sh', '-c', 'umask'], options({umask: 0}), null);
    assertEqual(result.get_stdout(), '0000\n', 'umask 0');
}));

test('set_rlimit', () => withWorker(async worker => {
    const opts = new Sa.SpawnOptions();
    opts.set_rlimit(RLIMIT_NOFILE, 64, 64);
    let result = await worker.aspawn_async(['sh', '-c', 'ulimit -n; ulimit -Hn'], opts, null);
    assertEqual(result.get_stdout(), '64\n64\n', 'the limits');
    result = await worker.aspawn_async(['sh', '-c', 'ulimit -n'], null, null);
    assertTrue(result.get_stdout() !== '64\n', 'not for a command with other options');

    assertEqual(Sa.RLIMIT_INFINITY, -1, 'Sa.RLIMIT_INFINITY');
    assertTrue(/^Max cpu time +[^ ]+ +unlimited /m.test(readText('/proc/self/limits')),
        'this test needs an unlimited RLIMIT_CPU hard limit');
    const cpu = new Sa.SpawnOptions();
    cpu.set_rlimit(RLIMIT_CPU, 1000, Sa.RLIMIT_INFINITY);
    result = await worker.aspawn_async(['sh', '-c', 'ulimit -t; ulimit -Ht'], cpu, null);
    assertEqual(result.get_stdout(), '1000\nunlimited\n', 'RLIMIT_CPU');
}));

// -- program, search-path ------------------------------------------------------

test('program', () => withWorker(async worker => {
    let result = await worker.aspawn_async(['custom-name', '-c', 'echo $0'], options({program: '/bin/sh'}), null);
    assertEqual(result.get_stdout(), 'custom-name\n', '$0');
    result = await worker.aspawn_async(['custom-name', '-c', 'echo $0'], options({program: 'sh'}), null);
    assertEqual(result.get_stdout(), 'custom-name\n', '$0, program looked up in PATH');

    const process = await worker.spawn_async(['renamed-sleep', '5'], quiet({program: '/bin/sleep'}), null);
    try {
        // The exec has happened when spawn_async() is done, but the kernel
        // may not have filled /proc/PID/cmdline in yet: it is empty until then.
        let cmdline = '';
        await waitUntil(() => (cmdline = readText(`/proc/${process.get_pid()}/cmdline`)) !== '',
            'the command line in /proc');
        assertEqual(cmdline, 'renamed-sleep\u00005\u0000', 'cmdline');
        const exe = GLib.file_read_link(`/proc/${process.get_pid()}/exe`);
        assertTrue(/\/sleep$/.test(exe), `${exe} is sleep`);
    } finally {
        process.force_exit();
    }
    await process.wait_async(null);
    assertTrue(process.get_if_signaled(), 'killed');
    await assertGroupGone(process.get_pid());
}));

test('search-path', () => withWorker(async worker => {
    const dir = makeTmpDir();
    try {
        const err = await assertRejects(worker.aspawn_async(['true'], options({search_path: false, cwd: dir}), null),
            GLib.SpawnError, GLib.SpawnError.NOENT);
        assertTrue(err.matches(GLib.spawn_error_quark(), GLib.SpawnError.NOENT), 'NOENT');
        const result = await worker.aspawn_async(['/bin/true'], options({search_path: false}), null);
        assertTrue(result.check(), 'a path still works');

        // A bare name is a file in the working directory then.
        GLib.file_set_contents(`${dir}/sa-local`, '#!/bin/sh\necho local\n');
        Gio.File.new_for_path(`${dir}/sa-local`).set_attribute_uint32('unix::mode', 0o755,
            Gio.FileQueryInfoFlags.NONE, null);
        const local = await worker.aspawn_async(['sa-local'], options({search_path: false, cwd: dir}), null);
        assertEqual(local.get_stdout(), 'local\n', 'the local program');
        await assertRejects(worker.aspawn_async(['sa-local'], options({cwd: dir}), null),
            GLib.SpawnError, GLib.SpawnError.NOENT);
    } finally {
        removeTree(dir);
    }
}));

// -- values that are refused ---------------------------------------------------

test('bad values fail the command', () => withWorker(async worker => {
    function rlimit(resource, soft, hard) {
        const opts = new Sa.SpawnOptions();
        opts.set_rlimit(resource, soft, hard);
        return opts;
    }
    const cases = {
        'negative soft limit': rlimit(RLIMIT_NOFILE, -5, 1),
        'negative hard limit': rlimit(RLIMIT_NOFILE, 1, -7),
        'unknown resource': rlimit(999, 1, 1),
        'negative resource': rlimit(-1, 1, 1),
        'soft above hard': rlimit(RLIMIT_NOFILE, 64, 32),
        'umask 01000': options({umask: 0o1000}),
        'umask -2': options({umask: -2}),
    };
    for (const [what, opts] of Object.entries(cases)) {
        try {
            // eslint-disable-next-line no-await-in-loop
            await worker.aspawn_async(['sh', '-c', 'echo ran'], opts, null);
            throw new AssertionError(`${what}: the command ran`);
        } catch (err) {
            if (err instanceof AssertionError)
                throw err;
            assertError(err, Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT);
        }
        // eslint-disable-next-line no-await-in-loop
        const result = await worker.aspawn_async(['echo', 'next'], null, null);
        assertEqual(result.get_stdout(), 'next\n', `the worker goes on after ${what}`);
    }
}));

// -- detached ------------------------------------------------------------------

test('a detached child outlives its worker', () => withWorker(async worker => {
    const helper = worker.helper_pid;
    const detached = await worker.spawn_async(['sleep', '30'], quiet({detached: true}), null);
    const attached = await worker.spawn_async(['sleep', '30'], quiet(), null);
    const pids = [detached.get_pid(), attached.get_pid()];
    try {
        assertEqual(procStat(detached.get_pid()).session, detached.get_pid(), 'a new session');
        worker.destroy();
        await assertPidGone(helper);
        await assertPidGone(attached.get_pid());
        await sleep(200);
        assertTrue(pidAlive(detached.get_pid()), 'the detached child lives');
    } finally {
        pids.forEach(killQuietly);
    }
    await assertPidGone(detached.get_pid());
}));

run();
