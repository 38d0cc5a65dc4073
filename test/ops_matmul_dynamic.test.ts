// Activation x activation MatMul (attention's Q·Kᵀ and P·V): QLinearMatMul and MatMulInteger
// with a run-time B, batch broadcasting, the run-time overflow bound, the QDQ pattern, and the
// same bytes on every ISA and thread count as an independent JS reference and onnxruntime.
import { describe, it, expect } from 'vitest';
import ort from 'onnxruntime-node';
import { loadModel } from '../src/index.js';
import { buildModel, rng, randomInts, tensorValue, type ElemName } from './helpers/onnx_builder.js';
import { expectSameEverywhere } from './helpers/run_all.js';
import { requantize } from './helpers/reference.js';

const range = (t: ElemName): [number, number] => (t === 'int8' ? [-128, 127] : [0, 255]);
const typed = (t: ElemName, v: number[]) => (t === 'int8' ? Int8Array.from(v) : Uint8Array.from(v));

// Broadcast batch dims of A [...a, m, k] and B [...b, k, n].
function broadcastBatch(a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1, y = b[b.length - rank + i] ?? 1;
    out.push(Math.max(x, y));
  }
  return out;
}

function batchOffset(index: number[], dims: number[]): number {
  // dims aligned right against index; broadcast dims (1) contribute 0
  let offset = 0;
  const lead = index.length - dims.length;
  for (let i = 0; i < dims.length; i++) offset = offset * dims[i] + (dims[i] === 1 ? 0 : index[lead + i]);
  return offset;
}

/** Exact sums, then the documented requantisation (or int32 when y is absent). */
function reference(a: number[], aShape: number[], b: number[], bShape: number[], za: number, zb: number,
                   y?: { scale: number; zp: number; type: ElemName; as: number; bs: number }): number[] {
  const m = aShape[aShape.length - 2], k = aShape[aShape.length - 1], n = bShape[bShape.length - 1];
  const aBatch = aShape.slice(0, -2), bBatch = bShape.slice(0, -2);
  const batch = broadcastBatch(aBatch, bBatch);
  const count = batch.reduce((p, q) => p * q, 1);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const index: number[] = [];
    for (let rest = i, d = batch.length - 1; d >= 0; d--) { index.unshift(rest % batch[d]); rest = Math.floor(rest / batch[d]); }
    const ao = batchOffset(index, aBatch) * m * k, bo = batchOffset(index, bBatch) * k * n;
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += (a[ao + r * k + t] - za) * (b[bo + t * n + c] - zb);
        if (!y) out.push(acc);
        else {
          const f = Math.fround;
          const [lo, hi] = range(y.type);
          out.push(requantize(acc, (f(y.as) * f(y.bs)) / f(y.scale), y.zp, lo, hi));
        }
      }
    }
  }
  return out;
}

interface Case { aShape: number[]; bShape: number[]; aType: ElemName; bType: ElemName; yType: ElemName }

function qlinearModel(c: Case, za: number, zb: number, zy: number) {
  return buildModel({
    inputs: [{ name: 'a', dtype: c.aType, shape: c.aShape }, { name: 'b', dtype: c.bType, shape: c.bShape }],
    outputs: [{ name: 'y', dtype: c.yType }],
    initializers: {
      as: tensorValue('float32', [], [0.05]), az: tensorValue(c.aType, [], [za]),
      bs: tensorValue('float32', [], [0.03]), bz: tensorValue(c.bType, [], [zb]),
      ys: tensorValue('float32', [], [0.4]), yz: tensorValue(c.yType, [], [zy]),
    },
    nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
  });
}

