// ONNX's own backend conformance cases for the integer ops and MaxPool (Debian package libonnx-testdata).
// Integer outputs must be exact. Where ONNX's reference requantises in float and rounds
// differently from bitexact's fixed-point rule, the differing elements are counted and must be
// within 1 LSB.
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, parseTensorBytes, type Tensor } from '../src/index.js';

const ROOT = process.env.ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data/node';
const HAVE = existsSync(ROOT);
if (!HAVE) console.warn(`bitexact tests: ONNX conformance data not found at ${ROOT} (apt-get install libonnx-testdata); skipping`);

// Cases whose result involves a float requantisation step in ONNX's reference implementation.
const REQUANTISED = new Set(['test_qlinearconv', 'test_qlinearmatmul_2D', 'test_qlinearmatmul_3D']);
const CASES = [
  'test_quantizelinear', 'test_quantizelinear_axis', 'test_dequantizelinear', 'test_dequantizelinear_axis',
  'test_matmulinteger', 'test_basic_convinteger', 'test_convinteger_with_padding', 'test_convinteger_without_padding',
  'test_qlinearmatmul_2D', 'test_qlinearmatmul_3D', 'test_qlinearconv',
  // MaxPool's window walk (interior windows skip the bounds checks; edges, ceil mode, dilations).
  'test_maxpool_1d_default', 'test_maxpool_2d_ceil', 'test_maxpool_2d_default', 'test_maxpool_2d_dilations',
  'test_maxpool_2d_pads', 'test_maxpool_2d_precomputed_pads', 'test_maxpool_2d_precomputed_same_upper',
  'test_maxpool_2d_precomputed_strides', 'test_maxpool_2d_same_lower', 'test_maxpool_2d_same_upper',
  'test_maxpool_2d_strides', 'test_maxpool_2d_uint8',
];

function readPb(path: string): Tensor & { name?: string } {
  return parseTensorBytes(readFileSync(path), '.pb', path);
}

(HAVE ? describe : describe.skip)(`ONNX conformance (${HAVE ? ROOT : 'libonnx-testdata missing'})`, () => {
  for (const name of CASES) {
    it(name, async () => {
      const dir = join(ROOT, name);
      const sets = readdirSync(dir).filter((d) => d.startsWith('test_data_set_'));
      expect(sets.length).toBeGreaterThan(0);
      for (const set of sets) {
        const files = readdirSync(join(dir, set));
        const inputs = files.filter((f) => f.startsWith('input_')).sort().map((f) => readPb(join(dir, set, f)));
        const expected = readPb(join(dir, set, 'output_0.pb'));
        // The first input is the activation; the rest (weights, scales, zero points) are bound
        // as constants, since bitexact compiles them at load time.
        const constants = Object.fromEntries(inputs.slice(1).map((t) => [t.name!, t]));
        const model = await loadModel(join(dir, 'model.onnx'), { constants });
        const r = await model.run({ [inputs[0].name!]: inputs[0] });
        model.dispose();
        const got = Object.values(r.outputs)[0];
        expect(got.dtype).toBe(expected.dtype);
        expect(got.shape).toEqual(expected.shape);
        let differing = 0;
        for (let i = 0; i < got.data.length; i++) {
          const d = Math.abs(Number(got.data[i]) - Number(expected.data[i]));
          if (d === 0) continue;
          differing++;
          if (!REQUANTISED.has(name)) expect.fail(`${name}: element ${i} is ${got.data[i]}, ONNX expects ${expected.data[i]}`);
          expect(d, `${name} element ${i}`).toBeLessThanOrEqual(1);
        }
        if (REQUANTISED.has(name)) console.log(`${name}/${set}: ${differing}/${got.data.length} elements differ by 1 LSB from ONNX's float requantisation`);
      }
    });
  }
});
