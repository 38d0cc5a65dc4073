// A BERT-style encoder (test/fixtures/tiny-bert, built by scripts/make_tiny_bert.py: token and
// position embeddings, decomposed LayerNorm and GELU, multi-head attention with an additive mask,
// a Tanh pooler; tiny-bert-where: the same weights with the mask applied by Where(mask == 0, -inf))
// quantised from float and run fully integer: the pooled output against onnxruntime float over
// inputs disjoint from the calibration set, one hash on every ISA and thread count, masked
// positions ignored to the bit, and the masked softmax against the plain one.
import { describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { loadModel, quantize, type TensorInput } from '../src/index.js';
import { readOnnxModel } from '../src/onnx/reader.js';
import { runFloatGraph } from '../src/quantize/float_executor.js';
import { expectSameEverywhere } from './helpers/run_all.js';
import { buildModel, rng, tensorValue } from './helpers/onnx_builder.js';
import { rawTensor, writeOnnxModel } from '../src/onnx/writer.js';

const fixture = (name: string) => resolve(__dirname, 'fixtures', name, 'model.onnx');
const FIXTURE = fixture('tiny-bert');
const SEQ = 16;
const VOCAB = 96;

type MaskType = 'float32' | 'int64';
type Inputs = { input_ids: TensorInput & { data: BigInt64Array }; attention_mask: TensorInput & { data: Float32Array | BigInt64Array } };

/** Random token ids; the first `length` positions attend, the rest are padding (id 0, mask 0). */
function sample(random: () => number, length = 4 + Math.floor(random() * (SEQ - 3)), maskType: MaskType = 'float32'): Inputs {
  const ids = BigInt64Array.from({ length: SEQ }, (_, i) => (i < length ? BigInt(1 + Math.floor(random() * (VOCAB - 1))) : 0n));
  const attend = Array.from({ length: SEQ }, (_, i) => (i < length ? 1 : 0));
  const mask = maskType === 'int64' ? BigInt64Array.from(attend, BigInt) : Float32Array.from(attend);
  return { input_ids: { dtype: 'int64', shape: [1, SEQ], data: ids }, attention_mask: { dtype: maskType, shape: [1, SEQ], data: mask } };
}

const ortFeeds = (x: Inputs) => ({
  input_ids: new ort.Tensor('int64', x.input_ids.data, [1, SEQ]),
  attention_mask: x.attention_mask.data instanceof BigInt64Array ? new ort.Tensor('int64', x.attention_mask.data, [1, SEQ]) : new ort.Tensor('float32', x.attention_mask.data, [1, SEQ]),
});

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) (dot += a[i] * b[i]), (na += a[i] ** 2), (nb += b[i] ** 2);
  return dot / Math.sqrt(na * nb);
}

const VARIANTS: [string, MaskType, string][] = [
  ['tiny-bert', 'float32', 'additive mask (1 - mask) * -10000'],
  ['tiny-bert-where', 'int64', 'Where(mask == 0, -inf, scores)'],
];

