// QDQ models: DequantizeLinear -> float op -> QuantizeLinear patterns compile to integer ops that
// give the same bytes on every ISA and thread count, and stay within 1 LSB of onnxruntime's float
// simulation of the same graph (optimisation 'disabled').
import { describe, it, expect } from 'vitest';
import ort from 'onnxruntime-node';
import { BitexactError, loadModel, type TensorInput } from '../src/index.js';
import { buildModel, rng, randomInts, tensorValue, type ModelSpec, type NodeSpec } from './helpers/onnx_builder.js';
import { expectSameEverywhere } from './helpers/run_all.js';
import { erf64 } from './helpers/reference.js';

const f32 = (name: string, v: number | number[], dims: number[] = []) => [name, tensorValue('float32', dims, Array.isArray(v) ? v : [v])] as const;

function dq(input: string, scale: string, zp: string, output: string, axis?: number): NodeSpec {
  return { op: 'DequantizeLinear', inputs: [input, scale, zp], outputs: [output], attrs: axis === undefined ? {} : { axis } };
}
function q(input: string, scale: string, zp: string, output: string): NodeSpec {
  return { op: 'QuantizeLinear', inputs: [input, scale, zp], outputs: [output] };
}

async function checkAgainstOrt(spec: ModelSpec, inputs: Record<string, TensorInput>, label: string) {
  const model = buildModel(spec);
  const ours = await expectSameEverywhere(model, inputs, label);
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype as 'uint8', t.data as Uint8Array, [...t.shape]);
  const theirs = await session.run(feeds);
  await session.release();
  for (const [name, out] of Object.entries(ours.outputs)) {
    const expected = theirs[name].data as Uint8Array;
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(Number(out.data[i]) - Number(expected[i])));
    expect(maxDiff, `${label}: max difference to onnxruntime's float simulation`).toBeLessThanOrEqual(1);
  }
  return ours;
}

