// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A tiny TAP harness for the GJS tests (Debian's gjs ships no test
// runner). Register tests with test(), then call run(): each test is an
// async function that gets its own timeout, so a callback that never
// comes fails the test instead of hanging the suite.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sa from 'gi://Sa?version=1.0';
import System from 'system';

Gio._promisify(Sa.Worker.prototype, 'aspawn_async', 'aspawn_finish');

const DEFAULT_TIMEOUT_MS = 30000;
const tests = [];

export class AssertionError extends Error {
    constructor(message) {
        super(message);
        this.name = 'AssertionError';
    }
}

export function test(name, fn, {timeoutMs = DEFAULT_TIMEOUT_MS} = {}) {
    tests.push({name, fn, timeoutMs});
}

// Resolves after ms milliseconds of main loop time.
export function sleep(ms) {
    return new Promise(resolve => {
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
            resolve();
            return GLib.SOURCE_REMOVE;
        });
    });
}

// Polls predicate every 20 ms until it is true; throws after timeoutMs.
export async function waitUntil(predicate, what, timeoutMs = 10000) {
    const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
    while (!predicate()) {
        if (GLib.get_monotonic_time() > deadline)
            throw new AssertionError(`timed out after ${timeoutMs} ms waiting for ${what}`);
        // eslint-disable-next-line no-await-in-loop
        await sleep(20);
    }
}

function withTimeout(promise, ms, name) {
    let id = 0;
    const timeout = new Promise((_resolve, reject) => {
        id = GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
            id = 0;
            reject(new AssertionError(`test "${name}" did not finish within ${ms} ms`));
            return GLib.SOURCE_REMOVE;
        });
    });
    return Promise.race([promise, timeout]).finally(() => {
        if (id !== 0)
            GLib.source_remove(id);
    });
}

function describe(value) {
    if (typeof value === 'string')
        return JSON.stringify(value);
    if (value instanceof GLib.Error)
        return `GLib.Error(${GLib.quark_to_string(value.domain)}, ${value.code}, ${JSON.stringify(value.message)})`;
    try {
        return JSON.stringify(value) ?? String(value);
    } catch {
        return String(value);
    }
}

export function assertEqual(actual, expected, what = 'value') {
    if (actual !== expected)
        throw new AssertionError(`${what}: expected ${describe(expected)}, got ${describe(actual)}`);
}

export function assertTrue(condition, what) {
    if (!condition)
        throw new AssertionError(`${what}: expected true`);
}

// Checks that err is a GLib.Error of domain (an error enum class or a
// quark) and code, and that its message matches message (a string for
// equality or a RegExp) when given.
export function assertError(err, domain, code, message) {
    if (!(err instanceof GLib.Error))
        throw new AssertionError(`expected a GLib.Error, got ${describe(err)}${err?.stack ? `\n${err.stack}` : ''}`);
    const domainName = typeof domain === 'number' ? GLib.quark_to_string(domain) : domain.name;
    if (!err.matches(domain, code))
        throw new AssertionError(`expected error ${domainName} code ${code}, got ${describe(err)}`);
    if (typeof message === 'string' && err.message !== message)
        throw new AssertionError(`error message: expected ${describe(message)}, got ${describe(err.message)}`);
    if (message instanceof RegExp && !message.test(err.message))
        throw new AssertionError(`error message ${describe(err.message)} does not match ${message}`);
}

// Awaits promise, which must reject with the given GLib.Error.
export async function assertRejects(promise, domain, code, message) {
    let result;
    try {
        result = await promise;
    } catch (err) {
        assertError(err, domain, code, message);
        return err;
    }
    throw new AssertionError(`expected error code ${code}, got a result ${describe(result)}`);
}

// Calls fn, which must throw the given GLib.Error.
export function assertThrows(fn, domain, code, message) {
    try {
        fn();
    } catch (err) {
        assertError(err, domain, code, message);
        return err;
    }
    throw new AssertionError(`expected error code ${code}, nothing was thrown`);
}

// -- processes ------------------------------------------------------------

const decoder = new TextDecoder();

// The command name, state, parent, process group and session of pid
// from /proc/PID/stat, or null when there is no such process.
export function procStat(pid) {
    let contents;
    try {
        [, contents] = GLib.file_get_contents(`/proc/${pid}/stat`);
    } catch {
        return null;
    }
    const text = decoder.decode(contents);
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
        comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')),
        state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]),
    };
}

