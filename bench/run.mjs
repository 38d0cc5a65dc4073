#!/usr/bin/env node
// npm run bench [-- --quick] [--json FILE]
// Compares bitexact with onnxruntime-node in one process on the same inputs: the CPU's measured
// int8 peak, an int8 GEMM sweep (MatMulInteger u8 x s8, square 256-4096) as a fraction of that
// peak and against ORT, and end-to-end latency of the real int8 models. Reports ratios; absolute
// times on a shared machine are noise. With --json FILE, also FILE.md and SVG charts beside it.
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { info, loadModel, readTensorFile } from '../dist/index.js';
import { addon } from '../dist/native.js';
import { matMulIntegerModel, modelGemms, modelLayers, qlinearConvModel } from './models.mjs';
import { barChart, lineChart } from './svg.mjs';
import { float32Exactness, loadPeers, peerGemm } from './peers.mjs';
import { root, quick, jsonOut, sharedModels } from './options.mjs';

const threads = cpus().length;

// `copies` of a sample stacked on dimension 0.
function stack(sample, copies) {
  const data = new sample.data.constructor(sample.data.length * copies);
  for (let i = 0; i < copies; ++i) data.set(sample.data, i * sample.data.length);
  return { dtype: sample.dtype, shape: [sample.shape[0] * copies, ...sample.shape.slice(1)], data };
}

/**
 * Median time of each contender, measured in alternating rounds (about 200 ms of runs each) so
 * that a slow patch of a shared machine hits every contender alike: the ratios stay meaningful
 * even when absolute times drift. Between rounds the process idles for 40 ms, longer than the
 * engines' thread pools poll for work after a run (onnxruntime's spin for about 20 ms), so no
 * contender's idle threads compete with the next one's. A contender that returns a number
 * reports that as its time (the engine's own timing); otherwise the wall time of the call counts.
 */