describe('QLinearMatMul with a run-time B', () => {
  const cases: [string, Case][] = [
    ['equal batches, u8', { aShape: [2, 3, 5, 17], bShape: [2, 3, 17, 7], aType: 'uint8', bType: 'uint8', yType: 'uint8' }],
    ['B without batch dims, s8 x u8 -> s8', { aShape: [4, 5, 9], bShape: [9, 6], aType: 'int8', bType: 'uint8', yType: 'int8' }],
    ['broadcast batches, s8', { aShape: [2, 1, 4, 8], bShape: [3, 8, 5], aType: 'int8', bType: 'int8', yType: 'uint8' }],
    ['attention-sized, K = 64', { aShape: [1, 4, 16, 64], bShape: [1, 4, 64, 16], aType: 'int8', bType: 'int8', yType: 'int8' }],
  ];
  for (const [label, c] of cases) {
    it(`${label}: the reference's bytes everywhere, and onnxruntime's`, async () => {
      const random = rng(c.aShape.length * 31 + c.bShape[0]);
      const za = randomInts(random, 1, ...range(c.aType), 0.3)[0], zb = randomInts(random, 1, ...range(c.bType), 0.3)[0];
      const zy = randomInts(random, 1, ...range(c.yType), 0.3)[0];
      const a = randomInts(random, c.aShape.reduce((p, q) => p * q, 1), ...range(c.aType));
      const b = randomInts(random, c.bShape.reduce((p, q) => p * q, 1), ...range(c.bType));
      const model = qlinearModel(c, za, zb, zy);
      const inputs = { a: { dtype: c.aType, shape: c.aShape, data: typed(c.aType, a) }, b: { dtype: c.bType, shape: c.bShape, data: typed(c.bType, b) } };
      const r = await expectSameEverywhere(model, inputs, label);
      const expected = reference(a, c.aShape, b, c.bShape, za, zb, { scale: 0.4, zp: zy, type: c.yType, as: 0.05, bs: 0.03 });
      expect(Array.from(r.outputs.y.data as ArrayLike<number>)).toEqual(expected);
      // onnxruntime implements only some type combinations (it has no s8 x u8 -> s8, for one).
      const session = await ort.InferenceSession.create(Buffer.from(model)).catch((e: Error) => {
        if (/Could not find an implementation/.test(e.message)) return null;
        throw e;
      });
      if (!session) return;
      const out = await session.run({ a: new ort.Tensor(c.aType, typed(c.aType, a), c.aShape), b: new ort.Tensor(c.bType, typed(c.bType, b), c.bShape) });
      await session.release();
      // onnxruntime rounds through float: equal to within one step of the output.
      const theirs = Array.from(out.y.data as ArrayLike<number>);
      expect(Math.max(...theirs.map((v, i) => Math.abs(v - expected[i])))).toBeLessThanOrEqual(1);
    });
  }

  it('refuses a K whose sums could overflow int32, at run time', async () => {
    const k = 33100;  // 33100 * 255 * 255 > 2^31 - 1
    const c: Case = { aShape: [1, k], bShape: [k, 1], aType: 'uint8', bType: 'uint8', yType: 'uint8' };
    const model = await loadModel(qlinearModel(c, 0, 255, 0));
    const err = await model.run({ a: { dtype: 'uint8', shape: [1, k], data: new Uint8Array(k) }, b: { dtype: 'uint8', shape: [k, 1], data: new Uint8Array(k) } }).catch((e) => e);
    expect(err.code).toBe('ERR_BITEXACT_OVERFLOW_BOUND');
    expect(err.message).toMatch(/K = 33100/);
    model.dispose();
  });

  it('is what DequantizeLinear, DequantizeLinear -> MatMul -> QuantizeLinear becomes', async () => {
    const aShape = [2, 6, 10], bShape = [2, 10, 3];
    const model = buildModel({
      inputs: [{ name: 'a', dtype: 'uint8', shape: aShape }, { name: 'b', dtype: 'int8', shape: bShape }],
      outputs: [{ name: 'y', dtype: 'uint8' }],
      initializers: {
        as: tensorValue('float32', [], [0.05]), az: tensorValue('uint8', [], [120]), bs: tensorValue('float32', [], [0.03]),
        bz: tensorValue('int8', [], [3]), ys: tensorValue('float32', [], [0.4]), yz: tensorValue('uint8', [], [100]),
      },
      nodes: [
        { op: 'DequantizeLinear', inputs: ['a', 'as', 'az'], outputs: ['af'] },
        { op: 'DequantizeLinear', inputs: ['b', 'bs', 'bz'], outputs: ['bf'] },
        { op: 'MatMul', inputs: ['af', 'bf'], outputs: ['yf'] },
        { op: 'QuantizeLinear', inputs: ['yf', 'ys', 'yz'], outputs: ['y'] },
      ],
      opset: 13,
    });
    const random = rng(5);
    const a = randomInts(random, 120, 0, 255), b = randomInts(random, 60, -128, 127);
    const m = await loadModel(model);
    const r = await m.run({ a: { dtype: 'uint8', shape: aShape, data: Uint8Array.from(a) }, b: { dtype: 'int8', shape: bShape, data: Int8Array.from(b) } }, { trace: true });
    m.dispose();
    expect(r.trace!.map((t) => t.op)).toEqual(['QLinearMatMul']);
    expect(Array.from(r.outputs.y.data as Uint8Array)).toEqual(reference(a, aShape, b, bShape, 120, 3, { scale: 0.4, zp: 100, type: 'uint8', as: 0.05, bs: 0.03 }));
  });
});

describe('MatMulInteger with a run-time B', () => {
  it('int32 sums for int8 B without a zero point and uint8 A with one', async () => {
    const aShape = [3, 7, 19], bShape = [19, 4];
    const model = buildModel({
      inputs: [{ name: 'a', dtype: 'uint8', shape: aShape }, { name: 'b', dtype: 'int8', shape: bShape }],
      outputs: [{ name: 'y', dtype: 'int32' }],
      initializers: { az: tensorValue('uint8', [], [77]) },
      nodes: [{ op: 'MatMulInteger', inputs: ['a', 'b', 'az'], outputs: ['y'] }],
    });
    const random = rng(9);
    const a = randomInts(random, 3 * 7 * 19, 0, 255), b = randomInts(random, 19 * 4, -128, 127);
    const r = await expectSameEverywhere(model, { a: { dtype: 'uint8', shape: aShape, data: Uint8Array.from(a) }, b: { dtype: 'int8', shape: bShape, data: Int8Array.from(b) } });
    expect(Array.from(r.outputs.y.data as Int32Array)).toEqual(reference(a, aShape, b, bShape, 77, 0));
  });
});
