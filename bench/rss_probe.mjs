#!/usr/bin/env node
// node bench/rss_probe.mjs MODEL INPUT THREADS -> one JSON line on stdout
// Peak resident memory of loading MODEL and running it a few times, in a fresh process (the
// bench's own process holds onnxruntime and earlier models). Also the bound the issue sets:
// weights (the model file's bytes) plus the largest pair of consecutive activations (input and
// output of one node, from a trace).
import { readFileSync, statSync } from 'node:fs';
import { loadModel, readTensorFile } from '../dist/index.js';

const [modelPath, inputPath, threadArg] = process.argv.slice(2);
const bytesOf = (dtype, shape) => shape.reduce((a, b) => a * b, 1) * { float32: 4, uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, int64: 8 }[dtype];
const x = await readTensorFile(inputPath);
// Resident memory sampled every millisecond while the model loads and runs (runs are async: the
// event loop stays free); the baseline is the process before loading.
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 1);
const model = await loadModel(modelPath, { backend: 'cpu', threads: Number(threadArg) });
const name = model.inputs[0].name;
let largestPair = 0;
let previous = bytesOf(x.dtype, x.shape);
for (let i = 0; i < 5; ++i) {
  const r = await model.run({ [name]: x }, { trace: i === 0 });
  if (r.trace) {
    for (const t of r.trace) {
      const size = bytesOf(t.dtype, t.shape);
      largestPair = Math.max(largestPair, previous + size);
      previous = size;
    }
  }
}
peak = Math.max(peak, process.memoryUsage().rss);
clearInterval(sampler);
model.dispose();
const weightsBytes = statSync(modelPath).size;
console.log(JSON.stringify({
  peakMB: (peak - baseline) / 2 ** 20,
  weightsMB: weightsBytes / 2 ** 20,
  largestActivationPairMB: largestPair / 2 ** 20,
  boundMB: 1.5 * (weightsBytes + largestPair) / 2 ** 20 + 50,
}));
