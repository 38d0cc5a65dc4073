#!/usr/bin/env node
// Writes the single-op models that test/native/cuda_ops.cpp runs on the GPU against the CPU
// scalar reference (test/native/cuda_cases/*.onnx, committed: the GPU machine has no Node).
// Shapes are odd on purpose; weights and parameters are seeded random; the C++ test draws the
// input values (random and extreme). Run: npm run build:ts && node scripts/make-cuda-cases.mjs
import fs from 'node:fs';
import path from 'node:path';
import { rawTensor, writeOnnxModel } from '../dist/onnx/writer.js';

const outDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../test/native/cuda_cases');
let state = 12345;
const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
const ints = (n, lo, hi) => Array.from({ length: n }, () => lo + Math.floor(random() * (hi - lo + 1)));
const range = (t) => (t === 'int8' ? [-128, 127] : t === 'uint8' ? [0, 255] : t === 'int16' ? [-32768, 32767] : [0, 65535]);
const prod = (s) => s.reduce((a, b) => a * b, 1);
const scalar = (t, v) => rawTensor(t, [], [v]);
const cases = {};

function conv(name, c) {
  const cg = c.c / c.group;
  const oneD = c.oneD === true;
  const wDims = oneD ? [c.m, cg, c.kw] : [c.m, cg, c.kh, c.kw];
  const [wlo, whi] = range(c.wType);
  const spatial = oneD ? 1 : 2;
  const xShape = oneD ? [c.n, c.c, c.w] : [c.n, c.c, c.h, c.w];
  const attrs = {
    group: c.group,
    kernel_shape: oneD ? [c.kw] : [c.kh, c.kw],
    strides: Array(spatial).fill(c.stride),
    dilations: Array(spatial).fill(c.dilation),
    pads: Array(2 * spatial).fill(c.pad),
  };
  const wz = Array.from({ length: c.m }, () => (c.weightZeroPoint ? ints(1, wlo + 40, whi - 40)[0] : c.wType === 'uint8' ? 128 : 0));
  if (c.integer) {
    cases[name] = {
      inputs: [{ name: 'x', dtype: c.xType, shape: xShape }],
      outputs: [{ name: 'y', dtype: 'int32' }],
      initializers: { w: rawTensor(c.wType, wDims, ints(prod(wDims), wlo, whi)), xz: scalar(c.xType, ints(1, ...range(c.xType))[0]), wz: rawTensor(c.wType, [c.m], wz) },
      nodes: [{ op: 'ConvInteger', inputs: ['x', 'w', 'xz', 'wz'], outputs: ['y'], attrs }],
    };
    return;
  }
  cases[name] = {
    inputs: [{ name: 'x', dtype: c.xType, shape: xShape }],
    outputs: [{ name: 'y', dtype: c.yType }],
    initializers: {
      xs: scalar('float32', 0.02 + random() * 0.05),
      xz: scalar(c.xType, ints(1, ...range(c.xType))[0]),
      w: rawTensor(c.wType, wDims, ints(prod(wDims), wlo, whi)),
      ws: rawTensor('float32', [c.m], Array.from({ length: c.m }, () => (0.001 + random() * 0.02) / Math.sqrt(cg * c.kh * c.kw / 9))),
      wz: rawTensor(c.wType, [c.m], wz),
      ys: scalar('float32', 0.05 + random() * 0.3),
      yz: scalar(c.yType, ints(1, ...range(c.yType))[0]),
      b: rawTensor('int32', [c.m], ints(c.m, -5000, 5000)),
    },
    nodes: [{ op: 'QLinearConv', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', ...(c.bias ? ['b'] : [])], outputs: ['y'], attrs }],
  };
}

const base = { n: 2, c: 13, h: 17, w: 19, m: 37, group: 1, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, xType: 'uint8', wType: 'int8', yType: 'uint8', weightZeroPoint: false, bias: true };
conv('conv_u8_3x3', base);
conv('conv_s8_stride2_dilation2', { ...base, n: 3, stride: 2, pad: 0, dilation: 2, xType: 'int8', yType: 'int8', wType: 'uint8', weightZeroPoint: true });
conv('conv_grouped', { ...base, c: 16, m: 8, group: 4, h: 11, w: 6, weightZeroPoint: true, bias: false });
conv('conv_depthwise_u8', { ...base, c: 24, m: 24, group: 24, stride: 2, h: 15, w: 15 });
conv('conv_depthwise_s8_k5', { ...base, c: 10, m: 10, group: 10, kh: 5, kw: 5, pad: 4, dilation: 2, xType: 'int8', yType: 'int8', weightZeroPoint: true });
conv('conv_1d', { ...base, oneD: true, c: 7, h: 1, w: 33, kh: 1, kw: 5, pad: 2, m: 20 });
conv('conv_pointwise', { ...base, n: 3, c: 64, m: 96, h: 7, w: 9, kh: 1, kw: 1, pad: 0 });
conv('conv_large_k', { ...base, n: 1, c: 256, m: 70, h: 9, w: 9, weightZeroPoint: true });
conv('convinteger', { ...base, integer: true, weightZeroPoint: true, wType: 'uint8' });
conv('convinteger_depthwise', { ...base, integer: true, c: 9, m: 9, group: 9, xType: 'int8', wType: 'int8' });

function matmul(name, { a, k, n, batchB = 0, aType = 'uint8', bType = 'int8', yType = 'uint8', zp = false, integer = false }) {
  const [blo, bhi] = range(bType);
  const bDims = batchB ? [batchB, k, n] : [k, n];
  const b = rawTensor(bType, bDims, ints(prod(bDims), blo, bhi));
  const bz = rawTensor(bType, [n], Array.from({ length: n }, () => (zp ? ints(1, blo + 40, bhi - 40)[0] : bType === 'uint8' ? 128 : 0)));
  if (integer) {
    cases[name] = {
      inputs: [{ name: 'a', dtype: aType, shape: a }],
      outputs: [{ name: 'y', dtype: 'int32' }],
      initializers: { b, az: scalar(aType, ints(1, ...range(aType))[0]), bz },
      nodes: [{ op: 'MatMulInteger', inputs: ['a', 'b', 'az', 'bz'], outputs: ['y'] }],
    };
    return;
  }
  cases[name] = {
    inputs: [{ name: 'a', dtype: aType, shape: a }],
    outputs: [{ name: 'y', dtype: yType }],
    initializers: {
      as: scalar('float32', 0.03), az: scalar(aType, ints(1, ...range(aType))[0]), b,
      bs: rawTensor('float32', [n], Array.from({ length: n }, () => (0.002 + random() * 0.01) / Math.sqrt(k / 64))), bz,
      ys: scalar('float32', 0.2 + random()), yz: scalar(yType, ints(1, ...range(yType))[0]),
    },
    nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
  };
}
matmul('matmul_u8', { a: [3, 37, 300], k: 300, n: 77, zp: true });
matmul('matmul_s8_large_k', { a: [5, 4100], k: 4100, n: 129, aType: 'int8', yType: 'int8' });
matmul('matmul_batched_b', { a: [3, 2, 11, 40], k: 40, n: 21, batchB: 2, bType: 'uint8', zp: true });
matmul('matmulinteger', { a: [130, 67], k: 67, n: 260, zp: true, integer: true });
matmul('matmul_big', { a: [300, 1000], k: 1000, n: 520 });

cases.qgemm_trans = {
  inputs: [{ name: 'a', dtype: 'uint8', shape: [45, 33] }],
  outputs: [{ name: 'y', dtype: 'int8' }],
  initializers: {
    as: scalar('float32', 0.05), az: scalar('uint8', 121), b: rawTensor('int8', [50, 45], ints(50 * 45, -128, 127)),
    bs: scalar('float32', 0.004), bz: scalar('int8', 0), c: rawTensor('int32', [50], ints(50, -9000, 9000)),
    ys: scalar('float32', 0.3), yz: scalar('int8', -3),
  },
  nodes: [{ op: 'QGemm', domain: 'com.microsoft', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'c', 'ys', 'yz'], outputs: ['y'], attrs: { transA: 1, transB: 1, alpha: { float: 0.5 } } }],
};

function binary(name, op, aShape, bShape, aType, bType, yType) {
  cases[name] = {
    inputs: [{ name: 'a', dtype: aType, shape: aShape }, { name: 'b', dtype: bType, shape: bShape }],
    outputs: [{ name: 'y', dtype: yType }],
    initializers: {
      as: scalar('float32', 0.04), az: scalar(aType, ints(1, ...range(aType))[0]), bs: scalar('float32', 0.07), bz: scalar(bType, ints(1, ...range(bType))[0]),
      ys: scalar('float32', op === 'QLinearMul' ? 0.9 : 0.08), yz: scalar(yType, ints(1, ...range(yType))[0]),
    },
    nodes: [{ op, domain: 'com.microsoft', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
  };
}
binary('add_same_shape', 'QLinearAdd', [2, 8, 9, 11], [2, 8, 9, 11], 'uint8', 'uint8', 'uint8');
binary('add_broadcast', 'QLinearAdd', [2, 3, 5, 7], [3, 1, 7], 'int8', 'uint8', 'int8');
binary('mul_broadcast', 'QLinearMul', [4, 1, 6], [3, 1], 'uint8', 'int8', 'uint8');

function lut(name, op, type, attrs = {}) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: type, shape: [3, 5, 7, 11] }],
    outputs: [{ name: 'y', dtype: type }],
    initializers: { xs: scalar('float32', 0.05), xz: scalar(type, ints(1, ...range(type))[0]), ys: scalar('float32', 0.004), yz: scalar(type, type === 'int8' ? -128 : 0) },
    nodes: [{ op, domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'], attrs }],
  };
}
lut('sigmoid_u8', 'QLinearSigmoid', 'uint8');
lut('leakyrelu_s8', 'QLinearLeakyRelu', 'int8', { alpha: { float: 0.1 } });

function quantize(name, type, perChannel) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 5, 9, 13] }],
    outputs: [{ name: 'y', dtype: type }],
    initializers: perChannel
      ? { s: rawTensor('float32', [5], [0.5, 0.02, 1, 0.25, 3.3]), z: rawTensor(type, [5], ints(5, range(type)[0] / 2, range(type)[1] / 2)) }
      : { s: scalar('float32', 0.125), z: scalar(type, Math.round((range(type)[0] + range(type)[1]) / 2) + 3) },
    nodes: [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'], attrs: { axis: 1 } }],
  };
}
quantize('quantize_u8', 'uint8', false);
quantize('quantize_s8_per_channel', 'int8', true);
quantize('quantize_u16', 'uint16', false);
quantize('quantize_s16_per_channel', 'int16', true);

