// The model shipped in models/ (always present, unlike ../shared): golden hashes on every ISA and
// thread count, correct predictions on real digits, and agreement with onnxruntime.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { argmax, keccak256, readTensorFile } from '../src/index.js';
import { expectSameEverywhere } from './helpers/run_all.js';

const dir = resolve(__dirname, '..', 'models', 'mnist-8-int8');
const modelFile = join(dir, 'model.onnx');
const GOLDEN: Record<number, string> = {
  0: '0xdf5d6d7403cfceac7479ca910759e041406af6bc6868212fe8f77f5a48e3d94a',
  2: '0xdc481996156fa3563938ffc093ac7423b012c3e3d59e42ee014e85874db8b661',
  9: '0xaa3ccfb563c9c65ceb408f0d6449d3ea70c77d6c1e05bc63bb50bf5865580563',
};

describe('bundled mnist-8-int8', () => {
  it('has the model hash the docs quote', () => {
    expect(keccak256(readFileSync(modelFile))).toBe('0xaedfa47a288435c7d349b1c370382bc9e1c7481cfc6af5921f2bb374f7b3a6c4');
  });

  for (const digit of [0, 2, 9]) {
    it(`digit ${digit}: golden hash everywhere, correct prediction, agrees with onnxruntime`, async () => {
      const x = await readTensorFile(join(dir, `digit-${digit}.pb`));
      const r = await expectSameEverywhere(readFileSync(modelFile), { Input3: x }, `digit ${digit}`);
      expect(r.outputHash).toBe(GOLDEN[digit]);
      const logits = r.outputs.logits.data as Float32Array;
      expect(argmax(logits)).toBe(digit);
      const session = await ort.InferenceSession.create(modelFile, { graphOptimizationLevel: 'all', extra: { session: { x64quantprecision: '1' } } });
      const out = await session.run({ Input3: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
      await session.release();
      const theirs = out.logits.data as Float32Array;
      // out_scale of the model's final DequantizeLinear (scripts/make_mnist_int8.py prints the graph).
      const outputScale = 57.32976;
      const maxLsb = Math.max(...Array.from(logits, (v, i) => Math.abs(v - theirs[i]) / outputScale));
      expect(argmax(theirs)).toBe(digit);
      expect(maxLsb).toBeLessThanOrEqual(1.001);
    });
  }
});
