// QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger, QGemm: every ISA and thread count must
// give the scalar reference's bytes, on random shapes (odd sizes, large K) and extreme values.
import { describe, it, expect } from 'vitest';
import { buildModel, rng, randomInts, tensorValue, type ElemName } from './helpers/onnx_builder.js';
import { expectSameEverywhere } from './helpers/run_all.js';
import { qlinearMatMulReference } from './helpers/reference.js';

const range = (t: ElemName): [number, number] => (t === 'int8' ? [-128, 127] : [0, 255]);

interface ConvCase {
  n: number; c: number; h: number; w: number; m: number; group: number; kh: number; kw: number;
  stride: number; pad: number; dilation: number; xType: ElemName; wType: ElemName; yType: ElemName;
  weightZeroPoint: boolean; bias: boolean; oneD?: boolean;
  /** Input and output scales (random when absent): they set the requantisation multipliers. */
  xScale?: number; yScale?: number; wScale?: number;
  /** M near 1 sends almost every accumulator past the output range: the case checks the clamp. */
  saturates?: boolean;
}

function convModel(c: ConvCase, seed: number) {
  const random = rng(seed);
  const [xlo, xhi] = range(c.xType);
  const [wlo, whi] = range(c.wType);
  const [ylo, yhi] = range(c.yType);
  const cg = c.c / c.group;
  const wDims = c.oneD ? [c.m, cg, c.kw] : [c.m, cg, c.kh, c.kw];
  const wCount = wDims.reduce((a, b) => a * b, 1);
  const xShape = c.oneD ? [c.n, c.c, c.w] : [c.n, c.c, c.h, c.w];
  const wScales = Array.from({ length: c.m }, () => c.wScale ?? 0.001 + random() * 0.02);
  const wZps = Array.from({ length: c.m }, () => (c.weightZeroPoint ? randomInts(random, 1, wlo, whi, 0.3)[0] : (c.wType === 'uint8' ? 128 : 0)));
  const xScale = c.xScale ?? 0.02 + random() * 0.05;
  const xZp = randomInts(random, 1, xlo, xhi, 0.5)[0];
  const w = randomInts(random, wCount, wlo, whi);
  const bias = c.bias ? randomInts(random, c.m, -5000, 5000, 0) : new Array<number>(c.m).fill(0);
  const yZp = randomInts(random, 1, ylo, yhi, 0.5)[0];
  const x = randomInts(random, xShape.reduce((a, b) => a * b, 1), xlo, xhi);
  // Without a given output scale, pick one that keeps most outputs inside the range: outputs
  // pinned at its ends would hide wrong accumulators.
  const yScale = c.yScale ?? realOutputSpread(c, x, xZp, w, wZps, bias, wScales.map((s) => s * xScale)) / 100;
  const spatial = c.oneD ? 1 : 2;
  const model = buildModel({
    inputs: [{ name: 'x', dtype: c.xType, shape: xShape }],
    outputs: [{ name: 'y', dtype: c.yType }],
    initializers: {
      xs: tensorValue('float32', [], [xScale]),
      xz: tensorValue(c.xType, [], [xZp]),
      w: tensorValue(c.wType, wDims, w),
      ws: tensorValue('float32', [c.m], wScales),
      wz: tensorValue(c.wType, [c.m], wZps),
      ys: tensorValue('float32', [], [yScale]),
      yz: tensorValue(c.yType, [], [yZp]),
      b: tensorValue('int32', [c.m], bias),
    },
    nodes: [
      {
        op: 'QLinearConv',
        inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', ...(c.bias ? ['b'] : [])],
        outputs: ['y'],
        attrs: {
          group: c.group,
          kernel_shape: c.oneD ? [c.kw] : [c.kh, c.kw],
          strides: Array(spatial).fill(c.stride),
          dilations: Array(spatial).fill(c.dilation),
          pads: Array(2 * spatial).fill(c.pad),
        },
      },
    ],
  });
  const xRaw = tensorValue(c.xType, xShape, x).raw;
  return { model, inputs: { x: { dtype: c.xType, shape: xShape, data: rawTo(c.xType, xRaw) } } };
}

