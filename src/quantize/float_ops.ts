// Float32 reference implementations of the ONNX ops found in float CNNs, MLPs and transformers, for calibration
// only: they decide quantisation ranges, never an output bit of a bitexact run. Accumulation is in
// float64, results are rounded to float32. Layout NCHW.
import { BitexactError } from '../errors.js';
import type { OnnxAttribute, OnnxNode } from '../onnx/reader.js';
import { erf64 } from './float_math.js';

export interface FloatTensor {
  dims: number[];
  data: Float32Array | Float64Array;
}

export type FloatOp = (node: OnnxNode, inputs: (FloatTensor | undefined)[]) => FloatTensor[];

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function unsupported(node: OnnxNode, why: string): never {
  throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `node '${node.name || node.outputs[0]}' (${node.opType}): ${why}`);
}

/** An int (or float) attribute's value, `fallback` when absent. */
export function attrInt(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attributes[name];
  return a && (a.kind === 'int' || a.kind === 'float') ? a.value : fallback;
}
function attrFloat(node: OnnxNode, name: string, fallback: number): number {
  return attrInt(node, name, fallback);
}
function attrInts(node: OnnxNode, name: string): number[] | undefined {
  const a: OnnxAttribute | undefined = node.attributes[name];
  return a && a.kind === 'ints' ? a.value : undefined;
}
function attrString(node: OnnxNode, name: string, fallback: string): string {
  const a = node.attributes[name];
  return a && a.kind === 'string' ? a.value : fallback;
}

function need(node: OnnxNode, inputs: (FloatTensor | undefined)[], i: number): FloatTensor {
  const t = inputs[i];
  if (!t) unsupported(node, `input ${i} is missing`);
  return t;
}

/** Shapes broadcast numpy-style; returns the output dims and, per input, its strides in the output. */
function broadcast(node: OnnxNode, shapes: number[][]): { dims: number[]; strides: number[][] } {
  const rank = Math.max(...shapes.map((s) => s.length));
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) {
    let size = 1;
    for (const s of shapes) {
      const v = s[d - (rank - s.length)] ?? 1;
      if (v !== 1) {
        if (size !== 1 && size !== v) unsupported(node, `shapes ${shapes.map((x) => `[${x}]`).join(' and ')} do not broadcast`);
        size = v;
      }
    }
    dims.push(size);
  }
  const strides = shapes.map((s) => {
    const st = new Array(rank).fill(0);
    let acc = 1;
    for (let d = s.length - 1; d >= 0; d--) {
      const od = d + (rank - s.length);
      st[od] = s[d] === 1 ? 0 : acc;
      acc *= s[d];
    }
    return st;
  });
  return { dims, strides };
}

function elementwise(fn: (...v: number[]) => number): FloatOp {
  return (node, inputs) => {
    const ts = inputs.map((_, i) => need(node, inputs, i));
    const { dims, strides } = broadcast(node, ts.map((t) => t.dims));
    const out = new Float32Array(count(dims));
    const index = new Array(dims.length).fill(0);
    const offsets = new Array(ts.length).fill(0);
    const args = new Array(ts.length);
    for (let k = 0; k < out.length; k++) {
      for (let j = 0; j < ts.length; j++) args[j] = ts[j].data[offsets[j]];
      out[k] = fn(...args);
      for (let d = dims.length - 1; d >= 0; d--) {
        index[d]++;
        for (let j = 0; j < ts.length; j++) offsets[j] += strides[j][d];
        if (index[d] < dims[d]) break;
        for (let j = 0; j < ts.length; j++) offsets[j] -= strides[j][d] * dims[d];
        index[d] = 0;
      }
    }
    return [{ dims, data: out }];
  };
}

function unary(fn: (v: number, node: OnnxNode) => number): FloatOp {
  return (node, inputs) => {
    const x = need(node, inputs, 0);
    const out = new Float32Array(x.data.length);
    for (let k = 0; k < out.length; k++) out[k] = fn(x.data[k], node);
    return [{ dims: [...x.dims], data: out }];
  };
}

/** Output size and leading pad of one spatial axis, honouring auto_pad. */
function window(node: OnnxNode, size: number, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number): [number, number] {
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const effective = (kernel - 1) * dilation + 1;
  if (autoPad === 'VALID') return [Math.floor((size - effective) / stride) + 1, 0];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const out = Math.ceil(size / stride);
    const total = Math.max(0, (out - 1) * stride + effective - size);
    return [out, autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2)];
  }
  return [Math.floor((size + padBegin + padEnd - effective) / stride) + 1, padBegin];
}