for (const [name, maskType, maskForm] of VARIANTS) {
  const FIXTURE = fixture(name);
  let quantized: Uint8Array | undefined;
  async function quantizedFixture(): Promise<Uint8Array> {
    if (!quantized) {
      const random = rng(11);
      const calibration = Array.from({ length: 32 }, () => sample(random, undefined, maskType));
      quantized = (await quantize(FIXTURE, calibration)).bytes;
    }
    return quantized;
  }

  describe(`BERT-style encoder (${maskForm}), quantised and run integer-only`, () => {
    it('the calibrating float executor computes what onnxruntime float computes', async () => {
      const model = readOnnxModel(readFileSync(FIXTURE));
      const session = await ort.InferenceSession.create(FIXTURE, { graphOptimizationLevel: 'disabled' });
      const random = rng(3);
      for (const x of [sample(random, undefined, maskType), sample(random, SEQ, maskType)]) {
        const ours = runFloatGraph(model, {
          input_ids: { dims: [1, SEQ], data: Float64Array.from(x.input_ids.data, Number) },
          attention_mask: { dims: [1, SEQ], data: x.attention_mask.data instanceof BigInt64Array ? Float64Array.from(x.attention_mask.data, Number) : x.attention_mask.data },
        });
        const theirs = await session.run(ortFeeds(x));
        for (const output of ['pooled', 'last_hidden_state']) {
          const a = ours[output].data;
          const b = theirs[output].data as Float32Array;
          let maxAbs = 0;
          for (let i = 0; i < b.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
          expect(maxAbs, output).toBeLessThan(1e-4);
        }
      }
      await session.release();
    });

    it('pooled output: cosine >= 0.99 with onnxruntime float on 100 inputs outside the calibration set; every op integer', async () => {
      const bytes = await quantizedFixture();
      const ours = await loadModel(bytes);
      const float = await ort.InferenceSession.create(FIXTURE);
      const qdq = await ort.InferenceSession.create(bytes); // a standard QDQ model: onnxruntime runs it too
      const random = rng(12);
      const cosines: number[] = [];
      const ortQdq: number[] = [];
      for (let k = 0; k < 100; k++) {
        const x = sample(random, undefined, maskType);
        const reference = (await float.run(ortFeeds(x))).pooled.data as Float32Array;
        const r = await ours.run(x);
        cosines.push(cosine(Array.from(r.outputs.pooled.data as Float32Array), reference));
        ortQdq.push(cosine((await qdq.run(ortFeeds(x))).pooled.data as Float32Array, reference));
      }
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      console.log(
        `${name} pooled output vs onnxruntime float over ${cosines.length} inputs: cosine min ${Math.min(...cosines).toFixed(4)}, mean ${mean(cosines).toFixed(4)}` +
          ` (onnxruntime running the same QDQ model: min ${Math.min(...ortQdq).toFixed(4)}, mean ${mean(ortQdq).toFixed(4)})`,
      );
      expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.99);

      const traced = await ours.run(sample(random, undefined, maskType), { trace: true });
      const ops = new Set(traced.trace!.map((t) => t.op));
      for (const op of ['bitexact::QLinearLayerNorm', 'bitexact::QLinearMaskedSoftmax', 'bitexact::AttentionMaskKeep', 'bitexact::QLinearLut', 'QLinearMatMul', 'com.microsoft::QGemm', 'Gather']) {
        expect(ops, op).toContain(op);
      }
      // Float only where the graph ends (the two outputs are dequantised); nothing is quantised at run time.
      expect(traced.trace!.filter((t) => t.op === 'DequantizeLinear').length).toBe(2);
      expect(ops).not.toContain('QuantizeLinear');
      ours.dispose();
      await float.release();
      await qdq.release();
    }, 120_000);

    it('one hash on every ISA and thread count', async () => {
      const bytes = await quantizedFixture();
      const random = rng(13);
      for (const x of [sample(random, undefined, maskType), sample(random, SEQ, maskType), sample(random, 1, maskType)]) await expectSameEverywhere(bytes, x, name);
    }, 120_000);

    it('masked positions do not move a bit of the pooled output; attended ones do', async () => {
      const m = await loadModel(await quantizedFixture());
      const x = sample(rng(14), 9, maskType);
      const base = await m.run(x);
      const padded = structuredClone(x);
      for (let i = 9; i < SEQ; i++) padded.input_ids.data[i] = BigInt(i + 7);
      expect((await m.run(padded)).outputs.pooled.hash).toBe(base.outputs.pooled.hash);
      const attended = structuredClone(x);
      attended.input_ids.data[3] = (attended.input_ids.data[3] % BigInt(VOCAB - 1)) + 1n;
      expect((await m.run(attended)).outputs.pooled.hash).not.toBe(base.outputs.pooled.hash);
      m.dispose();
    });

    it.skipIf(maskType !== 'float32')('a mask value that is neither attend (1) nor padding (0) is refused, and the model keeps running', async () => {
      const m = await loadModel(await quantizedFixture());
      const x = sample(rng(15), 8, maskType) as Inputs & { attention_mask: { data: Float32Array } };
      x.attention_mask.data[2] = 0.999; // a bias of about -10: neither 0 nor masked
      await expect(m.run(x)).rejects.toMatchObject({ code: 'ERR_BITEXACT_INPUT', message: expect.stringMatching(/additive bias .*0 \(attend\) or <= -1000/) });
      x.attention_mask.data[2] = 1;
      expect((await m.run(x)).outputs.pooled.shape).toEqual([1, 64]);
      m.dispose();
    });
  });

}

