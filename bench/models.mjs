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

/**
 * One QLinearConv layer, NCHW: uint8 activations, per-channel int8 weights (zero point 0, the
 * form onnxruntime's int8 kernels take), int32 bias, uint8 output. Scales keep most outputs
 * inside the uint8 range for random inputs.
 */
export function qlinearConvModel({ n, c, h, w, m, group = 1, k, stride = 1, pad = 0 }, seed = 1) {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const cg = c / group;
  const weights = Int8Array.from({ length: m * cg * k * k }, () => (next() >> 1) - 64);
  const depth = cg * k * k;
  const bytes = writeOnnxModel({
    inputs: [{ name: 'x', dtype: 'uint8', shape: [n, c, h, w] }],
    outputs: [{ name: 'y', dtype: 'uint8' }],
    initializers: {
      xs: rawTensor('float32', [], [0.02]),
      xz: rawTensor('uint8', [], [128]),
      w: rawTensor('int8', [m, cg, k, k], weights),
      ws: rawTensor('float32', [m], Array.from({ length: m }, (_, i) => 0.01 + (i % 7) * 0.001)),
      wz: rawTensor('int8', [m], new Array(m).fill(0)),
      // Random sums grow like sqrt(depth): this scale maps a few standard deviations onto the range.
      ys: rawTensor('float32', [], [(0.02 * 0.013 * 74 * 37 * Math.sqrt(depth)) / 50]),
      yz: rawTensor('uint8', [], [128]),
      b: rawTensor('int32', [m], Array.from({ length: m }, () => next() * 4 - 512)),
    },
    nodes: [{
      op: 'QLinearConv', name: 'conv', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], outputs: ['y'],
      attrs: { group, kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] },
    }],
  });
  const x = Uint8Array.from({ length: n * c * h * w }, () => next());
  return { bytes, x, shape: [n, c, h, w], macs: n * m * depth * Math.floor((h + 2 * pad - k) / stride + 1) * Math.floor((w + 2 * pad - k) / stride + 1) };
}

/** Layers of the real models (../shared/models), as single-layer QLinearConv and GEMM shapes. */
export const modelLayers = [
  { name: 'MobileNetV2 first conv 3x3/2, 3->32 @224', c: 3, h: 224, w: 224, m: 32, k: 3, stride: 2, pad: 1 },
  { name: 'MobileNetV2 depthwise 3x3, 32 @112', c: 32, h: 112, w: 112, m: 32, group: 32, k: 3, pad: 1 },
  { name: 'MobileNetV2 pointwise 16->96 @112', c: 16, h: 112, w: 112, m: 96, k: 1 },
  { name: 'MobileNetV2 depthwise 3x3/2, 96 @112', c: 96, h: 112, w: 112, m: 96, group: 96, k: 3, stride: 2, pad: 1 },
  { name: 'MobileNetV2 pointwise 144->24 @56', c: 144, h: 56, w: 56, m: 24, k: 1 },
  { name: 'MobileNetV2 depthwise 3x3, 384 @14', c: 384, h: 14, w: 14, m: 384, group: 384, k: 3, pad: 1 },
  { name: 'MobileNetV2 pointwise 64->384 @14', c: 64, h: 14, w: 14, m: 384, k: 1 },
  { name: 'MobileNetV2 depthwise 3x3, 960 @7', c: 960, h: 7, w: 7, m: 960, group: 960, k: 3, pad: 1 },
  { name: 'MobileNetV2 pointwise 320->1280 @7', c: 320, h: 7, w: 7, m: 1280, k: 1 },
  { name: 'ResNet-8 conv 3x3, 16->16 @32', c: 16, h: 32, w: 32, m: 16, k: 3, pad: 1 },
  { name: 'ResNet-8 conv 3x3, 64->64 @8', c: 64, h: 8, w: 8, m: 64, k: 3, pad: 1 },
  { name: 'DS-CNN depthwise 3x3, 64 @25x5', c: 64, h: 25, w: 5, m: 64, group: 64, k: 3, pad: 1 },
];

/** Pointwise layers and classifiers of the real models as GEMMs: [M pixels, K] x [K, N channels]. */
export const modelGemms = [
  { name: 'MobileNetV2 pointwise 16->96 @112', m: 12544, k: 16, n: 96 },
  { name: 'MobileNetV2 pointwise 144->24 @56', m: 3136, k: 144, n: 24 },
  { name: 'MobileNetV2 pointwise 64->384 @14', m: 196, k: 64, n: 384 },
  { name: 'MobileNetV2 pointwise 320->1280 @7', m: 49, k: 320, n: 1280 },
  { name: 'MobileNetV2 classifier 1280->1000', m: 1, k: 1280, n: 1000 },
  { name: 'DS-CNN pointwise 64->64 @25x5', m: 125, k: 64, n: 64 },
];