function dequantize(name, type, perChannel) {
  const [lo, hi] = type === 'int32' ? [-100000, 100000] : range(type);
  cases[name] = {
    inputs: [{ name: 'x', dtype: type, shape: [3, 4, 17] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: perChannel
      ? { s: rawTensor('float32', [4], [0.013, 0.5, 0.0007, 7.1]), z: rawTensor(type, [4], ints(4, Math.ceil(lo / 2), Math.floor(hi / 2))) }
      : { s: scalar('float32', 0.0371), z: scalar(type, type === 'int32' ? 0 : ints(1, lo, hi)[0]) },
    nodes: [{ op: 'DequantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'], attrs: { axis: 1 } }],
  };
}
dequantize('dequantize_u8', 'uint8', false);
dequantize('dequantize_s8_per_channel', 'int8', true);
dequantize('dequantize_int32', 'int32', false);

function maxpool(name, type, attrs, shape = [2, 5, 13, 17]) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: type, shape }],
    outputs: [{ name: 'y', dtype: type }],
    nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs }],
  };
}
maxpool('maxpool_u8', 'uint8', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 });
maxpool('maxpool_s8_dilated', 'int8', { kernel_shape: [2, 3], strides: [1, 2], dilations: [2, 2] });
maxpool('maxpool_f32', 'float32', { kernel_shape: [3, 3], strides: [3, 3], pads: [1, 1, 2, 2] });

