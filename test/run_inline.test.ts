// Tiny runs execute on the calling thread, without the hand-off to a job thread and back that
// would cost as much as the run: same results and error codes as a job-thread run, and anything
// that would hold the event loop (a slow model, a much larger input) still goes to a job thread.
import { describe, it, expect } from 'vitest';
import { loadModel } from '../src/index.js';
import { matmulChain, randomFloats } from './helpers/small_models.js';

/** True when the run's Promise settled before the event loop turned: it ran inline. */
async function settledInline(p: Promise<unknown>): Promise<boolean> {
  const first = await Promise.race([p.then(() => 'run', () => 'run'), new Promise((r) => setImmediate(() => r('loop')))]);
  await p.catch(() => undefined);
  return first === 'run';
}

describe('inline runs of tiny models', () => {
  it('run on the calling thread once the model is known to be tiny, with the same hashes', async () => {
    const m = await loadModel(matmulChain(2, 4, 16));
    const x = randomFloats([1, 4, 16], 5);
    const first = await m.run(x); // cost unknown: a job thread
    const inline: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      const p = m.run(x);
      inline.push(await settledInline(p));
      expect((await p).outputHash).toBe(first.outputHash);
    }
    expect(inline.every(Boolean)).toBe(true);
    m.dispose();
  });

  it('an inline run that fails rejects with its code, and the next run still works', async () => {
    const m = await loadModel(matmulChain(1, 2, 8));
    const good = randomFloats([1, 2, 8], 6);
    const expected = (await m.run(good)).outputHash;
    const bad = randomFloats([1, 2, 8], 6);
    bad.data[3] = NaN;
    const p = m.run(bad);
    expect(await settledInline(p)).toBe(true);
    await expect(p).rejects.toMatchObject({ code: 'ERR_BITEXACT_INPUT' });
    expect((await m.run(good)).outputHash).toBe(expected);
    m.dispose();
  });

  it('a slow model, or a much larger input than the last run, goes to a job thread', async () => {
    const slow = await loadModel(matmulChain(100, 512, 256, { shareWeights: true })); // ~50 ms a run
    const x = randomFloats([1, 512, 256], 7);
    await slow.run(x);
    expect(await settledInline(slow.run(x))).toBe(false);
    slow.dispose();

    const small = await loadModel(matmulChain(4, 16, 64));
    const one = randomFloats([1, 16, 64], 8);
    await small.run(one);
    expect(await settledInline(small.run(one))).toBe(true);
    const batch = randomFloats([2000, 16, 64], 9); // ~10 ms of work
    expect(await settledInline(small.run(batch))).toBe(false);
    small.dispose();
  });
});