async function timeInterleaved(contenders, { minMs = quick ? 300 : 1500, minRuns = 3 } = {}) {
  const names = Object.keys(contenders);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const idle = () => new Promise((resolve) => setTimeout(resolve, 40));
  for (const n of names) {
    await contenders[n](); // warm-up
    await idle();
  }
  let spent = 0;
  while (spent < minMs * names.length || names.some((n) => samples[n].length < minRuns)) {
    for (const n of names) {
      const roundStart = performance.now();
      do {
        const t = performance.now();
        const reported = await contenders[n]();
        samples[n].push(typeof reported === 'number' ? reported : performance.now() - t);
      } while (performance.now() - roundStart < 200);
      spent += performance.now() - roundStart;
      await idle();
    }
  }
  const median = (v) => v.sort((a, b) => a - b)[v.length >> 1];
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

function progress(label) {
  process.stderr.write(`  … ${label}\n`);
}

const results = { machine: {}, peak: {}, gemm: [], layerGemms: [], layers: [], models: [], peers: {}, float32Exactness: [] };
const peers = await loadPeers();
results.peers = { absent: peers.absent, present: ['tfjs', 'tfjsNative', 'gpujs'].filter((p) => peers[p]) };
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

// --- measured int8 peak ------------------------------------------------------------------
{
  const isa = results.machine.isa;
  progress(`int8 peak (${isa})`);
  const seconds = quick ? 0.3 : 1;
  results.peak = {
    isa,
    instruction: isa === 'avx512vnni' ? 'vpdpbusd zmm' : isa === 'avx2' ? 'vpmaddubsw + vpmaddwd ymm' : 'none (scalar)',
    oneThreadGops: addon().int8Peak(isa, 1, seconds) / 1e9,
    allThreadsGops: addon().int8Peak(isa, threads, seconds) / 1e9,
  };
}

// --- int8 GEMM sweep ----------------------------------------------------------------------
for (const n of quick ? [256, 512, 1024] : [256, 512, 1024, 2048, 4096]) {
  progress(`GEMM ${n}^3`);
  const { bytes, a } = matMulIntegerModel(n, n, n);
  const ops = 2 * n * n * n;
  const m = await loadModel(bytes, { backend: 'cpu', threads });
  const sessions = {
    ort: await ort.InferenceSession.create(Buffer.from(bytes), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' }),
    ortExact: await ort.InferenceSession.create(Buffer.from(bytes), { intraOpNumThreads: threads, graphOptimizationLevel: 'all', extra: { session: { x64quantprecision: '1' } } }),
  };
  const feed = { A: new ort.Tensor('uint8', a, [n, n]) };
  const input = { A: { dtype: 'uint8', shape: [n, n], data: a } };
  // bitexact's run also hashes input and output (keccak256, 5 MB here) and copies them across
  // the N-API boundary; "compute" is the engine alone, comparable to a GEMM library call.
  const t = await timeInterleaved({
    ours: () => m.run(input),
    oursCompute: async () => (await m.run(input)).timings.runMs,
    ort: () => sessions.ort.run(feed),
    ortExact: () => sessions.ortExact.run(feed),
  });
  m.dispose();
  for (const s of Object.values(sessions)) await s.release();
  const row = { shape: `${n}x${n}x${n}`, bitexactGops: ops / t.ours / 1e6, bitexactComputeGops: ops / t.oursCompute / 1e6, ortGops: ops / t.ort / 1e6, ortExactGops: ops / t.ortExact / 1e6 };
  // The pure-JS float32 peers take seconds beyond 512^3; they are measured up to there.
  if (n <= (quick ? 256 : 512)) Object.assign(row, await peerGemm(peers, n, quick ? 1 : 3));
  row.n = n;
  row.fractionOfPeak = results.peak.allThreadsGops > 0 ? row.bitexactComputeGops / results.peak.allThreadsGops : null;
  row.ratio = row.bitexactGops / row.ortGops;
  row.ratioVsExact = row.bitexactGops / row.ortExactGops;
  row.computeRatio = row.bitexactComputeGops / row.ortGops;
  results.gemm.push(row);
}

// --- the real models' layers, one at a time -----------------------------------------------
// Engine time only on both sides (bitexact's timings.runMs leaves out hashing and the N-API copies).
async function compareLayer(bytes, inputName, input, ops) {
  const m = await loadModel(bytes, { backend: 'cpu', threads });
  const s = await ort.InferenceSession.create(Buffer.from(bytes), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const feed = { [inputName]: new ort.Tensor(input.dtype, input.data, input.shape) };
  const t = await timeInterleaved({
    ours: async () => (await m.run({ [inputName]: input })).timings.runMs,
    ort: () => s.run(feed),
  }, { minMs: quick ? 200 : 600 });
  m.dispose();
  await s.release();
  return { bitexactMs: t.ours, ortMs: t.ort, bitexactGops: ops / t.ours / 1e6, ortGops: ops / t.ort / 1e6, ratio: t.ours / t.ort };
}
for (const batch of quick ? [1] : [1, 16]) {
  for (const g of modelGemms) {
    const m = g.m === 1 ? batch : g.m * batch;  // a classifier's rows are the batch
    progress(`layer GEMM ${g.name} batch ${batch}`);
    const { bytes, a } = matMulIntegerModel(m, g.k, g.n);
    const row = await compareLayer(bytes, 'A', { dtype: 'uint8', shape: [m, g.k], data: a }, 2 * m * g.k * g.n);
    results.layerGemms.push({ name: g.name, batch, shape: `${m}x${g.k}x${g.n}`, ...row });
  }
  for (const layer of modelLayers) {
    progress(`layer ${layer.name} batch ${batch}`);
    const { bytes, x, shape, macs } = qlinearConvModel({ n: batch, ...layer });
    const row = await compareLayer(bytes, 'x', { dtype: 'uint8', shape, data: x }, 2 * macs);
    results.layers.push({ name: layer.name, batch, ...row });
  }
}

progress('float32 exactness');
results.float32Exactness = await float32Exactness(peers);

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
  const sample = await readTensorFile(inputFile);
  const probe = await loadModel(path, { backend: 'cpu' });
  const batchable = probe.batchable;
  probe.dispose();
  // Batch 1 (or the model's fixed batch) and batch 16 where the model takes any batch.
  for (const batch of batchable && !quick ? [sample.shape[0], 16] : [sample.shape[0]]) {
    progress(`${name} batch ${batch}`);
    const x = batch === sample.shape[0] ? sample : stack(sample, batch);
    const m = await loadModel(path, { backend: 'cpu', threads });
    const traced = await loadModel(path, { backend: 'cpu', threads });
    const single = await loadModel(path, { backend: 'cpu', threads: 1 });
    const inputName = m.inputs[0].name;
    const sessions = {
      ort: await ort.InferenceSession.create(readFileSync(path), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' }),
      ortExact: await ort.InferenceSession.create(readFileSync(path), { intraOpNumThreads: threads, graphOptimizationLevel: 'all', extra: { session: { x64quantprecision: '1' } } }),
    };
    const feed = { [sessions.ort.inputNames[0]]: new ort.Tensor(x.dtype, x.data, x.shape) };
    // The cost of tracing (every node's output hashed and committed) and thread scaling (the same
    // run on one thread) are measured in the same rounds.
    const t = await timeInterleaved({
      ours: () => m.run({ [inputName]: x }),
      ort: () => sessions.ort.run(feed),
      ortExact: () => sessions.ortExact.run(feed),
      traced: () => traced.run({ [inputName]: x }, { trace: true }),
      oneThread: () => single.run({ [inputName]: x }),
    });
    for (const model of [m, traced, single]) model.dispose();
    for (const session of Object.values(sessions)) await session.release();
    const row = { model: name, batch, bitexactMs: t.ours, ortMs: t.ort, ortExactMs: t.ortExact, tracedMs: t.traced, oneThreadMs: t.oneThread };
    row.traceOverhead = row.tracedMs / row.bitexactMs;
    row.threadScaling = row.oneThreadMs / row.bitexactMs;
    if (batch === sample.shape[0]) {
      // Peak memory in a fresh process, against 1.5 x (weights + largest activation pair) + 50 MB.
      Object.assign(row, JSON.parse(execFileSync(process.execPath, [join(root, 'bench', 'rss_probe.mjs'), path, inputFile, String(threads)], { encoding: 'utf8' })));
    }
    row.latencyRatio = row.bitexactMs / row.ortMs;
    row.latencyRatioVsExact = row.bitexactMs / row.ortExactMs;
    results.models.push(row);
  }
}

// --- report ------------------------------------------------------------------------------
const f = (v, d = 2) => v.toFixed(d);
const lines = [];
lines.push(`bitexact ${results.machine.bitexact} vs onnxruntime-node ${results.machine.onnxruntime} — ${results.machine.cpu}, ${threads} threads, isa ${results.machine.isa}`);
lines.push('');
const p = results.peak;
lines.push(`measured int8 peak (${p.instruction}): ${f(p.oneThreadGops, 1)} GOPS on 1 thread, ${f(p.allThreadsGops, 1)} GOPS on ${threads}`);
lines.push('');
lines.push('| int8 GEMM (u8 x s8) | bitexact GOPS (run incl. hashing) | bitexact compute GOPS | of peak | ORT GOPS | ORT exact GOPS | bitexact / ORT | compute / ORT | bitexact / ORT exact |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const g of results.gemm) lines.push(`| ${g.shape} | ${f(g.bitexactGops, 1)} | ${f(g.bitexactComputeGops, 1)} | ${g.fractionOfPeak === null ? 'n/a' : `${f(100 * g.fractionOfPeak, 0)}%`} | ${f(g.ortGops, 1)} | ${f(g.ortExactGops, 1)} | ${f(g.ratio)}x | ${f(g.computeRatio)}x | ${f(g.ratioVsExact)}x |`);
lines.push('');
lines.push(`float32 peers (n^3 GEMM GOPS): ${results.gemm.filter((g) => g.tfjsGops || g.gpujsGops).map((g) => `${g.shape}: tfjs ${g.tfjsGops ? f(g.tfjsGops) : 'n/a'}, gpu.js (cpu mode) ${g.gpujsGops ? f(g.gpujsGops) : 'n/a'}, bitexact ${f(g.bitexactComputeGops, 1)}`).join('; ')}`);
for (const a of results.peers.absent) lines.push(`- absent: ${a}`);
lines.push('');
lines.push('| K (int8 dot length) | largest exact sum | float32 accumulation error | tfjs error | gpu.js error |');
lines.push('|---|---|---|---|---|');
for (const e of results.float32Exactness) lines.push(`| ${e.k} | ${e.maxExact} | ${e.float32AccumulationError} | ${e.tfjsError ?? 'n/a'} | ${e.gpujsError ?? 'n/a'} |`);
lines.push('Float32 represents integers exactly only up to 2^24 = 16777216: from K = 1041 (127·127·K > 2^24) sums of int8 products come back wrong, in an accumulator or in the result. bitexact accumulates in int32 with a proven bound.');
lines.push('');
lines.push('| layer GEMM (MatMulInteger u8 x s8) | batch | M x K x N | bitexact compute GOPS | ORT GOPS | time bitexact / ORT |');
lines.push('|---|---|---|---|---|---|');
for (const g of results.layerGemms) lines.push(`| ${g.name} | ${g.batch} | ${g.shape} | ${f(g.bitexactGops, 1)} | ${f(g.ortGops, 1)} | ${f(g.ratio)} |`);
lines.push('');
lines.push('| conv layer (QLinearConv u8 x s8 per channel) | batch | bitexact compute ms | ORT ms | bitexact GOPS | ORT GOPS | time bitexact / ORT |');
lines.push('|---|---|---|---|---|---|---|');
for (const l of results.layers) lines.push(`| ${l.name} | ${l.batch} | ${f(l.bitexactMs, 3)} | ${f(l.ortMs, 3)} | ${f(l.bitexactGops, 1)} | ${f(l.ortGops, 1)} | ${f(l.ratio)} |`);
lines.push('');
lines.push(`| model | batch | bitexact ms | traced ms | trace cost | ORT ms | ORT exact ms | latency bitexact / ORT | / ORT exact | 1 -> ${threads} threads | peak RSS MB (bound) |`);
lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of results.models) {
  const rss = r.peakMB === undefined ? '' : `${f(r.peakMB, 0)} (${f(r.boundMB, 0)})`;
  lines.push(`| ${r.model} | ${r.batch} | ${f(r.bitexactMs)} | ${f(r.tracedMs)} | ${f(r.traceOverhead)}x | ${f(r.ortMs)} | ${f(r.ortExactMs)} | ${f(r.latencyRatio)} | ${f(r.latencyRatioVsExact)} | ${f(r.threadScaling)}x | ${rss} |`);
}
lines.push('');
lines.push('ORT = default kernels (on CPUs without VNNI its u8s8 path saturates, see docs/determinism.md); ORT exact = session.x64quantprecision=1.');
lines.push('GOPS = 2·M·N·K / median time; "of peak" = bitexact compute GOPS / the measured int8 peak on all threads. Latency = median of repeated runs after one warm-up.');
lines.push('Peak RSS: a fresh process, RSS sampled every ms while it loads the model and runs it 5 times, minus its RSS before loading; bound = 1.5 × (model file + largest input+output pair of one node) + 50 MB.');
const text = lines.join('\n');
console.log(text);
if (jsonOut) {
  mkdirSync(dirname(resolve(jsonOut)), { recursive: true });
  writeFileSync(jsonOut, JSON.stringify(results, null, 2));
  const base = jsonOut.replace(/\.json$/, '');
  writeFileSync(base + '.md', text + '\n');
  writeFileSync(base + '-gemm.svg', lineChart({
    title: `int8 GEMM n x n x n, ${threads} threads (${results.machine.cpu})`,
    xLabel: 'n', yLabel: 'GOPS',
    series: [
      { name: 'measured int8 peak', points: results.gemm.map((g) => [g.n, results.peak.allThreadsGops]) },
      { name: 'bitexact (compute)', points: results.gemm.map((g) => [g.n, g.bitexactComputeGops]) },
      { name: 'bitexact (run + hashing)', points: results.gemm.map((g) => [g.n, g.bitexactGops]) },
      { name: 'onnxruntime', points: results.gemm.map((g) => [g.n, g.ortGops]) },
      { name: 'onnxruntime exact', points: results.gemm.map((g) => [g.n, g.ortExactGops]) },
    ],
  }));
  writeFileSync(base + '-models.svg', barChart({
    title: `model latency, ${threads} threads (ms, lower is better)`,
    xLabel: 'milliseconds per run',
    series: ['bitexact', 'bitexact traced', 'onnxruntime'],
    rows: results.models.map((r) => ({ label: `${r.model} (b${r.batch})`, values: { bitexact: r.bitexactMs, 'bitexact traced': r.tracedMs, onnxruntime: r.ortMs } })),
  }));
}