describe('bitexact quantize (CLI) on a model with two inputs', () => {
  it('calibrates on folders of input_0 / input_1 files and the result runs; a folder missing an input is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitexact-bert-'));
    const random = rng(16);
    for (let k = 0; k < 6; k++) {
      const x = sample(random);
      const folder = join(dir, 'calib', `set_${k}`);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'input_0.json'), JSON.stringify([Array.from(x.input_ids.data, Number)]));
      writeFileSync(join(folder, 'input_1.json'), JSON.stringify([Array.from(x.attention_mask.data)]));
    }
    const cli = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
    const out = join(dir, 'q.onnx');
    const ok = spawnSync(process.execPath, [cli, 'quantize', FIXTURE, '--calib', join(dir, 'calib'), '--out', out, '--method', 'entropy'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/6 calibration inputs/);
    const run = spawnSync(process.execPath, [cli, 'run', out, '--input', `input_ids=${join(dir, 'calib', 'set_0', 'input_0.json')}`, '--input', `attention_mask=${join(dir, 'calib', 'set_0', 'input_1.json')}`, '--json'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    rmSync(join(dir, 'calib', 'set_3', 'input_1.json'));
    const bad = spawnSync(process.execPath, [cli, 'quantize', FIXTURE, '--calib', join(dir, 'calib'), '--out', out], { encoding: 'utf8' });
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringMatching(/set_3: input_1 \(for 'attention_mask'\) is missing/)]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('integer masked softmax (DQ -> Add(mask bias) -> Softmax -> Q)', () => {
  const scale = 0.0625;
  const zeroPoint = 128;
  /** Softmax of x [rows, width] (uint8 Q/DQ), with an additive mask (1 - m) * -10000 when `masked`. */
  function softmaxModel(rows: number, width: number, masked: boolean): Uint8Array {
    const q = { s: tensorValue('float32', [], [scale]), z: tensorValue('uint8', [], [zeroPoint]), ys: tensorValue('float32', [], [1 / 256]), yz: tensorValue('uint8', [], [0]) };
    return buildModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [rows, width] }, ...(masked ? [{ name: 'm', dtype: 'float32' as const, shape: [rows, width] }] : [])],
      outputs: [{ name: 'y', dtype: 'float32', shape: [rows, width] }],
      initializers: { ...q, one: tensorValue('float32', [], [1]), big: tensorValue('float32', [], [-10000]) },
      nodes: [
        { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['xq'] },
        { op: 'DequantizeLinear', inputs: ['xq', 's', 'z'], outputs: ['xd'] },
        ...(masked
          ? [
              { op: 'Sub', inputs: ['one', 'm'], outputs: ['inv'] },
              { op: 'Mul', inputs: ['inv', 'big'], outputs: ['bias'] },
              { op: 'Add', inputs: ['xd', 'bias'], outputs: ['scores'] },
            ]
          : []),
        { op: 'Softmax', inputs: [masked ? 'scores' : 'xd'], outputs: ['p'], attrs: { axis: -1 } },
        { op: 'QuantizeLinear', inputs: ['p', 'ys', 'yz'], outputs: ['pq'] },
        { op: 'DequantizeLinear', inputs: ['pq', 'ys', 'yz'], outputs: ['y'] },
      ],
    });
  }

  it('kept positions get the plain softmax of the kept ones, dropped ones exactly 0; a fully masked row is the plain softmax', async () => {
    const width = 12;
    const random = rng(21);
    const masked = await loadModel(softmaxModel(1, width, true));
    for (let trial = 0; trial < 40; trial++) {
      const x = Float32Array.from({ length: width }, () => (random() - 0.5) * 12);
      const keep = Array.from({ length: width }, () => random() < 0.6);
      if (trial % 10 === 0) keep.fill(false);
      const m = Float32Array.from(keep, (k) => (k ? 1 : 0));
      const got = (await masked.run({ x: { dtype: 'float32', shape: [1, width], data: x }, m: { dtype: 'float32', shape: [1, width], data: m } })).outputs.y.data;
      const kept = keep.some(Boolean) ? keep.flatMap((k, i) => (k ? [i] : [])) : [...Array(width).keys()];
      const plain = await loadModel(softmaxModel(1, kept.length, false));
      const want = (await plain.run({ x: { dtype: 'float32', shape: [1, kept.length], data: Float32Array.from(kept, (i) => x[i]) } })).outputs.y.data;
      plain.dispose();
      const expected = new Float32Array(width);
      kept.forEach((i, j) => (expected[i] = Number(want[j])));
      expect(Array.from(got as Float32Array), `trial ${trial}`).toEqual(Array.from(expected));
    }
    const traced = await masked.run({ x: { dtype: 'float32', shape: [1, width], data: new Float32Array(width) }, m: { dtype: 'float32', shape: [1, width], data: new Float32Array(width).fill(1) } }, { trace: true });
    expect(traced.trace!.map((t) => t.op)).toContain('bitexact::QLinearMaskedSoftmax');
    masked.dispose();
  });
});

