// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Sa.Process from GJS: live children, read line by line while they run,
// written to, signalled and waited for; run with `gjs -m`.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sa from 'gi://Sa?version=1.0';

import {
    test, run, withWorker,
    assertEqual, assertTrue, assertRejects, assertPidGone, assertGroupGone,
} from './harness.js';

Gio._promisify(Sa.Worker.prototype, 'spawn_async', 'spawn_finish');
Gio._promisify(Sa.Process.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Sa.Process.prototype, 'wait_check_async', 'wait_check_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');
Gio._promisify(Gio.OutputStream.prototype, 'write_all_async', 'write_all_finish');
Gio._promisify(Gio.OutputStream.prototype, 'close_async', 'close_finish');

const SIGTERM = 15;
const SIGKILL = 9;

function options(props) {
    return new Sa.SpawnOptions(props);
}

async function readLine(data) {
    const [line] = await data.read_line_async(GLib.PRIORITY_DEFAULT, null);
    return line;
}

test('lines come while the child runs', () => withWorker(async worker => {
    const argv = ['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.05; done'];
    const process = await worker.spawn_async(argv, null, null);
    assertTrue(process.get_pid() > 1, 'a pid at once');
    assertEqual(process.get_identifier(), String(process.get_pid()), 'identifier');

    const data = new Gio.DataInputStream({base_stream: process.get_stdout_pipe()});
    const lines = [];
    for (let line = await readLine(data); line !== null; line = await readLine(data))
        lines.push(line);
    assertEqual(lines.join('|'), 'line 1|line 2|line 3', 'lines');

    await process.wait_check_async(null);
    assertTrue(process.get_successful(), 'successful');
    assertEqual(process.get_exit_status(), 0, 'exit status');
}));

test('a conversation with bc', () => withWorker(async worker => {
    const process = await worker.spawn_async(['bc', '-q'], options({
        stdin_mode: Sa.Stdio.PIPE, stdout_mode: Sa.Stdio.PIPE, stderr_mode: Sa.Stdio.PIPE,
    }), null);
    const answers = new Gio.DataInputStream({base_stream: process.get_stdout_pipe()});
    const questions = process.get_stdin_pipe();
    const encoder = new TextEncoder();

    for (const [question, answer] of [['2+2', '4'], ['6*7', '42'], ['2^10', '1024']]) {
        await questions.write_all_async(encoder.encode(`${question}\n`), GLib.PRIORITY_DEFAULT, null);
        assertEqual(await readLine(answers), answer, question);
    }
    await questions.close_async(GLib.PRIORITY_DEFAULT, null);
    await process.wait_check_async(null);
}));

test('stderr merged into stdout, in order', () => withWorker(async worker => {
    const process = await worker.spawn_async(['sh', '-c', 'echo a; echo b >&2; echo c'],
        options({stderr_mode: Sa.Stdio.MERGE}), null);
    assertEqual(process.get_stderr_pipe(), null, 'no stderr pipe');
    const data = new Gio.DataInputStream({base_stream: process.get_stdout_pipe()});
    const lines = [];
    for (let line = await readLine(data); line !== null; line = await readLine(data))
        lines.push(line);
    assertEqual(lines.join(''), 'abc', 'lines');
    await process.wait_check_async(null);
}));

test('send_signal to a child that traps it, force_exit of a group', () => withWorker(async worker => {
    const trap = await worker.spawn_async(['sh', '-c',
        'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.01; done'], null, null);
    const data = new Gio.DataInputStream({base_stream: trap.get_stdout_pipe()});
    assertEqual(await readLine(data), 'ready', 'ready');
    trap.send_signal(SIGTERM);
    assertEqual(await readLine(data), 'got TERM', 'trapped');
    await trap.wait_async(null);
    assertEqual(trap.get_exit_status(), 3, 'exit status');
    trap.send_signal(SIGTERM);          // after the end: nothing
    trap.force_exit();

    const group = await worker.spawn_async(['sh', '-c', 'sleep 100 & echo $!; sleep 100'], null, null);
    const groupData = new Gio.DataInputStream({base_stream: group.get_stdout_pipe()});
    const grandchild = parseInt(await readLine(groupData));
    group.force_exit();
    await group.wait_async(null);
    assertTrue(group.get_if_signaled(), 'signaled');
    assertEqual(group.get_term_sig(), SIGKILL, 'SIGKILL');
    await assertPidGone(grandchild);
    await assertRejects(group.wait_check_async(null), Sa.SpawnError, Sa.SpawnError.SIGNALED);
}));

test('cancelling a wait leaves the child running', () => withWorker(async worker => {
    const process = await worker.spawn_async(['cat'], options({
        stdin_mode: Sa.Stdio.PIPE, stdout_mode: Sa.Stdio.NULL, stderr_mode: Sa.Stdio.NULL,
    }), null);
    const cancellable = new Gio.Cancellable();
    const waiting = process.wait_async(cancellable);
    cancellable.cancel();
    await assertRejects(waiting, Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
    assertTrue(process.get_identifier() !== null, 'still running');
    await process.get_stdin_pipe().close_async(GLib.PRIORITY_DEFAULT, null);
    await process.wait_check_async(null);
}));

test('timeouts apply', () => withWorker(async worker => {
    const process = await worker.spawn_async(['sleep', '100'], options({timeout_ms: 100}), null);
    await assertRejects(process.wait_check_async(null), Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT);
    assertTrue(process.get_timed_out(), 'timed out');
}));

test('destroying the worker fails pending waits and kills the group', () => withWorker(async worker => {
    const process = await worker.spawn_async(['sleep', '100'], null, null);
    const waiting = process.wait_async(null);
    worker.destroy();
    await assertRejects(waiting, Sa.WorkerError, Sa.WorkerError.DESTROYED);
    await assertGroupGone(process.get_pid());
}));

test('invalid combinations fail at call time', () => withWorker(async worker => {
    await assertRejects(worker.spawn_async(['true'], options({stdin_mode: Sa.Stdio.MERGE}), null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT);
    await assertRejects(worker.spawn_async(['cat'], options({input: new GLib.Bytes('x')}), null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT);
    const result = await worker.aspawn_async(['echo', 'still working'], null, null);
    assertEqual(result.get_stdout(), 'still working\n', 'the worker goes on');
}));

test('take_fd gives a file as fd 3', () => withWorker(async worker => {
    const [fd, path] = GLib.file_open_tmp('sa-gjs-XXXXXX');
    const opts = new Sa.SpawnOptions();
    opts.take_fd(fd, 3);
    const process = await worker.spawn_async(['sh', '-c', 'echo via-fd-3 >&3'], opts, null);
    await process.wait_check_async(null);
    const [, contents] = GLib.file_get_contents(path);
    GLib.unlink(path);
    assertEqual(new TextDecoder().decode(contents), 'via-fd-3\n', 'written through fd 3');
}));

run();
