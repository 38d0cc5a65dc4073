// Quantize/Dequantize, QLinearAdd/Mul, pooling and structural ops: the same bytes on every ISA
// and thread count, and equal to the documented formulas evaluated independently in JS.
import { describe, it, expect } from 'vitest';
import { buildModel, rng, randomInts, tensorValue, type ElemName } from './helpers/onnx_builder.js';
import { expectSameEverywhere } from './helpers/run_all.js';
import { deriveMultiplier, requantize, roundShiftRightEven } from './helpers/reference.js';

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

describe('QuantizeLinear / DequantizeLinear', () => {
  it('per-tensor uint8 and int8 match round-half-even of a binary32 division, with saturation', async () => {
    const random = rng(11);
    const values = Array.from({ length: 999 }, () => (random() - 0.5) * 40);
    values.push(0.5, 1.5, 2.5, -0.5, -1.5, 1e30, -1e30, 0, -0, 1e-40);
    for (const [dtype, zp, lo, hi] of [['uint8', 17, 0, 255], ['int8', -3, -128, 127]] as const) {
      const scale = Math.fround(0.0731);
      const model = buildModel({
        inputs: [{ name: 'x', dtype: 'float32', shape: [values.length] }],
        outputs: [{ name: 'y', dtype, shape: [values.length] }],
        initializers: { s: tensorValue('float32', [], [scale]), z: tensorValue(dtype, [], [zp]) },
        nodes: [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'] }],
      });
      const x = Float32Array.from(values);
      const r = await expectSameEverywhere(model, { x: { dtype: 'float32', shape: [x.length], data: x } }, 'QuantizeLinear');
      const expected = Array.from(x, (v) => Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(v / scale)) + zp)));
      expect(Array.from(r.outputs.y.data as Uint8Array | Int8Array)).toEqual(expected);
    }
  });

  it('per-axis dequantisation is one binary32 multiply per element', async () => {
    const random = rng(12);
    const shape = [2, 3, 5];
    const q = randomInts(random, 30, -128, 127);
    const scales = [0.5, 0.013, 7.25].map(Math.fround);
    const zps = [0, -128, 127];
    const model = buildModel({
      inputs: [{ name: 'q', dtype: 'int8', shape }],
      outputs: [{ name: 'y', dtype: 'float32', shape }],
      initializers: { s: tensorValue('float32', [3], scales), z: tensorValue('int8', [3], zps) },
      nodes: [{ op: 'DequantizeLinear', inputs: ['q', 's', 'z'], outputs: ['y'], attrs: { axis: 1 } }],
    });
    const r = await expectSameEverywhere(model, { q: { dtype: 'int8', shape, data: Int8Array.from(q) } }, 'DequantizeLinear');
    const expected = q.map((v, i) => {
      const c = Math.floor(i / 5) % 3;
      return Math.fround(Math.fround(v - zps[c]) * scales[c]);
    });
    expect(Array.from(r.outputs.y.data as Float32Array)).toEqual(expected);
  });
});

