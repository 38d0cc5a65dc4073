// Runs one model on every ISA this CPU has and on 1-4 threads, and checks that every
// configuration produces the bytes of the scalar reference on one thread.
import { expect } from 'vitest';
import { info, loadModel, type Isa, type RunResult, type TensorInput } from '../../src/index.js';

export const ISAS = info().cpu.isas as Isa[];
export const THREADS = [1, 2, 3, 4];

export async function runConfig(model: Uint8Array, inputs: Record<string, TensorInput>, isa: Isa, threads: number): Promise<RunResult> {
  const m = await loadModel(model, { isa, threads });
  try {
    return await m.run(inputs);
  } finally {
    m.dispose();
  }
}

/** Returns the reference result after asserting that all configurations agree with it. */
export async function expectSameEverywhere(model: Uint8Array, inputs: Record<string, TensorInput>, label = ''): Promise<RunResult> {
  const reference = await runConfig(model, inputs, 'scalar', 1);
  for (const isa of ISAS) {
    for (const threads of THREADS) {
      if (isa === 'scalar' && threads === 1) continue;
      const r = await runConfig(model, inputs, isa, threads);
      for (const [name, out] of Object.entries(reference.outputs)) {
        const got = r.outputs[name];
        const a = Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength);
        const b = Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength);
        if (!a.equals(b)) {
          let first = 0;
          while (first < a.length && a[first] === b[first]) first++;
          expect.fail(`${label} ${isa}/${threads} threads: output '${name}' differs from the scalar reference at byte ${first}`);
        }
      }
      expect(r.outputHash, `${label} ${isa}/${threads}`).toBe(reference.outputHash);
    }
  }
  return reference;
}
