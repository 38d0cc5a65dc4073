// Bad input gets a clear error with a stable code, and the process keeps serving afterwards.
import { describe, it, expect } from 'vitest';
import { BitexactError, info, loadModel } from '../src/index.js';
import { buildModel, tensorValue } from './helpers/onnx_builder.js';
import { ISAS } from './helpers/run_all.js';

function quantizeModel(shape: (number | string)[] = [2, 3]) {
  return buildModel({
    inputs: [{ name: 'x', dtype: 'float32', shape }],
    outputs: [{ name: 'y', dtype: 'uint8', shape }],
    initializers: { s: tensorValue('float32', [], [0.1]), z: tensorValue('uint8', [], [128]) },
    nodes: [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'] }],
  });
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: string, message?: RegExp) {
  let error: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(BitexactError);
  expect((error as BitexactError).code).toBe(code);
  if (message) expect((error as Error).message).toMatch(message);
}

/** After every failure the engine must still load and run a good model. */
async function stillServes() {
  const m = await loadModel(quantizeModel());
  const r = await m.run({ x: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 1, 2, -1, 12.8, 100]) } });
  expect(Array.from(r.outputs.y.data as Uint8Array)).toEqual([128, 138, 148, 118, 255, 255]);
  m.dispose();
}

describe('model errors', () => {
  it('garbage, empty and truncated model files', async () => {
    await expectCode(loadModel(new Uint8Array([0xff, 0xff, 0xff, 0x0f, 1, 2, 3])), 'ERR_BITEXACT_INVALID_MODEL');
    await expectCode(loadModel(new Uint8Array()), 'ERR_BITEXACT_INVALID_MODEL', /empty/);
    await expectCode(loadModel(Buffer.from('this is not a model at all, just text')), 'ERR_BITEXACT_INVALID_MODEL');
    const good = quantizeModel();
    for (const cut of [1, 5, 17, good.length >> 1, good.length - 3]) {
      await expectCode(loadModel(good.subarray(0, cut)), 'ERR_BITEXACT_INVALID_MODEL');
    }
    await expectCode(loadModel('/nonexistent/model.onnx'), 'ERR_BITEXACT_INPUT', /cannot read/);
    await stillServes();
  });

  it('unknown ops and float arithmetic name the node and op', async () => {
    const unknown = buildModel({
      inputs: [{ name: 'x', dtype: 'uint8', shape: [2] }],
      outputs: [{ name: 'y', dtype: 'uint8', shape: [2] }],
      nodes: [{ op: 'FancyOp', name: 'my_fancy_node', inputs: ['x'], outputs: ['y'] }],
    });
    await expectCode(loadModel(unknown), 'ERR_BITEXACT_UNSUPPORTED_OP', /my_fancy_node.*FancyOp/);
    const float = buildModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
      nodes: [{ op: 'Relu', name: 'relu1', inputs: ['x'], outputs: ['y'] }],
    });
    await expectCode(loadModel(float), 'ERR_BITEXACT_UNSUPPORTED_OP', /relu1.*Relu.*floating point/);
    await stillServes();
  });

  it('a model whose accumulation could overflow int32 is refused, naming the node', async () => {
    // K = 70000 inputs of |x - zx| <= 255 times |w| = 127 can exceed 2^31.
    const k = 70000;
    const model = buildModel({
      inputs: [{ name: 'a', dtype: 'uint8', shape: [1, k] }],
      outputs: [{ name: 'y', dtype: 'int32', shape: [1, 1] }],
      initializers: { b: tensorValue('int8', [k, 1], new Array(k).fill(127)) },
      nodes: [{ op: 'MatMulInteger', name: 'huge_dot', inputs: ['a', 'b'], outputs: ['y'] }],
    });
    await expectCode(loadModel(model), 'ERR_BITEXACT_OVERFLOW_BOUND', /huge_dot/);
    await stillServes();
  });

  it('window attributes no model can mean are refused at load (a stride of 0 must not divide by zero)', async () => {
    for (const attrs of [{ kernel_shape: [2, 2], strides: [0, 1] }, { kernel_shape: [0, 2] }, { kernel_shape: [2, 2], pads: [-1, 0, 0, 0] }]) {
      const model = buildModel({
        inputs: [{ name: 'x', dtype: 'uint8', shape: [1, 1, 4, 4] }],
        outputs: [{ name: 'y', dtype: 'uint8' }],
        nodes: [{ op: 'MaxPool', name: 'pool', inputs: ['x'], outputs: ['y'], attrs }],
      });
      await expectCode(loadModel(model), 'ERR_BITEXACT_INVALID_MODEL', /pool/);
    }
    await stillServes();
  });

  it('forcing an ISA the CPU lacks, or an unknown one, is a clear error', async () => {
    await expectCode(loadModel(quantizeModel(), { isa: 'avx9000' as never }), 'ERR_BITEXACT_INPUT', /isa/);
    const { info } = await import('../src/index.js');
    if (!info().cpu.isas.includes('avx512vnni')) {
      await expectCode(loadModel(quantizeModel(), { isa: 'avx512vnni' }), 'ERR_BITEXACT_ISA', /does not support/);
    }
    if (info().cuda.devices.length === 0) await expectCode(loadModel(quantizeModel(), { backend: 'cuda' }), 'ERR_BITEXACT_BACKEND');
    await expectCode(loadModel(quantizeModel(), { device: -1 }), 'ERR_BITEXACT_INPUT', /device/);
    await expectCode(loadModel(quantizeModel(), { threads: 0 }), 'ERR_BITEXACT_INPUT', /threads/);
  });
});

