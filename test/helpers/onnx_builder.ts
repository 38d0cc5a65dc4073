// In-memory ONNX models for tests, on top of the package's writer (src/onnx/writer.ts).
import { writeOnnxModel, rawTensor, ELEMENT_TYPE, type ElementName, type RawTensor, type AttrValue, type NodeSpec, type IoSpec, type ModelSpec } from '../../src/onnx/writer.js';

export const ELEM = ELEMENT_TYPE;
export type ElemName = ElementName;
export type TensorValue = RawTensor;
export type { AttrValue, NodeSpec, IoSpec, ModelSpec };

export const tensorValue = rawTensor;

export function buildModel(spec: ModelSpec): Uint8Array {
  return writeOnnxModel(spec);
}

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInts(random: () => number, n: number, lo: number, hi: number, extremeShare = 0.1): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < extremeShare / 2) out[i] = lo;
    else if (r < extremeShare) out[i] = hi;
    else out[i] = lo + Math.floor(random() * (hi - lo + 1));
  }
  return out;
}
