// Tensor files for the CLI and API: .json ({dtype, shape, data} or a nested array), .npy, and
// ONNX TensorProto .pb (parsed natively, like the model).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { BitexactError } from '../errors.js';
import { addon } from '../native.js';
import { isDType, normalizeTensor, viewBytes, type DType, type Tensor } from '../tensor.js';

/** Reads a tensor file. `dtypeHint` types a bare nested JSON array (default float32). */
export async function readTensorFile(path: string, dtypeHint?: DType): Promise<Tensor & { name?: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read tensor file ${path}: ${(err as Error).message}`);
  }
  return parseTensorBytes(bytes, extname(path).toLowerCase(), path, dtypeHint);
}

export function parseTensorBytes(bytes: Buffer, extension: string, label: string, dtypeHint?: DType): Tensor & { name?: string } {
  switch (extension) {
    case '.json':
      return parseJsonTensor(bytes.toString('utf8'), label, dtypeHint);
    case '.npy':
      return parseNpy(bytes, label);
    case '.pb': {
      let t;
      try {
        t = addon().parseTensorProto(bytes);
      } catch (err) {
        throw new BitexactError('ERR_BITEXACT_INPUT', `${label}: ${(err as Error).message}`);
      }
      if (!isDType(t.dtype)) throw new BitexactError('ERR_BITEXACT_INPUT', `${label}: unsupported dtype ${t.dtype}`);
      return { name: t.name || undefined, dtype: t.dtype, shape: t.shape, data: viewBytes(t.dtype, t.data) };
    }
    default:
      throw new BitexactError('ERR_BITEXACT_INPUT', `${label}: unknown tensor file type '${extension}' (use .json, .npy or .pb)`);
  }
}

function parseJsonTensor(text: string, label: string, dtypeHint?: DType): Tensor {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `${label}: not valid JSON (${(err as Error).message})`);
  }
  if (Array.isArray(value)) {
    const shape: number[] = [];
    let level: unknown = value;
    while (Array.isArray(level)) {
      shape.push(level.length);
      level = level[0];
    }
    const flat = (value as unknown[]).flat(Infinity) as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    if (flat.length !== count) throw new BitexactError('ERR_BITEXACT_INPUT', `${label}: nested array is ragged`);
    return normalizeTensor({ dtype: dtypeHint ?? 'float32', shape, data: flat }, label);
  }
  if (typeof value === 'object' && value !== null && 'data' in value) {
    const v = value as { dtype?: unknown; shape?: unknown; data?: unknown };
    const data = Array.isArray(v.data) ? (v.data as unknown[]).flat(Infinity) : v.data;
    const shape = v.shape ?? (Array.isArray(data) ? [data.length] : undefined);
    return normalizeTensor({ dtype: v.dtype ?? dtypeHint ?? 'float32', shape, data } as never, label);
  }
  throw new BitexactError('ERR_BITEXACT_INPUT', `${label}: expected {"dtype","shape","data"} or a nested array`);
}

const NPY_DTYPES: Record<string, DType> = {
  '<f4': 'float32',
  '|u1': 'uint8',
  '<u1': 'uint8',
  '|i1': 'int8',
  '<i1': 'int8',
  '<u2': 'uint16',
  '<i2': 'int16',
  '<i4': 'int32',
  '<i8': 'int64',
  '|b1': 'bool',
};

function parseNpy(bytes: Buffer, label: string): Tensor {
  const bad = (why: string) => new BitexactError('ERR_BITEXACT_INPUT', `${label}: ${why}`);
  if (bytes.length < 10 || bytes.readUInt8(0) !== 0x93 || bytes.toString('latin1', 1, 6) !== 'NUMPY') throw bad('not a .npy file');
  const major = bytes.readUInt8(6);
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLength > bytes.length) throw bad('truncated .npy header');
  const header = bytes.toString('latin1', headerStart, headerStart + headerLength);
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad('malformed .npy header');
  const dtype = NPY_DTYPES[descr];
  if (!dtype) throw bad(`unsupported .npy dtype '${descr}' (little-endian float32 or integer types only)`);
  if (fortran === 'True') throw bad('Fortran-ordered .npy arrays are not supported; save with C order');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const dataStart = headerStart + headerLength;
  const data = viewBytes(dtype, new Uint8Array(bytes.buffer, bytes.byteOffset + dataStart, bytes.length - dataStart));
  return normalizeTensor({ dtype, shape, data }, label);
}