const conv: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  const w = need(node, inputs, 1);
  const b = inputs[2];
  if (x.dims.length !== 4 && x.dims.length !== 3) unsupported(node, `rank ${x.dims.length} input (1-D and 2-D convolutions only)`);
  const is1d = x.dims.length === 3;
  const [N, C, H, W] = is1d ? [x.dims[0], x.dims[1], 1, x.dims[2]] : x.dims;
  const [M, CperG, KH, KW] = is1d ? [w.dims[0], w.dims[1], 1, w.dims[2]] : w.dims;
  const group = attrInt(node, 'group', 1);
  const strides = attrInts(node, 'strides') ?? (is1d ? [1] : [1, 1]);
  const dil = attrInts(node, 'dilations') ?? (is1d ? [1] : [1, 1]);
  const pads = attrInts(node, 'pads') ?? (is1d ? [0, 0] : [0, 0, 0, 0]);
  const [sh, sw] = is1d ? [1, strides[0]] : strides;
  const [dh, dw] = is1d ? [1, dil[0]] : dil;
  const [pt, pl, pb, pr] = is1d ? [0, pads[0], 0, pads[1]] : pads;
  if (C !== CperG * group || M % group !== 0) unsupported(node, `channels ${C}, weights [${w.dims}], group ${group} do not fit`);
  const [OH, padTop] = window(node, H, KH, sh, dh, pt, pb);
  const [OW, padLeft] = window(node, W, KW, sw, dw, pl, pr);
  const out = new Float32Array(N * M * OH * OW);
  const MperG = M / group;
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const g = Math.floor(m / MperG);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? b.data[m] : 0;
          for (let c = 0; c < CperG; c++) {
            const xc = (n * C + g * CperG + c) * H * W;
            const wc = (m * CperG + c) * KH * KW;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - padTop + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - padLeft + kw * dw;
                if (iw < 0 || iw >= W) continue;
                acc += x.data[xc + ih * W + iw] * w.data[wc + kh * KW + kw];
              }
            }
          }
          out[((n * M + m) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return [{ dims: is1d ? [N, M, OW] : [N, M, OH, OW], data: out }];
};

function pool(kind: 'max' | 'avg'): FloatOp {
  return (node, inputs) => {
    const x = need(node, inputs, 0);
    if (x.dims.length !== 4) unsupported(node, 'only 2-D pooling');
    const [N, C, H, W] = x.dims;
    const [KH, KW] = attrInts(node, 'kernel_shape') ?? unsupported(node, 'kernel_shape is required');
    const [sh, sw] = attrInts(node, 'strides') ?? [1, 1];
    const [pt, pl, pb, pr] = attrInts(node, 'pads') ?? [0, 0, 0, 0];
    if (attrInt(node, 'ceil_mode', 0) !== 0) unsupported(node, 'ceil_mode');
    if ((attrInts(node, 'dilations') ?? [1, 1]).some((d) => d !== 1)) unsupported(node, 'dilations other than 1');
    const includePad = attrInt(node, 'count_include_pad', 0) !== 0;
    const [OH, padTop] = window(node, H, KH, sh, 1, pt, pb);
    const [OW, padLeft] = window(node, W, KW, sw, 1, pl, pr);
    const out = new Float32Array(N * C * OH * OW);
    for (let nc = 0; nc < N * C; nc++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = kind === 'max' ? -Infinity : 0;
          let n = 0;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sh - padTop + kh;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sw - padLeft + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                if (includePad) n++;
                continue;
              }
              const v = x.data[nc * H * W + ih * W + iw];
              acc = kind === 'max' ? Math.max(acc, v) : acc + v;
              n++;
            }
          }
          out[(nc * OH + oh) * OW + ow] = kind === 'max' ? acc : acc / n;
        }
      }
    }
    return [{ dims: [N, C, OH, OW], data: out }];
  };
}

