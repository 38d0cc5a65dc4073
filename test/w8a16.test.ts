// The w8a16 profile: 16-bit activations with int8 weights. The engine's 16-bit paths (constant-
// weight MatMul/Gemm and Conv, mean pooling, lookup tables, softmax) against independent references over random,
// extreme and whole-domain inputs on every ISA and thread count; then quantise -> run on a
// regression-style MLP, where w8a16 must beat int8.
import { describe, it, expect } from 'vitest';
import ort from 'onnxruntime-node';
import { loadModel, quantize } from '../src/index.js';
import { rawTensor, writeOnnxModel } from '../src/onnx/writer.js';
import { buildModel, rng, randomInts, tensorValue, type NodeSpec } from './helpers/onnx_builder.js';
import { erf64, qlinearMatMulReference, requantize, roundShiftRightEven } from './helpers/reference.js';
import { expectSameEverywhere } from './helpers/run_all.js';

type Wide = 'int16' | 'uint16';
const RANGE: Record<Wide, [number, number]> = { int16: [-32768, 32767], uint16: [0, 65535] };
const typed = (dtype: Wide, values: number[]) => (dtype === 'int16' ? Int16Array.from(values) : Uint16Array.from(values));
// 16-bit Q/DQ at opset 17 are com.microsoft ops (the standard ones take 16 bits from opset 21)
const dq = (input: string, s: string, z: string, output: string): NodeSpec => ({ op: 'DequantizeLinear', domain: 'com.microsoft', inputs: [input, s, z], outputs: [output] });
const q = (input: string, s: string, z: string, output: string): NodeSpec => ({ op: 'QuantizeLinear', domain: 'com.microsoft', inputs: [input, s, z], outputs: [output] });

