// Locates the real models in ../shared/models (or $BITEXACT_MODELS). Tests that need them skip,
// saying why, when they are absent (e.g. in a user's clone).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SHARED_MODELS = resolve(process.env.BITEXACT_MODELS ?? join(__dirname, '..', '..', '..', 'shared', 'models'));
export const HAVE_SHARED_MODELS = existsSync(SHARED_MODELS);
export const SKIP_REASON = `real models not found at ${SHARED_MODELS} (set BITEXACT_MODELS); skipping`;

if (!HAVE_SHARED_MODELS) console.warn(`bitexact tests: ${SKIP_REASON}`);

export function modelPath(name: string): string {
  return join(SHARED_MODELS, name, 'model.onnx');
}

export function inputPath(name: string, set = 0): string {
  return join(SHARED_MODELS, name, `test_data_set_${set}`, 'input_0.pb');
}