function globalAverage(name, type) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: type, shape: [3, 7, 9, 11] }],
    outputs: [{ name: 'y', dtype: type }],
    initializers: { xs: scalar('float32', 0.05), xz: scalar(type, ints(1, ...range(type))[0]), ys: scalar('float32', 0.03), yz: scalar(type, ints(1, ...range(type))[0]) },
    nodes: [{ op: 'QLinearGlobalAveragePool', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'] }],
  };
}
globalAverage('global_average_u8', 'uint8');
globalAverage('global_average_s8', 'int8');

function reduceMean(name, axes) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: 'uint8', shape: [4, 6, 5, 7] }],
    outputs: [{ name: 'y', dtype: 'uint8' }],
    initializers: { s: scalar('float32', 0.05), z: scalar('uint8', 100), axes: rawTensor('int64', [axes.length], axes.map(BigInt)), s2: scalar('float32', 0.04), z2: scalar('uint8', 90) },
    nodes: [
      { op: 'DequantizeLinear', inputs: ['x', 's', 'z'], outputs: ['f'] },
      { op: 'ReduceMean', inputs: ['f', 'axes'], outputs: ['m'], attrs: { keepdims: 1 } },
      { op: 'QuantizeLinear', inputs: ['m', 's2', 'z2'], outputs: ['y'] },
    ],
    opset: 18,
  };
}
reduceMean('reducemean_spatial', [2, 3]);
reduceMean('reducemean_channels', [1]);
reduceMean('reducemean_split_axes', [1, 3]);  // not one contiguous block: the host path