/** The 90th percentile of |real output| (acc * xs * ws per row, before the output scale). */
function realOutputSpread(c: ConvCase, x: number[], xZp: number, w: number[], wZps: number[], bias: number[], rowScale: number[]): number {
  const h = c.oneD ? 1 : c.h, kh = c.oneD ? 1 : c.kh, padH = c.oneD ? 0 : c.pad, strideH = c.oneD ? 1 : c.stride;
  const outH = Math.floor((h + 2 * padH - c.dilation * (kh - 1) - 1) / strideH) + 1;
  const outW = Math.floor((c.w + 2 * c.pad - c.dilation * (c.kw - 1) - 1) / c.stride) + 1;
  const cg = c.c / c.group, mg = c.m / c.group;
  const magnitudes: number[] = [];
  for (let n = 0; n < c.n; n++) {
    for (let m = 0; m < c.m; m++) {
      const group = Math.floor(m / mg);
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          let acc = bias[m];
          for (let ci = 0; ci < cg; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * strideH - padH + ky * (c.oneD ? 0 : c.dilation);
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < c.kw; kx++) {
                const ix = ox * c.stride - c.pad + kx * c.dilation;
                if (ix < 0 || ix >= c.w) continue;
                const xv = x[((n * c.c + group * cg + ci) * h + iy) * c.w + ix] - xZp;
                acc += xv * (w[((m * cg + ci) * kh + ky) * c.kw + kx] - wZps[m]);
              }
            }
          }
          magnitudes.push(Math.abs(acc * rowScale[m]));
        }
      }
    }
  }
  magnitudes.sort((a, b) => a - b);
  return Math.max(magnitudes[Math.floor(magnitudes.length * 0.9)], 1e-3);
}

export function rawTo(dtype: ElemName, raw: Uint8Array) {
  switch (dtype) {
    case 'int8': return new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    case 'uint8': return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    case 'int32': return new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    case 'float32': return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    default: throw new Error(dtype);
  }
}