describe('causal attention: a constant mask written into the model', () => {
  const S = 8;
  const D = 16;
  // one head: x -> q, k, v; softmax(q kᵀ / 4 + causal) v, the mask 0 on and below the diagonal
  function causalAttention(): Uint8Array {
    const random = rng(5150);
    const w = () => rawTensor('float32', [D, D], Array.from({ length: D * D }, () => (random() - 0.5) * 0.6));
    const causal = rawTensor('float32', [S, S], Array.from({ length: S * S }, (_, i) => (i % S <= Math.floor(i / S) ? 0 : -10000)));
    return writeOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, S, D] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, S, D] }],
      initializers: { wq: w(), wk: w(), wv: w(), quarter: rawTensor('float32', [], [0.25]), causal },
      nodes: [
        { op: 'MatMul', inputs: ['x', 'wq'], outputs: ['q'] },
        { op: 'MatMul', inputs: ['x', 'wk'], outputs: ['k'] },
        { op: 'MatMul', inputs: ['x', 'wv'], outputs: ['v'] },
        { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 2, 1] } },
        { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s'] },
        { op: 'Mul', inputs: ['s', 'quarter'], outputs: ['ss'] },
        { op: 'Add', inputs: ['ss', 'causal'], outputs: ['sm'] },
        { op: 'Softmax', inputs: ['sm'], outputs: ['p'], attrs: { axis: -1 } },
        { op: 'MatMul', inputs: ['p', 'v'], outputs: ['y'] },
      ],
    });
  }

  it('quantises to an integer masked softmax: close to onnxruntime float, and no position reads a later one', async () => {
    const floatBytes = causalAttention();
    const random = rng(5151);
    const sample = () => ({ dtype: 'float32' as const, shape: [1, S, D], data: Float32Array.from({ length: S * D }, () => (random() - 0.5) * 4) });
    const { bytes } = await quantize(floatBytes, Array.from({ length: 32 }, () => ({ x: sample() })));
    const m = await loadModel(bytes);
    const reference = await ort.InferenceSession.create(floatBytes);
    let err = 0;
    let ref = 0;
    for (let i = 0; i < 30; i++) {
      const x = sample();
      const got = (await m.run({ x })).outputs.y.data as Float32Array;
      const want = (await reference.run({ x: new ort.Tensor('float32', x.data, [1, S, D]) })).y.data as Float32Array;
      for (let j = 0; j < want.length; j++) (err += (got[j] - want[j]) ** 2), (ref += want[j] ** 2);
    }
    await reference.release();
    const relL2 = Math.sqrt(err / ref);
    console.log(`causal attention (constant mask): relative L2 vs onnxruntime float over 30 inputs ${relL2.toFixed(4)}`);
    expect(relL2).toBeLessThan(0.05);
    // changing the last token changes only the last output row, to the bit
    const x = sample();
    const changed = { ...x, data: Float32Array.from(x.data, (v, j) => (j >= (S - 1) * D ? -v + 1 : v)) };
    const a = (await m.run({ x })).outputs.y.data as Float32Array;
    const b = (await m.run({ x: changed })).outputs.y.data as Float32Array;
    expect(Array.from(b.subarray(0, (S - 1) * D))).toEqual(Array.from(a.subarray(0, (S - 1) * D)));
    expect(Array.from(b.subarray((S - 1) * D))).not.toEqual(Array.from(a.subarray((S - 1) * D)));
    const traced = await m.run({ x }, { trace: true });
    expect(traced.trace!.map((t) => t.op)).toContain('bitexact::QLinearMaskedSoftmax');
    m.dispose();
    await expectSameEverywhere(bytes, { x }, 'causal attention');
  });
});