/** numpy matmul: [..., M, K] x [..., K, N] with the leading (batch) dims broadcast; 1-D operands promoted. */
function matmul(node: OnnxNode, a: FloatTensor, b: FloatTensor): FloatTensor {
  const aDims = a.dims.length === 1 ? [1, a.dims[0]] : a.dims;
  const bDims = b.dims.length === 1 ? [b.dims[0], 1] : b.dims;
  const [M, K] = aDims.slice(-2);
  const [Kb, N] = bDims.slice(-2);
  if (K !== Kb) unsupported(node, `MatMul of [${a.dims}] by [${b.dims}]: inner dimensions differ`);
  const batch = broadcast(node, [aDims.slice(0, -2), bDims.slice(0, -2)]);
  const batches = count(batch.dims);
  const out = new Float32Array(batches * M * N);
  const index = new Array(batch.dims.length).fill(0);
  for (let bi = 0; bi < batches; bi++) {
    let ao = 0;
    let bo = 0;
    for (let d = 0; d < index.length; d++) (ao += index[d] * batch.strides[0][d]), (bo += index[d] * batch.strides[1][d]);
    const aBase = ao * M * K;
    const bBase = bo * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a.data[aBase + i * K + k] * b.data[bBase + k * N + j];
        out[(bi * M + i) * N + j] = acc;
      }
    }
    for (let d = index.length - 1; d >= 0 && ++index[d] === batch.dims[d]; d--) index[d] = 0;
  }
  let dims = [...batch.dims, M, N];
  if (a.dims.length === 1) dims = dims.filter((_, i) => i !== dims.length - 2);
  if (b.dims.length === 1) dims = dims.slice(0, -1);
  return { dims, data: out };
}

const gather: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  const indices = need(node, inputs, 1);
  let axis = attrInt(node, 'axis', 0);
  if (axis < 0) axis += x.dims.length;
  const size = x.dims[axis];
  const outer = count(x.dims.slice(0, axis));
  const inner = count(x.dims.slice(axis + 1));
  const out = new Float32Array(outer * indices.data.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < indices.data.length; i++) {
      let k = indices.data[i];
      if (k < 0) k += size;
      if (!Number.isInteger(k) || k < 0 || k >= size) unsupported(node, `index ${indices.data[i]} is outside [${-size}, ${size})`);
      out.set(x.data.subarray((o * size + k) * inner, (o * size + k + 1) * inner), (o * indices.data.length + i) * inner);
    }
  }
  return [{ dims: [...x.dims.slice(0, axis), ...indices.dims, ...x.dims.slice(axis + 1)], data: out }];
};

/** LayerNormalization over the axes from `axis` on: (x - mean) / sqrt(var + eps) * scale + bias. */
const layerNorm: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  const scale = need(node, inputs, 1);
  const bias = inputs[2];
  let axis = attrInt(node, 'axis', -1);
  if (axis < 0) axis += x.dims.length;
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const width = count(x.dims.slice(axis));
  if (scale.data.length !== width || (bias && bias.data.length !== width)) unsupported(node, 'scale and bias must cover the normalised axes exactly');
  const out = new Float32Array(x.data.length);
  for (let r = 0; r < x.data.length / width; r++) {
    let mean = 0;
    for (let k = 0; k < width; k++) mean += x.data[r * width + k];
    mean /= width;
    let variance = 0;
    for (let k = 0; k < width; k++) variance += (x.data[r * width + k] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / width + eps);
    for (let k = 0; k < width; k++) out[r * width + k] = (x.data[r * width + k] - mean) * inv * scale.data[k] + (bias ? bias.data[k] : 0);
  }
  return [{ dims: [...x.dims], data: out }];
};

/** Cast keeps values in float64 (small integers stay exact); to float32 rounds, to integers truncates. */
const cast: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  const to = attrInt(node, 'to', 1);
  if (to === 1) return [{ dims: [...x.dims], data: Float32Array.from(x.data) }];
  if (to === 9) return [{ dims: [...x.dims], data: Float64Array.from(x.data, (v) => (v !== 0 ? 1 : 0)) }];
  if ([2, 3, 4, 5, 6, 7, 12, 13].includes(to)) return [{ dims: [...x.dims], data: Float64Array.from(x.data, (v) => Math.trunc(v)) }];
  return unsupported(node, `Cast to ONNX type ${to}`);
};

function transpose2d(t: FloatTensor): FloatTensor {
  const [R, C] = t.dims;
  const out = new Float32Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = t.data[r * C + c];
  return { dims: [C, R], data: out };
}

