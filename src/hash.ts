// Canonical hashing (docs/determinism.md): keccak256 computed in native code.
import { addon } from './native.js';
import { normalizeTensor, type TensorInput } from './tensor.js';
import { expected, fromNative } from './errors.js';

/** keccak256 of raw bytes, 0x-prefixed lowercase hex. */
export function keccak256(data: Uint8Array): string {
  if (!(data instanceof Uint8Array)) throw expected('a Uint8Array', 'data', data);
  return addon().keccak256(data);
}

/** The canonical hash of one tensor: dtype, rank, dims and little-endian data. */
export function hashTensor(tensor: TensorInput): string {
  const t = normalizeTensor(tensor, 'tensor');
  try {
    return addon().hashTensor({ dtype: t.dtype, shape: [...t.shape], data: t.data });
  } catch (err) {
    throw fromNative(err);
  }
}

/** The hash of a set of named tensors: keccak256 over the name-sorted (name, tensor hash) pairs. */
export function hashNamedTensors(tensors: Record<string, TensorInput>): string {
  const entries = Object.entries(tensors).map(([name, t]) => ({ name, hash: hashTensor(t) }));
  return addon().hashNamed(entries);
}

/** modelHash: keccak256 of the model file's bytes, computable without bitexact. */
export function hashModelBytes(bytes: Uint8Array): string {
  return keccak256(bytes);
}