describe('input errors', () => {
  it('wrong name, dtype, shape, length and missing inputs', async () => {
    const m = await loadModel(quantizeModel());
    const data = new Float32Array(6);
    await expectCode(m.run({ nope: { dtype: 'float32', shape: [2, 3], data } }), 'ERR_BITEXACT_INPUT', /no input named 'nope'/);
    await expectCode(m.run({ x: { dtype: 'int8', shape: [2, 3], data: new Int8Array(6) } }), 'ERR_BITEXACT_INPUT', /must be float32/);
    await expectCode(m.run({ x: { dtype: 'float32', shape: [3, 2], data } }), 'ERR_BITEXACT_INPUT', /shape/);
    await expectCode(m.run({ x: { dtype: 'float32', shape: [2, 3], data: new Float32Array(5) } }), 'ERR_BITEXACT_INPUT', /elements/);
    await expectCode(m.run({ x: { dtype: 'float32', shape: [2, 3], data: new Int32Array(6) as never } }), 'ERR_BITEXACT_INPUT', /Float32Array/);
    await expectCode(m.run({}), 'ERR_BITEXACT_INPUT', /missing input 'x'/);
    await expectCode(m.run({ x: { dtype: 'float32', shape: [2, -3], data } }), 'ERR_BITEXACT_INPUT', /shape/);
    m.dispose();
    await stillServes();
  });

  it('NaN and Inf fed to a quantising input are refused by default', async () => {
    const m = await loadModel(quantizeModel());
    await expectCode(m.run({ x: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, NaN, 0, 0, 0, 0]) } }), 'ERR_BITEXACT_INPUT', /NaN/);
    await expectCode(m.run({ x: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 0, Infinity, 0, 0, 0]) } }), 'ERR_BITEXACT_INPUT', /infinite/);
    const r = await m.run({ x: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([NaN, Infinity, -Infinity, 0, 0, 0]) } }, { allowNonFinite: true });
    expect(Array.from(r.outputs.y.data as Uint8Array).slice(0, 3)).toEqual([128, 255, 0]);
    m.dispose();
  });

  it('a large input names its first non-finite element on every ISA and thread count', async () => {
    // 100 000 elements: the check runs in vector steps over several parallel ranges. A lone NaN
    // inside a vector step must be found; with two bad elements the message names the first, not
    // the one some thread saw first.
    const n = 100_000;
    const clean = Float32Array.from({ length: n }, (_, i) => (i % 251) / 10 - 12);
    const lone = clean.slice();
    lone[70_001] = NaN;
    const two = clean.slice();
    two[12_345] = Infinity;
    two[99_999] = -Infinity;
    for (const isa of ISAS) {
      for (const threads of [1, 2, 4]) {
        const m = await loadModel(quantizeModel([n]), { isa, threads });
        const run = (data: Float32Array) => m.run({ x: { dtype: 'float32', shape: [n], data } });
        await expectCode(run(lone), 'ERR_BITEXACT_INPUT', /element 70001 is NaN/);
        await expectCode(run(two), 'ERR_BITEXACT_INPUT', /element 12345 is infinite/);
        expect((await run(clean)).outputs.y.data.length).toBe(n);
        m.dispose();
      }
    }
  });

  it('declared dimensions over the memory cap are refused before allocating', async () => {
    const m = await loadModel(quantizeModel(['n', 3]), { maxMemoryMB: 1 });
    // 400k x 3 floats = 4.8 MB of input: over the 1 MiB cap, refused before the copy.
    await expectCode(m.run({ x: { dtype: 'float32', shape: [400_000, 3], data: new Float32Array(1_200_000) } }), 'ERR_BITEXACT_RESOURCE', /memory cap/);
    // The same model still runs inputs that fit under the cap.
    const small = await m.run({ x: { dtype: 'float32', shape: [1000, 3], data: new Float32Array(3000) } });
    expect(small.outputs.y.shape).toEqual([1000, 3]);
    m.dispose();
    await stillServes();
  });
});

describe('lifecycle', () => {
  it('concurrent runs on one model are safe and give identical hashes', async () => {
    const m = await loadModel(quantizeModel(['n', 3]));
    const data = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) * 20);
    const runs = await Promise.all(Array.from({ length: 16 }, () => m.run({ x: { dtype: 'float32', shape: [1000, 3], data } })));
    expect(new Set(runs.map((r) => r.outputHash)).size).toBe(1);
    m.dispose();
  });

  it('dispose while runs are in flight lets them finish; later runs reject', async () => {
    const m = await loadModel(quantizeModel(['n', 3]));
    const data = new Float32Array(300_000);
    const inFlight = Array.from({ length: 4 }, () => m.run({ x: { dtype: 'float32', shape: [100_000, 3], data } }));
    m.dispose();
    const results = await Promise.all(inFlight);
    expect(results.every((r) => r.outputs.y.data.length === 300_000)).toBe(true);
    await expectCode(m.run({ x: { dtype: 'float32', shape: [1, 3], data: new Float32Array(3) } }), 'ERR_BITEXACT_DISPOSED');
  });

  it('runs do not block the event loop', async () => {
    const m = await loadModel(quantizeModel(['n', 3]));
    const data = new Float32Array(3_000_000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await Promise.all(Array.from({ length: 4 }, () => m.run({ x: { dtype: 'float32', shape: [1_000_000, 3], data } })));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    m.dispose();
  });
});