describe('QLinearConv', () => {
  const cases: [string, ConvCase][] = [
    ['3x3 u8/s8 padded', { n: 1, c: 3, h: 9, w: 11, m: 7, group: 1, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true }],
    ['strided, dilated, batch 2', { n: 2, c: 5, h: 13, w: 10, m: 9, group: 1, kh: 3, kw: 2, stride: 2, pad: 2, dilation: 2, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true }],
    ['s8 input, u8 weights with zero points, s8 output', { n: 1, c: 6, h: 7, w: 7, m: 10, group: 1, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, xType: 'int8', wType: 'uint8', yType: 'int8', weightZeroPoint: true, bias: true }],
    ['depthwise', { n: 2, c: 12, h: 15, w: 9, m: 12, group: 12, kh: 3, kw: 3, stride: 2, pad: 1, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true }],
    ['depthwise s8 input, u8 weights with zero points, dilated 5x5, no bias', { n: 1, c: 7, h: 17, w: 13, m: 7, group: 7, kh: 5, kw: 5, stride: 1, pad: 3, dilation: 2, xType: 'int8', wType: 'uint8', yType: 'int8', weightZeroPoint: true, bias: false }],
    ['stride 2 over wide rows (vector gather of every other byte)', { n: 1, c: 3, h: 6, w: 70, m: 5, group: 1, kh: 3, kw: 3, stride: 2, pad: 1, dilation: 1, xType: 'int8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true }],
    // im2col reads each k-row straight into a register for panels inside one output row (stride
    // 1 or 2) and for 8-wide maps (two runs of eight); weight zero points need the column sums.
    ['8-wide map, 3x3, weight zero points (two runs of eight per panel)', { n: 2, c: 5, h: 8, w: 8, m: 9, group: 1, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, xType: 'uint8', wType: 'uint8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    ['16x16 -> 8x8 map, stride 2, s8 input, weight zero points (two runs of eight every other byte)', { n: 2, c: 4, h: 16, w: 16, m: 7, group: 1, kh: 3, kw: 3, stride: 2, pad: 1, dilation: 1, xType: 'int8', wType: 'int8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    ['stride 2 over wide rows, weight zero points', { n: 1, c: 3, h: 7, w: 69, m: 6, group: 1, kh: 3, kw: 3, stride: 2, pad: 1, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    // 13 panels in 4 column chunks on 2-4 threads: the rows are split too, and the splits share
    // panels packed once (column sums included) instead of packing their own.
    ['pointwise 192->32 on 14x14, weight zero points (rows split across threads)', { n: 1, c: 192, h: 14, w: 14, m: 32, group: 1, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, xType: 'uint8', wType: 'uint8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    ['stride 1 over wide rows with asymmetric-looking edges', { n: 2, c: 2, h: 5, w: 67, m: 9, group: 1, kh: 1, kw: 5, stride: 1, pad: 2, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    ['depthwise over wide rows, stride 1 (vector fill, paired taps)', { n: 2, c: 3, h: 9, w: 53, m: 3, group: 3, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    ['depthwise over wide rows, stride 2, s8 (vector fill of every other byte)', { n: 1, c: 4, h: 8, w: 71, m: 4, group: 4, kh: 3, kw: 3, stride: 2, pad: 1, dilation: 1, xType: 'int8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true }],
    ['depthwise stride 3, no padding', { n: 3, c: 5, h: 10, w: 11, m: 5, group: 5, kh: 3, kw: 2, stride: 3, pad: 0, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true }],
    ['grouped 1x1', { n: 1, c: 8, h: 5, w: 6, m: 12, group: 4, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: true, bias: false }],
    ['pointwise, many channels (large K)', { n: 1, c: 600, h: 3, w: 5, m: 33, group: 1, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true }],
    ['pointwise over whole 16-column panels, K > 512, s8 input, weight zero points', { n: 2, c: 600, h: 5, w: 7, m: 13, group: 1, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, xType: 'int8', wType: 'uint8', yType: 'uint8', weightZeroPoint: true, bias: true, yScale: 30 }],
    // Per-row multipliers xs * ws / ys from 0.05 to 1.05: rows with M in [0.5, 1) (shift 31) and M >= 1.
    ['pointwise with multipliers near and above 1', { n: 1, c: 20, h: 6, w: 9, m: 24, group: 1, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true, xScale: 0.5, yScale: 0.01, saturates: true }],
    // Power-of-two scales make M = 2^-9 and 2^-10 exactly: one accumulator in 2^9 (2^10) falls on
    // a tie, and the outputs mostly stay inside the int8 range rather than saturate.
    ['pointwise, M = 2^-9 exactly (ties round to even)', { n: 1, c: 3, h: 16, w: 16, m: 9, group: 1, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true, xScale: 0.125, wScale: 0.125, yScale: 8 }],
    ['depthwise, M = 2^-10 exactly (ties round to even)', { n: 2, c: 8, h: 19, w: 20, m: 8, group: 8, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true, xScale: 0.125, wScale: 0.125, yScale: 16 }],
    ['depthwise 7x7 planes, stride 2, dilation 2 (strided phases)', { n: 2, c: 6, h: 14, w: 13, m: 6, group: 6, kh: 3, kw: 3, stride: 2, pad: 2, dilation: 2, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    // Maps under 16 columns take the channel-blocked kernel (eight channels per vector): a spare-lane
    // block (10 = 8 + 2 channels), fewer than eight output positions, rows under four columns.
    ['depthwise on a 2x3 map, 10 channels', { n: 2, c: 10, h: 4, w: 5, m: 10, group: 10, kh: 3, kw: 3, stride: 1, pad: 0, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    ['depthwise on a 1x1 map, s8', { n: 3, c: 9, h: 3, w: 3, m: 9, group: 9, kh: 3, kw: 3, stride: 1, pad: 0, dilation: 1, xType: 'int8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true }],
    ['depthwise 4x2 kernel, stride 2, 17 channels (an even kernel row: no spare tap)', { n: 1, c: 17, h: 11, w: 12, m: 17, group: 17, kh: 4, kw: 2, stride: 2, pad: 1, dilation: 1, xType: 'uint8', wType: 'uint8', yType: 'uint8', weightZeroPoint: true, bias: false }],
    ['depthwise with multipliers near and above 1', { n: 1, c: 12, h: 6, w: 7, m: 12, group: 12, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true, xScale: 0.5, yScale: 0.01, saturates: true }],
    ['large kernel K=5*5*40', { n: 1, c: 40, h: 9, w: 9, m: 17, group: 1, kh: 5, kw: 5, stride: 1, pad: 2, dilation: 1, xType: 'int8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true }],
    ['1-D', { n: 2, c: 4, h: 1, w: 31, m: 6, group: 2, kh: 1, kw: 5, stride: 2, pad: 2, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true, oneD: true }],
    // Stride 2 over rows of 32 columns or more: each input row read once, 32 bytes per step, into
    // both column phases. No padding over 67 columns (the last is read by no tap); padding 2 with
    // dilation 2 over 45 (an odd row: its last column goes one by one); padding 3 (odd, past one).
    ['depthwise stride 2 over 67 columns, no padding', { n: 1, c: 3, h: 7, w: 67, m: 3, group: 3, kh: 3, kw: 3, stride: 2, pad: 0, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true }],
    ['depthwise stride 2, padding 2, dilation 2 over 45 columns, weight zero points', { n: 2, c: 2, h: 8, w: 45, m: 2, group: 2, kh: 3, kw: 3, stride: 2, pad: 2, dilation: 2, xType: 'uint8', wType: 'uint8', yType: 'uint8', weightZeroPoint: true, bias: true }],
    ['depthwise 5x5 stride 2, padding 3 over 40 columns, s8', { n: 1, c: 2, h: 9, w: 40, m: 2, group: 2, kh: 5, kw: 5, stride: 2, pad: 3, dilation: 1, xType: 'int8', wType: 'int8', yType: 'int8', weightZeroPoint: false, bias: true }],
  ];
  cases.forEach(([name, c], i) => {
    it(name, async () => {
      const { model, inputs } = convModel(c, 1000 + i);
      const reference = await expectSameEverywhere(model, inputs, name);
      // Outputs pinned at the range ends would hide wrong accumulators. An output zero point at
      // one end of the range (drawn on purpose) clamps about half of them.
      const [lo, hi] = range(c.yType);
      const y = Array.from(reference.outputs.y.data as Int8Array | Uint8Array);
      const inside = y.filter((v) => v !== lo && v !== hi).length / y.length;
      if (!c.saturates) expect(inside).toBeGreaterThan(0.25);
    });
  });
});

describe('QLinearMatMul', () => {
  const shapes: [number[], number, ElemName, ElemName][] = [
    [[1, 1], 1, 'uint8', 'int8'],
    [[7, 13], 5, 'uint8', 'int8'],
    [[2, 9, 33], 17, 'int8', 'int8'],
    [[3, 2048], 19, 'uint8', 'uint8'],
    [[40, 300], 70, 'int8', 'uint8'],
    // At most four rows of A take the narrow path (no 16-column panels): a K tail, and enough
    // weight columns to split across threads.
    [[4, 37], 300, 'int8', 'uint8'],
    [[2, 700], 400, 'uint8', 'int8'],
  ];
  shapes.forEach(([aShape, n, aType, bType], i) => {
    it(`A${JSON.stringify(aShape)} x B[${aShape[aShape.length - 1]},${n}] ${aType}x${bType}`, async () => {
      const random = rng(2000 + i);
      const k = aShape[aShape.length - 1];
      const [alo, ahi] = range(aType);
      const [blo, bhi] = range(bType);
      const a = randomInts(random, aShape.reduce((x, y) => x * y, 1), alo, ahi);
      const b = randomInts(random, k * n, blo, bhi);
      const params = {
        as: 0.01 + random() * 0.05, az: randomInts(random, 1, alo, ahi, 0.5)[0],
        bs: Array.from({ length: n }, () => 0.001 + random() * 0.01),
        bz: Array.from({ length: n }, () => randomInts(random, 1, blo, bhi, 0.3)[0]),
        ys: 0.05 + random() * 0.5, yz: randomInts(random, 1, 0, 255, 0.5)[0],
      };
      const model = buildModel({
        inputs: [{ name: 'a', dtype: aType, shape: aShape }],
        outputs: [{ name: 'y', dtype: 'uint8' }],
        initializers: {
          as: tensorValue('float32', [], [params.as]), az: tensorValue(aType, [], [params.az]),
          b: tensorValue(bType, [k, n], b), bs: tensorValue('float32', [n], params.bs), bz: tensorValue(bType, [n], params.bz),
          ys: tensorValue('float32', [], [params.ys]), yz: tensorValue('uint8', [], [params.yz]),
        },
        nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
      });
      const data = aType === 'int8' ? Int8Array.from(a) : Uint8Array.from(a);
      const r = await expectSameEverywhere(model, { a: { dtype: aType, shape: aShape, data } }, 'QLinearMatMul');
      // An independent oracle: the documented formulas evaluated in JS with BigInt.
      const expectedOut = qlinearMatMulReference(a, aShape, b, n, params);
      expect(Array.from(r.outputs.y.data as Uint8Array)).toEqual(expectedOut);
    });
  });
});

describe('MatMulInteger and ConvInteger', () => {
  /** MatMulInteger of uint8 A [m, k] by a constant B [k, n]: the same on every ISA and thread count, and the exact int32 sums. */
  async function expectMatMulInteger(a: number[], b: number[], [m, k, n]: number[], bType: 'int8' | 'uint8', az: number | undefined, bz: number[]) {
    const model = buildModel({
      inputs: [{ name: 'a', dtype: 'uint8', shape: [m, k] }],
      outputs: [{ name: 'y', dtype: 'int32', shape: [m, n] }],
      initializers: {
        b: tensorValue(bType, [k, n], b),
        ...(az === undefined ? {} : { az: tensorValue('uint8', [], [az]) }),
        bz: tensorValue(bType, bz.length === 1 ? [] : [n], bz),
      },
      nodes: [{ op: 'MatMulInteger', inputs: ['a', 'b', az === undefined ? '' : 'az', 'bz'], outputs: ['y'] }],
    });
    const r = await expectSameEverywhere(model, { a: { dtype: 'uint8', shape: [m, k], data: Uint8Array.from(a) } }, 'MatMulInteger');
    const y = r.outputs.y.data as Int32Array;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += (a[i * k + t] - (az ?? 0)) * (b[t * n + j] - bz[bz.length === 1 ? 0 : j]);
        expect(y[i * n + j], `y[${i}][${j}]`).toBe(acc);
      }
    }
  }

  it('MatMulInteger u8 x s8 with zero points gives exact int32', async () => {
    const random = rng(3001);
    const m = 11, k = 37, n = 9;
    await expectMatMulInteger(randomInts(random, m * k, 0, 255), randomInts(random, k * n, -128, 127), [m, k, n], 'int8', 131, [-3]);
  });

  // Long rows of activations with per-column uint8 B zero points: the packed path needs every
  // activation column's exact sum (they exceed 16 bits from K = 258 on), unsaturated int32 out.
  for (const [m, k, n] of [[3, 2048, 19], [20, 1000, 6], [17, 27, 33]]) {
    it(`MatMulInteger u8 x u8 [${m},${k}] x [${k},${n}] with per-column B zero points`, async () => {
      const random = rng(3010 + k);
      const a = randomInts(random, m * k, 0, 255, 0.3);
      const b = randomInts(random, k * n, 0, 255, 0.3);
      await expectMatMulInteger(a, b, [m, k, n], 'uint8', undefined, randomInts(random, n, 0, 255, 0.3));
    });
  }

  it('ConvInteger s8 with padding', async () => {
    const random = rng(3002);
    const x = randomInts(random, 2 * 3 * 8 * 7, -128, 127);
    const w = randomInts(random, 4 * 3 * 3 * 3, -128, 127);
    const model = buildModel({
      inputs: [{ name: 'x', dtype: 'int8', shape: [2, 3, 8, 7] }],
      outputs: [{ name: 'y', dtype: 'int32' }],
      initializers: { w: tensorValue('int8', [4, 3, 3, 3], w), xz: tensorValue('int8', [], [-7]), wz: tensorValue('int8', [], [2]) },
      nodes: [{ op: 'ConvInteger', inputs: ['x', 'w', 'xz', 'wz'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }],
    });
    await expectSameEverywhere(model, { x: { dtype: 'int8', shape: [2, 3, 8, 7], data: Int8Array.from(x) } }, 'ConvInteger');
  });

  // Depthwise ConvInteger stores the exact int32 sums through the depthwise kernel's epilogue: 7-wide
  // rows (staged over the padded span) and 40-wide rows (row by row), stride 1 and 2.
  for (const [h, w, stride] of [[9, 7, 1], [6, 40, 1], [11, 40, 2]]) {
    it(`depthwise ConvInteger u8 ${h}x${w} stride ${stride}`, async () => {
      const random = rng(3004 + h + stride);
      const c = 5;
      const x = randomInts(random, c * h * w, 0, 255);
      const weights = randomInts(random, c * 9, -128, 127);
      const model = buildModel({
        inputs: [{ name: 'x', dtype: 'uint8', shape: [1, c, h, w] }],
        outputs: [{ name: 'y', dtype: 'int32' }],
        initializers: { w: tensorValue('int8', [c, 1, 3, 3], weights), xz: tensorValue('uint8', [], [131]) },
        nodes: [{ op: 'ConvInteger', inputs: ['x', 'w', 'xz'], outputs: ['y'], attrs: { group: c, pads: [1, 1, 1, 1], strides: [stride, stride] } }],
      });
      await expectSameEverywhere(model, { x: { dtype: 'uint8', shape: [1, c, h, w], data: Uint8Array.from(x) } }, 'depthwise ConvInteger');
    });
  }

  it('QGemm with transposed B and bias', async () => {
    const random = rng(3003);
    const m = 5, k = 70, n = 23;
    const model = buildModel({
      inputs: [{ name: 'a', dtype: 'uint8', shape: [m, k] }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: {
        as: tensorValue('float32', [], [0.03]), az: tensorValue('uint8', [], [120]),
        b: tensorValue('int8', [n, k], randomInts(random, n * k, -128, 127)), bs: tensorValue('float32', [], [0.004]), bz: tensorValue('int8', [], [0]),
        c: tensorValue('int32', [n], randomInts(random, n, -20000, 20000, 0)),
        ys: tensorValue('float32', [], [0.2]), yz: tensorValue('uint8', [], [100]),
      },
      nodes: [{ op: 'QGemm', domain: 'com.microsoft', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'c', 'ys', 'yz'], outputs: ['y'], attrs: { transB: 1 } }],
    });
    await expectSameEverywhere(model, { a: { dtype: 'uint8', shape: [m, k], data: Uint8Array.from(randomInts(random, m * k, 0, 255)) } }, 'QGemm');
  });
});
