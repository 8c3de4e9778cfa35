// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The tests of node-spawn-async, ported to GJS: run with `gjs -m`.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sa from 'gi://Sa?version=1.0';

import {
    test, run, waitUntil, withWorker,
    assertEqual, assertTrue, assertError, assertRejects, assertThrows,
    assertPidGone, assertGroupGone, assertGroupsGone, readPidFile, makeTmpDir, removeTree,
} from './harness.js';

const SIGKILL = 9;
const SIGUSR2 = 12;

// Runs argv and checks that nothing of its process group is left.
async function spawn(worker, argv, options = null, cancellable = null) {
    const result = await worker.aspawn_async(argv, options, cancellable);
    await assertGroupGone(result.get_pid());
    return result;
}

async function withTmpDir(fn) {
    const dir = makeTmpDir();
    try {
        await fn(dir);
    } finally {
        removeTree(dir);
    }
}

test('invalid arguments fail through the callback', () => withWorker(async worker => {
    const cases = [
        [[], null, Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT, ''],
        [['true'], new Sa.SpawnOptions({env: ['PATH=/usr/bin:/bin', 'NOEQUALSIGN']}),
            Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT, 'NOEQUALSIGN'],
        [['sa-no-such-program'], null, GLib.SpawnError, GLib.SpawnError.NOENT,
            'sa-no-such-program'],
        [['true'], new Sa.SpawnOptions({kill_signal: 0}),
            Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT, '0'],
    ];
    for (const [argv, options, domain, code, named] of cases) {
        // eslint-disable-next-line no-await-in-loop
        const err = await assertRejects(worker.aspawn_async(argv, options, null), domain, code);
        assertTrue(err.message.includes(named),
            `the message ${JSON.stringify(err.message)} names ${JSON.stringify(named)}`);

        // eslint-disable-next-line no-await-in-loop
        const result = await spawn(worker, ['echo', 'still working']);
        assertEqual(result.get_stdout(), 'still working\n', `stdout after ${JSON.stringify(argv)}`);
    }
}));

test('echo prints hello world', () => withWorker(async worker => {
    const result = await spawn(worker, ['echo', 'hello world']);
    assertEqual(result.get_stdout(), 'hello world\n', 'stdout');
    assertEqual(result.get_stderr(), '', 'stderr');
    assertTrue(result.get_if_exited(), 'if_exited');
    assertEqual(result.get_exit_status(), 0, 'exit status');
    assertTrue(result.get_successful(), 'successful');
    assertTrue(result.get_pid() > 0, 'the pid is set');
    assertEqual(result.check(), true, 'check()');
}));

test('the child inherits the caller environment at call time', () => withWorker(async worker => {
    const value = `inherited-${GLib.random_int()}`;
    GLib.setenv('SA_GJS_TEST_VAR', value, true);
    try {
        const result = await spawn(worker, ['sh', '-c', 'echo "$SA_GJS_TEST_VAR"']);
        assertEqual(result.get_stdout(), `${value}\n`, 'stdout');

        const env = await spawn(worker, ['env']);
        assertTrue(env.get_stdout().split('\n').includes(`SA_GJS_TEST_VAR=${value}`),
            'env lists the variable');
    } finally {
        GLib.unsetenv('SA_GJS_TEST_VAR');
    }
}));

test('a custom environment is the exact environment', () => withWorker(async worker => {
    const options = new Sa.SpawnOptions();
    options.set_env(['USER=someone_else']);
    const result = await spawn(worker, ['env'], options);
    assertEqual(result.get_stdout(), 'USER=someone_else\n', 'stdout');
    assertEqual(result.get_exit_status(), 0, 'exit status');
}));

test('grep without arguments exits with status 2', () => withWorker(async worker => {
    const result = await spawn(worker, ['grep']);
    assertTrue(result.get_if_exited(), 'if_exited');
    assertEqual(result.get_exit_status(), 2, 'exit status');
    assertTrue(!result.get_successful(), 'not successful');
    assertEqual(result.get_stdout(), '', 'stdout');
    assertTrue(/usage/i.test(result.get_stderr()),
        `stderr ${JSON.stringify(result.get_stderr())} is a usage message`);
    assertThrows(() => result.check(), GLib.spawn_exit_error_quark(), 2,
        'child exited with status 2');
}));

test('a child killed by SIGUSR2', () => withWorker(async worker => {
    const result = await spawn(worker, ['sh', '-c', 'echo out; echo err >&2; kill -USR2 $$']);
    assertEqual(result.get_stdout(), 'out\n', 'stdout');
    assertEqual(result.get_stderr(), 'err\n', 'stderr');
    assertTrue(result.get_if_signaled(), 'if_signaled');
    assertTrue(!result.get_if_exited(), 'not if_exited');
    assertEqual(result.get_exit_status(), -1, 'exit status');
    assertEqual(result.get_term_sig(), SIGUSR2, 'term_sig');
    const err = assertThrows(() => result.check(), Sa.SpawnError, Sa.SpawnError.SIGNALED,
        'child killed by signal SIGUSR2');
    assertEqual(GLib.quark_to_string(err.domain), 'sa-spawn-error-quark', 'error domain');
}));

