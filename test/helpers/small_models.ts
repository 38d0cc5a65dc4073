// Small synthetic models for scheduler and service tests: a batchable QLinearMatMul chain whose
// run time scales with its size, and one that mixes samples (so batching must be refused).
import { buildModel, rng, randomInts, tensorValue } from './onnx_builder.js';

/**
 * float32 x ['N', rows, k] -> QuantizeLinear -> `layers` x QLinearMatMul (k x k, int8 weights)
 * -> DequantizeLinear -> y ['N', rows, k]. Samples stay independent, so it batches exactly.
 * With `shareWeights` every layer reads one weight tensor: a long-running model (thousands of
 * layers) that stays small on disk, for tests that need a job still running a second later.
 */
export function matmulChain(layers: number, rows: number, k: number, { seed = 7, shareWeights = false } = {}): Uint8Array {
  const random = rng(seed);
  const initializers: Record<string, ReturnType<typeof tensorValue>> = {
    s: tensorValue('float32', [], [0.05]),
    z: tensorValue('uint8', [], [128]),
    ws: tensorValue('float32', [], [0.002]),
    wz: tensorValue('int8', [], [0]),
  };
  const nodes = [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['q0'] }];
  for (let i = 0; i < layers; i++) {
    const weight = shareWeights ? 'w0' : `w${i}`;
    if (!(weight in initializers)) initializers[weight] = tensorValue('int8', [k, k], randomInts(random, k * k, -127, 127));
    nodes.push({ op: 'QLinearMatMul', inputs: [`q${i}`, 's', 'z', weight, 'ws', 'wz', 's', 'z'], outputs: [`q${i + 1}`] });
  }
  nodes.push({ op: 'DequantizeLinear', inputs: [`q${layers}`, 's', 'z'], outputs: ['y'] });
  return buildModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', rows, k] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', rows, k] }],
    initializers,
    nodes,
  });
}

/** Declares a batch dimension but flattens the batch into one row: batching must be refused. */
export function batchMixer(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 8] }],
    initializers: { s: tensorValue('float32', [], [0.05]), z: tensorValue('uint8', [], [128]) },
    nodes: [
      { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['q'] },
      { op: 'Flatten', inputs: ['q'], outputs: ['f'], attrs: { axis: 0 } },
      { op: 'DequantizeLinear', inputs: ['f', 's', 'z'], outputs: ['y'] },
    ],
  });
}

/** A float32 tensor of `shape` with reproducible values in [-3, 3). */
export function randomFloats(shape: number[], seed: number) {
  const random = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = random() * 6 - 3;
  return { dtype: 'float32' as const, shape, data };
}
