// The CUDA backend from Node. Without a usable GPU (CI, most development machines) it checks the
// refusal and the fallback and says plainly that the GPU suite was skipped; with one it runs the
// single-op cases and the real models on the GPU and requires the CPU's bytes and traces.
// (The full byte-equality matrix, random and extreme inputs, is test/native/cuda_ops.cpp.)
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { info, loadModel, readTensorFile, type TensorInput } from '../src/index.js';
import { HAVE_SHARED_MODELS, inputPath, modelPath } from './helpers/shared_models.js';

const cuda = info().cuda;
const HAVE_GPU = cuda.devices.length > 0;
const casesDir = resolve(__dirname, 'native', 'cuda_cases');
const mnist = resolve(__dirname, '..', 'models', 'mnist-8-int8');

if (!HAVE_GPU) console.warn(`bitexact tests: GPU suite skipped, no usable CUDA device (${cuda.reason})`);

describe('CUDA status', () => {
  it('info() says whether CUDA was compiled in, which devices are usable, and why none is', () => {
    expect(typeof cuda.compiled).toBe('boolean');
    expect(info().backends.includes('cuda')).toBe(HAVE_GPU);
    if (HAVE_GPU) {
      for (const d of cuda.devices) expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
    } else {
      expect(cuda.reason.length).toBeGreaterThan(10);
    }
  });
});

describe.skipIf(HAVE_GPU)('without a usable GPU', () => {
  it("backend 'cuda' fails with ERR_BITEXACT_BACKEND naming the reason", async () => {
    const err = await loadModel(join(mnist, 'model.onnx'), { backend: 'cuda' }).catch((e) => e);
    expect(err.code).toBe('ERR_BITEXACT_BACKEND');
    expect(err.message).toContain(cuda.reason);
  });

  it("backend 'auto' runs on the CPU", async () => {
    const model = await loadModel(join(mnist, 'model.onnx'));
    expect(model.backend.name).toBe('cpu');
    const r = await model.run(await readTensorFile(join(mnist, 'digit-2.pb')));
    expect(r.backend.name).toBe('cpu');
    expect(r.outputHash).toBe('0xdc481996156fa3563938ffc093ac7423b012c3e3d59e42ee014e85874db8b661');
    model.dispose();
  });
});

function randomInputs(specs: readonly { name: string; dtype: string; shape: readonly (number | string)[] }[], seed: number) {
  let state = seed >>> 0;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const inputs: Record<string, TensorInput> = {};
  for (const s of specs) {
    const shape = s.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 3));
    const n = shape.reduce((a, b) => a * b, 1);
    const make = {
      float32: () => Float32Array.from({ length: n }, () => (next() - 0.5) * 80),
      uint8: () => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
      int8: () => Int8Array.from({ length: n }, () => Math.floor(next() * 256) - 128),
      uint16: () => Uint16Array.from({ length: n }, () => Math.floor(next() * 65536)),
      int16: () => Int16Array.from({ length: n }, () => Math.floor(next() * 65536) - 32768),
      int32: () => Int32Array.from({ length: n }, () => Math.floor(next() * 200001) - 100000),
      // Index inputs (Gather): rows -5 .. 19.
      int64: () => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(next() * 25) - 5)),
    }[s.dtype];
    if (!make) throw new Error(`no generator for ${s.dtype}`);
    inputs[s.name] = { dtype: s.dtype as never, shape, data: make() };
  }
  return inputs;
}

async function expectSameOnGpu(bytes: Uint8Array, inputs: Record<string, TensorInput> | null, seed = 1) {
  const gpu = await loadModel(bytes, { backend: 'cuda' });
  const cpu = await loadModel(bytes, { backend: 'cpu', isa: 'scalar' });
  try {
    expect(gpu.backend.name).toBe('cuda');
    const x = inputs ?? randomInputs(gpu.inputs, seed);
    // Inputs the CPU refuses (e.g. an attention mask value that is neither attend nor padding)
    // must be refused on the GPU alike.
    const refusal = await cpu.run(x).then(() => null, (e: { code: string; message: string }) => e);
    if (refusal) {
      await expect(gpu.run(x)).rejects.toMatchObject({ code: refusal.code, message: refusal.message });
      return null;
    }
    const [a, b] = await Promise.all([gpu.run(x, { trace: true }), cpu.run(x, { trace: true })]);
    expect(a.backend.device).toMatch(/^cuda:\d/);
    expect(a.outputHash).toBe(b.outputHash);
    expect(a.traceRoot).toBe(b.traceRoot);
    return a;
  } finally {
    gpu.dispose();
    cpu.dispose();
  }
}

describe.skipIf(!HAVE_GPU)('on the GPU', () => {
  const cases = readdirSync(casesDir).filter((f) => f.endsWith('.onnx')).sort();
  for (const file of cases) {
    it(`${file}: same bytes and trace as the CPU`, async () => {
      await expectSameOnGpu(readFileSync(join(casesDir, file)), null, file.length);
    });
  }

  it('bundled mnist: golden hash on the GPU', async () => {
    const r = await expectSameOnGpu(readFileSync(join(mnist, 'model.onnx')), { Input3: await readTensorFile(join(mnist, 'digit-2.pb')) });
    expect(r?.outputHash).toBe('0xdc481996156fa3563938ffc093ac7423b012c3e3d59e42ee014e85874db8b661');
  });

  it.skipIf(!HAVE_SHARED_MODELS)('real models: same output hash and trace root as the CPU', async () => {
    for (const name of ['mlperftiny-kws-dscnn-int8', 'mlperftiny-ic-resnet8-int8', 'mobilenetv2-12-int8', 'mobilenetv3-qat-int8-qdq']) {
      const model = await loadModel(modelPath(name), { backend: 'cuda' });
      const x = await readTensorFile(inputPath(name));
      await expectSameOnGpu(readFileSync(modelPath(name)), { [model.inputs[0].name]: x });
      model.dispose();
    }
  }, 120_000);
});