const gemm: FloatOp = (node, inputs) => {
  let a = need(node, inputs, 0);
  let b = need(node, inputs, 1);
  if (a.dims.length !== 2 || b.dims.length !== 2) unsupported(node, 'Gemm needs 2-D inputs');
  if (attrInt(node, 'transA', 0)) a = transpose2d(a);
  if (attrInt(node, 'transB', 0)) b = transpose2d(b);
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const y = matmul(node, a, b);
  const c = inputs[2];
  if (!c && alpha === 1) return [y];
  const scaled = { dims: y.dims, data: y.data.map((v) => v * alpha) };
  if (!c) return [{ dims: y.dims, data: Float32Array.from(scaled.data) }];
  return elementwise((p, q) => p + beta * q)(node, [scaled, c]);
};

function axesOf(node: OnnxNode, inputs: (FloatTensor | undefined)[], rank: number): number[] | undefined {
  const axes = attrInts(node, 'axes') ?? (inputs[1] ? Array.from(inputs[1].data) : undefined);
  return axes?.map((a) => (a < 0 ? a + rank : a));
}

const reduceMean: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  const rank = x.dims.length;
  const given = axesOf(node, inputs, rank);
  // no axes: every axis, or none with opset 18's noop_with_empty_axes
  if (!given?.length && attrInt(node, 'noop_with_empty_axes', 0) !== 0) return [x];
  const axes = given?.length ? given : [...Array(rank).keys()];
  const keep = attrInt(node, 'keepdims', 1) !== 0;
  const outDims = x.dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const sums = new Float64Array(count(outDims));
  const index = new Array(rank).fill(0);
  for (let k = 0; k < x.data.length; k++) {
    let o = 0;
    for (let d = 0; d < rank; d++) o = o * outDims[d] + (axes.includes(d) ? 0 : index[d]);
    sums[o] += x.data[k];
    for (let d = rank - 1; d >= 0 && ++index[d] === x.dims[d]; d--) index[d] = 0;
  }
  const n = x.data.length / sums.length;
  return [{ dims: keep ? outDims : x.dims.filter((_, i) => !axes.includes(i)), data: Float32Array.from(sums, (s) => s / n) }];
};

const softmax: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  let axis = attrInt(node, 'axis', -1);
  if (axis < 0) axis += x.dims.length;
  const inner = count(x.dims.slice(axis + 1));
  const size = x.dims[axis];
  const outer = x.data.length / (inner * size);
  const out = new Float32Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let max = -Infinity;
      for (let s = 0; s < size; s++) max = Math.max(max, x.data[(o * size + s) * inner + i]);
      let sum = 0;
      for (let s = 0; s < size; s++) sum += Math.exp(x.data[(o * size + s) * inner + i] - max);
      for (let s = 0; s < size; s++) out[(o * size + s) * inner + i] = Math.exp(x.data[(o * size + s) * inner + i] - max) / sum;
    }
  }
  return [{ dims: [...x.dims], data: out }];
};

const reshape: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  const spec = Array.from(need(node, inputs, 1).data);
  const dims = spec.map((d, i) => (d === 0 && attrInt(node, 'allowzero', 0) === 0 ? x.dims[i] : d));
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const out = dims.map((d) => (d === -1 ? x.data.length / known : d));
  if (count(out) !== x.data.length) unsupported(node, `cannot reshape [${x.dims}] to [${spec}]`);
  return [{ dims: out, data: x.data }];
};

const flatten: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  let axis = attrInt(node, 'axis', 1);
  if (axis < 0) axis += x.dims.length;
  return [{ dims: [count(x.dims.slice(0, axis)), count(x.dims.slice(axis))], data: x.data }];
};

const batchNorm: FloatOp = (node, inputs) => {
  const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map((i) => need(node, inputs, i));
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const C = x.dims[1];
  const inner = count(x.dims.slice(2));
  const out = new Float32Array(x.data.length);
  for (let k = 0; k < x.data.length; k++) {
    const c = Math.floor(k / inner) % C;
    out[k] = ((x.data[k] - mean.data[c]) / Math.sqrt(variance.data[c] + eps)) * scale.data[c] + bias.data[c];
  }
  return [{ dims: [...x.dims], data: out }];
};

const transpose: FloatOp = (node, inputs) => {
  const x = need(node, inputs, 0);
  const rank = x.dims.length;
  const perm = attrInts(node, 'perm') ?? [...Array(rank).keys()].reverse();
  const outDims = perm.map((p) => x.dims[p]);
  const inStrides = new Array(rank);
  for (let d = rank - 1, acc = 1; d >= 0; d--) (inStrides[d] = acc), (acc *= x.dims[d]);
  const out = new Float32Array(x.data.length);
  const index = new Array(rank).fill(0);
  for (let k = 0; k < out.length; k++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += index[d] * inStrides[perm[d]];
    out[k] = x.data[src];
    for (let d = rank - 1; d >= 0 && ++index[d] === outDims[d]; d--) index[d] = 0;
  }
  return [{ dims: outDims, data: out }];
};

