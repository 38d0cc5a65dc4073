// Synthetic ONNX models for benchmarks, written with the package's ONNX writer.
import { rawTensor, writeOnnxModel } from '../dist/onnx/writer.js';

/** MatMulInteger Y[M,N] (int32) = A[M,K] (uint8 input) x B[K,N] (int8 constant). */
export function matMulIntegerModel(m, k, n, seed = 1) {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const b = Int8Array.from({ length: k * n }, () => next() - 128);
  const a = Uint8Array.from({ length: m * k }, () => next());
  const bytes = writeOnnxModel({
    inputs: [{ name: 'A', dtype: 'uint8', shape: [m, k] }],
    outputs: [{ name: 'Y', dtype: 'int32', shape: [m, n] }],
    initializers: { B: rawTensor('int8', [k, n], b) },
    nodes: [{ op: 'MatMulInteger', name: 'gemm', inputs: ['A', 'B'], outputs: ['Y'] }],
  });
  return { bytes, a };
}
