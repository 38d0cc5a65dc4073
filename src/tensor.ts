import { BitexactError, expected } from './errors.js';

export type DType = 'float32' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'int64' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'bool'];

export type TypedArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'uint8' | 'bool'
    ? Uint8Array
    : D extends 'int8'
      ? Int8Array
      : D extends 'uint16'
        ? Uint16Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int32'
            ? Int32Array
            : BigInt64Array;

export type TensorData = Float32Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | BigInt64Array;

/** A tensor as the API takes and returns it: row-major data in a typed array of its dtype. */
export interface Tensor {
  dtype: DType;
  shape: readonly number[];
  data: TensorData;
}

/** What callers may pass: data may also be a plain number array (converted, range-checked). */
export interface TensorInput {
  dtype: DType;
  shape: readonly number[];
  data: TensorData | ArrayLike<number> | ArrayLike<bigint>;
}

const CONSTRUCTORS = {
  float32: Float32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
} as const;

const RANGES: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255],
  bool: [0, 1],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
};

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function bytesPerElement(dtype: DType): number {
  return CONSTRUCTORS[dtype].BYTES_PER_ELEMENT;
}

/** Views raw little-endian bytes as the typed array of a dtype (copying when misaligned). */
export function viewBytes(dtype: DType, bytes: Uint8Array): TensorData {
  const Ctor = CONSTRUCTORS[dtype];
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT !== 0) bytes = bytes.slice();
  return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
}

/**
 * Checks a tensor handed in by a caller and returns it with data in the typed array of its dtype.
 * `label` names it in messages ("input 'x'").
 */
export function normalizeTensor(t: unknown, label: string): Tensor {
  if (typeof t !== 'object' || t === null) throw expected('an object {dtype, shape, data}', label, t);
  const { dtype, shape, data } = t as Partial<TensorInput>;
  if (!isDType(dtype)) throw expected(`one of ${DTYPES.join(', ')}`, `${label} dtype`, dtype);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw expected('an array of non-negative integers', `${label} shape`, shape);
  }
  const count = elementCount(shape);
  const Ctor = CONSTRUCTORS[dtype];
  let typed: TensorData;
  if (data instanceof Ctor) {
    typed = data;
  } else if (ArrayBuffer.isView(data)) {
    throw expected(`a ${Ctor.name} (dtype ${dtype})`, `${label} data`, data);
  } else if (data !== null && typeof data === 'object' && typeof (data as ArrayLike<unknown>).length === 'number') {
    typed = fromNumbers(dtype, data as ArrayLike<number | bigint>, label);
  } else {
    throw expected(`a ${Ctor.name} or an array of numbers`, `${label} data`, data);
  }
  if (typed.length !== count) {
    throw new BitexactError(
      'ERR_BITEXACT_INPUT',
      `${label} has ${typed.length} elements but shape [${shape.join(',')}] needs ${count}`,
    );
  }
  return { dtype, shape: [...shape], data: typed };
}

function fromNumbers(dtype: DType, values: ArrayLike<number | bigint>, label: string): TensorData {
  const n = values.length;
  if (dtype === 'int64') {
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'bigint') out[i] = v;
      else if (Number.isSafeInteger(v)) out[i] = BigInt(v);
      else throw expected('integers', `${label} element ${i}`, v);
    }
    return out;
  }
  const out = new CONSTRUCTORS[dtype](n);
  const range = RANGES[dtype];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw expected('a number', `${label} element ${i}`, v);
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) {
      throw expected(`an integer in [${range[0]}, ${range[1]}]`, `${label} element ${i}`, v);
    }
    (out as Float32Array)[i] = v;
  }
  return out;
}

/** Index of the largest element (first on ties); -1 for an empty tensor. */
export function argmax(data: TensorData): number {
  let best = -1;
  for (let i = 0; i < data.length; i++) if (best < 0 || data[i] > data[best]) best = i;
  return best;
}