const concat: FloatOp = (node, inputs) => {
  const ts = inputs.map((_, i) => need(node, inputs, i));
  let axis = attrInt(node, 'axis', 0);
  if (axis < 0) axis += ts[0].dims.length;
  const outer = count(ts[0].dims.slice(0, axis));
  const dims = [...ts[0].dims];
  dims[axis] = ts.reduce((a, t) => a + t.dims[axis], 0);
  const out = new Float32Array(count(dims));
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const t of ts) {
      const block = count(t.dims.slice(axis));
      out.set(t.data.subarray(i * block, (i + 1) * block), o);
      o += block;
    }
  }
  return [{ dims, data: out }];
};

function squeezeLike(kind: 'squeeze' | 'unsqueeze'): FloatOp {
  return (node, inputs) => {
    const x = need(node, inputs, 0);
    if (kind === 'squeeze') {
      const axes = axesOf(node, inputs, x.dims.length);
      return [{ dims: x.dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)), data: x.data }];
    }
    const rank = x.dims.length + (attrInts(node, 'axes') ?? Array.from(inputs[1]?.data ?? [])).length;
    const axes = axesOf(node, inputs, rank) ?? [];
    const dims: number[] = [];
    for (let d = 0, j = 0; d < rank; d++) dims.push(axes.includes(d) ? 1 : x.dims[j++]);
    return [{ dims, data: x.data }];
  };
}

const clip: FloatOp = (node, inputs) => {
  const lo = inputs[1] ? inputs[1].data[0] : attrFloat(node, 'min', -Infinity);
  const hi = inputs[2] ? inputs[2].data[0] : attrFloat(node, 'max', Infinity);
  return unary((v) => Math.min(hi, Math.max(lo, v)))(node, inputs);
};

export const FLOAT_OPS: Record<string, FloatOp> = {
  Conv: conv,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (node, inputs) => reduceMean({ ...node, attributes: { axes: { kind: 'ints', value: [2, 3] }, keepdims: { kind: 'int', value: 1 } } }, [inputs[0]]),
  ReduceMean: reduceMean,
  Add: elementwise((a, b) => a + b),
  Sub: elementwise((a, b) => a - b),
  Mul: elementwise((a, b) => a * b),
  Div: elementwise((a, b) => a / b),
  Pow: elementwise((a, b) => a ** b),
  Equal: elementwise((a, b) => (a === b ? 1 : 0)),
  Where: elementwise((c, a, b) => (c !== 0 ? a : b)),
  Sqrt: unary((v) => Math.sqrt(v)),
  Neg: unary((v) => -v),
  Not: unary((v) => (v !== 0 ? 0 : 1)),
  Relu: unary((v) => (v > 0 ? v : 0)),
  LeakyRelu: unary((v, n) => (v >= 0 ? v : v * attrFloat(n, 'alpha', 0.01))),
  Sigmoid: unary((v) => 1 / (1 + Math.exp(-v))),
  Tanh: unary((v) => Math.tanh(v)),
  Erf: unary((v) => erf64(v)),
  Gelu: unary((v, n) => {
    if (attrString(n, 'approximate', 'none') !== 'none') unsupported(n, "approximate GELU (only 'none')");
    return (v * (1 + erf64(v / Math.SQRT2))) / 2;
  }),
  HardSigmoid: unary((v, n) => Math.min(1, Math.max(0, attrFloat(n, 'alpha', 0.2) * v + attrFloat(n, 'beta', 0.5)))),
  HardSwish: unary((v) => v * Math.min(1, Math.max(0, v / 6 + 0.5))),
  Clip: clip,
  MatMul: (node, inputs) => [matmul(node, need(node, inputs, 0), need(node, inputs, 1))],
  Gemm: gemm,
  Gather: gather,
  LayerNormalization: layerNorm,
  Cast: cast,
  Softmax: softmax,
  Reshape: reshape,
  Flatten: flatten,
  BatchNormalization: batchNorm,
  Transpose: transpose,
  Concat: concat,
  Squeeze: squeezeLike('squeeze'),
  Unsqueeze: squeezeLike('unsqueeze'),
  Identity: (node, inputs) => [need(node, inputs, 0)],
  Dropout: (node, inputs) => [need(node, inputs, 0)],
};
