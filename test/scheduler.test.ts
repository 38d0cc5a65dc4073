// The scheduler: batching gives the bits of single runs, cancellation and timeouts free their slot,
// a full queue rejects with its documented code, priorities order the queue, metrics add up.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadModel, Scheduler, BitexactError, type RunResult } from '../src/index.js';
import { batchMixer, matmulChain, randomFloats } from './helpers/small_models.js';
import { HAVE_SHARED_MODELS, modelPath } from './helpers/shared_models.js';

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: BitexactError) => e.code);

describe('Scheduler', () => {
  it('batches same-model jobs and returns exactly what single runs return, receipts included', async () => {
    const model = await loadModel(matmulChain(3, 4, 32));
    const scheduler = new Scheduler({ capacity: { cpu: 1 }, batchWindowMs: 30, maxBatch: 8 });
    const events: boolean[] = [];
    scheduler.on('batching', (e) => events.push(e.trusted));
    const inputs = Array.from({ length: 12 }, (_, i) => randomFloats([1, 4, 32], 100 + i));
    const results = await Promise.all(inputs.map((x) => scheduler.submit({ model, inputs: x, receipt: true })));
    expect(scheduler.metrics().batches).toBeGreaterThanOrEqual(1);
    expect(results.some((r) => r.batch && r.batch.size > 1)).toBe(true);
    expect(events).toEqual([true]);
    for (let i = 0; i < inputs.length; i++) {
      const alone = await model.run(inputs[i], { receipt: true });
      expect(results[i].outputHash).toBe(alone.outputHash);
      expect(results[i].inputHash).toBe(alone.inputHash);
      expect(results[i].traceRoot).toBe(alone.traceRoot);
      expect(results[i].receipt!.digest).toBe(alone.receipt!.digest);
      expect(Array.from(results[i].outputs.y.data)).toEqual(Array.from(alone.outputs.y.data));
    }
    // Untraced jobs batch too, and carry no trace.
    const plain = await Promise.all(inputs.slice(0, 4).map((x) => scheduler.submit({ model, inputs: x })));
    plain.forEach((r, i) => {
      expect(r.outputHash).toBe(results[i].outputHash);
      expect(r.trace).toBeUndefined();
    });
    model.dispose();
  });

  it.skipIf(!HAVE_SHARED_MODELS)('batches a real model (MobileNetV3 QDQ) to the same hashes', async () => {
    const model = await loadModel(readFileSync(modelPath('mobilenetv3-qat-int8-qdq')));
    const scheduler = new Scheduler({ capacity: { cpu: 1 }, batchWindowMs: 50 });
    const inputs = [1, 2, 3].map((seed) => {
      const data = new Uint8Array(3 * 224 * 224);
      let x = seed;
      for (let i = 0; i < data.length; i++) data[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      return { dtype: 'uint8' as const, shape: [1, 3, 224, 224], data };
    });
    const results = await Promise.all(inputs.map((x) => scheduler.submit({ model, inputs: x, trace: true })));
    expect(scheduler.metrics().batchedJobs).toBe(3);
    for (let i = 0; i < 3; i++) {
      const alone = await model.run(inputs[i], { trace: true });
      expect([results[i].outputHash, results[i].traceRoot]).toEqual([alone.outputHash, alone.traceRoot]);
    }
    model.dispose();
  });

  it('refuses to batch a model whose batch is not sample-independent, and still answers correctly', async () => {
    const model = await loadModel(batchMixer());
    expect(model.batchable).toBe(true); // declared so, but Flatten(axis=0) mixes the batch
    const scheduler = new Scheduler({ capacity: { cpu: 1 }, batchWindowMs: 30 });
    const reasons: string[] = [];
    scheduler.on('batching', (e) => reasons.push(`${e.trusted}: ${e.reason}`));
    const inputs = [1, 2, 3].map((s) => randomFloats([1, 8], s));
    const results = await Promise.all(inputs.map((x) => scheduler.submit({ model, inputs: x, receipt: true })));
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^false: .*batch/);
    for (let i = 0; i < 3; i++) expect(results[i].outputHash).toBe((await model.run(inputs[i])).outputHash);
    expect(scheduler.metrics().batches).toBe(0);
    model.dispose();
  });

  it('cancellation stops a running job between nodes, drops a queued one, and frees the slot', async () => {
    const slow = await loadModel(matmulChain(200, 512, 256, { shareWeights: true })); // ~0.1 s a run: far longer than the 5 ms below
    const scheduler = new Scheduler({ capacity: { cpu: 1 }, batchWindowMs: 0 });
    const started: string[] = [];
    scheduler.on('started', (e) => started.push(e.id));
    const x = randomFloats([1, 512, 256], 1);
    const full = await slow.run(x);
    const a = new AbortController();
    const c = new AbortController();
    const jobA = scheduler.submit({ model: slow, inputs: x, signal: a.signal, id: 'A' });
    const jobB = scheduler.submit({ model: slow, inputs: x, id: 'B' });
    const jobC = code(scheduler.submit({ model: slow, inputs: x, signal: c.signal, id: 'C' }));
    c.abort(); // still queued
    setTimeout(() => a.abort(), 5);
    expect(await code(jobA)).toBe('ERR_BITEXACT_CANCELLED');
    expect(await jobC).toBe('ERR_BITEXACT_CANCELLED');
    const b = await jobB;
    expect(b.outputHash).toBe(full.outputHash);
    expect(started).toEqual(['A', 'B']);
    const m = scheduler.metrics();
    expect([m.cancelled, m.completed, m.running, m.queueDepth]).toEqual([2, 1, 0, 0]);
    slow.dispose();
  });

  it('a timed-out job rejects with ERR_BITEXACT_TIMEOUT and the next job runs', async () => {
    const slow = await loadModel(matmulChain(200, 512, 256, { shareWeights: true })); // ~0.1 s a run: far longer than the 5 ms below
    const scheduler = new Scheduler({ capacity: { cpu: 1 }, batchWindowMs: 0 });
    const x = randomFloats([1, 512, 256], 2);
    const late = scheduler.submit({ model: slow, inputs: x, timeoutMs: 5 });
    const next = scheduler.submit({ model: slow, inputs: x });
    expect(await code(late)).toBe('ERR_BITEXACT_TIMEOUT');
    expect((await next).outputHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(scheduler.metrics().timedOut).toBe(1);
    slow.dispose();
  });

  it('a full queue rejects at once with ERR_BITEXACT_QUEUE_FULL', async () => {
    const slow = await loadModel(matmulChain(20, 256, 256));
    const scheduler = new Scheduler({ capacity: { cpu: 1 }, maxQueue: 2, batchWindowMs: 0 });
    const x = randomFloats([1, 256, 256], 3);
    const running = scheduler.submit({ model: slow, inputs: x });
    const queued = [scheduler.submit({ model: slow, inputs: x }), scheduler.submit({ model: slow, inputs: x })];
    const rejected = scheduler.submit({ model: slow, inputs: x });
    expect(await code(rejected)).toBe('ERR_BITEXACT_QUEUE_FULL');
    await Promise.all([running, ...queued]);
    expect(scheduler.metrics().rejectedFull).toBe(1);
    slow.dispose();
  });

  it('runs higher priorities first, in arrival order within a priority', async () => {
    const model = await loadModel(matmulChain(10, 128, 128));
    const scheduler = new Scheduler({ capacity: { cpu: 1 }, batchWindowMs: 0 });
    const order: string[] = [];
    scheduler.on('started', (e) => order.push(e.id));
    const x = randomFloats([1, 128, 128], 4);
    const jobs = [
      scheduler.submit({ model, inputs: x, id: 'first' }),
      scheduler.submit({ model, inputs: x, id: 'low1', priority: -1 }),
      scheduler.submit({ model, inputs: x, id: 'mid1' }),
      scheduler.submit({ model, inputs: x, id: 'high', priority: 5 }),
      scheduler.submit({ model, inputs: x, id: 'mid2' }),
    ];
    await Promise.all(jobs);
    expect(order).toEqual(['first', 'high', 'mid1', 'mid2', 'low1']);
    model.dispose();
  });

  it('rejects bad jobs at submission with ERR_BITEXACT_INPUT and keeps working', async () => {
    const model = await loadModel(matmulChain(1, 2, 8));
    const scheduler = new Scheduler();
    expect(await code(scheduler.submit({ model, inputs: { x: { dtype: 'float32', shape: [1, 2, 8], data: [1] } } }))).toBe('ERR_BITEXACT_INPUT');
    expect(await code(scheduler.submit({ model, inputs: randomFloats([1, 2, 7], 1) }))).toBe('ERR_BITEXACT_INPUT');
    expect(await code(scheduler.submit({ model: {} as never, inputs: {} }))).toBe('ERR_BITEXACT_INPUT');
    expect(() => new Scheduler({ maxQueue: 0 })).toThrow(/maxQueue/);
    const ok: RunResult = await scheduler.submit({ model, inputs: randomFloats([1, 2, 8], 1) });
    expect(ok.outputHash).toMatch(/^0x/);
    const m = scheduler.metrics();
    expect(m.failed).toBe(1); // the wrong shape failed in the run; the other two never entered
    expect(m.latencyMs.count).toBe(1);
    expect(m.backends.cpu.busyMs).toBeGreaterThan(0);
    model.dispose();
  });
});