test('the helper killed with a command pending', () => withTmpDir(dir => withWorker(async worker => {
    const exits = [];
    worker.connect('exit', (_worker, error) => exits.push(error));
    const notified = [];
    worker.connect('notify::helper-pid', () => notified.push(worker.helper_pid));
    const oldHelper = worker.helper_pid;
    assertTrue(oldHelper > 0, 'helper-pid is set');

    const pidFile = `${dir}/sleep.pid`;
    const pending = worker.aspawn_async(['sh', '-c', `echo $$ > ${pidFile}; exec sleep 10`], null, null);
    const sleepPid = await readPidFile(pidFile);

    const killer = Gio.Subprocess.new(['kill', '-KILL', String(oldHelper)], Gio.SubprocessFlags.NONE);
    await new Promise((resolve, reject) => killer.wait_check_async(null, (proc, res) => {
        try {
            proc.wait_check_finish(res);
            resolve();
        } catch (e) {
            reject(e);
        }
    }));

    await assertRejects(pending, Sa.WorkerError, Sa.WorkerError.EXITED,
        'worker process exited unexpectedly');
    await waitUntil(() => exits.length > 0, 'the exit signal');
    assertEqual(exits.length, 1, 'exit signals');
    assertError(exits[0], Sa.WorkerError, Sa.WorkerError.EXITED,
        'worker process exited unexpectedly');

    await waitUntil(() => worker.helper_pid !== 0 && worker.helper_pid !== oldHelper,
        'a new helper');
    const newHelper = worker.helper_pid;
    await waitUntil(() => notified.includes(newHelper), 'notify::helper-pid for the new helper');
    assertTrue(!notified.includes(oldHelper), 'no notification of the old helper');
    await assertPidGone(oldHelper);
    await assertPidGone(sleepPid);

    const result = await spawn(worker, ['echo', 'after restart']);
    assertEqual(result.get_stdout(), 'after restart\n', 'stdout after the restart');
    assertEqual(worker.helper_pid, newHelper, 'helper-pid after the restart');
    assertEqual(exits.length, 1, 'exit signals at the end');
})));

test('destroy with a command pending', () => withTmpDir(async dir => {
    const worker = Sa.Worker.new(null);
    const helper = worker.helper_pid;
    const exits = [];
    worker.connect('exit', (_worker, error) => exits.push(error));

    const pidFile = `${dir}/sleep.pid`;
    const pending = worker.aspawn_async(['sh', '-c', `echo $$ > ${pidFile}; exec sleep 10`], null, null);
    const sleepPid = await readPidFile(pidFile);

    worker.destroy();
    assertEqual(worker.helper_pid, 0, 'helper-pid after destroy()');
    await assertRejects(pending, Sa.WorkerError, Sa.WorkerError.DESTROYED,
        'worker process was destroyed');
    assertEqual(exits.length, 1, 'exit signals');
    assertEqual(exits[0], null, 'the exit signal error');

    await assertRejects(worker.aspawn_async(['true'], null, null),
        Sa.WorkerError, Sa.WorkerError.DESTROYED, 'worker process was destroyed');
    assertEqual(exits.length, 1, 'exit signals after a later call');

    await assertPidGone(sleepPid);
    await assertPidGone(helper);
}));

test('many commands in flight each get their own output', () => withWorker(async worker => {
    const N = 200;
    const promises = [];
    for (let i = 0; i < N; i++)
        promises.push(worker.aspawn_async(['sh', '-c', `echo ${i}`], null, null));
    const results = await Promise.all(promises);
    const pids = new Set();
    results.forEach((result, i) => {
        assertEqual(result.get_stdout(), `${i}\n`, `stdout of command ${i}`);
        assertEqual(result.get_exit_status(), 0, `exit status of command ${i}`);
        pids.add(result.get_pid());
    });
    assertEqual(pids.size, N, 'distinct pids');
    await assertGroupsGone(pids);
}), {timeoutMs: 120000});

// docs/hosts.md: the helper in a bubblewrap container, from GJS.
test('a launcher runs the helper in a container', async () => {
    if (GLib.find_program_in_path('bwrap') === null) {
        print('# SKIP bwrap (bubblewrap) is not installed');
        return;
    }
    const worker = new Sa.Worker({
        launcher: ['bwrap', '--dev-bind', '/', '/', '--proc', '/proc',
            '--unshare-pid', '--die-with-parent', '--'],
    });
    worker.init(null);
    try {
        assertEqual(worker.launcher[0], 'bwrap', 'the launcher property');
        const result = await worker.aspawn_async(['sh', '-c', 'echo $$'], null, null);
        assertTrue(Number(result.get_stdout()) < 100, `a pid of the container: ${result.get_stdout()}`);
        const echoed = await worker.aspawn_async(['cat'],
            new Sa.SpawnOptions({input: new GLib.Bytes(new TextEncoder().encode('in a container\n'))}),
            null);
        assertEqual(echoed.get_stdout(), 'in a container\n', 'input and output');
    } finally {
        worker.destroy();
    }
});

test('a launcher that keeps fd 3 to itself: the byte stream, as over ssh', async () => {
    const worker = new Sa.Worker({launcher: ['sh', '-c', 'exec "$@" 3>&-', 'sh']});
    worker.init(null);
    try {
        const echoed = await worker.aspawn_async(['cat'],
            new Sa.SpawnOptions({input: new GLib.Bytes(new TextEncoder().encode('over the stream\n'))}),
            null);
        assertEqual(echoed.get_stdout(), 'over the stream\n', 'input and output');
        await assertRejects(worker.aspawn_async(['true'],
            new Sa.SpawnOptions({stdout_mode: Sa.Stdio.INHERIT}), null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_SUPPORTED);
        const after = await worker.aspawn_async(['echo', 'still here'], null, null);
        assertEqual(after.get_stdout(), 'still here\n', 'the worker goes on');
    } finally {
        worker.destroy();
    }
});

run();
