// bitexact::QLinearLut (the tables the QDQ rewrite makes of HardSwish, Clip, input preprocessing):
// every byte value through every table entry, per-tensor and per-channel tables, lengths that
// leave partial vector steps, on every ISA and thread count against a plain lookup.
import { describe, it, expect } from 'vitest';
import { buildModel, rng, randomInts, tensorValue } from './helpers/onnx_builder.js';
import { expectSameEverywhere } from './helpers/run_all.js';

type ByteType = 'uint8' | 'int8';

function lutModel(xType: ByteType, yType: ByteType, table: number[], channels: number, shape: number[]) {
  return buildModel({
    inputs: [{ name: 'x', dtype: xType, shape }],
    outputs: [{ name: 'y', dtype: yType }],
    initializers: {},
    nodes: [{
      op: 'QLinearLut', domain: 'bitexact', inputs: ['x'], outputs: ['y'],
      attrs: { table: tensorValue(yType, channels > 1 ? [channels, 256] : [256], table), axis: 1 },
    }],
  });
}

/** Every byte value (in a shuffled order, so each vector step mixes table rows) then random ones. */
function inputBytes(random: () => number, count: number): number[] {
  const all = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 255; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  const out: number[] = [];
  while (out.length < count) out.push(...all);
  return out.slice(0, count);
}

const asType = (t: ByteType, bytes: number[]) => (t === 'int8' ? Int8Array.from(bytes.map((b) => (b << 24) >> 24)) : Uint8Array.from(bytes));

describe('QLinearLut', () => {
  const cases: { xType: ByteType; yType: ByteType; channels: number; shape: number[] }[] = [
    { xType: 'uint8', yType: 'uint8', channels: 1, shape: [1, 4, 257] },    // 1028 elements: 32 vector steps and a tail of 4
    { xType: 'int8', yType: 'int8', channels: 1, shape: [2, 3, 11, 13] },   // 858: a tail of 26
    { xType: 'uint8', yType: 'int8', channels: 5, shape: [2, 5, 7, 7] },    // per-channel runs of 49
    { xType: 'int8', yType: 'uint8', channels: 3, shape: [1, 3, 40, 33] },  // per-channel runs of 1320
    { xType: 'uint8', yType: 'uint8', channels: 1, shape: [1, 1, 31] },     // shorter than one vector step
  ];
  for (const [index, c] of cases.entries()) {
    it(`${c.xType} -> ${c.yType}, ${c.channels} table(s), shape [${c.shape.join(',')}]`, async () => {
      const random = rng(500 + index);
      const [lo, hi] = c.yType === 'int8' ? [-128, 127] : [0, 255];
      const table = randomInts(random, 256 * c.channels, lo, hi);
      const count = c.shape.reduce((a, b) => a * b, 1);
      const bytes = inputBytes(random, count);
      const x = asType(c.xType, bytes);
      const result = await expectSameEverywhere(lutModel(c.xType, c.yType, table, c.channels, c.shape), {
        x: { dtype: c.xType, shape: c.shape, data: x },
      }, 'QLinearLut');
      const inner = c.shape.slice(2).reduce((a, b) => a * b, 1);
      const y = result.outputs.y.data;
      for (let i = 0; i < count; i++) {
        const channel = c.channels > 1 ? Math.floor(i / inner) % c.channels : 0;
        const entry = c.xType === 'int8' ? (bytes[i] ^ 0x80) : bytes[i];  // int8 -128 is entry 0
        if (Number(y[i]) !== table[channel * 256 + entry]) expect.fail(`element ${i}: ${y[i]} != table[${channel}][${entry}]`);
      }
    });
  }
});
