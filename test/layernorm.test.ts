// Integer LayerNormalization (bitexact::QLinearLayerNorm, from DQ -> LayerNormalization -> Q):
// against a float64 reference over random, extreme and constant rows, within the documented
// 1-LSB bound, and the same bytes on every ISA and thread count.
import { describe, it, expect } from 'vitest';
import { loadModel } from '../src/index.js';
import { buildModel, rng, randomInts, tensorValue, type ElemName } from './helpers/onnx_builder.js';
import { expectSameEverywhere } from './helpers/run_all.js';

interface LnCase { rows: number; n: number; type: ElemName; sx: number; zx: number; sy: number; zy: number; eps: number; bias: boolean }

const range = (t: ElemName): [number, number] => (t === 'int8' ? [-128, 127] : [0, 255]);
const f = Math.fround;

function lnModel(c: LnCase, gamma: number[], beta: number[]) {
  return buildModel({
    inputs: [{ name: 'x', dtype: c.type, shape: [c.rows, c.n] }],
    outputs: [{ name: 'y', dtype: c.type }],
    initializers: {
      xs: tensorValue('float32', [], [c.sx]), xz: tensorValue(c.type, [], [c.zx]),
      ys: tensorValue('float32', [], [c.sy]), yz: tensorValue(c.type, [], [c.zy]),
      gamma: tensorValue('float32', [c.n], gamma), beta: tensorValue('float32', [c.n], beta),
    },
    nodes: [
      { op: 'DequantizeLinear', inputs: ['x', 'xs', 'xz'], outputs: ['xf'] },
      { op: 'LayerNormalization', inputs: ['xf', 'gamma', ...(c.bias ? ['beta'] : [])], outputs: ['yf'], attrs: { axis: -1, epsilon: { float: c.eps } } },
      { op: 'QuantizeLinear', inputs: ['yf', 'ys', 'yz'], outputs: ['y'] },
    ],
    opset: 17,
  });
}

// float64 LayerNorm of the dequantised row, quantised with round half to even.
function reference(c: LnCase, x: number[], gamma: number[], beta: number[]): number[] {
  const [lo, hi] = range(c.type);
  const out: number[] = [];
  for (let r = 0; r < c.rows; r++) {
    const v = x.slice(r * c.n, (r + 1) * c.n).map((q) => (q - c.zx) * f(c.sx));
    const mean = v.reduce((a, b) => a + b, 0) / c.n;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / c.n;
    const denom = Math.sqrt(variance + f(c.eps));
    for (let i = 0; i < c.n; i++) {
      const y = (denom === 0 ? 0 : (f(gamma[i]) * (v[i] - mean)) / denom) + (c.bias ? f(beta[i]) : 0);
      const t = y / f(c.sy);
      const rounded = Math.abs(t - Math.trunc(t)) === 0.5 ? 2 * Math.round(t / 2) : Math.round(t);
      out.push(Math.min(hi, Math.max(lo, rounded + c.zy)));
    }
  }
  return out;
}

const cases: [string, LnCase, 'random' | 'extreme' | 'constant'][] = [
  ['u8, 16 per row', { rows: 40, n: 16, type: 'uint8', sx: 0.05, zx: 128, sy: 0.03, zy: 128, eps: 1e-5, bias: true }, 'random'],
  ['s8, BERT width 768', { rows: 6, n: 768, type: 'int8', sx: 0.02, zx: -3, sy: 0.025, zy: 0, eps: 1e-12, bias: true }, 'random'],
  ['u8, alternating extremes', { rows: 8, n: 33, type: 'uint8', sx: 0.1, zx: 10, sy: 0.02, zy: 120, eps: 1e-5, bias: false }, 'extreme'],
  ['s8, constant rows (variance 0: eps alone)', { rows: 5, n: 24, type: 'int8', sx: 0.05, zx: 0, sy: 0.01, zy: -10, eps: 1e-3, bias: true }, 'constant'],
  ['u8, constant rows with eps = 0 (beta alone)', { rows: 5, n: 12, type: 'uint8', sx: 0.05, zx: 0, sy: 0.01, zy: 128, eps: 0, bias: true }, 'constant'],
];

describe('integer LayerNormalization', () => {
  for (const [label, c, kind] of cases) {
    it(`${label}: within 1 LSB of float64, the same bytes everywhere`, async () => {
      const random = rng(c.n * 7 + c.rows);
      const [lo, hi] = range(c.type);
      const gamma = Array.from({ length: c.n }, () => 0.5 + random() * 1.5);
      const beta = Array.from({ length: c.n }, () => (random() - 0.5) * 0.4);
      const count = c.rows * c.n;
      const x = kind === 'random' ? randomInts(random, count, lo, hi)
        : kind === 'extreme' ? Array.from({ length: count }, (_, i) => (i % 2 ? hi : lo))
        : Array.from({ length: count }, (_, i) => lo + ((Math.floor(i / c.n) * 37) % (hi - lo)));
      const model = lnModel(c, gamma, beta);
      const data = c.type === 'int8' ? Int8Array.from(x) : Uint8Array.from(x);
      const m = await loadModel(model);
      const traced = await m.run({ x: { dtype: c.type, shape: [c.rows, c.n], data } }, { trace: true });
      m.dispose();
      expect(traced.trace!.map((t) => t.op)).toEqual(['bitexact::QLinearLayerNorm']);
      const r = await expectSameEverywhere(model, { x: { dtype: c.type, shape: [c.rows, c.n], data } }, label);
      const ours = Array.from(r.outputs.y.data as ArrayLike<number>);
      const expected = reference(c, x, gamma, beta);
      const errors = ours.map((v, i) => Math.abs(v - expected[i]));
      expect(Math.max(...errors)).toBeLessThanOrEqual(1);
      expect(errors.filter((e) => e === 0).length / errors.length).toBeGreaterThanOrEqual(0.97);
    });
  }
});
