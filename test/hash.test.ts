// Native keccak256 and the canonical tensor encoding, cross-checked against ethers.
import { describe, it, expect } from 'vitest';
import { keccak256 as ethersKeccak, concat, toUtf8Bytes } from 'ethers';
import { hashNamedTensors, hashTensor, keccak256 } from '../src/index.js';
import { rng } from './helpers/onnx_builder.js';

function canonicalBytes(dtypeCode: number, shape: number[], data: Uint8Array): Uint8Array {
  const header = Buffer.alloc(2 + 8 * shape.length);
  header[0] = dtypeCode;
  header[1] = shape.length;
  shape.forEach((d, i) => header.writeBigUInt64LE(BigInt(d), 2 + 8 * i));
  return concat([header, data]) as unknown as Uint8Array;
}

describe('keccak256', () => {
  it('matches ethers on every length around the 136-byte rate and on random data', () => {
    const random = rng(7);
    for (let n = 0; n <= 300; n++) {
      const data = Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
      expect(keccak256(data)).toBe(ethersKeccak(data));
    }
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 2654435761) >>> 24);
    expect(keccak256(big)).toBe(ethersKeccak(big));
  });

  it('known vectors', () => {
    expect(keccak256(new Uint8Array())).toBe('0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
    expect(keccak256(toUtf8Bytes('abc'))).toBe('0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45');
  });
});

describe('canonical tensor hash', () => {
  it('is keccak256(dtype | rank | u64 dims | LE data)', () => {
    const data = Int8Array.from([1, -2, 3, -4, 5, -6]);
    const expected = ethersKeccak(canonicalBytes(3, [2, 3], new Uint8Array(data.buffer)));
    expect(hashTensor({ dtype: 'int8', shape: [2, 3], data })).toBe(expected);
  });

  it('distinguishes shape and dtype for the same bytes', () => {
    const bytes = Uint8Array.from([1, 2, 3, 4]);
    const a = hashTensor({ dtype: 'uint8', shape: [4], data: bytes });
    const b = hashTensor({ dtype: 'uint8', shape: [2, 2], data: bytes });
    const c = hashTensor({ dtype: 'int8', shape: [4], data: Int8Array.from(bytes) });
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('float32 and scalar tensors', () => {
    const f = Float32Array.from([1.5, -0, Number.MIN_VALUE]);
    expect(hashTensor({ dtype: 'float32', shape: [3], data: f })).toBe(ethersKeccak(canonicalBytes(1, [3], new Uint8Array(f.buffer))));
    expect(hashTensor({ dtype: 'int32', shape: [], data: Int32Array.from([7]) })).toBe(
      ethersKeccak(canonicalBytes(6, [], new Uint8Array(Int32Array.from([7]).buffer))),
    );
  });

  it('named sets hash the name-sorted (u32 length, name, hash) sequence', () => {
    const x = { dtype: 'uint8' as const, shape: [1], data: Uint8Array.from([9]) };
    const y = { dtype: 'uint8' as const, shape: [1], data: Uint8Array.from([8]) };
    const entry = (name: string, h: string) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(Buffer.byteLength(name));
      return concat([len, toUtf8Bytes(name), h]);
    };
    const expected = ethersKeccak(concat([entry('a', hashTensor(x)), entry('b', hashTensor(y))]));
    expect(hashNamedTensors({ b: y, a: x })).toBe(expected);
    expect(hashNamedTensors({ a: x, b: y })).toBe(expected);
  });

  it('documented test vectors (docs/determinism.md) stay pinned', () => {
    // These values are in the docs; other implementations check themselves against them.
    expect(hashTensor({ dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 2, 3]) })).toBe(
      '0xd58dea8685b4d59a6ce3478c7002a4f7d5ae6dcd105c18277162dbef6f2d554f',
    );
    expect(hashTensor({ dtype: 'float32', shape: [2], data: Float32Array.from([1, -2.5]) })).toBe(
      '0xa3d49010edfa8f15feffdebfaa6dcd9dd34510e3f9e74d89047c1168dbce3393',
    );
    expect(hashTensor({ dtype: 'int8', shape: [], data: Int8Array.from([-1]) })).toBe(
      '0x41a7aadecf016c6f0bf51114d08cf98373327e604eafc548aa89e218444c7fe9',
    );
    expect(hashNamedTensors({ logits: { dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 2, 3]) } })).toBe(
      '0xe899307f6639d3e1a94b62d17492b05c05a62761269092331fc6395590ff7055',
    );
  });
});
