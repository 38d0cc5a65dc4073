// The calibrating quantiser's float reference executor against onnxruntime (float32) on the real
// float models: it must compute the same function (to float32 rounding), or calibration ranges
// would be wrong. It never decides a bit of a bitexact run.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { readTensorFile } from '../src/index.js';
import { readOnnxModel } from '../src/onnx/reader.js';
import { runFloatGraph } from '../src/quantize/float_executor.js';
import { HAVE_SHARED_MODELS, SKIP_REASON, inputPath, modelPath } from './helpers/shared_models.js';
import { rng } from './helpers/onnx_builder.js';
import { rawTensor, writeOnnxModel } from '../src/onnx/writer.js';

const MODELS = ['mnist-8', 'mlperftiny-ic-resnet8-fp32', 'mlperftiny-kws-dscnn-fp32', 'kws-dnn-s'];

describe.skipIf(!HAVE_SHARED_MODELS)('float reference executor vs onnxruntime float', () => {
  if (!HAVE_SHARED_MODELS) console.warn(SKIP_REASON);
  for (const name of MODELS) {
    it(name, async () => {
      const bytes = readFileSync(modelPath(name));
      const model = readOnnxModel(bytes);
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
      const spec = model.graph.inputs[0];
      const given = await readTensorFile(inputPath(name));
      const random = rng(17);
      const inputs = [Float32Array.from(given.data as Float32Array), Float32Array.from(given.data as Float32Array, () => random() * 4 - 2)];
      for (const data of inputs) {
        const dims = [...given.shape];
        const ours = runFloatGraph(model, { [spec.name]: { dims, data } });
        const theirs = await session.run({ [spec.name]: new ort.Tensor('float32', data, dims) });
        for (const o of model.graph.outputs) {
          const a = ours[o.name].data;
          const b = theirs[o.name].data as Float32Array;
          expect(a.length).toBe(b.length);
          let maxAbs = 0;
          let scale = 0;
          for (let i = 0; i < a.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
          }
          expect(maxAbs, `${name}/${o.name}`).toBeLessThanOrEqual(1e-4 * Math.max(1, scale));
        }
      }
      await session.release();
    });
  }
});

describe('TypeScript ONNX reader', () => {
  it('refuses truncated and garbage bytes with ERR_BITEXACT_INVALID_MODEL', () => {
    const bytes = readFileSync(new URL('../models/mnist-8-int8/model.onnx', import.meta.url));
    const model = readOnnxModel(bytes);
    expect(model.graph.nodes.length).toBeGreaterThan(3);
    for (const bad of [bytes.subarray(0, bytes.length - 7), bytes.subarray(0, 100), Buffer.from('definitely not protobuf')]) {
      expect(() => readOnnxModel(bad)).toThrow(expect.objectContaining({ code: 'ERR_BITEXACT_INVALID_MODEL' }));
    }
  });
});

describe('float reference executor: opset-18 ReduceMean forms', () => {
  // axes as an input; no axes or empty axes (every axis); empty axes with noop_with_empty_axes (the input itself)
  const cases: [string, string[], Record<string, number>][] = [
    ['axes input [1, -1]', ['x', 'axes'], { keepdims: 0 }],
    ['no axes: every axis', ['x'], { keepdims: 1 }],
    ['empty axes input: every axis', ['x', 'none'], { keepdims: 1 }],
    ['empty axes input, noop_with_empty_axes', ['x', 'none'], { keepdims: 1, noop_with_empty_axes: 1 }],
  ];
  for (const [label, inputs, attrs] of cases) {
    it(`${label} matches onnxruntime`, async () => {
      const bytes = writeOnnxModel({
        opset: 18,
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 4] }],
        outputs: [{ name: 'y', dtype: 'float32' }],
        initializers: { axes: rawTensor('int64', [2], [1n, -1n]), none: rawTensor('int64', [0], []) },
        nodes: [{ op: 'ReduceMean', inputs, outputs: ['y'], attrs }],
      });
      const random = rng(8);
      const data = Float32Array.from({ length: 24 }, () => random() * 10 - 5);
      const ours = runFloatGraph(readOnnxModel(bytes), { x: { dims: [2, 3, 4], data } }).y;
      const session = await ort.InferenceSession.create(bytes);
      const theirs = (await session.run({ x: new ort.Tensor('float32', data, [2, 3, 4]) })).y;
      await session.release();
      expect(ours.dims).toEqual(theirs.dims);
      const want = theirs.data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(ours.data[i]).toBeCloseTo(want[i], 5);
    });
  }
});
