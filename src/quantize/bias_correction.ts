// Bias correction: rounding a layer's weights to int8 moves the mean of its outputs by
// Σ_i (Wq − W)[o, i] · E[x_i], and the error adds up layer after layer (inputs after a ReLU have a
// positive mean). The quantiser measures the per-channel means of every such layer's input during
// calibration and subtracts that shift from the bias before quantising it.
import type { OnnxNode, OnnxTensor } from '../onnx/reader.js';
import { attrInt, type FloatTensor } from './float_ops.js';

/** The input channel axis of a layer with constant weights: NCHW channels, or A's last axis. */
function channelAxis(node: OnnxNode, rank: number): number {
  return node.opType === 'Conv' ? 1 : rank - 1;
}

/** Running per-channel means of the inputs of Conv and Gemm nodes. */
export class ChannelMeans {
  readonly #sums = new Map<string, { sum: Float64Array; count: number }>();
  readonly #axisOf = new Map<string, (rank: number) => number>();

  constructor(nodes: OnnxNode[]) {
    for (const n of nodes) if (n.opType === 'Conv' || n.opType === 'Gemm') this.#axisOf.set(n.inputs[0], (rank) => channelAxis(n, rank));
  }

  observe(name: string, t: FloatTensor): void {
    const axisOf = this.#axisOf.get(name);
    if (!axisOf) return;
    const axis = axisOf(t.dims.length);
    const channels = t.dims[axis];
    const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    let entry = this.#sums.get(name);
    if (!entry) this.#sums.set(name, (entry = { sum: new Float64Array(channels), count: 0 }));
    for (let i = 0; i < t.data.length; i++) entry.sum[Math.floor(i / inner) % channels] += t.data[i];
    entry.count += t.data.length / channels;
  }

  mean(name: string): Float64Array | undefined {
    const e = this.#sums.get(name);
    return e && e.count > 0 ? e.sum.map((s) => s / e.count) : undefined;
  }
}

/**
 * The shift of each output channel's mean caused by quantising `w` to `dequantized`: for Conv
 * W [M, C/groups, k...], for Gemm W [K, N] (or [N, K] with transB).
 */
export function outputMeanShift(node: OnnxNode, w: OnnxTensor, dequantized: ArrayLike<number>, inputMeans: Float64Array): Float64Array | undefined {
  if (node.opType === 'Conv') {
    const [outChannels, perGroup] = w.dims;
    const groups = attrInt(node, 'group', 1);
    const kernel = w.data.length / (outChannels * perGroup);
    if (inputMeans.length !== perGroup * groups) return undefined;
    const shift = new Float64Array(outChannels);
    for (let m = 0; m < outChannels; m++) {
      const firstChannel = Math.floor(m / (outChannels / groups)) * perGroup;
      for (let c = 0; c < perGroup; c++) {
        for (let k = 0; k < kernel; k++) {
          const i = (m * perGroup + c) * kernel + k;
          shift[m] += (dequantized[i] - w.data[i]) * inputMeans[firstChannel + c];
        }
      }
    }
    return shift;
  }
  const transB = attrInt(node, 'transB', 0) !== 0;
  const [rows, cols] = w.dims;
  const [depth, outputs] = transB ? [cols, rows] : [rows, cols];
  if (inputMeans.length !== depth) return undefined;
  const shift = new Float64Array(outputs);
  for (let o = 0; o < outputs; o++) {
    for (let k = 0; k < depth; k++) {
      const i = transB ? o * depth + k : k * outputs + o;
      shift[o] += (dequantized[i] - w.data[i]) * inputMeans[k];
    }
  }
  return shift;
}
