// Inputs of 32 KB and more are hashed while the model runs: on a one-thread model by the shared
// hashing threads, on a multi-thread model by one of its own pool's workers. Every way must give
// the canonical hash, under concurrent runs and when a run fails, and must not change the outputs.
import { describe, it, expect } from 'vitest';
import { hashNamedTensors, loadModel } from '../src/index.js';
import { matmulChain, randomFloats } from './helpers/small_models.js';

describe('input hashing alongside the run', () => {
  const model = matmulChain(6, 64, 128);  // float32 [N, 64, 128]: 32 KB per sample

  it('gives the canonical input hash and the same outputs on 1 to 4 threads, runs at once included', async () => {
    const inputs = [1, 2, 5].map((n, i) => randomFloats([n, 64, 128], 40 + i));
    const expected = inputs.map((x) => hashNamedTensors({ x }));
    const outputs = new Map<number, string>();
    for (const threads of [1, 2, 3, 4]) {
      const m = await loadModel(model, { threads });
      // Several runs in flight on one pool: hash tasks and the runs' loops share the workers.
      const results = await Promise.all(inputs.flatMap((x) => [m.run({ x }), m.run({ x })]));
      results.forEach((r, i) => {
        const which = Math.floor(i / 2);
        expect(r.inputHash, `threads ${threads}, input ${which}`).toBe(expected[which]);
        const seen = outputs.get(which);
        if (seen) expect(r.outputHash).toBe(seen);
        else outputs.set(which, r.outputHash);
      });
      m.dispose();
    }
  });

  it('a run that fails while its input is being hashed leaves the model serving', async () => {
    const m = await loadModel(model, { threads: 2 });
    const bad = randomFloats([4, 64, 128], 9);
    bad.data[30_001] = NaN;
    await expect(m.run({ x: bad })).rejects.toMatchObject({ code: 'ERR_BITEXACT_INPUT' });
    const good = randomFloats([4, 64, 128], 10);
    expect((await m.run({ x: good })).inputHash).toBe(hashNamedTensors({ x: good }));
    m.dispose();
  });
});
