#!/usr/bin/env node
// npm run bench:serve [-- --quick] [--json FILE]
// 1. Scheduler overhead: the same jobs through Scheduler.submit and through model.run directly,
//    8 concurrent callers, smallest real model (the bundled MNIST), as a ratio.
// 2. `bitexact serve` over loopback (server in its own process): requests/s and latency
//    percentiles at concurrency 1, 8 and 32, with batching off and on.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler, loadModel, readTensorFile } from '../dist/index.js';
import { root, quick, jsonOut, sharedModels } from './options.mjs';

const log = (s) => process.stderr.write(`  … ${s}\n`);

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** Runs `total` calls of fn from `concurrency` callers; returns wall ms and per-call latencies. */
async function drive(total, concurrency, fn) {
  let next = 0;
  const latencies = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await fn(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const ms = performance.now() - start;
  return { ms, rps: (total / ms) * 1000, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) };
}

async function schedulerOverhead() {
  const dir = join(root, 'models', 'mnist-8-int8');
  const model = await loadModel(join(dir, 'model.onnx'));
  const x = await readTensorFile(join(dir, 'digit-2.pb'));
  const perRound = 1000;
  const rounds = quick ? 7 : 21;
  const scheduler = new Scheduler({ capacity: { cpu: 8 }, maxQueue: 64 });
  const direct = () => model.run({ Input3: x });
  const scheduled = () => scheduler.submit({ model, inputs: { Input3: x } });
  await drive(500, 8, direct); // warm-up both paths
  await drive(500, 8, scheduled);
  // Short rounds, alternating, medians: this machine's noise moves single rounds by ±30%.
  const d = [];
  const s = [];
  for (let r = 0; r < rounds; r++) {
    d.push(((await drive(perRound, 8, direct)).ms / perRound) * 1000);
    s.push(((await drive(perRound, 8, scheduled)).ms / perRound) * 1000);
  }
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  // The scheduler's own cost per job, with a model whose run does nothing.
  const noop = { run: async () => ({ outputHash: '0x' }), modelHash: '0x', inputs: model.inputs, outputs: model.outputs, batchable: false };
  const bare = ((await drive(50000, 8, () => scheduler.submit({ model: noop, inputs: { Input3: x } }))).ms / 50000) * 1000;
  model.dispose();
  return {
    model: 'mnist-8-int8', concurrency: 8, rounds, jobsPerRound: perRound,
    directUsPerJob: median(d), scheduledUsPerJob: median(s), overhead: median(s) / median(d) - 1, schedulerOnlyUsPerJob: bare,
  };
}

function startServe(serveArgs) {
  const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'serve', '--port', '0', ...serveArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolvePromise({ url: m[1], stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (r.status >= 300) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  return r.json();
}

async function serveBench(name, file, inputFile) {
  const rows = [];
  for (const batching of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'bitexact-bench-serve-'));
    mkdirSync(join(dir, 'models'));
    copyFileSync(file, join(dir, 'models', 'model.onnx'));
    const server = await startServe(['--models', join(dir, 'models'), '--db', join(dir, 'jobs.db'), '--max-queue', '1024', '--batch-window-ms', batching ? '5' : '0']);
    try {
      const reg = await post(`${server.url}/v1/models`, JSON.stringify({ path: 'model.onnx' }));
      const x = await readTensorFile(inputFile);
      const body = JSON.stringify({ modelHash: reg.modelHash, inputs: { [reg.inputs[0].name]: { dtype: x.dtype, shape: x.shape, data: Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).toString('base64') } } });
      await drive(20, 4, () => post(`${server.url}/v1/infer`, body)); // warm-up
      for (const concurrency of [1, 8, 32]) {
        log(`serve ${name}, batching ${batching ? 'on' : 'off'}, concurrency ${concurrency}`);
        const total = Math.max(concurrency * 4, quick ? 40 : 200);
        const r = await drive(total, concurrency, () => post(`${server.url}/v1/infer`, body));
        rows.push({ model: name, batching, concurrency, requests: total, ...r });
      }
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

const results = { machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version }, overhead: null, serve: [] };
log('scheduler overhead (mnist, concurrency 8)');
results.overhead = await schedulerOverhead();
results.serve.push(...(await serveBench('mnist-8-int8 (bundled)', join(root, 'models', 'mnist-8-int8', 'model.onnx'), join(root, 'models', 'mnist-8-int8', 'digit-2.pb'))));
const v3 = join(sharedModels, 'mobilenetv3-qat-int8-qdq');
if (existsSync(v3)) results.serve.push(...(await serveBench('mobilenetv3-qat-int8-qdq', join(v3, 'model.onnx'), join(v3, 'test_data_set_0', 'input_0.pb'))));
else log(`no ${v3}: the batchable CNN is skipped`);

const o = results.overhead;
const lines = [
  `bitexact serve — ${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}`,
  '',
  `Scheduler overhead (${o.model}, ${o.concurrency} concurrent callers, median of ${o.rounds} alternating rounds of ${o.jobsPerRound} jobs): ` +
    `model.run ${o.directUsPerJob.toFixed(1)} µs/job, Scheduler.submit ${o.scheduledUsPerJob.toFixed(1)} µs/job → overhead ${(o.overhead * 100).toFixed(1)}%; ` +
    `the scheduler alone (a model whose run does nothing) costs ${o.schedulerOnlyUsPerJob.toFixed(2)} µs/job`,
  '',
  '| model | batching | concurrency | requests | req/s | p50 ms | p95 ms | p99 ms |',
  '|---|---|---|---|---|---|---|---|',
  ...results.serve.map((r) => `| ${r.model} | ${r.batching ? 'on (5 ms)' : 'off'} | ${r.concurrency} | ${r.requests} | ${r.rps.toFixed(1)} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.p99.toFixed(2)} |`),
  '',
  'Every request returns outputs and a receipt (trace root over every node); the job journal commits each job to SQLite (WAL, synchronous=FULL) before it is acknowledged. Client and server share the machine.',
];
process.stdout.write(lines.join('\n') + '\n');
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