describe('16-bit activations in the integer engine', () => {
  const cases: [number[], number, Wide, Wide][] = [
    [[5, 64], 24, 'int16', 'int16'],
    [[2, 3, 40], 17, 'uint16', 'int16'],
    [[7, 33], 9, 'int16', 'uint16'],
  ];
  cases.forEach(([aShape, n, aType, yType], i) => {
    it(`QLinearMatMul A${JSON.stringify(aShape)} ${aType} x int8 B -> ${yType} equals the JS reference`, async () => {
      const random = rng(4100 + i);
      const k = aShape[aShape.length - 1];
      const [alo, ahi] = RANGE[aType];
      const a = randomInts(random, aShape.reduce((x, y) => x * y, 1), alo, ahi);
      const b = randomInts(random, k * n, -127, 127);
      const params = {
        as: 1e-4 + random() * 1e-3, az: aType === 'int16' ? 0 : randomInts(random, 1, 0, 65535, 0.3)[0],
        bs: Array.from({ length: n }, () => 0.001 + random() * 0.01), bz: new Array(n).fill(0),
        ys: 1e-4 + random() * 1e-3, yz: yType === 'int16' ? randomInts(random, 1, -100, 100)[0] : 1000,
      };
      const model = buildModel({
        inputs: [{ name: 'a', dtype: aType, shape: aShape }],
        outputs: [{ name: 'y', dtype: yType }],
        initializers: {
          as: tensorValue('float32', [], [params.as]), az: tensorValue(aType, [], [params.az]),
          b: tensorValue('int8', [k, n], b), bs: tensorValue('float32', [n], params.bs), bz: tensorValue('int8', [n], params.bz),
          ys: tensorValue('float32', [], [params.ys]), yz: tensorValue(yType, [], [params.yz]),
        },
        nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
      });
      const r = await expectSameEverywhere(model, { a: { dtype: aType, shape: aShape, data: typed(aType, a) } }, 'QLinearMatMul 16-bit');
      expect(Array.from(r.outputs.y.data as Int16Array)).toEqual(qlinearMatMulReference(a, aShape, b, n, params, RANGE[yType]));
    });
  });

  // DQ(16-bit x) -> Conv(int8 weights per channel, int32 bias at the accumulator scale) -> Q: the
  // engine's 16-bit QLinearConv (the scalar reference on every ISA) against a JS reference.
  const convCases: [string, { c: number; m: number; group: number; stride: number; h: number; w: number; xType: Wide; yType: Wide; noBias?: boolean }][] = [
    ['3x3, stride 2, pad 1, uint16 -> int16', { c: 5, m: 7, group: 1, stride: 2, h: 9, w: 8, xType: 'uint16', yType: 'int16' }],
    ['depthwise 3x3, pad 1, int16 -> uint16', { c: 6, m: 6, group: 6, stride: 1, h: 7, w: 7, xType: 'int16', yType: 'uint16' }],
    // 20 output channels over 81 positions: full 8 x 16 register blocks and both edges
    ['3x3, pad 1, 20 channels, int16 -> int16', { c: 16, m: 20, group: 1, stride: 1, h: 9, w: 9, xType: 'int16', yType: 'int16' }],
    ['3x3, pad 1, 20 channels, no bias, uint16 -> uint16', { c: 16, m: 20, group: 1, stride: 1, h: 9, w: 9, xType: 'uint16', yType: 'uint16', noBias: true }],
  ];
  convCases.forEach(([label, c], i) => {
    it(`QLinearConv ${label} equals the JS reference`, async () => {
      const random = rng(4120 + i);
      const f = Math.fround;
      const perGroup = c.c / c.group, rowsPerGroup = c.m / c.group;
      const xShape = [2, c.c, c.h, c.w];
      const x = randomInts(random, xShape.reduce((a, b) => a * b, 1), ...RANGE[c.xType], 0.2);
      const w = randomInts(random, c.m * perGroup * 9, -127, 127);
      const xs = f(2e-4 + random() * 2e-4), xz = c.xType === 'uint16' ? 30000 : -9;
      const ws = Array.from({ length: c.m }, () => f(0.002 + random() * 0.01));
      const ys = f(1e-3 + random() * 1e-3), yz = c.yType === 'uint16' ? 100 : 13;
      const bias = c.noBias ? new Array<number>(c.m).fill(0) : randomInts(random, c.m, -200000, 200000);
      const model = buildModel({
        inputs: [{ name: 'x', dtype: c.xType, shape: xShape }],
        outputs: [{ name: 'y', dtype: c.yType }],
        initializers: {
          xs: tensorValue('float32', [], [xs]), xz: tensorValue(c.xType, [], [xz]),
          w: tensorValue('int8', [c.m, perGroup, 3, 3], w), ws: tensorValue('float32', [c.m], ws), wz: tensorValue('int8', [c.m], new Array(c.m).fill(0)),
          // the accumulator scale exactly (binary32 product), so the int32 bias is used as it is
          b: tensorValue('int32', [c.m], bias), bs: tensorValue('float32', [c.m], ws.map((s) => f(xs * s))), bz: tensorValue('int32', [c.m], new Array(c.m).fill(0)),
          ys: tensorValue('float32', [], [ys]), yz: tensorValue(c.yType, [], [yz]),
        },
        nodes: [
          dq('x', 'xs', 'xz', 'xf'),
          { op: 'DequantizeLinear', inputs: ['w', 'ws', 'wz'], outputs: ['wf'], attrs: { axis: 0 } },
          ...(c.noBias ? [] : [{ op: 'DequantizeLinear', inputs: ['b', 'bs', 'bz'], outputs: ['bf'], attrs: { axis: 0 } }]),
          { op: 'Conv', inputs: c.noBias ? ['xf', 'wf'] : ['xf', 'wf', 'bf'], outputs: ['yf'], attrs: { group: c.group, kernel_shape: [3, 3], strides: [c.stride, c.stride], pads: [1, 1, 1, 1] } },
          q('yf', 'ys', 'yz', 'y'),
        ],
      });
      const r = await expectSameEverywhere(model, { x: { dtype: c.xType, shape: xShape, data: typed(c.xType, x) } }, `QLinearConv 16-bit ${label}`);
      const outH = Math.floor((c.h + 2 - 3) / c.stride) + 1, outW = Math.floor((c.w + 2 - 3) / c.stride) + 1;
      const expected: number[] = [];
      for (let n = 0; n < 2; n++) {
        for (let m = 0; m < c.m; m++) {
          const g = Math.floor(m / rowsPerGroup);
          for (let oy = 0; oy < outH; oy++) {
            for (let ox = 0; ox < outW; ox++) {
              let acc = bias[m];
              for (let ci = 0; ci < perGroup; ci++) {
                for (let ky = 0; ky < 3; ky++) {
                  for (let kx = 0; kx < 3; kx++) {
                    const iy = oy * c.stride - 1 + ky, ix = ox * c.stride - 1 + kx;
                    if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue; // padding is the zero point
                    acc += (x[((n * c.c + g * perGroup + ci) * c.h + iy) * c.w + ix] - xz) * w[((m * perGroup + ci) * 3 + ky) * 3 + kx];
                  }
                }
              }
              expected.push(requantize(acc, (xs * ws[m]) / ys, yz, ...RANGE[c.yType]));
            }
          }
        }
      }
      expect(r.outputs.y.shape).toEqual([2, c.m, outH, outW]);
      expect(Array.from(r.outputs.y.data as Int16Array | Uint16Array)).toEqual(expected);
    });
  });

  it('ReduceMean of uint16 over the spatial axes (global average pooling) equals the JS reference', async () => {
    const random = rng(4140);
    const shape = [3, 10, 8, 8];
    const x = randomInts(random, 1920, 0, 65535, 0.2);
    const [xs, ys] = [Math.fround(1e-4), Math.fround(9e-5)];
    const model = buildModel({
      inputs: [{ name: 'x', dtype: 'uint16', shape }],
      outputs: [{ name: 'y', dtype: 'uint16' }],
      initializers: { s: tensorValue('float32', [], [xs]), z: tensorValue('uint16', [], [0]), s2: tensorValue('float32', [], [ys]), z2: tensorValue('uint16', [], [0]) },
      nodes: [dq('x', 's', 'z', 'f'), { op: 'ReduceMean', inputs: ['f'], outputs: ['m'], attrs: { axes: [2, 3], keepdims: 1 } }, q('m', 's2', 'z2', 'y')],
    });
    const r = await expectSameEverywhere(model, { x: { dtype: 'uint16', shape, data: Uint16Array.from(x) } }, 'ReduceMean 16-bit');
    const expected = Array.from({ length: 30 }, (_, p) => {
      let sum = 0;
      for (let i = 0; i < 64; i++) sum += x[p * 64 + i];
      return requantize(sum, xs / (ys * 64), 0, 0, 65535);
    });
    expect(r.outputs.y.shape).toEqual([3, 10, 1, 1]);
    expect(Array.from(r.outputs.y.data as Uint16Array)).toEqual(expected);
  });

  it('QLinearAdd of int16 and broadcast uint16 inputs to int16 equals the JS reference', async () => {
    const random = rng(4150);
    const [as, az, bs, bz, ys, yz] = [Math.fround(3e-4), -7, Math.fround(1e-4), 0, Math.fround(5e-4), 11];
    const shapeA = [3, 4, 50];
    const shapeB = [4, 1];
    const a = randomInts(random, 600, -32768, 32767, 0.2);
    const b = randomInts(random, 4, 0, 65535, 0.3);
    const model = buildModel({
      inputs: [{ name: 'a', dtype: 'int16', shape: shapeA }, { name: 'b', dtype: 'uint16', shape: shapeB }],
      outputs: [{ name: 'y', dtype: 'int16' }],
      initializers: {
        as: tensorValue('float32', [], [as]), az: tensorValue('int16', [], [az]), bs: tensorValue('float32', [], [bs]), bz: tensorValue('uint16', [], [bz]),
        ys: tensorValue('float32', [], [ys]), yz: tensorValue('int16', [], [yz]),
      },
      nodes: [dq('a', 'as', 'az', 'af'), dq('b', 'bs', 'bz', 'bf'), { op: 'Add', inputs: ['af', 'bf'], outputs: ['s'] }, q('s', 'ys', 'yz', 'y')],
    });
    const r = await expectSameEverywhere(model, { a: { dtype: 'int16', shape: shapeA, data: Int16Array.from(a) }, b: { dtype: 'uint16', shape: shapeB, data: Uint16Array.from(b) } }, 'QLinearAdd 16-bit');
    // numerics.h deriveMultiplierPair: the larger ratio gets 31 significant bits, both share the shift
    const [ma, mb] = [as / ys, bs / ys];
    const shift = Math.min(62, 31 - (Math.floor(Math.log2(Math.max(ma, mb))) + 1));
    const [pa, pb] = [BigInt(Math.round(ma * 2 ** shift)), BigInt(Math.round(mb * 2 ** shift))];
    const expected = a.map((x, i) => {
      const y = b[Math.floor(i / 50) % 4];
      const v = Number(roundShiftRightEven(BigInt(x - az) * pa + BigInt(y - bz) * pb, shift)) + yz;
      return Math.min(32767, Math.max(-32768, v));
    });
    expect(Array.from(r.outputs.y.data as Int16Array)).toEqual(expected);
  });

  it('the reshaping ops move 16-bit elements; Pad fills with the quantized constant', async () => {
    const [s, z] = [Math.fround(0.01), -300];
    const x = [-32768, 32767, 0, -300, 1234, -4321];
    const model = buildModel({
      inputs: [{ name: 'x', dtype: 'int16', shape: [1, 2, 3] }],
      outputs: [{ name: 'y', dtype: 'int16' }],
      initializers: {
        s: tensorValue('float32', [], [s]), z: tensorValue('int16', [], [z]),
        pads: tensorValue('int64', [6], [0, 1, 0, 0, 0, 2]), fill: tensorValue('float32', [], [2.5]), perm: tensorValue('int64', [3], [0, 2, 1]),
      },
      nodes: [
        dq('x', 's', 'z', 'f'),
        { op: 'Transpose', inputs: ['f'], outputs: ['t'], attrs: { perm: [0, 2, 1] } },
        { op: 'Pad', inputs: ['t', 'pads', 'fill'], outputs: ['p'] },
        q('p', 's', 'z', 'y'),
      ],
    });
    const r = await expectSameEverywhere(model, { x: { dtype: 'int16', shape: [1, 2, 3], data: Int16Array.from(x) } }, 'int16 Transpose + Pad');
    const filled = Math.round(2.5 / s) + z; // 250 - 300
    // transposed [1, 3, 2], then one row before and two columns after: [1, 4, 4]
    expect(r.outputs.y.shape).toEqual([1, 4, 4]);
    expect(Array.from(r.outputs.y.data as Int16Array)).toEqual([
      filled, filled, filled, filled,
      x[0], x[3], filled, filled,
      x[1], x[4], filled, filled,
      x[2], x[5], filled, filled,
    ]);
  });

  it('a 16-bit layer that could overflow int32 is refused at load', async () => {
    const k = 700;
    const model = buildModel({
      inputs: [{ name: 'a', dtype: 'int16', shape: [1, k] }],
      outputs: [{ name: 'y', dtype: 'int16' }],
      initializers: {
        as: tensorValue('float32', [], [0.001]), az: tensorValue('int16', [], [0]),
        b: tensorValue('int8', [k, 1], new Array(k).fill(127)), bs: tensorValue('float32', [], [0.01]), bz: tensorValue('int8', [], [0]),
        ys: tensorValue('float32', [], [0.5]), yz: tensorValue('int16', [], [0]),
      },
      nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
    });
    await expect(loadModel(model)).rejects.toMatchObject({ code: 'ERR_BITEXACT_OVERFLOW_BOUND' });
  });

  // [function, input scale, output scale, output zero point]: whole int16 domain in, int16 out
  const FUNCTIONS: [string, (x: number) => number, number, number, number][] = [
    ['Tanh', Math.tanh, 2e-4, 1 / 32767, 0],
    ['Sigmoid', (x) => 1 / (1 + Math.exp(-x)), 3e-4, 1 / 65535, -32768],
    ['Erf', erf64, 1e-4, 1 / 32767, 0],
    ['Gelu', (x) => (x * (1 + erf64(x / Math.SQRT2))) / 2, 2e-4, 2e-4, 0],
    ['SiLU', (x) => x / (1 + Math.exp(-x)), 2e-4, 2e-4, 0],
    ['HardSwish', (x) => x * Math.min(1, Math.max(0, x / 6 + 0.5)), 2e-4, 2e-4, 0],
  ];
  for (const [op, fn, xs, ys, yz] of FUNCTIONS) {
    it(`${op} over the whole int16 domain is within 1 LSB of float64`, async () => {
      const model = buildModel({
        inputs: [{ name: 'x', dtype: 'int16', shape: [65536] }],
        outputs: [{ name: 'y', dtype: 'int16' }],
        initializers: { xs: tensorValue('float32', [], [xs]), xz: tensorValue('int16', [], [0]), ys: tensorValue('float32', [], [ys]), yz: tensorValue('int16', [], [yz]) },
        nodes: [
          dq('x', 'xs', 'xz', 'f'),
          // SiLU has no ONNX op: Mul(v, Sigmoid(v)) is recognised as one function of v
          ...(op === 'SiLU'
            ? [{ op: 'Sigmoid', inputs: ['f'], outputs: ['s'] }, { op: 'Mul', inputs: ['f', 's'], outputs: ['g'] }]
            : [{ op, inputs: ['f'], outputs: ['g'], ...(op === 'Gelu' ? { domain: 'com.microsoft' } : {}) }]),
          q('g', 'ys', 'yz', 'y'),
        ],
      });
      const all = Array.from({ length: 65536 }, (_, i) => i - 32768);
      const r = await expectSameEverywhere(model, { x: { dtype: 'int16', shape: [65536], data: Int16Array.from(all) } }, `${op} int16`);
      let exact = 0;
      let worst = 0;
      for (let i = 0; i < all.length; i++) {
        const ideal = Math.min(32767, Math.max(-32768, Math.round(fn(all[i] * Math.fround(xs)) / Math.fround(ys)) + yz));
        worst = Math.max(worst, Math.abs(Number(r.outputs.y.data[i]) - ideal));
        if (Number(r.outputs.y.data[i]) === ideal) exact++;
      }
      expect(worst, op).toBeLessThanOrEqual(1);
      expect(exact / all.length, `${op}: correctly rounded share`).toBeGreaterThanOrEqual(0.99);
    }, 60_000);
  }

  it('Softmax of int16 scores to uint16 probabilities is within 1 LSB of float64', async () => {
    const random = rng(4200);
    const rows = 64;
    const width = 10;
    const xs = 5e-4;
    const ys = 1 / 65535;
    const x = randomInts(random, rows * width, -32768, 32767, 0.15);
    const model = buildModel({
      inputs: [{ name: 'x', dtype: 'int16', shape: [rows, width] }],
      outputs: [{ name: 'y', dtype: 'uint16' }],
      initializers: { xs: tensorValue('float32', [], [xs]), xz: tensorValue('int16', [], [0]), ys: tensorValue('float32', [], [ys]), yz: tensorValue('uint16', [], [0]) },
      nodes: [dq('x', 'xs', 'xz', 'f'), { op: 'Softmax', inputs: ['f'], outputs: ['p'], attrs: { axis: -1 } }, q('p', 'ys', 'yz', 'y')],
    });
    const r = await expectSameEverywhere(model, { x: { dtype: 'int16', shape: [rows, width], data: Int16Array.from(x) } }, 'Softmax int16');
    for (let row = 0; row < rows; row++) {
      const v = x.slice(row * width, (row + 1) * width).map((t) => t * Math.fround(xs));
      const max = Math.max(...v);
      const sum = v.reduce((a, t) => a + Math.exp(t - max), 0);
      for (let j = 0; j < width; j++) {
        const ideal = Math.min(65535, Math.round(Math.exp(v[j] - max) / sum / Math.fround(ys)));
        expect(Math.abs(Number(r.outputs.y.data[row * width + j]) - ideal), `row ${row} col ${j}`).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('quantize --profile w8a16', () => {
  it('a model needing an op without a 16-bit kernel (LayerNormalization) is refused by quantize, naming the node', async () => {
    const random = rng(4400);
    const floatBytes = writeOnnxModel({
      opset: 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 8] }],
      initializers: {
        w: rawTensor('float32', [8, 8], Array.from({ length: 64 }, () => random() - 0.5)),
        gamma: rawTensor('float32', [8], new Array(8).fill(1)), beta: rawTensor('float32', [8], new Array(8).fill(0)),
      },
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['h'] },
        { op: 'LayerNormalization', inputs: ['h', 'gamma', 'beta'], outputs: ['y'], name: 'norm', attrs: { axis: -1 } },
      ],
    });
    const calibration = Array.from({ length: 8 }, () => ({ dtype: 'float32' as const, shape: [1, 8], data: Float32Array.from({ length: 8 }, () => random() * 2 - 1) }));
    await expect(quantize(floatBytes, calibration, { profile: 'w8a16' })).rejects.toMatchObject({
      code: 'ERR_BITEXACT_UNSUPPORTED_OP',
      message: expect.stringMatching(/^profile w8a16: .*norm.*quantise this model with profile int8$/s),
    });
    // the same model in int8 quantises and loads
    const { bytes } = await quantize(floatBytes, calibration);
    (await loadModel(bytes)).dispose();
  });

  it('beats int8 on a regression MLP (ReLU, Tanh, a residual Add, linear output), hashes the same everywhere, and onnxruntime runs it', async () => {
    const random = rng(4300);
    const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
    const weights = (k: number, n: number) => rawTensor('float32', [k, n], Array.from({ length: k * n }, () => gauss() / Math.sqrt(k)));
    const bias = (n: number) => rawTensor('float32', [n], Array.from({ length: n }, () => 0.1 * gauss()));
    const floatBytes = writeOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 2] }],
      initializers: { w1: weights(8, 64), b1: bias(64), w2: weights(64, 64), b2: bias(64), w3: weights(64, 2), b3: bias(2) },
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h1'] }, { op: 'Add', inputs: ['h1', 'b1'], outputs: ['a1'] }, { op: 'Relu', inputs: ['a1'], outputs: ['r1'] },
        { op: 'MatMul', inputs: ['r1', 'w2'], outputs: ['h2'] }, { op: 'Add', inputs: ['h2', 'b2'], outputs: ['a2'] }, { op: 'Tanh', inputs: ['a2'], outputs: ['r2'] },
        { op: 'Add', inputs: ['r2', 'r1'], outputs: ['skip'] }, // a residual connection: int16 + uint16
        { op: 'MatMul', inputs: ['skip', 'w3'], outputs: ['h3'] }, { op: 'Add', inputs: ['h3', 'b3'], outputs: ['y'] },
      ],
    });
    // Normalised features in [-1, 1]; calibration dense enough that evaluation inputs rarely leave its ranges.
    const sample = () => ({ dtype: 'float32' as const, shape: [1, 8], data: Float32Array.from({ length: 8 }, () => random() * 2 - 1) });
    const calibration = Array.from({ length: 512 }, sample);
    const evaluation = Array.from({ length: 100 }, sample);
    const reference = await ort.InferenceSession.create(floatBytes);
    const errors: Record<string, number> = {};
    for (const profile of ['int8', 'w8a16'] as const) {
      const { bytes, report } = await quantize(floatBytes, calibration, { profile });
      expect(report.profile).toBe(profile);
      const m = await loadModel(bytes);
      let err = 0;
      let ref = 0;
      for (const x of evaluation) {
        const got = (await m.run(x)).outputs.y.data as Float32Array;
        const want = (await reference.run({ x: new ort.Tensor('float32', x.data, [1, 8]) })).y.data as Float32Array;
        for (let i = 0; i < want.length; i++) (err += (got[i] - want[i]) ** 2), (ref += want[i] ** 2);
      }
      m.dispose();
      errors[profile] = Math.sqrt(err / ref);
      if (profile === 'w8a16') {
        await expectSameEverywhere(bytes, { x: evaluation[0] }, 'w8a16 MLP');
        const session = await ort.InferenceSession.create(bytes);
        expect((await session.run({ x: new ort.Tensor('float32', evaluation[1].data, [1, 8]) })).y.dims).toEqual([1, 2]);
        await session.release();
      }
    }
    console.log(`regression MLP, relative L2 error vs onnxruntime float over 100 inputs: int8 ${errors.int8.toExponential(2)}, w8a16 ${errors.w8a16.toExponential(2)}`);
    // the rest of w8a16's error is the int8 weights; the activations' share is what int8 adds on top
    expect(errors.w8a16).toBeLessThan(errors.int8 / 2);
    await reference.release();
  }, 120_000);
});
