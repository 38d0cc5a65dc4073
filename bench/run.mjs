#!/usr/bin/env node
// npm run bench [-- --quick] [--json FILE]
// Compares bitexact with onnxruntime-node in one process on the same inputs: int8 GEMM
// (MatMulInteger u8 x s8, M=N=K=1024) and end-to-end latency of the real int8 models. Reports
// ratios; absolute times on a shared machine are noise.
import { cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { info, loadModel, readTensorFile } from '../dist/index.js';
import { matMulIntegerModel } from './models.mjs';
import { root, quick, jsonOut, sharedModels } from './options.mjs';

const threads = cpus().length;

async function time(fn, { minMs = quick ? 300 : 1500, minRuns = 3 } = {}) {
  await fn(); // warm-up
  const samples = [];
  const start = performance.now();
  while (samples.length < minRuns || performance.now() - start < minMs) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]; // median ms
}

function progress(label) {
  process.stderr.write(`  … ${label}\n`);
}

const results = { machine: {}, gemm: [], models: [] };
const i = info();
results.machine = {
  cpu: cpus()[0].model,
  cores: threads,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  isas: i.cpu.isas,
  isa: i.cpu.forcedIsa ?? i.cpu.bestIsa,
  node: process.version,
  bitexact: i.version,
  onnxruntime: ort.env.versions?.common ?? 'unknown',
  date: new Date().toISOString(),
};

// --- int8 GEMM ---------------------------------------------------------------------------
for (const n of quick ? [512] : [1024]) {
  progress(`GEMM ${n}^3`);
  const { bytes, a } = matMulIntegerModel(n, n, n);
  const ops = 2 * n * n * n;
  const m = await loadModel(bytes, { threads });
  const computeMs = [];
  const ours = await time(async () => computeMs.push((await m.run({ A: { dtype: 'uint8', shape: [n, n], data: a } })).timings.runMs));
  m.dispose();
  computeMs.sort((x, y) => x - y);
  // bitexact's run also hashes input and output (keccak256, 5 MB here) and copies them across
  // the N-API boundary; "compute" is the engine alone, comparable to a GEMM library call.
  const row = { shape: `${n}x${n}x${n}`, bitexactGops: ops / ours / 1e6, bitexactComputeGops: ops / computeMs[computeMs.length >> 1] / 1e6 };
  for (const [label, extra] of [['ortGops', {}], ['ortExactGops', { session: { x64quantprecision: '1' } }]]) {
    const s = await ort.InferenceSession.create(Buffer.from(bytes), { intraOpNumThreads: threads, graphOptimizationLevel: 'all', extra });
    const feed = { A: new ort.Tensor('uint8', a, [n, n]) };
    row[label] = ops / (await time(() => s.run(feed))) / 1e6;
    await s.release();
  }
  row.ratio = row.bitexactGops / row.ortGops;
  row.ratioVsExact = row.bitexactGops / row.ortExactGops;
  row.computeRatio = row.bitexactComputeGops / row.ortGops;
  results.gemm.push(row);
}

// --- real models -------------------------------------------------------------------------
const models = [
  ['mnist-8-int8 (bundled)', join(root, 'models', 'mnist-8-int8', 'model.onnx'), join(root, 'models', 'mnist-8-int8', 'digit-2.pb')],
];
for (const name of ['mlperftiny-kws-dscnn-int8', 'mlperftiny-ic-resnet8-int8', 'mobilenetv2-12-int8', 'mobilenetv3-qat-int8-qdq']) {
  const path = join(sharedModels, name, 'model.onnx');
  if (existsSync(path)) models.push([name, path, join(sharedModels, name, 'test_data_set_0', 'input_0.pb')]);
  else console.warn(`bench: ${name} absent (${path}); skipped`);
}
for (const [name, path, inputFile] of models) {
  progress(name);
  const x = await readTensorFile(inputFile);
  const m = await loadModel(path, { threads });
  const inputName = m.inputs[0].name;
  const ours = await time(() => m.run({ [inputName]: x }));
  m.dispose();
  const row = { model: name, batch: x.shape[0], bitexactMs: ours };
  for (const [label, extra] of [['ortMs', {}], ['ortExactMs', { session: { x64quantprecision: '1' } }]]) {
    const s = await ort.InferenceSession.create(readFileSync(path), { intraOpNumThreads: threads, graphOptimizationLevel: 'all', extra });
    const feed = { [s.inputNames[0]]: new ort.Tensor(x.dtype, x.data, x.shape) };
    row[label] = await time(() => s.run(feed));
    await s.release();
  }
  {
    // The cost of tracing: the same model, every node's output hashed and committed.
    const traced = await loadModel(path, { threads });
    row.tracedMs = await time(() => traced.run({ [inputName]: x }, { trace: true }));
    traced.dispose();
    row.traceOverhead = row.tracedMs / row.bitexactMs;
  }
  row.latencyRatio = row.bitexactMs / row.ortMs;
  row.latencyRatioVsExact = row.bitexactMs / row.ortExactMs;
  results.models.push(row);
}

// --- report ------------------------------------------------------------------------------
const f = (v, d = 2) => v.toFixed(d);
const lines = [];
lines.push(`bitexact ${results.machine.bitexact} vs onnxruntime-node ${results.machine.onnxruntime} — ${results.machine.cpu}, ${threads} threads, isa ${results.machine.isa}`);
lines.push('');
lines.push('| int8 GEMM (u8 x s8) | bitexact GOPS (run incl. hashing) | bitexact compute GOPS | ORT GOPS | ORT exact GOPS | bitexact / ORT | compute / ORT | bitexact / ORT exact |');
lines.push('|---|---|---|---|---|---|---|---|');
for (const g of results.gemm) lines.push(`| ${g.shape} | ${f(g.bitexactGops, 1)} | ${f(g.bitexactComputeGops, 1)} | ${f(g.ortGops, 1)} | ${f(g.ortExactGops, 1)} | ${f(g.ratio)}x | ${f(g.computeRatio)}x | ${f(g.ratioVsExact)}x |`);
lines.push('');
lines.push('| model | batch | bitexact ms | traced ms | trace cost | ORT ms | ORT exact ms | latency bitexact / ORT | / ORT exact |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const r of results.models) lines.push(`| ${r.model} | ${r.batch} | ${f(r.bitexactMs)} | ${f(r.tracedMs)} | ${f(r.traceOverhead)}x | ${f(r.ortMs)} | ${f(r.ortExactMs)} | ${f(r.latencyRatio)} | ${f(r.latencyRatioVsExact)} |`);
lines.push('');
lines.push('ORT = default kernels (on CPUs without VNNI its u8s8 path saturates, see docs/determinism.md); ORT exact = session.x64quantprecision=1.');
lines.push('GOPS = 2·M·N·K / median time. Latency = median of repeated runs after one warm-up.');
const text = lines.join('\n');
console.log(text);
if (jsonOut) {
  mkdirSync(dirname(resolve(jsonOut)), { recursive: true });
  writeFileSync(jsonOut, JSON.stringify(results, null, 2));
  writeFileSync(jsonOut.replace(/\.json$/, '') + '.md', text + '\n');
}