describe('QDQ patterns', () => {
  it('Conv + bias + Relu with per-channel int8 weights', async () => {
    const random = rng(41);
    const wScales = [0.01, 0.02, 0.005, 0.013];
    const xs = 0.04;
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'uint8', shape: [1, 3, 9, 8] }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: Object.fromEntries([
        f32('xs', xs), ['xz', tensorValue('uint8', [], [120])],
        ['w', tensorValue('int8', [4, 3, 3, 3], randomInts(random, 108, -127, 127))], f32('ws', wScales, [4]), ['wz', tensorValue('int8', [4], [0, 0, 0, 0])],
        // bias at a scale other than xs*ws: the rewrite requantises it once
        ['b', tensorValue('int32', [4], [300, -200, 50, 0])], f32('bs', [0.0003, 0.0007, 0.0002, 0.0004], [4]), ['bz', tensorValue('int32', [4], [0, 0, 0, 0])],
        f32('ys', 0.05), ['yz', tensorValue('uint8', [], [0])],
      ]),
      nodes: [
        dq('x', 'xs', 'xz', 'xf'), dq('w', 'ws', 'wz', 'wf', 0), dq('b', 'bs', 'bz', 'bf', 0),
        { op: 'Conv', inputs: ['xf', 'wf', 'bf'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['c'], outputs: ['r'] },
        q('r', 'ys', 'yz', 'y'),
      ],
    };
    await checkAgainstOrt(spec, { x: { dtype: 'uint8', shape: [1, 3, 9, 8], data: Uint8Array.from(randomInts(random, 216, 0, 255)) } }, 'QDQ Conv');
  });

  it('Add of two differently scaled activations, Mul with broadcasting', async () => {
    const random = rng(42);
    const spec: ModelSpec = {
      inputs: [{ name: 'a', dtype: 'uint8', shape: [2, 4, 3, 3] }, { name: 'b', dtype: 'uint8', shape: [2, 4, 1, 1] }],
      outputs: [{ name: 'sum', dtype: 'uint8' }, { name: 'prod', dtype: 'uint8' }],
      initializers: Object.fromEntries([
        f32('as', 0.03), ['az', tensorValue('uint8', [], [128])], f32('bs', 0.011), ['bz', tensorValue('uint8', [], [3])],
        f32('ss', 0.05), ['sz', tensorValue('uint8', [], [100])], f32('ps', 0.02), ['pz', tensorValue('uint8', [], [128])],
      ]),
      nodes: [
        dq('a', 'as', 'az', 'af'), dq('b', 'bs', 'bz', 'bf'),
        { op: 'Add', inputs: ['af', 'bf'], outputs: ['s'] }, q('s', 'ss', 'sz', 'sum'),
        { op: 'Mul', inputs: ['af', 'bf'], outputs: ['p'] }, q('p', 'ps', 'pz', 'prod'),
      ],
    };
    await checkAgainstOrt(spec, {
      a: { dtype: 'uint8', shape: [2, 4, 3, 3], data: Uint8Array.from(randomInts(random, 72, 0, 255)) },
      b: { dtype: 'uint8', shape: [2, 4, 1, 1], data: Uint8Array.from(randomInts(random, 8, 0, 255)) },
    }, 'QDQ Add/Mul');
  });

  it('HardSwish, HardSigmoid, Clip and LeakyRelu become lookup tables', async () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'int8', shape: [256] }],
      outputs: ['hs', 'hg', 'cl', 'lr'].map((name) => ({ name, dtype: 'int8' as const })),
      initializers: Object.fromEntries([
        f32('xs', 0.05), ['xz', tensorValue('int8', [], [-10])], f32('ys', 0.03), ['yz', tensorValue('int8', [], [-100])],
        f32('lo', -1.5), f32('hi', 2.25),
      ]),
      nodes: [
        dq('x', 'xs', 'xz', 'xf'),
        { op: 'HardSwish', inputs: ['xf'], outputs: ['a'] }, q('a', 'ys', 'yz', 'hs'),
        { op: 'HardSigmoid', inputs: ['xf'], outputs: ['b'], attrs: { alpha: { float: 1 / 6 } } }, q('b', 'ys', 'yz', 'hg'),
        { op: 'Clip', inputs: ['xf', 'lo', 'hi'], outputs: ['c'] }, q('c', 'ys', 'yz', 'cl'),
        { op: 'LeakyRelu', inputs: ['xf'], outputs: ['d'], attrs: { alpha: { float: 0.1 } } }, q('d', 'ys', 'yz', 'lr'),
      ],
    };
    const all = Int8Array.from({ length: 256 }, (_, i) => i - 128);
    await checkAgainstOrt(spec, { x: { dtype: 'int8', shape: [256], data: all } }, 'QDQ LUT');
  });

  it('MaxPool and Reshape between equal DQ/Q run on the integers; Gemm with transB and bias', async () => {
    const random = rng(43);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'uint8', shape: [1, 2, 6, 6] }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: Object.fromEntries([
        f32('xs', 0.1), ['xz', tensorValue('uint8', [], [20])],
        ['shape', tensorValue('int64', [2], [1, 18])],
        ['w', tensorValue('int8', [5, 18], randomInts(random, 90, -127, 127))], f32('ws', 0.02), ['wz', tensorValue('int8', [], [0])],
        ['b', tensorValue('int32', [5], [10, 20, -30, 400, -5])], f32('bs', 0.002), ['bz', tensorValue('int32', [], [0])],
        f32('ys', 0.3), ['yz', tensorValue('uint8', [], [128])],
      ]),
      nodes: [
        dq('x', 'xs', 'xz', 'xf'), { op: 'MaxPool', inputs: ['xf'], outputs: ['m'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } }, q('m', 'xs', 'xz', 'mq'),
        dq('mq', 'xs', 'xz', 'mf'), { op: 'Reshape', inputs: ['mf', 'shape'], outputs: ['r'] }, q('r', 'xs', 'xz', 'rq'),
        dq('rq', 'xs', 'xz', 'rf'), dq('w', 'ws', 'wz', 'wf'), dq('b', 'bs', 'bz', 'bf'),
        { op: 'Gemm', inputs: ['rf', 'wf', 'bf'], outputs: ['g'], attrs: { transB: 1 } }, q('g', 'ys', 'yz', 'y'),
      ],
    };
    await checkAgainstOrt(spec, { x: { dtype: 'uint8', shape: [1, 2, 6, 6], data: Uint8Array.from(randomInts(random, 72, 0, 255)) } }, 'QDQ Gemm');
  });

  it('uint8 input preprocessing (Cast, /255, -mean, /std) becomes a per-channel table', async () => {
    const random = rng(44);
    const spec: ModelSpec = {
      inputs: [{ name: 'img', dtype: 'uint8', shape: [1, 3, 4, 5] }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: Object.fromEntries([
        f32('k255', 255), f32('mean', [0.485, 0.456, 0.406], [3, 1, 1]), f32('std', [0.229, 0.224, 0.225], [3, 1, 1]),
        f32('ys', 0.0186), ['yz', tensorValue('uint8', [], [114])],
      ]),
      nodes: [
        { op: 'Cast', inputs: ['img'], outputs: ['f'], attrs: { to: 1 } },
        { op: 'Div', inputs: ['f', 'k255'], outputs: ['n'] },
        { op: 'Sub', inputs: ['n', 'mean'], outputs: ['c'] },
        { op: 'Div', inputs: ['c', 'std'], outputs: ['s'] },
        q('s', 'ys', 'yz', 'y'),
      ],
    };
    await checkAgainstOrt(spec, { img: { dtype: 'uint8', shape: [1, 3, 4, 5], data: Uint8Array.from(randomInts(random, 60, 0, 255)) } }, 'QDQ preprocessing');
  });

  it('Sigmoid (integer exp), Softmax, AveragePool, Concat of different scales, Pad and Resize', async () => {
    const random = rng(45);
    const shape = [1, 3, 4, 6];
    const spec: ModelSpec = {
      opset: 13,
      inputs: [{ name: 'x', dtype: 'uint8', shape }, { name: 'b', dtype: 'uint8', shape }],
      outputs: ['sig', 'soft', 'avg', 'cat', 'pad', 'up'].map((name) => ({ name, dtype: 'uint8' as const })),
      initializers: Object.fromEntries([
        f32('xs', 0.06), ['xz', tensorValue('uint8', [], [128])], f32('bs', 0.02), ['bz', tensorValue('uint8', [], [7])],
        f32('ps', 1 / 256), ['pz', tensorValue('uint8', [], [0])], f32('cs', 0.05), ['cz', tensorValue('uint8', [], [100])],
        ['pads', tensorValue('int64', [8], [0, 0, 1, 2, 0, 0, 2, 1])], f32('fill', 0.3),
        ['roi', tensorValue('float32', [0], [])], f32('scales', [1, 1, 2, 1.5], [4]),
      ]),
      nodes: [
        dq('x', 'xs', 'xz', 'xf'), dq('b', 'bs', 'bz', 'bf'),
        { op: 'Sigmoid', inputs: ['xf'], outputs: ['s1'] }, q('s1', 'ps', 'pz', 'sig'),
        { op: 'Softmax', inputs: ['xf'], outputs: ['s2'], attrs: { axis: -1 } }, q('s2', 'ps', 'pz', 'soft'),
        { op: 'AveragePool', inputs: ['xf'], outputs: ['s3'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], count_include_pad: 0 } },
        q('s3', 'xs', 'xz', 'avg'),
        { op: 'Concat', inputs: ['xf', 'bf'], outputs: ['s4'], attrs: { axis: 1 } }, q('s4', 'cs', 'cz', 'cat'),
        { op: 'Pad', inputs: ['xf', 'pads', 'fill'], outputs: ['s5'] }, q('s5', 'xs', 'xz', 'pad'),
        { op: 'Resize', inputs: ['xf', 'roi', 'scales'], outputs: ['s6'], attrs: { mode: 'nearest' } }, q('s6', 'xs', 'xz', 'up'),
      ],
    };
    await checkAgainstOrt(spec, {
      x: { dtype: 'uint8', shape, data: Uint8Array.from(randomInts(random, 72, 0, 255)) },
      b: { dtype: 'uint8', shape, data: Uint8Array.from(randomInts(random, 72, 0, 255)) },
    }, 'QDQ nonlinear and structural');
  });

  it('a float op left between DQ and Q is refused, naming it', async () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'uint8', shape: [4] }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: Object.fromEntries([f32('s', 0.1), ['z', tensorValue('uint8', [], [0])]]),
      nodes: [dq('x', 's', 'z', 'f'), { op: 'Sin', name: 'the_sin', inputs: ['f'], outputs: ['g'] }, q('g', 's', 'z', 'y')],
    };
    const error = await loadModel(buildModel(spec)).catch((e) => e);
    expect(error).toBeInstanceOf(BitexactError);
    expect(error.code).toBe('ERR_BITEXACT_UNSUPPORTED_OP');
    expect(error.message).toMatch(/the_sin/);
  });

  // Tanh and SiLU (integer exp), Erf and GELU (integer erf series): whole domains against float64.
  const TABLE_FUNCTIONS: [string, (x: number) => number, [ 'int8' | 'uint8', number, number, number, number][]][] = [
    ['Tanh', Math.tanh, [['int8', 0.03, -5, 1 / 127, 0], ['uint8', 0.05, 128, 1 / 128, 128], ['int8', 0.2, 0, 0.01, 3]]],
    ['Erf', erf64, [['int8', 0.02, 0, 1 / 127, 0], ['uint8', 0.03, 120, 1 / 128, 128], ['int8', 0.3, 10, 0.008, -2]]],
    ['Gelu', (x) => (x * (1 + erf64(x / Math.SQRT2))) / 2, [['int8', 0.05, 0, 0.05, -20], ['uint8', 0.04, 100, 0.025, 10], ['int8', 0.5, -3, 0.4, -1]]],
    // SiLU has no ONNX op: the graph is Mul(v, Sigmoid(v)), recognised as one function of v.
    ['SiLU', (x) => x / (1 + Math.exp(-x)), [['int8', 0.05, 0, 0.05, -20], ['uint8', 0.04, 100, 0.02, 30], ['int8', 0.4, -3, 0.3, -5]]],
  ];
  for (const [op, fn, cases] of TABLE_FUNCTIONS) it(`${op} over the whole int8 and uint8 domains is within 1 LSB of float64`, async () => {
    for (const [dtype, xs, xz, ys, yz] of cases) {
      const lo = dtype === 'int8' ? -128 : 0;
      const hi = dtype === 'int8' ? 127 : 255;
      const spec: ModelSpec = {
        inputs: [{ name: 'x', dtype, shape: [256] }],
        outputs: [{ name: 'y', dtype }],
        initializers: Object.fromEntries([f32('xs', xs), ['xz', tensorValue(dtype, [], [xz])], f32('ys', ys), ['yz', tensorValue(dtype, [], [yz])]]),
        nodes: op === 'SiLU'
          ? [dq('x', 'xs', 'xz', 'f'), { op: 'Sigmoid', inputs: ['f'], outputs: ['s'] }, { op: 'Mul', inputs: ['s', 'f'], outputs: ['g'] }, q('g', 'ys', 'yz', 'y')]
          : [dq('x', 'xs', 'xz', 'f'), { op, inputs: ['f'], outputs: ['g'], ...(op === 'Gelu' ? { domain: 'com.microsoft' } : {}) }, q('g', 'ys', 'yz', 'y')],
      };
      const all = Array.from({ length: 256 }, (_, i) => lo + i);
      const data = dtype === 'int8' ? Int8Array.from(all) : Uint8Array.from(all);
      const r = await expectSameEverywhere(buildModel(spec), { x: { dtype, shape: [256], data } }, `${op} ${dtype}`);
      let exact = 0;
      for (let i = 0; i < 256; i++) {
        const ideal = Math.min(hi, Math.max(lo, Math.round(fn((all[i] - xz) * Math.fround(xs)) / Math.fround(ys)) + yz));
        expect(Math.abs(Number(r.outputs.y.data[i]) - ideal), `${op} ${dtype} at ${all[i]}`).toBeLessThanOrEqual(1);
        if (Number(r.outputs.y.data[i]) === ideal) exact++;
      }
      expect(exact, `${op} ${dtype}: correctly rounded entries`).toBeGreaterThanOrEqual(254);
    }
  });
});