// Whether pid is a live process (zombies count as gone).
export function pidAlive(pid) {
    const stat = procStat(pid);
    return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

// The live processes (zombies count as gone) whose procStat() passes
// filter.
export function liveProcesses(filter) {
    const found = [];
    const enumerator = Gio.File.new_for_path('/proc').enumerate_children('standard::name',
        Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    for (let info = enumerator.next_file(null); info !== null; info = enumerator.next_file(null)) {
        const name = info.get_name();
        if (!/^[0-9]+$/.test(name))
            continue;
        const stat = procStat(name);
        if (stat !== null && stat.state !== 'Z' && stat.state !== 'X' && filter(stat))
            found.push(Number(name));
    }
    enumerator.close(null);
    return found;
}

// The live processes whose process group is one of pgids.
export function groupMembers(pgids) {
    return liveProcesses(stat => pgids.has(stat.pgrp));
}

export async function assertPidGone(pid, timeoutMs = 5000) {
    assertTrue(pid > 0, `pid ${pid} is a pid`);
    await waitUntil(() => !pidAlive(pid), `process ${pid} to exit`, timeoutMs);
}

// Waits until no live process is left in any of the process groups
// pgids (an iterable of pids) or fails.
export async function assertGroupsGone(pgids, timeoutMs = 5000) {
    const groups = new Set(pgids);
    for (const pgid of groups)
        assertTrue(pgid > 0, `process group ${pgid} is a pid`);
    let left = [];
    try {
        await waitUntil(() => (left = groupMembers(groups)).length === 0,
            'the process groups to be empty', timeoutMs);
    } catch (err) {
        throw new AssertionError(`${err.message}: processes ${left.join(', ')} are left`);
    }
}

export function assertGroupGone(pgid, timeoutMs = 5000) {
    return assertGroupsGone([pgid], timeoutMs);
}

// Reads a pid that a child wrote to path ("echo $$ > path"), waiting for
// the file to be complete.
export async function readPidFile(path, timeoutMs = 10000) {
    let pid = 0;
    await waitUntil(() => {
        try {
            const [, contents] = GLib.file_get_contents(path);
            const text = decoder.decode(contents);
            if (text.endsWith('\n'))
                pid = Number(text.trim());
        } catch {
        }
        return pid > 0;
    }, `a pid in ${path}`, timeoutMs);
    return pid;
}

export function makeTmpDir() {
    return GLib.dir_make_tmp('sa-gjs-XXXXXX');
}

export function removeTree(path) {
    const file = Gio.File.new_for_path(path);
    const enumerator = file.enumerate_children('standard::name',
        Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    for (let info = enumerator.next_file(null); info !== null; info = enumerator.next_file(null))
        file.get_child(info.get_name()).delete(null);
    enumerator.close(null);
    file.delete(null);
}

// Runs fn with a new worker, then destroys it and checks its helper is
// gone.
export async function withWorker(fn) {
    const worker = Sa.Worker.new(null);
    const helpers = new Set([worker.helper_pid]);
    const id = worker.connect('notify::helper-pid', () => helpers.add(worker.helper_pid));
    try {
        await fn(worker);
    } finally {
        worker.destroy();
        worker.disconnect(id);
    }
    assertEqual(worker.helper_pid, 0, 'helper-pid after destroy()');
    for (const pid of helpers) {
        if (pid !== 0)
            // eslint-disable-next-line no-await-in-loop
            await assertPidGone(pid);
    }
}

// -- running ----------------------------------------------------------------

function diagnostics(err) {
    const text = err instanceof GLib.Error
        ? `${describe(err)}\n${err.stack ?? ''}`
        : `${err}\n${err?.stack ?? ''}`;
    return text.trimEnd().split('\n').map(line => `# ${line}`).join('\n');
}

// Runs the registered tests, prints TAP, and exits 0 when all passed.
export function run() {
    const loop = new GLib.MainLoop(null, false);
    let failed = 0;

    (async () => {
        print(`1..${tests.length}`);
        for (const [i, {name, fn, timeoutMs}] of tests.entries()) {
            try {
                // eslint-disable-next-line no-await-in-loop
                await withTimeout(fn(), timeoutMs, name);
                print(`ok ${i + 1} ${name}`);
            } catch (err) {
                failed++;
                print(`not ok ${i + 1} ${name}`);
                print(diagnostics(err));
            }
        }
    })().catch(err => {
        failed++;
        print(`Bail out! ${err}`);
    }).finally(() => loop.quit());

    loop.run();
    System.exit(failed > 0 ? 1 : 0);
}
