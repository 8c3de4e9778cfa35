// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Node side of spawn-async-bench: measures node-spawn-async (npm
// spawn-async@0.0.1, a Node worker process that runs execFile for us) and
// child_process.execFile the way the C benchmark measures SaWorker.
//
// Run by spawn-async-bench when `node` is on PATH; install the module
// first with `npm install --omit=optional` in this directory (without
// it only execFile is measured). Prints one line per result:
//   row <TAB> mode <TAB> method <TAB> heap_mib <TAB> metric <TAB> unit <TAB> v1,v2,...
'use strict';

const childProcess = require('child_process');
const fs = require('fs');

const MiB = 1024 * 1024;
const CHUNK_MIB = 256;

function parseArgs(argv) {
  const opts = {
    modes: 'block,latency,throughput,memory',
    heaps: '16,2048,8192',
    baseHeap: 16,
    reps: 200,
    forkReps: 50,
    tpCount: 1000,
    inflight: 64,
  };
  const names = {
    '--modes': 'modes', '--heaps': 'heaps', '--base-heap': 'baseHeap',
    '--reps': 'reps', '--fork-reps': 'forkReps', '--tp-count': 'tpCount',
    '--inflight': 'inflight',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (key === undefined)
      throw new Error(`unknown option ${argv[i]}`);
    opts[key] = typeof opts[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  opts.modes = opts.modes.split(',');
  opts.heaps = opts.heaps.split(',').map(Number);
  return opts;
}

function emit(mode, method, heapMib, metric, unit, values) {
  const text = values.map((v) => v.toFixed(3)).join(',');
  process.stdout.write(`row\t${mode}\t${method}\t${heapMib}\t${metric}\t${unit}\t${text}\n`);
}

function log(message) {
  process.stderr.write(`node: ${message}\n`);
}

// -- the heap: Buffers outside the V8 heap, every page touched -------------

const ballast = [];
let ballastMib = 0;

function growHeapTo(mib) {
  const start = process.hrtime.bigint();
  while (ballastMib < mib) {
    const chunk = Math.min(CHUNK_MIB, mib - ballastMib);
    ballast.push(Buffer.allocUnsafeSlow(chunk * MiB).fill(1));
    ballastMib += chunk;
  }
  log(`heap: ${ballastMib} MiB touched (${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1)} s)`);
}

// -- the methods ------------------------------------------------------------

const quietLog = { info() {}, debug() {}, warn() {}, error() {}, trace() {} };
let worker = null;

function loadWorker() {
  let spawnAsync;
  try {
    spawnAsync = require('spawn-async');
  } catch (e) {
    log('spawn-async is not installed here (npm install --omit=optional); measuring execFile only');
    return null;
  }
  const w = spawnAsync.createWorker({ log: quietLog });
  w.on('error', (err) => { throw err; });
  return w;
}

const TRUE_ARGV = ['/bin/true'];

// Starts /bin/true; calls done() when it has ended. Returns the time spent
// in the call, in microseconds.
const methods = {
  'node-spawn-async': (done) => {
    const start = process.hrtime.bigint();
    worker.aspawn(TRUE_ARGV, (err) => {
      if (err)
        throw err;
      done();
    });
    return Number(process.hrtime.bigint() - start) / 1000;
  },
  'node execFile': (done) => {
    const start = process.hrtime.bigint();
    childProcess.execFile(TRUE_ARGV[0], [], (err) => {
      if (err)
        throw err;
      done();
    });
    return Number(process.hrtime.bigint() - start) / 1000;
  },
};

function activeMethods() {
  return Object.keys(methods).filter((name) => name !== 'node-spawn-async' || worker !== null);
}

// One call: resolves to [block_us, e2e_us].
function runOne(name) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    let block = 0;
    block = methods[name](() => {
      resolve([block, Number(process.hrtime.bigint() - start) / 1000]);
    });
  });
}

// -- the modes -----------------------------------------------------------------

async function benchBlock(opts) {
  for (const heap of opts.heaps) {
    growHeapTo(heap);
    for (const name of activeMethods()) {
      const reps = name === 'node execFile' ? Math.min(opts.forkReps, opts.reps) : opts.reps;
      const samples = [];
      await runOne(name);
      for (let i = 0; i < reps; i++)
        samples.push((await runOne(name))[0]);
      emit('block', name, heap, 'block', 'us', samples);
    }
  }
}

async function benchLatency(opts) {
  const samples = {};
  const names = activeMethods();
  for (const name of names)
    samples[name] = [];
  for (let i = -1; i < opts.reps; i++) {
    for (const name of names) {
      const [, e2e] = await runOne(name);
      if (i >= 0)
        samples[name].push(e2e);
    }
  }
  for (const name of names)
    emit('latency', name, opts.baseHeap, 'latency', 'us', samples[name]);
}

function throughputOnce(name, total, inflight) {
  return new Promise((resolve) => {
    let launched = 0;
    let completed = 0;
    const start = process.hrtime.bigint();
    const next = () => {
      if (launched >= total)
        return;
      launched++;
      methods[name](() => {
        completed++;
        if (completed === total)
          resolve(total / (Number(process.hrtime.bigint() - start) / 1e9));
        else
          next();
      });
    };
    for (let i = 0; i < Math.min(inflight, total); i++)
      next();
  });
}

async function benchThroughput(opts) {
  for (const name of activeMethods())
    emit('throughput', name, opts.baseHeap, 'throughput', 'cmd/s',
         [await throughputOnce(name, opts.tpCount, opts.inflight)]);
}

function statusKb(pid, field) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = text.match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
  return match ? Number(match[1]) : -1;
}

function countChildren(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ').filter((s) => s.trim() !== '').length;
  } catch (e) {
    return 0;
  }
}

function emitMemory(pid, state, heap) {
  for (const field of ['VmRSS', 'RssAnon', 'RssFile', 'VmHWM'])
    emit('memory', 'node-spawn-async worker', heap, `${field} ${state}`, 'kB', [statusKb(pid, field)]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function benchMemory(opts) {
  if (worker === null)
    return;
  const pid = worker.w_child.pid;
  await runOne('node-spawn-async');       // the worker is up and has run one
  await sleep(100);
  emitMemory(pid, 'idle', opts.baseHeap);

  let completed = 0;
  for (let i = 0; i < opts.inflight; i++) {
    worker.aspawn(['/bin/sleep', '1'], (err) => {
      if (err)
        throw err;
      completed++;
    });
  }
  const deadline = Date.now() + 10000;
  while (countChildren(pid) < opts.inflight && Date.now() < deadline)
    await sleep(1);
  emit('memory', 'node-spawn-async worker', opts.baseHeap, 'children', '', [countChildren(pid)]);
  emitMemory(pid, 'busy', opts.baseHeap);
  while (completed < opts.inflight)
    await sleep(10);
  emitMemory(pid, 'after', opts.baseHeap);
}

async function main() {
  const opts = parseArgs(process.argv);
  worker = loadWorker();
  growHeapTo(opts.baseHeap);

  if (opts.modes.includes('latency'))
    await benchLatency(opts);
  if (opts.modes.includes('throughput'))
    await benchThroughput(opts);
  if (opts.modes.includes('memory'))
    await benchMemory(opts);
  if (opts.modes.includes('block'))
    await benchBlock(opts);

  if (worker !== null)
    worker.destroy();
}

main().catch((err) => {
  log(err.stack);
  process.exit(1);
});