function binaryModel(op: 'QLinearAdd' | 'QLinearMul', aShape: number[], bShape: number[], t: ElemName, params: number[]) {
  const [as, az, bs, bz, ys, yz] = params;
  return buildModel({
    inputs: [{ name: 'a', dtype: t, shape: aShape }, { name: 'b', dtype: t, shape: bShape }],
    outputs: [{ name: 'y', dtype: t }],
    initializers: {
      as: tensorValue('float32', [], [as]), az: tensorValue(t, [], [az]), bs: tensorValue('float32', [], [bs]),
      bz: tensorValue(t, [], [bz]), ys: tensorValue('float32', [], [ys]), yz: tensorValue(t, [], [yz]),
    },
    nodes: [{ op, domain: 'com.microsoft', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
  });
}

describe('QLinearAdd / QLinearMul', () => {
  const f = Math.fround;
  for (const [aShape, bShape] of [[[2, 3, 4, 5], [2, 3, 4, 5]], [[2, 3, 4, 5], [3, 1, 1]], [[4, 10], [10]], [[1, 7], [5, 1]]]) {
    it(`QLinearAdd ${JSON.stringify(aShape)} + ${JSON.stringify(bShape)} (uint8) follows the shared-shift multiplier rule`, async () => {
      const random = rng(aShape.length * 31 + bShape.length);
      const params = [f(0.05), 128, f(0.11), 3, f(0.09), 120];
      const a = randomInts(random, aShape.reduce((x, y) => x * y, 1), 0, 255);
      const b = randomInts(random, bShape.reduce((x, y) => x * y, 1), 0, 255);
      const r = await expectSameEverywhere(binaryModel('QLinearAdd', aShape, bShape, 'uint8', params), {
        a: { dtype: 'uint8', shape: aShape, data: Uint8Array.from(a) },
        b: { dtype: 'uint8', shape: bShape, data: Uint8Array.from(b) },
      }, 'QLinearAdd');
      // Reference: both multipliers on the larger one's shift (docs/determinism.md).
      const ma = params[0] / params[4], mb = params[2] / params[4];
      const shift = deriveMultiplier(Math.max(ma, mb)).shift;
      const mA = BigInt(Math.round(ma * 2 ** shift)), mB = BigInt(Math.round(mb * 2 ** shift));
      const out = r.outputs.y;
      const rank = out.shape.length;
      const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
      const pa = pad(aShape), pb = pad(bShape);
      const index = (coord: number[], s: number[]) => coord.reduce((acc, c, d) => acc * s[d] + (s[d] === 1 ? 0 : c), 0);
      for (let i = 0; i < out.data.length; i++) {
        const coord: number[] = [];
        let rest = i;
        for (let d = rank - 1; d >= 0; d--) { coord.unshift(rest % out.shape[d]); rest = Math.floor(rest / out.shape[d]); }
        const va = BigInt(a[index(coord, pa)] - params[1]), vb = BigInt(b[index(coord, pb)] - params[3]);
        const v = Number(roundShiftRightEven(va * mA + vb * mB, shift)) + params[5];
        expect(out.data[i]).toBe(Math.min(255, Math.max(0, v)));
      }
    });
  }

  it('QLinearAdd int8, same shapes, zero points at the ends of the range', async () => {
    const random = rng(78);
    const params = [f(0.02), -128, f(0.07), 127, f(0.05), -128];
    const a = randomInts(random, 999, -128, 127), b = randomInts(random, 999, -128, 127);
    const r = await expectSameEverywhere(binaryModel('QLinearAdd', [999], [999], 'int8', params), {
      a: { dtype: 'int8', shape: [999], data: Int8Array.from(a) },
      b: { dtype: 'int8', shape: [999], data: Int8Array.from(b) },
    }, 'QLinearAdd int8');
    const ma = params[0] / params[4], mb = params[2] / params[4];
    const shift = deriveMultiplier(Math.max(ma, mb)).shift;
    const mA = BigInt(Math.round(ma * 2 ** shift)), mB = BigInt(Math.round(mb * 2 ** shift));
    const expected = a.map((v, i) => Math.min(127, Math.max(-128, Number(roundShiftRightEven(BigInt(v + 128) * mA + BigInt(b[i] - 127) * mB, shift)) - 128)));
    expect(Array.from(r.outputs.y.data as Int8Array)).toEqual(expected);
  });

  // The vector path's rounding shift: the larger multiplier in [0.5, 1) (shift 31; power-of-two
  // scales make half of the odd sums ties), below 0.5 (shifts 32 and 33) and above 1 (shift 30, the
  // cases above); 70 001 elements over parallel ranges with a tail, uint8 and int8.
  for (const [t, params] of [
    ['uint8', [f(0.25), 131, f(0.5), 7, f(1), 128]],
    ['int8', [f(0.02), -3, f(0.03), 11, f(0.1), 5]],
    ['uint8', [f(0.004), 255, f(0.01), 0, f(0.07), 0]],
  ] as [ElemName, number[]][]) {
    it(`QLinearAdd ${t}, same shapes, multipliers ${(params[0] / params[4]).toPrecision(2)} and ${(params[2] / params[4]).toPrecision(2)}`, async () => {
      const random = rng(90 + params[1]);
      const [lo, hi] = t === 'int8' ? [-128, 127] : [0, 255];
      const n = 70001;
      const a = randomInts(random, n, lo, hi), b = randomInts(random, n, lo, hi);
      const Data = t === 'int8' ? Int8Array : Uint8Array;
      const r = await expectSameEverywhere(binaryModel('QLinearAdd', [n], [n], t, params), {
        a: { dtype: t, shape: [n], data: Data.from(a) },
        b: { dtype: t, shape: [n], data: Data.from(b) },
      }, 'QLinearAdd same shapes');
      const ma = params[0] / params[4], mb = params[2] / params[4];
      const shift = deriveMultiplier(Math.max(ma, mb)).shift;
      const mA = BigInt(Math.round(ma * 2 ** shift)), mB = BigInt(Math.round(mb * 2 ** shift));
      const expected = a.map((v, i) => Math.min(hi, Math.max(lo, Number(roundShiftRightEven(BigInt(v - params[1]) * mA + BigInt(b[i] - params[3]) * mB, shift)) + params[5])));
      expect(Array.from(r.outputs.y.data as Int8Array | Uint8Array)).toEqual(expected);
    });
  }

  // Broadcast runs: a squeeze-and-excitation scale [N, C, 1, 1] over [N, C, H, W] (runs of 35; 400
  // runs of 49, 19600 outputs, whose requantising spans of 4096 and parallel ranges end mid-run; runs
  // of 600), a row vector, two operands broadcast both ways, a scalar; uint8 and int8; M = 0.0075,
  // 0.02 and 1.5 (above 1).
  for (const [aShape, bShape, t, params] of [
    [[2, 24, 1, 1], [2, 24, 5, 7], 'uint8', [f(0.02), 3, f(0.03), 128, f(0.08), 100]],
    [[2, 200, 1, 1], [2, 200, 7, 7], 'int8', [f(0.02), -7, f(0.03), 20, f(0.01), -3]],
    [[1, 3, 20, 30], [1, 3, 1, 1], 'uint8', [f(0.02), 3, f(0.03), 128, f(0.08), 100]],
    [[4, 10], [10], 'int8', [f(0.05), -3, f(0.03), 9, f(0.2), 4]],
    [[3, 1, 4], [2, 1, 5, 1], 'uint8', [f(0.02), 250, f(0.03), 0, f(0.08), 0]],
    [[], [37], 'int8', [f(0.5), -128, f(0.3), 127, f(0.1), -20]],
  ] as [number[], number[], ElemName, number[]][]) {
    it(`QLinearMul ${JSON.stringify(aShape)} x ${JSON.stringify(bShape)} (${t}) matches requantize((a-za)(b-zb))`, async () => {
      const random = rng(aShape.length * 17 + bShape.length);
      const [lo, hi] = t === 'int8' ? [-128, 127] : [0, 255];
      const a = randomInts(random, aShape.reduce((x, y) => x * y, 1), lo, hi);
      const b = randomInts(random, bShape.reduce((x, y) => x * y, 1), lo, hi);
      const Typed = t === 'int8' ? Int8Array : Uint8Array;
      const r = await expectSameEverywhere(binaryModel('QLinearMul', aShape, bShape, t, params), {
        a: { dtype: t, shape: aShape, data: Typed.from(a) },
        b: { dtype: t, shape: bShape, data: Typed.from(b) },
      }, 'QLinearMul');
      const out = r.outputs.y;
      const rank = out.shape.length;
      const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
      const pa = pad(aShape), pb = pad(bShape);
      const index = (coord: number[], s: number[]) => coord.reduce((acc, c, d) => acc * s[d] + (s[d] === 1 ? 0 : c), 0);
      const m = (params[0] * params[2]) / params[4];
      for (let i = 0; i < out.data.length; i++) {
        const coord: number[] = [];
        let rest = i;
        for (let d = rank - 1; d >= 0; d--) { coord.unshift(rest % out.shape[d]); rest = Math.floor(rest / out.shape[d]); }
        const product = (a[index(coord, pa)] - params[1]) * (b[index(coord, pb)] - params[3]);
        expect(out.data[i]).toBe(requantize(product, m, params[5], lo, hi));
      }
    });
  }

  it('QLinearMul int8 matches requantize((a-za)(b-zb))', async () => {
    const random = rng(77);
    const params = [f(0.02), -5, f(0.03), 7, f(0.01), -1];
    const a = randomInts(random, 60, -128, 127), b = randomInts(random, 60, -128, 127);
    const r = await expectSameEverywhere(binaryModel('QLinearMul', [6, 10], [6, 10], 'int8', params), {
      a: { dtype: 'int8', shape: [6, 10], data: Int8Array.from(a) },
      b: { dtype: 'int8', shape: [6, 10], data: Int8Array.from(b) },
    }, 'QLinearMul');
    const expected = a.map((v, i) => requantize((v + 5) * (b[i] - 7), (params[0] * params[2]) / params[4], -1, -128, 127));
    expect(Array.from(r.outputs.y.data as Int8Array)).toEqual(expected);
  });
});

describe('pooling', () => {
  it('QLinearGlobalAveragePool is requantize(sum(x - zx), sx / (sy * HW))', async () => {
    const random = rng(21);
    const shape = [2, 5, 7, 9];
    const x = randomInts(random, 630, 0, 255);
    const model = buildModel({
      inputs: [{ name: 'x', dtype: 'uint8', shape }],
      outputs: [{ name: 'y', dtype: 'uint8', shape: [2, 5, 1, 1] }],
      initializers: {
        xs: tensorValue('float32', [], [0.04]), xz: tensorValue('uint8', [], [100]),
        ys: tensorValue('float32', [], [0.03]), yz: tensorValue('uint8', [], [90]),
      },
      nodes: [{ op: 'QLinearGlobalAveragePool', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'], attrs: { channels_last: 0 } }],
    });
    const r = await expectSameEverywhere(model, { x: { dtype: 'uint8', shape, data: Uint8Array.from(x) } }, 'GAP');
    expect(r.outputs.y.shape).toEqual([2, 5, 1, 1]);
    for (let p = 0; p < 10; p++) {
      let sum = 0;
      for (let i = 0; i < 63; i++) sum += x[p * 63 + i] - 100;
      expect(r.outputs.y.data[p]).toBe(requantize(sum, Math.fround(0.04) / (Math.fround(0.03) * 63), 90, 0, 255));
    }
  });

  it('DequantizeLinear -> ReduceMean -> ReduceMean -> QuantizeLinear runs as one integer mean', async () => {
    const random = rng(22);
    const shape = [3, 4, 5, 6];
    const x = randomInts(random, 360, -128, 127);
    const model = buildModel({
      opset: 13,
      inputs: [{ name: 'x', dtype: 'int8', shape }],
      outputs: [{ name: 'y', dtype: 'int8', shape: [3, 4] }],
      initializers: {
        xs: tensorValue('float32', [], [0.05]), xz: tensorValue('int8', [], [-10]),
        ys: tensorValue('float32', [], [0.02]), yz: tensorValue('int8', [], [5]),
      },
      nodes: [
        { op: 'DequantizeLinear', inputs: ['x', 'xs', 'xz'], outputs: ['f'] },
        { op: 'ReduceMean', inputs: ['f'], outputs: ['m1'], attrs: { axes: [-1], keepdims: 0 } },
        { op: 'ReduceMean', inputs: ['m1'], outputs: ['m2'], attrs: { axes: [-1], keepdims: 0 } },
        { op: 'QuantizeLinear', inputs: ['m2', 'ys', 'yz'], outputs: ['y'] },
      ],
    });
    const r = await expectSameEverywhere(model, { x: { dtype: 'int8', shape, data: Int8Array.from(x) } }, 'ReduceMean');
    expect(r.outputs.y.shape).toEqual([3, 4]);
    for (let p = 0; p < 12; p++) {
      let sum = 0;
      for (let i = 0; i < 30; i++) sum += x[p * 30 + i] + 10;
      expect(r.outputs.y.data[p]).toBe(requantize(sum, Math.fround(0.05) / (Math.fround(0.02) * 30), 5, -128, 127));
    }
  });

  it('MaxPool on uint8 with padding, strides and ceil_mode', async () => {
    const random = rng(23);
    const shape = [1, 3, 10, 11];
    const x = randomInts(random, 330, 0, 255);
    const model = buildModel({
      inputs: [{ name: 'x', dtype: 'uint8', shape }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } }],
    });
    const r = await expectSameEverywhere(model, { x: { dtype: 'uint8', shape, data: Uint8Array.from(x) } }, 'MaxPool');
    expect(r.outputs.y.shape).toEqual([1, 3, 6, 6]);
    // top-left window covers rows/cols 0..1 of plane 0
    expect(r.outputs.y.data[0]).toBe(Math.max(x[0], x[1], x[11], x[12]));
  });
});

describe('structural ops and shape folding', () => {
  it('Transpose, Slice, Gather, Concat, Reshape, Squeeze/Unsqueeze and a folded Shape subgraph', async () => {
    const shape = [2, 3, 4];
    const x = Array.from({ length: 24 }, (_, i) => i);
    const model = buildModel({
      inputs: [{ name: 'x', dtype: 'uint8', shape }],
      outputs: [{ name: 'y', dtype: 'uint8' }, { name: 'g', dtype: 'uint8' }],
      initializers: {
        starts: tensorValue('int64', [1], [1]), ends: tensorValue('int64', [1], [3]), axes: tensorValue('int64', [1], [2]),
        idx: tensorValue('int64', [2], [3, -4]), zero: tensorValue('int64', [], [0]), minus1: tensorValue('int64', [1], [-1]),
        ax0: tensorValue('int64', [1], [0]),
      },
      nodes: [
        { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [2, 0, 1] } },           // [4,2,3]
        { op: 'Slice', inputs: ['t', 'starts', 'ends', 'axes'], outputs: ['s'] },                 // [4,2,2]
        { op: 'Concat', inputs: ['s', 's'], outputs: ['c'], attrs: { axis: 2 } },                 // [4,2,4]
        { op: 'Shape', inputs: ['c'], outputs: ['shp'] },
        { op: 'Gather', inputs: ['shp', 'zero'], outputs: ['n'], attrs: { axis: 0 } },
        { op: 'Unsqueeze', inputs: ['n', 'ax0'], outputs: ['n1'] },
        { op: 'Concat', inputs: ['n1', 'minus1'], outputs: ['target'], attrs: { axis: 0 } },
        { op: 'Reshape', inputs: ['c', 'target'], outputs: ['y'] },                               // [4,8]
        { op: 'Gather', inputs: ['x', 'idx'], outputs: ['g0'], attrs: { axis: 2 } },              // [2,3,2]
        { op: 'Unsqueeze', inputs: ['g0', 'ax0'], outputs: ['g1'] },
        { op: 'Squeeze', inputs: ['g1', 'ax0'], outputs: ['g'] },
      ],
    });
    const r = await expectSameEverywhere(model, { x: { dtype: 'uint8', shape, data: Uint8Array.from(x) } }, 'structural');
    expect(r.outputs.y.shape).toEqual([4, 8]);
    // t[k][i][j] = x[i][j][k]; s keeps j in 1..2; c repeats s along the last axis.
    const expectedY: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (const j of [1, 2, 1, 2]) expectedY.push(x[i * 12 + j * 4 + k]);
    expect(Array.from(r.outputs.y.data as Uint8Array)).toEqual(expectedY);
    expect(r.outputs.g.shape).toEqual([2, 3, 2]);
    expect(Array.from(r.outputs.g.data as Uint8Array)).toEqual([3, 0, 7, 4, 11, 8, 15, 12, 19, 16, 23, 20]);
  });
});
