// Corrupt model files: every mutation must end in a successful load or a BitexactError with a
// stable code, never a crash, a hang or a huge allocation. The process keeps serving afterwards.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BitexactError, loadModel, readTensorFile } from '../src/index.js';
import { rng } from './helpers/onnx_builder.js';

const CODES = new Set(['ERR_BITEXACT_INVALID_MODEL', 'ERR_BITEXACT_UNSUPPORTED_OP', 'ERR_BITEXACT_OVERFLOW_BOUND', 'ERR_BITEXACT_RESOURCE', 'ERR_BITEXACT_INPUT']);
const dir = resolve(__dirname, '..', 'models', 'mnist-8-int8');

describe('corrupt models', () => {
  it('400 random byte flips, truncations and insertions of a real model load or fail cleanly', async () => {
    const original = readFileSync(join(dir, 'model.onnx'));
    const digit = await readTensorFile(join(dir, 'digit-2.pb'));
    const random = rng(99);
    let loaded = 0, refused = 0;
    for (let trial = 0; trial < 400; trial++) {
      let bytes = Buffer.from(original);
      const kind = trial % 4;
      const at = Math.floor(random() * bytes.length);
      if (kind === 0) bytes[at] = Math.floor(random() * 256);
      else if (kind === 1) bytes = bytes.subarray(0, at);
      else if (kind === 2) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([Math.floor(random() * 256)]), bytes.subarray(at)]);
      else for (let j = 0; j < 8; j++) bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
      try {
        const model = await loadModel(bytes, { maxMemoryMB: 64 });
        loaded++;
        try {
          await model.run({ Input3: digit });
        } catch (err) {
          expect(err).toBeInstanceOf(BitexactError);
          expect(CODES.has((err as BitexactError).code), (err as Error).message).toBe(true);
        }
        model.dispose();
      } catch (err) {
        refused++;
        expect(err).toBeInstanceOf(BitexactError);
        expect(CODES.has((err as BitexactError).code), `${(err as BitexactError).code}: ${(err as Error).message}`).toBe(true);
      }
    }
    console.log(`corrupt models: ${loaded} still loaded, ${refused} refused with a stable code`);
    const good = await loadModel(original);
    expect((await good.run({ Input3: digit })).outputHash).toBe('0xdc481996156fa3563938ffc093ac7423b012c3e3d59e42ee014e85874db8b661');
    good.dispose();
  });
});
