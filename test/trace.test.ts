// Execution traces: leaves, Merkle root, inclusion proofs and trace diffs, checked against an
// independent implementation with ethers' keccak256, and identical across ISAs and threads.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { concat, keccak256, solidityPackedKeccak256, toUtf8Bytes } from 'ethers';
import { diffTraces, loadModel, merkleProof, merkleRoot, readTensorFile, traceLeaf, verifyMerkleProof, type TraceEntry } from '../src/index.js';
import { ISAS, THREADS } from './helpers/run_all.js';
import { HAVE_SHARED_MODELS, inputPath, modelPath } from './helpers/shared_models.js';

const dir = resolve(__dirname, '..', 'models', 'mnist-8-int8');

function referenceRoot(leaves: string[]): string {
  if (leaves.length === 0) return keccak256(new Uint8Array());
  let level = leaves;
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(keccak256(concat([level[i], level[i + 1]])));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

async function tracedRun(model: string | Uint8Array, input: string, isa?: 'scalar' | 'avx2' | 'avx512vnni', threads?: number) {
  const m = await loadModel(model, { isa, threads });
  const x = await readTensorFile(input);
  const r = await m.run({ [m.inputs[0].name]: x }, { trace: true });
  m.dispose();
  return r;
}

describe('execution traces', () => {
  it('leaves and root follow the documented encoding (checked with ethers)', async () => {
    const r = await tracedRun(join(dir, 'model.onnx'), join(dir, 'digit-2.pb'));
    const trace = r.trace!;
    expect(trace.map((t) => t.op)).toEqual(['QuantizeLinear', 'QLinearConv', 'MaxPool', 'QLinearConv', 'MaxPool', 'Reshape', 'com.microsoft::QGemm', 'DequantizeLinear']);
    trace.forEach((t, i) => {
      expect(t.index).toBe(i);
      const expected = solidityPackedKeccak256(['uint32', 'bytes32', 'bytes32'], [i, keccak256(toUtf8Bytes(t.op)), t.hash]);
      expect(t.leaf).toBe(expected);
      expect(traceLeaf(i, t.op, t.hash)).toBe(expected);
    });
    expect(trace[trace.length - 1].hash).toBe(r.outputs.logits.hash);
    expect(r.traceRoot).toBe(referenceRoot(trace.map((t) => t.leaf)));
    expect(merkleRoot(trace.map((t) => t.leaf))).toBe(r.traceRoot);
    expect(merkleRoot([])).toBe(keccak256(new Uint8Array()));
  });

  it('four-lane Keccak of the trace agrees with one-stream Keccak on every tensor of a real model', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const [model, input] = HAVE_SHARED_MODELS
      ? [modelPath('mobilenetv2-12-int8'), inputPath('mobilenetv2-12-int8')]
      : [join(dir, 'model.onnx'), join(dir, 'digit-2.pb')];
    const out = mkdtempSync(join(tmpdir(), 'bitexact-x4-'));
    const cli = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
    const leaves: string[][] = [];
    for (const env of [{}, { BITEXACT_CPU_ISA: 'scalar' }]) {
      const file = join(out, `${leaves.length}.json`);
      const r = spawnSync(process.execPath, [cli, 'run', model, '--input', input, '--trace', file], { env: { ...process.env, ...env }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      leaves.push(JSON.parse(readFileSync(file, 'utf8')).leaves.map((l: { hash: string }) => l.hash));
    }
    expect(leaves[0].length).toBeGreaterThan(4);
    expect(leaves[0]).toEqual(leaves[1]);
  });

  it('a run without trace has no trace and the same outputHash', async () => {
    const m = await loadModel(join(dir, 'model.onnx'));
    const x = await readTensorFile(join(dir, 'digit-2.pb'));
    const plain = await m.run({ Input3: x });
    const traced = await m.run({ Input3: x }, { trace: true });
    m.dispose();
    expect(plain.trace).toBeUndefined();
    expect(plain.outputHash).toBe(traced.outputHash);
  });

  it('inclusion proofs verify for every leaf of odd and even trees; tampering fails', async () => {
    const leaves = Array.from({ length: 13 }, (_, i) => keccak256(toUtf8Bytes(`leaf ${i}`)));
    for (const count of [1, 2, 3, 5, 8, 13]) {
      const subset = leaves.slice(0, count);
      const root = merkleRoot(subset);
      expect(root).toBe(referenceRoot(subset));
      for (let i = 0; i < count; i++) {
        const proof = merkleProof(subset, i);
        expect(verifyMerkleProof(proof, root), `leaf ${i} of ${count}`).toBe(true);
        expect(verifyMerkleProof({ ...proof, leaf: keccak256(toUtf8Bytes('not a leaf')) }, root)).toBe(false);
        if (count > 1) {
          expect(verifyMerkleProof({ ...proof, index: (i + 1) % count }, root)).toBe(false);
          expect(verifyMerkleProof({ ...proof, siblings: proof.siblings.slice(0, -1) }, root)).toBe(false);
        }
      }
    }
  });

  it('proofs for every leaf of a real model trace verify; altered ones do not', async () => {
    const [model, input] = HAVE_SHARED_MODELS
      ? [modelPath('mobilenetv2-12-int8'), inputPath('mobilenetv2-12-int8')]
      : [join(dir, 'model.onnx'), join(dir, 'digit-2.pb')];
    const r = await tracedRun(model, input);
    const leaves = r.trace!.map((t) => t.leaf);
    expect(leaves.length).toBeGreaterThan(HAVE_SHARED_MODELS ? 60 : 7);
    for (let i = 0; i < leaves.length; i++) {
      const proof = merkleProof(leaves, i);
      expect(verifyMerkleProof(proof, r.traceRoot!)).toBe(true);
      // A changed output hash changes the leaf; the proof no longer holds.
      const changedLeaf = traceLeaf(i, r.trace![i].op, keccak256(toUtf8Bytes(`changed ${i}`)));
      expect(verifyMerkleProof({ ...proof, leaf: changedLeaf }, r.traceRoot!)).toBe(false);
      expect(verifyMerkleProof({ ...proof, index: (i + 1) % leaves.length }, r.traceRoot!)).toBe(false);
      if (proof.siblings.length > 0) expect(verifyMerkleProof({ ...proof, siblings: proof.siblings.slice(1) }, r.traceRoot!)).toBe(false);
    }
  });

  it('diffTraces names the first diverging node', async () => {
    const a = (await tracedRun(join(dir, 'model.onnx'), join(dir, 'digit-2.pb'))).trace!;
    const b = (await tracedRun(join(dir, 'model.onnx'), join(dir, 'digit-9.pb'))).trace!;
    expect(diffTraces(a, a)).toEqual({ firstIndex: null, differing: 0 });
    const d = diffTraces(a, b);
    expect(d.firstIndex).toBe(0);
    expect(d.a?.node).toBe('quantize_input');
    // Perturb one leaf in the middle: that is the first divergence.
    const altered: TraceEntry[] = a.map((t, i) => (i === 4 ? { ...t, leaf: keccak256(toUtf8Bytes('x')) } : t));
    expect(diffTraces(a, altered)).toMatchObject({ firstIndex: 4, differing: 1 });
  });

  it('traces are identical on every ISA and thread count (bundled and real models)', async () => {
    const cases: [string, string][] = [[join(dir, 'model.onnx'), join(dir, 'digit-0.pb')]];
    if (HAVE_SHARED_MODELS) {
      for (const name of ['mlperftiny-kws-dscnn-int8', 'mlperftiny-ic-resnet8-int8', 'mobilenetv2-12-int8', 'mobilenetv3-qat-int8-qdq']) {
        cases.push([modelPath(name), inputPath(name)]);
      }
    }
    for (const [model, input] of cases) {
      const bytes = readFileSync(model);
      const reference = await tracedRun(bytes, input, 'scalar', 1);
      for (const isa of ISAS) {
        for (const threads of THREADS) {
          const r = await tracedRun(bytes, input, isa, threads);
          expect(r.traceRoot, `${model} ${isa}/${threads}`).toBe(reference.traceRoot);
        }
      }
    }
  });
});
