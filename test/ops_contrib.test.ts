// com.microsoft QLinear* ops: same bytes on every ISA and thread count, within 1 LSB of
// onnxruntime's implementation, and (sigmoid) within 1 LSB of a float64 reference everywhere.
import { describe, it, expect } from 'vitest';
import ort from 'onnxruntime-node';
import { buildModel, rng, randomInts, tensorValue, type ModelSpec } from './helpers/onnx_builder.js';
import { expectSameEverywhere } from './helpers/run_all.js';

const f32 = (v: number) => tensorValue('float32', [], [v]);

async function againstOrt(spec: ModelSpec, name: string, x: Uint8Array | Int8Array, shape: number[], dtype: 'uint8' | 'int8') {
  const model = buildModel(spec);
  const ours = await expectSameEverywhere(model, { [name]: { dtype, shape, data: x } }, spec.nodes[0].op);
  const session = await ort.InferenceSession.create(model);
  const theirs = await session.run({ [name]: new ort.Tensor(dtype, x, shape) });
  await session.release();
  const out = Object.values(ours.outputs)[0];
  const expected = Object.values(theirs)[0].data as Uint8Array;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(Number(out.data[i]) - Number(expected[i])));
  expect(maxDiff, `${spec.nodes[0].op} vs onnxruntime`).toBeLessThanOrEqual(1);
  return out;
}

function unary(op: string, dtype: 'uint8' | 'int8', params: [number, number, number, number], attrs = {}): ModelSpec {
  return {
    inputs: [{ name: 'x', dtype, shape: [256] }],
    outputs: [{ name: 'y', dtype }],
    initializers: { xs: f32(params[0]), xz: tensorValue(dtype, [], [params[1]]), ys: f32(params[2]), yz: tensorValue(dtype, [], [params[3]]) },
    nodes: [{ op, domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'], attrs }],
  };
}

describe('com.microsoft QLinear* ops', () => {
  it('QLinearSigmoid over the whole int8 domain is within 1 LSB of float64 (and of onnxruntime)', async () => {
    const all = Int8Array.from({ length: 256 }, (_, i) => i - 128);
    const [xs, xz, ys, yz] = [Math.fround(0.07), 3, Math.fround(1 / 256), -128];
    const y = await againstOrt(unary('QLinearSigmoid', 'int8', [xs, xz, ys, yz]), 'x', all, [256], 'int8');
    let exactMatches = 0;
    for (let i = 0; i < 256; i++) {
      const real = 1 / (1 + Math.exp(-(all[i] - xz) * xs));
      const ideal = Math.min(127, Math.max(-128, Math.round(real / ys) + yz));
      expect(Math.abs(Number(y.data[i]) - ideal)).toBeLessThanOrEqual(1);
      if (Number(y.data[i]) === ideal) exactMatches++;
    }
    // The table is the correctly rounded value except where float64's own exp rounding decides a tie.
    expect(exactMatches).toBeGreaterThanOrEqual(255);
  });

  it('QLinearLeakyRelu (uint8)', async () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await againstOrt(unary('QLinearLeakyRelu', 'uint8', [0.05, 100, 0.04, 60], { alpha: { float: 0.1 } }), 'x', all, [256], 'uint8');
  });

  it('QLinearSoftmax over the last axis (uint8, scale 1/256)', async () => {
    const random = rng(61);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'uint8', shape: [7, 33] }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: { xs: f32(0.09), xz: tensorValue('uint8', [], [128]), ys: f32(1 / 256), yz: tensorValue('uint8', [], [0]) },
      nodes: [{ op: 'QLinearSoftmax', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'], attrs: { axis: -1, opset: 13 } }],
    };
    await againstOrt(spec, 'x', Uint8Array.from(randomInts(random, 231, 0, 255)), [7, 33], 'uint8');
  });

  it('QLinearConcat with differently quantized inputs', async () => {
    const random = rng(62);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'uint8', shape: [2, 3, 5] }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: {
        ys: f32(0.1), yz: tensorValue('uint8', [], [120]), xs: f32(0.04), xz: tensorValue('uint8', [], [128]),
        c: tensorValue('uint8', [2, 4, 5], randomInts(random, 40, 0, 255)), cs: f32(0.1), cz: tensorValue('uint8', [], [120]),
      },
      nodes: [{ op: 'QLinearConcat', domain: 'com.microsoft', inputs: ['ys', 'yz', 'x', 'xs', 'xz', 'c', 'cs', 'cz'], outputs: ['y'], attrs: { axis: 1 } }],
    };
    const out = await againstOrt(spec, 'x', Uint8Array.from(randomInts(random, 30, 0, 255)), [2, 3, 5], 'uint8');
    expect(out.shape).toEqual([2, 7, 5]);
  });

  it('QLinearAveragePool with padding, both count_include_pad settings', async () => {
    const random = rng(63);
    for (const include of [0, 1]) {
      const spec: ModelSpec = {
        inputs: [{ name: 'x', dtype: 'uint8', shape: [1, 2, 7, 8] }],
        outputs: [{ name: 'y', dtype: 'uint8' }],
        initializers: { xs: f32(0.05), xz: tensorValue('uint8', [], [30]), ys: f32(0.04), yz: tensorValue('uint8', [], [20]) },
        nodes: [{
          op: 'QLinearAveragePool', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'],
          attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], count_include_pad: include },
        }],
      };
      await againstOrt(spec, 'x', Uint8Array.from(randomInts(random, 112, 0, 255)), [1, 2, 7, 8], 'uint8');
    }
  });
});
