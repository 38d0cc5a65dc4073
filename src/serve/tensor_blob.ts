// A compact, self-describing encoding of named tensors for the job journal:
//   uint32 LE header length | header JSON [{name, dtype, shape}] | each tensor's raw LE bytes in order.
import { BitexactError } from '../errors.js';
import { bytesPerElement, elementCount, viewBytes, type Tensor } from '../tensor.js';

export function encodeTensors(tensors: Record<string, Tensor>): Buffer {
  const entries = Object.entries(tensors);
  const header = Buffer.from(JSON.stringify(entries.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }))));
  const parts: Buffer[] = [Buffer.alloc(4), header];
  parts[0].writeUInt32LE(header.length, 0);
  for (const [, t] of entries) parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return Buffer.concat(parts);
}

export function decodeTensors(blob: Uint8Array): Record<string, Tensor> {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const fail = (why: string) => new BitexactError('ERR_BITEXACT_INTERNAL', `a journalled job's inputs are corrupt: ${why}`);
  if (buf.length < 4) throw fail('too short');
  const headerLength = buf.readUInt32LE(0);
  if (4 + headerLength > buf.length) throw fail('header past the end');
  const header = JSON.parse(buf.subarray(4, 4 + headerLength).toString('utf8')) as { name: string; dtype: Tensor['dtype']; shape: number[] }[];
  let offset = 4 + headerLength;
  const out: Record<string, Tensor> = {};
  for (const h of header) {
    const length = elementCount(h.shape) * bytesPerElement(h.dtype);
    if (offset + length > buf.length) throw fail(`tensor '${h.name}' past the end`);
    out[h.name] = { dtype: h.dtype, shape: h.shape, data: viewBytes(h.dtype, Uint8Array.from(buf.subarray(offset, offset + length))) };
    offset += length;
  }
  if (offset !== buf.length) throw fail('trailing bytes');
  return out;
}