cases.softmax_u8 = {
  inputs: [{ name: 'x', dtype: 'uint8', shape: [6, 33] }],
  outputs: [{ name: 'y', dtype: 'uint8' }],
  initializers: { xs: scalar('float32', 0.1), xz: scalar('uint8', 128), ys: scalar('float32', 1 / 256), yz: scalar('uint8', 0) },
  nodes: [{ op: 'QLinearSoftmax', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'], attrs: { axis: -1, opset: 13 } }],
};
cases.chain_view_and_host = {
  inputs: [{ name: 'x', dtype: 'uint8', shape: [2, 3, 4, 5] }],
  outputs: [{ name: 'y', dtype: 'uint8' }],
  initializers: { shape: rawTensor('int64', [3], [2n, 3n, 20n]) },
  nodes: [
    { op: 'MaxPool', inputs: ['x'], outputs: ['p'], attrs: { kernel_shape: [1, 1] } },
    { op: 'Reshape', inputs: ['p', 'shape'], outputs: ['r'] },
    { op: 'Transpose', inputs: ['r'], outputs: ['t'], attrs: { perm: [0, 2, 1] } },
    { op: 'MaxPool', inputs: ['t'], outputs: ['y'], attrs: { kernel_shape: [1] } },
  ],
};

cases.softmax_s8_opset11 = {
  inputs: [{ name: 'x', dtype: 'int8', shape: [3, 4, 17] }],
  outputs: [{ name: 'y', dtype: 'int8' }],
  initializers: { xs: scalar('float32', 0.07), xz: scalar('int8', -5), ys: scalar('float32', 1 / 256), yz: scalar('int8', -128) },
  nodes: [{ op: 'QLinearSoftmax', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'], attrs: { axis: 1, opset: 11 } }],
};

function averagePool(name, type, attrs, shape = [2, 3, 13, 11]) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: type, shape }],
    outputs: [{ name: 'y', dtype: type }],
    initializers: { xs: scalar('float32', 0.05), xz: scalar(type, ints(1, ...range(type))[0]), ys: scalar('float32', 0.04), yz: scalar(type, ints(1, ...range(type))[0]) },
    nodes: [{ op: 'QLinearAveragePool', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz', 'ys', 'yz'], outputs: ['y'], attrs }],
  };
}
averagePool('averagepool_u8', 'uint8', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 });
averagePool('averagepool_s8_include_pad', 'int8', { kernel_shape: [2, 5], strides: [1, 2], pads: [1, 2, 0, 2], count_include_pad: 1 });

cases.qlinearconcat = {
  inputs: [{ name: 'a', dtype: 'uint8', shape: [2, 3, 5] }, { name: 'b', dtype: 'uint8', shape: [2, 4, 5] }, { name: 'c', dtype: 'uint8', shape: [2, 1, 5] }],
  outputs: [{ name: 'y', dtype: 'uint8' }],
  initializers: {
    ys: scalar('float32', 0.1), yz: scalar('uint8', 120), as: scalar('float32', 0.1), az: scalar('uint8', 120),
    bs: scalar('float32', 0.037), bz: scalar('uint8', 3), cs: scalar('float32', 0.5), cz: scalar('uint8', 200),
  },
  nodes: [{ op: 'QLinearConcat', domain: 'com.microsoft', inputs: ['ys', 'yz', 'a', 'as', 'az', 'b', 'bs', 'bz', 'c', 'cs', 'cz'], outputs: ['y'], attrs: { axis: 1 } }],
};
cases.concat_s8_last_axis = {
  inputs: [{ name: 'a', dtype: 'int8', shape: [3, 2, 7] }, { name: 'b', dtype: 'int8', shape: [3, 2, 1] }],
  outputs: [{ name: 'y', dtype: 'int8' }],
  nodes: [{ op: 'Concat', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis: -1 } }],
};
cases.transpose_s8 = {
  inputs: [{ name: 'x', dtype: 'int8', shape: [2, 3, 5, 7] }],
  outputs: [{ name: 'y', dtype: 'int8' }],
  nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm: [0, 2, 3, 1] } }],
};
cases.transpose_f32_default = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [4, 3, 6] }],
  outputs: [{ name: 'y', dtype: 'float32' }],
  nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['y'] }],
};
cases.slice_steps = {
  inputs: [{ name: 'x', dtype: 'uint8', shape: [5, 9, 11] }],
  outputs: [{ name: 'y', dtype: 'uint8' }],
  initializers: {
    starts: rawTensor('int64', [3], [1n, -1n, 2n]), ends: rawTensor('int64', [3], [100n, -100n, 9n]),
    axes: rawTensor('int64', [3], [0n, 1n, 2n]), steps: rawTensor('int64', [3], [2n, -3n, 1n]),
  },
  nodes: [{ op: 'Slice', inputs: ['x', 'starts', 'ends', 'axes', 'steps'], outputs: ['y'] }],
};
cases.gather_embedding = {
  inputs: [{ name: 'ids', dtype: 'int64', shape: [2, 6] }],
  outputs: [{ name: 'y', dtype: 'int8' }],
  initializers: { table: rawTensor('int8', [300, 24], ints(300 * 24, -128, 127)) },
  // bitexact_cuda_test draws int64 inputs from [-5, 20): valid rows, negative ones included.
  nodes: [{ op: 'Gather', inputs: ['table', 'ids'], outputs: ['y'], attrs: { axis: 0 } }],
};
cases.gather_axis1 = {
  inputs: [{ name: 'x', dtype: 'uint8', shape: [4, 10, 3] }],
  outputs: [{ name: 'y', dtype: 'uint8' }],
  initializers: { idx: rawTensor('int64', [2, 3], [0n, -1n, 4n, 9n, -10n, 5n]) },
  nodes: [{ op: 'Gather', inputs: ['x', 'idx'], outputs: ['y'], attrs: { axis: 1 } }],
};
function pad(name, mode, type = 'uint8') {
  cases[name] = {
    inputs: [{ name: 'x', dtype: type, shape: [2, 3, 5, 4] }],
    outputs: [{ name: 'y', dtype: type }],
    initializers: { pads: rawTensor('int64', [8], [0n, 1n, 2n, 3n, 0n, 0n, 3n, 1n]), value: scalar(type, 77) },
    nodes: [{ op: 'Pad', inputs: ['x', 'pads', ...(mode === 'constant' ? ['value'] : [])], outputs: ['y'], attrs: { mode } }],
  };
}
pad('pad_constant', 'constant');
pad('pad_edge_s8', 'edge', 'int8');
pad('pad_reflect', 'reflect');
pad('pad_wrap', 'wrap');
function resize(name, attrs, scales) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: 'uint8', shape: [1, 2, 5, 7] }],
    outputs: [{ name: 'y', dtype: 'uint8' }],
    initializers: { scales: rawTensor('float32', [4], scales) },
    nodes: [{ op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: 'nearest', ...attrs } }],
  };
}
resize('resize_nearest_half_pixel', {}, [1, 1, 2, 1.5]);
resize('resize_nearest_asymmetric_floor', { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, [1, 1, 0.6, 2.3]);

// Transformer ops: activation x activation MatMul and integer LayerNormalization.
cases.matmul_activations_broadcast = {
  inputs: [{ name: 'a', dtype: 'int8', shape: [2, 1, 9, 40] }, { name: 'b', dtype: 'int8', shape: [3, 40, 7] }],
  outputs: [{ name: 'y', dtype: 'int8' }],
  initializers: { as: scalar('float32', 0.05), az: scalar('int8', -2), bs: scalar('float32', 0.04), bz: scalar('int8', 5), ys: scalar('float32', 0.6), yz: scalar('int8', 1) },
  nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
};
cases.matmulinteger_activations = {
  inputs: [{ name: 'a', dtype: 'uint8', shape: [4, 13, 21] }, { name: 'b', dtype: 'uint8', shape: [4, 21, 6] }],
  outputs: [{ name: 'y', dtype: 'int32' }],
  initializers: { az: scalar('uint8', 120), bz: scalar('uint8', 7) },
  nodes: [{ op: 'MatMulInteger', inputs: ['a', 'b', 'az', 'bz'], outputs: ['y'] }],
};
function layerNorm(name, type, n, eps, bias) {
  cases[name] = {
    inputs: [{ name: 'x', dtype: type, shape: [3, 5, n] }],
    outputs: [{ name: 'y', dtype: type }],
    initializers: {
      xs: scalar('float32', 0.04), xz: scalar(type, type === 'int8' ? -4 : 130), ys: scalar('float32', 0.03), yz: scalar(type, type === 'int8' ? 2 : 125),
      gamma: rawTensor('float32', [n], Array.from({ length: n }, () => 0.5 + random())), beta: rawTensor('float32', [n], Array.from({ length: n }, () => random() - 0.5)),
    },
    nodes: [
      { op: 'DequantizeLinear', inputs: ['x', 'xs', 'xz'], outputs: ['xf'] },
      { op: 'LayerNormalization', inputs: ['xf', 'gamma', ...(bias ? ['beta'] : [])], outputs: ['yf'], attrs: { axis: -1, epsilon: { float: eps } } },
      { op: 'QuantizeLinear', inputs: ['yf', 'ys', 'yz'], outputs: ['y'] },
    ],
  };
}
layerNorm('layernorm_u8', 'uint8', 37, 1e-5, true);
layerNorm('layernorm_s8_bert_width', 'int8', 768, 1e-12, true);
layerNorm('layernorm_eps0_no_bias', 'uint8', 16, 0, false);

// Attention masks (the keep mask is computed on the host, it is small; the masked softmax on the device):
// an int64 mask applied by Where(mask == 0, -inf, scores), and the additive form
// (1 - mask) * -10000, whose random mask values mostly give biases that are refused (the refusal
// must match too; the all-low pattern drops whole rows).
for (const form of ['where', 'additive']) {
  cases[`masked_softmax_${form}_i64`] = {
    inputs: [{ name: 'x', dtype: 'uint8', shape: [2, 3, 5, 7] }, { name: 'm', dtype: 'int64', shape: [2, 7] }],
    outputs: [{ name: 'y', dtype: 'uint8' }],
    initializers: {
      xs: scalar('float32', 0.07), xz: scalar('uint8', 131), ys: scalar('float32', 1 / 256), yz: scalar('uint8', 0),
      axes: rawTensor('int64', [2], [1n, 2n]), zero: scalar('int64', 0n), ninf: scalar('float32', -Infinity), one: scalar('float32', 1), big: scalar('float32', -10000),
    },
    nodes: [
      { op: 'DequantizeLinear', inputs: ['x', 'xs', 'xz'], outputs: ['xf'] },
      { op: 'Unsqueeze', inputs: ['m', 'axes'], outputs: ['m4'] },
      ...(form === 'where'
        ? [{ op: 'Equal', inputs: ['m4', 'zero'], outputs: ['pad'] }, { op: 'Where', inputs: ['pad', 'ninf', 'xf'], outputs: ['s'] }]
        : [
            { op: 'Cast', inputs: ['m4'], outputs: ['mf'], attrs: { to: 1 } },
            { op: 'Sub', inputs: ['one', 'mf'], outputs: ['inv'] },
            { op: 'Mul', inputs: ['inv', 'big'], outputs: ['bias'] },
            { op: 'Add', inputs: ['xf', 'bias'], outputs: ['s'] },
          ]),
      { op: 'Softmax', inputs: ['s'], outputs: ['p'], attrs: { axis: -1 } },
      { op: 'QuantizeLinear', inputs: ['p', 'ys', 'yz'], outputs: ['y'] },
    ],
  };
}

// A [batch, query, key] mask (Unsqueeze at axis 1) on 16-bit scores: the keep mask broadcasts over heads only.
cases.masked_softmax_where_int16_square = {
  inputs: [{ name: 'x', dtype: 'int16', shape: [2, 3, 5, 7] }, { name: 'm', dtype: 'int64', shape: [2, 5, 7] }],
  outputs: [{ name: 'y', dtype: 'uint16' }],
  initializers: {
    xs: scalar('float32', 4e-4), xz: scalar('int16', 3), ys: scalar('float32', 1 / 65535), yz: scalar('uint16', 0),
    axes: rawTensor('int64', [1], [1n]), zero: scalar('int64', 0n), ninf: scalar('float32', -Infinity),
  },
  nodes: [
    { op: 'DequantizeLinear', domain: 'com.microsoft', inputs: ['x', 'xs', 'xz'], outputs: ['xf'] },
    { op: 'Unsqueeze', inputs: ['m', 'axes'], outputs: ['m4'] },
    { op: 'Equal', inputs: ['m4', 'zero'], outputs: ['pad'] },
    { op: 'Where', inputs: ['pad', 'ninf', 'xf'], outputs: ['s'] },
    { op: 'Softmax', inputs: ['s'], outputs: ['p'], attrs: { axis: -1 } },
    { op: 'QuantizeLinear', domain: 'com.microsoft', inputs: ['p', 'ys', 'yz'], outputs: ['y'] },
  ],
};

// w8a16: 16-bit activations (com.microsoft Q/DQ).
const dq16 = (input, s, z, output) => ({ op: 'DequantizeLinear', domain: 'com.microsoft', inputs: [input, s, z], outputs: [output] });
const q16 = (input, s, z, output) => ({ op: 'QuantizeLinear', domain: 'com.microsoft', inputs: [input, s, z], outputs: [output] });
cases.matmul_w8a16 = {
  inputs: [{ name: 'a', dtype: 'int16', shape: [3, 5, 40] }],
  outputs: [{ name: 'y', dtype: 'int16' }],
  initializers: {
    as: scalar('float32', 2e-4), az: scalar('int16', 0), b: rawTensor('int8', [40, 9], ints(360, -127, 127)),
    bs: rawTensor('float32', [9], Array.from({ length: 9 }, () => 0.002 + random() * 0.01)), bz: rawTensor('int8', [9], new Array(9).fill(0)),
    ys: scalar('float32', 3e-4), yz: scalar('int16', -17),
  },
  nodes: [{ op: 'QLinearMatMul', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], outputs: ['y'] }],
};
cases.qgemm_u16_trans_to_u8 = {
  inputs: [{ name: 'a', dtype: 'uint16', shape: [45, 13] }],
  outputs: [{ name: 'y', dtype: 'uint8' }],
  initializers: {
    as: scalar('float32', 3e-5), az: scalar('uint16', 30000), b: rawTensor('int8', [20, 45], ints(20 * 45, -127, 127)),
    bs: scalar('float32', 0.004), bz: scalar('int8', 0), c: rawTensor('int32', [20], ints(20, -90000, 90000)),
    ys: scalar('float32', 0.02), yz: scalar('uint8', 100),
  },
  nodes: [{ op: 'QGemm', domain: 'com.microsoft', inputs: ['a', 'as', 'az', 'b', 'bs', 'bz', 'c', 'ys', 'yz'], outputs: ['y'], attrs: { transA: 1, transB: 1 } }],
};
cases.sigmoid_uint16_to_uint8 = {
  inputs: [{ name: 'x', dtype: 'uint16', shape: [3, 5, 41] }],
  outputs: [{ name: 'y', dtype: 'uint8' }],
  initializers: { xs: scalar('float32', 3e-4), xz: scalar('uint16', 32768), ys: scalar('float32', 1 / 256), yz: scalar('uint8', 0) },
  nodes: [dq16('x', 'xs', 'xz', 'f'), { op: 'Sigmoid', inputs: ['f'], outputs: ['g'] }, { op: 'QuantizeLinear', inputs: ['g', 'ys', 'yz'], outputs: ['y'] }],
};
// w8a16 convolutions and the global mean after them (ResNet-style): QDQ graphs the engine rewrites
// to 16-bit QLinearConv / QLinearReduceMean.
function conv16(name, c) {
  const wDims = [c.m, c.c / c.group, c.k, c.k];
  cases[name] = {
    inputs: [{ name: 'x', dtype: c.xType, shape: [2, c.c, c.h, c.w] }],
    outputs: [{ name: 'y', dtype: c.yType }],
    initializers: {
      xs: scalar('float32', 3e-4), xz: scalar(c.xType, c.xType === 'uint16' ? 30000 : -9),
      w: rawTensor('int8', wDims, ints(prod(wDims), -127, 127)),
      ws: rawTensor('float32', [c.m], Array.from({ length: c.m }, () => 0.002 + random() * 0.01)), wz: rawTensor('int8', [c.m], new Array(c.m).fill(0)),
      b: rawTensor('int32', [c.m], ints(c.m, -200000, 200000)), bs: rawTensor('float32', [c.m], new Array(c.m).fill(1e-6)), bz: rawTensor('int32', [c.m], new Array(c.m).fill(0)),
      ys: scalar('float32', 2e-3), yz: scalar(c.yType, c.yType === 'uint16' ? 0 : 13),
    },
    nodes: [
      dq16('x', 'xs', 'xz', 'xf'),
      { op: 'DequantizeLinear', inputs: ['w', 'ws', 'wz'], outputs: ['wf'], attrs: { axis: 0 } },
      { op: 'DequantizeLinear', inputs: ['b', 'bs', 'bz'], outputs: ['bf'], attrs: { axis: 0 } },
      { op: 'Conv', inputs: ['xf', 'wf', 'bf'], outputs: ['yf'], attrs: { group: c.group, kernel_shape: [c.k, c.k], strides: [c.stride, c.stride], pads: [1, 1, 1, 1] } },
      q16('yf', 'ys', 'yz', 'y'),
    ],
  };
}
conv16('conv_w8a16_u16_to_s16', { c: 11, m: 19, h: 13, w: 10, k: 3, group: 1, stride: 2, xType: 'uint16', yType: 'int16' });
conv16('conv_depthwise_w8a16', { c: 12, m: 12, h: 9, w: 9, k: 3, group: 12, stride: 1, xType: 'int16', yType: 'uint16' });
cases.reducemean_w8a16 = {
  inputs: [{ name: 'x', dtype: 'uint16', shape: [3, 10, 8, 8] }],
  outputs: [{ name: 'y', dtype: 'uint16' }],
  initializers: { s: scalar('float32', 1e-4), z: scalar('uint16', 0), s2: scalar('float32', 9e-5), z2: scalar('uint16', 0) },
  nodes: [dq16('x', 's', 'z', 'f'), { op: 'ReduceMean', inputs: ['f'], outputs: ['m'], attrs: { axes: [2, 3], keepdims: 1 } }, q16('m', 's2', 'z2', 'y')],
};
cases.tanh_int16 = {
  inputs: [{ name: 'x', dtype: 'int16', shape: [4, 33] }],
  outputs: [{ name: 'y', dtype: 'int16' }],
  initializers: { xs: scalar('float32', 2e-4), xz: scalar('int16', 5), ys: scalar('float32', 1 / 32767), yz: scalar('int16', 0) },
  nodes: [dq16('x', 'xs', 'xz', 'f'), { op: 'Tanh', inputs: ['f'], outputs: ['g'] }, q16('g', 'ys', 'yz', 'y')],
};
cases.softmax_int16_to_uint16 = {
  inputs: [{ name: 'x', dtype: 'int16', shape: [6, 11] }],
  outputs: [{ name: 'y', dtype: 'uint16' }],
  initializers: { xs: scalar('float32', 5e-4), xz: scalar('int16', 0), ys: scalar('float32', 1 / 65535), yz: scalar('uint16', 0) },
  nodes: [dq16('x', 'xs', 'xz', 'f'), { op: 'Softmax', inputs: ['f'], outputs: ['p'], attrs: { axis: -1 } }, q16('p', 'ys', 'yz', 'y')],
};
cases.add_int16_uint16_broadcast = {
  inputs: [{ name: 'a', dtype: 'int16', shape: [3, 4, 50] }, { name: 'b', dtype: 'uint16', shape: [4, 1] }],
  outputs: [{ name: 'y', dtype: 'int16' }],
  initializers: { as: scalar('float32', 3e-4), az: scalar('int16', -7), bs: scalar('float32', 1e-4), bz: scalar('uint16', 0), ys: scalar('float32', 5e-4), yz: scalar('int16', 11) },
  nodes: [dq16('a', 'as', 'az', 'af'), dq16('b', 'bs', 'bz', 'bf'), { op: 'Add', inputs: ['af', 'bf'], outputs: ['s'] }, q16('s', 'ys', 'yz', 'y')],
};

fs.mkdirSync(outDir, { recursive: true });
for (const f of fs.readdirSync(outDir)) if (f.endsWith('.onnx')) fs.rmSync(path.join(outDir, f));
for (const [name, spec] of Object.entries(cases)) {
  fs.writeFileSync(path.join(outDir, `${name}.onnx`), writeOnnxModel({ opset: 17, ...spec, producer: 'bitexact make-cuda-cases' }));
}
console.log(`wrote ${Object.keys(cases).length} cases to ${path.relative(process.cwd(), outDir)}`);
