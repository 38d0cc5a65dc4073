// Runs a float ONNX graph with the reference ops of float_ops.ts, for calibration: `observe` sees
// every value the graph computes (its name and tensor), which is how activation ranges are found.
import { BitexactError } from '../errors.js';
import type { OnnxModel, OnnxNode } from '../onnx/reader.js';
import { FLOAT_OPS, type FloatTensor } from './float_ops.js';

export interface FloatRunOptions {
  observe?: (name: string, value: FloatTensor, producer: OnnxNode | null) => void;
}

export function runFloatGraph(model: OnnxModel, inputs: Record<string, FloatTensor>, options: FloatRunOptions = {}): Record<string, FloatTensor> {
  const values = new Map<string, FloatTensor>();
  for (const [name, t] of model.graph.initializers) values.set(name, { dims: t.dims, data: t.data });
  for (const spec of model.graph.inputs) {
    const t = inputs[spec.name];
    if (!t) throw new BitexactError('ERR_BITEXACT_INPUT', `missing input '${spec.name}'`);
    values.set(spec.name, t);
    options.observe?.(spec.name, t, null);
  }
  for (const node of model.graph.nodes) {
    const contribGelu = node.domain === 'com.microsoft' && node.opType === 'Gelu';
    if (node.domain && node.domain !== 'ai.onnx' && !contribGelu) {
      throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `node '${node.name}' (${node.domain}::${node.opType}) is not a float op`);
    }
    let outs: FloatTensor[];
    if (node.opType === 'Constant') {
      const a = node.attributes.value;
      if (!a || a.kind !== 'tensor') throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `node '${node.name}' (Constant) needs a tensor value`);
      outs = [{ dims: a.value.dims, data: a.value.data }];
    } else {
      const op = FLOAT_OPS[node.opType];
      if (!op) throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `node '${node.name || node.outputs[0]}' (${node.opType}) is not supported by the calibrating executor`);
      outs = op(node, node.inputs.map((name) => (name ? values.get(name) : undefined)));
    }
    node.outputs.forEach((name, i) => {
      if (!name || !outs[i]) return;
      values.set(name, outs[i]);
      options.observe?.(name, outs[i], node);
    });
  }
  const result: Record<string, FloatTensor> = {};
  for (const o of model.graph.outputs) {
    const t = values.get(o.name);
    if (!t) throw new BitexactError('ERR_BITEXACT_INVALID_MODEL', `graph output '${o.name}' is never computed`);
    result[o.name] = t;
  }
  return result;
}
