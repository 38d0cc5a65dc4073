// Post-training static quantisation of a float ONNX model into a standard QDQ model that bitexact
// runs (and onnxruntime can too). Steps:
//   1. simplify the float graph: fold BatchNormalization and constant bias Adds into Conv, turn
//      MatMul + constant Add into Gemm (through 2-D Reshapes for N-D inputs), drop
//      Identity/Dropout, collapse the LayerNorm and GELU decompositions into single ops
//      (patterns.ts), and find attention masks (additive or Where), which stay float;
//   2. run it over the calibration inputs (float reference executor), collecting statistics of
//      every activation;
//   3. write QuantizeLinear/DequantizeLinear pairs on every activation edge (uint8 asymmetric, or
//      int16 symmetric in the w8a16 profile, as com.microsoft Q/DQ so opset-17 runtimes take them),
//      int8 symmetric weights (per output channel or per tensor) and int32 biases at the
//      accumulator scale, corrected for the mean shift the weights' rounding causes
//      (bias_correction.ts). A Relu/Clip right after Conv/Gemm/MatMul/Add shares its producer's
//      output quantisation (so it fuses); MaxPool and the reshaping ops keep their input's.
import { BitexactError } from '../errors.js';
import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor } from '../onnx/reader.js';
import { rawTensor, writeOnnxModel, type AttrValue, type IoSpec, type NodeSpec, type RawTensor } from '../onnx/writer.js';
import { ChannelMeans, outputMeanShift } from './bias_correction.js';
import { TensorStats, uint8Params, wideParams, type CalibrationMethod } from './calibration.js';
import { runFloatGraph } from './float_executor.js';
import { FLOAT_OPS, attrInt as intAttr, type FloatTensor } from './float_ops.js';
import { divisionsToProducts, findAttentionMasks, fuseGeluPatterns, fuseLayerNormPatterns, removeDeadNodes } from './patterns.js';

export type QuantizeProfile = 'int8' | 'w8a16';

export interface QuantizeOptions {
  /** 'int8' (default): uint8 activations; 'w8a16': int16 activations (MLPs, regressions), int8 weights */
  profile?: QuantizeProfile;
  /** weights per output channel (default true) or per tensor */
  perChannel?: boolean;
  method?: CalibrationMethod;
  /** subtract the output mean shift caused by rounding the weights from the biases (default true) */
  biasCorrection?: boolean;
  /** for method 'percentile' (default 99.999) */
  percentile?: number;
  /** called after each calibration input */
  onProgress?: (done: number, total: number) => void;
}

export interface QuantizeReport {
  calibrationInputs: number;
  profile: QuantizeProfile;
  method: CalibrationMethod;
  perChannel: boolean;
  opset: number;
  /** nodes folded away before quantisation (BatchNormalization, bias Adds, Identity...) */
  folded: number;
  quantizedWeights: number;
  quantizedActivations: number;
  /** layers whose bias was corrected for the weights' rounding */
  biasCorrected: number;
}

/**
 * The newest ai.onnx opset the quantiser reads. What changed up to it for the ops the calibrating
 * executor knows is handled there (ReduceMean's axes as an input and noop_with_empty_axes from 18,
 * pooling dilations from 19 refused); the rest only added element types.
 */
const MAX_OPSET = 21;
const FUSED_ACTIVATIONS = new Set(['Relu', 'Clip']);
const LINEAR = new Set(['Conv', 'Gemm', 'MatMul', 'Add', 'Mul']);
/** ops whose output must carry their input's quantisation (bitexact runs them on the integers) */
const PASSTHROUGH = new Set(['MaxPool', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Gather']);
const FLOAT = 1;
/** graph input element types the quantiser accepts: float32 (quantised) and integer ids / masks (kept) */
const INPUT_TYPES: Record<number, 'float32' | 'int32' | 'int64'> = { 1: 'float32', 6: 'int32', 7: 'int64' };
/** The tensor type of a graph input of ONNX element type `elemType`; undefined when not accepted. */
export const inputDType = (elemType: number): 'float32' | 'int32' | 'int64' | undefined => INPUT_TYPES[elemType];

export function quantizeFloatModel(model: OnnxModel, calibration: Record<string, FloatTensor>[], options: QuantizeOptions = {}): { bytes: Uint8Array; report: QuantizeReport } {
  if (calibration.length === 0) throw new BitexactError('ERR_BITEXACT_INPUT', 'calibration needs at least one input');
  const method = options.method ?? 'minmax';
  const perChannel = options.perChannel ?? true;
  for (const i of model.graph.inputs) {
    if (!INPUT_TYPES[i.elemType]) throw new BitexactError('ERR_BITEXACT_INPUT', `input '${i.name}' has ONNX element type ${i.elemType}: float32, int32 and int64 inputs are supported`);
  }
  const domainVersion = model.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 13;
  if (domainVersion > MAX_OPSET) throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `opset ${domainVersion} models are not supported yet (up to ${MAX_OPSET})`);
  const graph = cloneGraph(model);
  const dims = observeDims(graph, calibration[0]);
  if (domainVersion < 13) checkSoftmaxRank(graph, dims);
  const layerNorms = fuseLayerNormPatterns(graph.graph, dims);
  const folded = layerNorms + fuseGeluPatterns(graph.graph) + simplify(graph, dims) + removeDeadNodes(graph.graph);
  divisionsToProducts(graph.graph);
  // per-channel DequantizeLinear needs opset 13, LayerNormalization 17
  const hasLayerNorm = graph.graph.nodes.some((n) => n.opType === 'LayerNormalization');
  const opset = Math.max(hasLayerNorm ? 17 : 13, domainVersion);
  const masks = findAttentionMasks(graph.graph);
  const means = options.biasCorrection === false ? undefined : new ChannelMeans(addZeroBiases(graph));

  const stats = new Map<string, TensorStats>();
  calibration.forEach((inputs, k) => {
    runFloatGraph(graph, inputs, {
      observe(name, value) {
        if (!(value.data instanceof Float32Array)) return; // integer ids and masks are not quantised
        means?.observe(name, value);
        let s = stats.get(name);
        if (!s) stats.set(name, (s = new TensorStats()));
        s.add(value.data);
      },
    });
    options.onProgress?.(k + 1, calibration.length);
  });

  const profile = options.profile ?? 'int8';
  const writer = new QdqWriter(graph, stats, method, options.percentile ?? 99.999, perChannel, masks, profile === 'w8a16' ? WIDE : UINT8, means);
  const spec = writer.build(opset, model.producerName);
  return {
    bytes: writeOnnxModel(spec),
    report: { calibrationInputs: calibration.length, profile, method, perChannel, opset, folded, quantizedWeights: writer.weights, quantizedActivations: writer.activations, biasCorrected: writer.biasCorrected },
  };
}

/** Softmax changed meaning at opset 13 (one axis instead of a flattened tail): only 2-D uses agree. */
function checkSoftmaxRank(model: OnnxModel, dims: Map<string, number[]>): void {
  for (const n of model.graph.nodes) {
    const rank = n.opType === 'Softmax' ? dims.get(n.inputs[0])?.length : undefined;
    if (rank !== undefined && rank !== 2) {
      throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `Softmax on a rank-${rank} tensor in an opset < 13 model changes meaning at opset 13`);
    }
  }
}

function cloneGraph(model: OnnxModel): OnnxModel {
  return {
    ...model,
    graph: {
      ...model.graph,
      nodes: model.graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: { ...n.attributes } })),
      initializers: new Map(model.graph.initializers),
    },
  };
}

function observeDims(model: OnnxModel, inputs: Record<string, FloatTensor>): Map<string, number[]> {
  const dims = new Map<string, number[]>();
  runFloatGraph(model, inputs, { observe: (name, v) => dims.set(name, v.dims) });
  return dims;
}

function consumersOf(graph: OnnxModel['graph']): Map<string, OnnxNode[]> {
  const map = new Map<string, OnnxNode[]>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) map.set(i, [...(map.get(i) ?? []), n]);
  return map;
}

const attr = (n: OnnxNode, name: string): OnnxAttribute | undefined => n.attributes[name];

/** Folds BN / bias Adds / Identity, turns MatMul + Add into Gemm. Returns how many nodes went. */
function simplify(model: OnnxModel, dims: Map<string, number[]>): number {
  const g = model.graph;
  const inits = g.initializers;
  const isOutput = (name: string) => g.outputs.some((o) => o.name === name);
  let removed = 0;
  const replaceUses = (from: string, to: string) => {
    for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
  };
  // Removes `node` (which read `fromName`); the producer of `fromName` now writes `keepName`.
  const drop = (node: OnnxNode, keepName: string, fromName: string) => {
    g.nodes = g.nodes.filter((n) => n !== node);
    for (const n of g.nodes) n.outputs = n.outputs.map((o) => (o === fromName ? keepName : o));
    replaceUses(fromName, keepName);
    removed++;
  };
  // Constant subgraphs (e.g. a Reshape of a weight) become initializers.
  for (const n of [...g.nodes]) {
    const op = FLOAT_OPS[n.opType];
    if (!op || n.outputs.length !== 1 || isOutput(n.outputs[0]) || !n.inputs.every((i) => !i || inits.has(i))) continue;
    const [value] = op(n, n.inputs.map((i) => (i ? inits.get(i) : undefined)));
    inits.set(n.outputs[0], { name: n.outputs[0], dataType: FLOAT, dims: value.dims, data: value.data });
    g.nodes = g.nodes.filter((x) => x !== n);
    removed++;
  }
  for (const n of [...g.nodes]) {
    if (n.opType !== 'Identity' && n.opType !== 'Dropout') continue;
    const [from, to] = [n.inputs[0], n.outputs[0]];
    if (!isOutput(to)) {
      g.nodes = g.nodes.filter((x) => x !== n);
      replaceUses(to, from);
      removed++;
    } else if (!isOutput(from) && !g.inputs.some((i) => i.name === from) && !inits.has(from)) {
      // an Identity naming a graph output: its producer writes the output, its readers read it
      drop(n, to, from);
    }
  }
  let changed = true;
  while (changed) {
    changed = false;
    const consumers = consumersOf(g);
    for (const conv of g.nodes.filter((n) => n.opType === 'Conv' && inits.has(n.inputs[1]))) {
      const next = consumers.get(conv.outputs[0]) ?? [];
      if (next.length !== 1 || isOutput(conv.outputs[0])) continue;
      const w = inits.get(conv.inputs[1])!;
      const channels = w.dims[0];
      const bias = conv.inputs[2] ? Float32Array.from(inits.get(conv.inputs[2])!.data) : new Float32Array(channels);
      const user = next[0];
      if (user.opType === 'BatchNormalization' && [1, 2, 3, 4].every((i) => inits.has(user.inputs[i]))) {
        const [scale, beta, mean, variance] = [1, 2, 3, 4].map((i) => inits.get(user.inputs[i])!.data);
        const eps = (attr(user, 'epsilon') as { value: number } | undefined)?.value ?? 1e-5;
        const per = w.data.length / channels;
        const newW = new Float32Array(w.data.length);
        for (let c = 0; c < channels; c++) {
          const f = scale[c] / Math.sqrt(variance[c] + eps);
          for (let k = 0; k < per; k++) newW[c * per + k] = w.data[c * per + k] * f;
          bias[c] = (bias[c] - mean[c]) * f + beta[c];
        }
        setConvParams(model, conv, newW, w.dims, bias);
        drop(user, user.outputs[0], conv.outputs[0]);
        changed = true;
        break;
      }
      if (user.opType === 'Add') {
        const other = user.inputs[0] === conv.outputs[0] ? user.inputs[1] : user.inputs[0];
        const c = inits.get(other);
        const d = c?.dims.filter((x) => x !== 1) ?? [];
        const outRank = dims.get(conv.outputs[0])?.length ?? 4;
        const channelAligned = c && c.data.length === channels && (c.dims.length < 2 || c.dims.length - c.dims.findIndex((x) => x !== 1) === outRank - 1);
        if (!c || !channelAligned || d.length > 1) continue;
        for (let k = 0; k < channels; k++) bias[k] += c.data[k];
        setConvParams(model, conv, w.data, w.dims, bias);
        drop(user, user.outputs[0], conv.outputs[0]);
        changed = true;
        break;
      }
    }
    if (changed) continue;
    for (const mm of g.nodes.filter((n) => n.opType === 'MatMul' && inits.has(n.inputs[1]))) {
      const w = inits.get(mm.inputs[1])!;
      const xDims = dims.get(mm.inputs[0]);
      if (w.dims.length !== 2 || !xDims || xDims.length < 2) continue;
      const next = consumers.get(mm.outputs[0]) ?? [];
      if (next.length !== 1 || next[0].opType !== 'Add' || isOutput(mm.outputs[0])) continue;
      const add = next[0];
      const other = add.inputs[0] === mm.outputs[0] ? add.inputs[1] : add.inputs[0];
      const c = inits.get(other);
      if (!c || c.data.length !== w.dims[1]) continue;
      const biasName = `${mm.outputs[0]}_gemm_bias`;
      inits.set(biasName, { name: biasName, dataType: FLOAT, dims: [w.dims[1]], data: Float32Array.from(c.data) });
      mm.opType = 'Gemm';
      mm.inputs = [mm.inputs[0], mm.inputs[1], biasName];
      if (xDims.length > 2) {
        // [..., K] -> [rows, K] -> Gemm -> [rows, N] -> [..., N]: Reshape keeps the integers as they are.
        const shape = (suffix: string, value: number[]) => {
          inits.set(`${mm.outputs[0]}__${suffix}`, { name: `${mm.outputs[0]}__${suffix}`, dataType: 7, dims: [value.length], data: Float64Array.from(value) });
          return `${mm.outputs[0]}__${suffix}`;
        };
        const rowsIn = `${mm.outputs[0]}__rows`;
        const rowsOut = `${mm.outputs[0]}__gemm`;
        const flatten: OnnxNode = { name: rowsIn, opType: 'Reshape', domain: '', inputs: [mm.inputs[0], shape('rows_shape', [-1, w.dims[0]])], outputs: [rowsIn], attributes: {} };
        const restore: OnnxNode = { name: rowsOut, opType: 'Reshape', domain: '', inputs: [rowsOut, shape('out_shape', [-1, ...xDims.slice(1, -1), w.dims[1]])], outputs: [mm.outputs[0]], attributes: {} };
        mm.inputs[0] = rowsIn;
        mm.outputs = [rowsOut];
        g.nodes.splice(g.nodes.indexOf(mm), 1, flatten, mm, restore);
        drop(add, add.outputs[0], restore.outputs[0]);
      } else {
        drop(add, add.outputs[0], mm.outputs[0]);
      }
      changed = true;
      break;
    }
  }
  return removed;
}

/** Conv and Gemm nodes with constant weights and no bias get a zero one (for bias correction); returns all of them. */
function addZeroBiases(model: OnnxModel): OnnxNode[] {
  const inits = model.graph.initializers;
  const layers = model.graph.nodes.filter((n) => (n.opType === 'Conv' || n.opType === 'Gemm') && inits.has(n.inputs[1]));
  for (const n of layers) {
    if (n.inputs[2]) continue;
    const w = inits.get(n.inputs[1])!;
    const outputs = n.opType === 'Conv' || intAttr(n, 'transB', 0) !== 0 ? w.dims[0] : w.dims[1];
    const name = `${n.outputs[0]}__zero_bias`;
    inits.set(name, { name, dataType: FLOAT, dims: [outputs], data: new Float32Array(outputs) });
    n.inputs = [n.inputs[0], n.inputs[1], name];
  }
  return layers;
}

function setConvParams(model: OnnxModel, conv: OnnxNode, w: ArrayLike<number>, dims: number[], bias: Float32Array): void {
  const wName = `${conv.outputs[0]}_folded_w`;
  const bName = `${conv.outputs[0]}_folded_b`;
  model.graph.initializers.set(wName, { name: wName, dataType: FLOAT, dims, data: Float32Array.from(w) });
  model.graph.initializers.set(bName, { name: bName, dataType: FLOAT, dims: [bias.length], data: bias });
  conv.inputs = [conv.inputs[0], wName, bName];
}

/** How activations are stored: parameters and element type from a real range, the Q/DQ domain. */
interface ActivationFormat {
  params: (lo: number, hi: number) => { scale: number; zeroPoint: number; dtype: 'uint8' | 'uint16' | 'int16' };
  /** 16-bit Q/DQ are standard from opset 21 only; com.microsoft has them for older opsets */
  domain?: string;
}
const UINT8: ActivationFormat = { params: (lo, hi) => ({ ...uint8Params(lo, hi), dtype: 'uint8' }) };
const WIDE: ActivationFormat = { params: wideParams, domain: 'com.microsoft' };
const QUANTIZED_RANGE = { uint8: [0, 255], uint16: [0, 65535], int16: [-32768, 32767] } as const;

interface QParams {
  scale: string;
  zeroPoint: string;
  scaleValue: number;
}

/** Writes the QDQ graph. */
class QdqWriter {
  weights = 0;
  activations = 0;
  readonly #nodes: NodeSpec[] = [];
  readonly #inits: Record<string, RawTensor> = {};
  readonly #params = new Map<string, QParams>();
  /** activation name -> the name consumers read (its DequantizeLinear output) */
  readonly #dequantized = new Map<string, string>();

  constructor(
    private readonly model: OnnxModel,
    private readonly stats: Map<string, TensorStats>,
    private readonly method: CalibrationMethod,
    private readonly percentile: number,
    private readonly perChannel: boolean,
    private readonly masks: { maskedOps: Set<OnnxNode>; maskNodes: Set<OnnxNode> },
    private readonly format: ActivationFormat,
    private readonly means?: ChannelMeans,
  ) {
    for (const n of masks.maskNodes) for (const o of n.outputs) this.#maskValues.add(o);
  }

  /** values the float mask computations produce */
  readonly #maskValues = new Set<string>();

  biasCorrected = 0;
  /** per layer: its float weights and their dequantised int8 values, for bias correction */
  readonly #roundedWeights = new Map<OnnxNode, { float: OnnxTensor; dequantized: Float32Array }>();

  build(opset: number, producer: string): Parameters<typeof writeOnnxModel>[0] {
    const g = this.model.graph;
    const consumers = consumersOf(g);
    const outputs = new Set(g.outputs.map((o) => o.name));
    // Graph inputs: float in, quantised at once unless only a float mask computation reads them;
    // integer inputs (token ids) are read as they are.
    for (const input of g.inputs) {
      const readers = consumers.get(input.name) ?? [];
      if (input.elemType === FLOAT && readers.some((n) => !this.masks.maskNodes.has(n))) this.#quantizeActivation(input.name, this.#calibrated(input.name), `${input.name}`);
    }
    for (const node of g.nodes) {
      if (this.masks.maskNodes.has(node)) {
        // The attention mask's arithmetic stays float; bitexact evaluates it exactly (see patterns.ts).
        this.#nodes.push({ op: node.opType, domain: node.domain || undefined, inputs: node.inputs.map((name, i) => this.#maskInput(node, i, name)), outputs: node.outputs, name: node.name || undefined, attrs: toAttrs(node) });
        continue;
      }
      const masked = this.masks.maskedOps.has(node);
      // a masked Add/Where reads the mask (and a select's constant) as float, the scores dequantised
      // (a masked Add's constant operand is the mask itself: a causal mask in the model)
      const floatOperand = (name: string) => this.#maskValues.has(name) || this.model.graph.initializers.has(name);
      const inputs = node.inputs.map((name, i) => (masked && floatOperand(name) ? this.#maskInput(node, i, name) : this.#inputFor(node, i, name)));
      const out = node.outputs[0];
      const next = consumers.get(out) ?? [];
      const fusesIntoNext = LINEAR.has(node.opType) && next.length === 1 && FUSED_ACTIVATIONS.has(next[0].opType) && !outputs.has(out);
      const raw = outputs.has(out) ? `${out}__float` : out;
      this.#nodes.push({
        op: node.opType,
        domain: node.domain || undefined,
        inputs,
        outputs: [raw, ...node.outputs.slice(1)],
        name: node.name || undefined,
        attrs: toAttrs(node),
      });
      if (fusesIntoNext || masked) {
        // the activation (or the Softmax after a masked Add) reads the raw output; Q comes after it
        this.#dequantized.set(out, raw);
        continue;
      }
      const params = PASSTHROUGH.has(node.opType) ? this.#params.get(node.inputs[0]) : undefined;
      this.#quantizeActivation(raw, params ?? this.#calibrated(out, outputs.has(out)), out, outputs.has(out));
    }
    const io = (v: OnnxModel['graph']['inputs'][number]): IoSpec => ({ name: v.name, dtype: INPUT_TYPES[v.elemType] ?? 'float32', shape: v.shape ?? undefined });
    return { nodes: this.#nodes, inputs: g.inputs.map(io), outputs: g.outputs.map(io), initializers: this.#inits, opset, producer: `bitexact quantize (${producer || 'unknown producer'})` };
  }

  /** Graph outputs keep their whole observed range: clipping one is an error the user sees as is. */
  #calibrated(name: string, isGraphOutput = false): QParams {
    const s = this.stats.get(name);
    if (!s) throw new BitexactError('ERR_BITEXACT_INTERNAL', `no calibration statistics for '${name}'`);
    const [lo, hi] = s.range(isGraphOutput ? 'minmax' : this.method, this.percentile);
    const { scale, zeroPoint, dtype } = this.format.params(lo, hi);
    const scaleName = `${name}__scale`;
    const zpName = `${name}__zero_point`;
    this.#inits[scaleName] = rawTensor('float32', [], [scale]);
    this.#inits[zpName] = rawTensor(dtype, [], [zeroPoint]);
    return { scale: scaleName, zeroPoint: zpName, scaleValue: scale };
  }

  /** Q then DQ after `value`; consumers of `name` read the DQ output (named `name` for graph outputs). */
  #quantizeActivation(value: string, p: QParams, name: string, isGraphOutput = false): void {
    const q = `${name}__q`;
    const dq = isGraphOutput ? name : `${name}__dq`;
    this.#nodes.push({ op: 'QuantizeLinear', domain: this.format.domain, inputs: [value, p.scale, p.zeroPoint], outputs: [q] });
    this.#nodes.push({ op: 'DequantizeLinear', domain: this.format.domain, inputs: [q, p.scale, p.zeroPoint], outputs: [dq] });
    this.#params.set(name, p);
    this.#dequantized.set(name, dq);
    this.activations++;
  }

  /** Inputs of the float mask computation: values as they are, constants in their own type (shapes and axes int64). */
  #maskInput(node: OnnxNode, index: number, name: string): string {
    const init = name ? this.model.graph.initializers.get(name) : undefined;
    if (!init) return name;
    const shape = index === 1 && ['Reshape', 'Unsqueeze', 'Squeeze'].includes(node.opType);
    return this.#constant(name, init, shape || init.dataType === 7 ? 'int64' : init.dataType === 6 ? 'int32' : 'float32');
  }

  #inputFor(node: OnnxNode, index: number, name: string): string {
    if (!name) return name;
    const init = this.model.graph.initializers.get(name);
    if (!init) return this.#dequantized.get(name) ?? name;
    if ((node.opType === 'Reshape' || node.opType === 'Gather') && index === 1) return this.#constant(name, init, 'int64');
    if (node.opType === 'LayerNormalization' && index > 0) return this.#constant(name, init, 'float32');
    if ((node.opType === 'Squeeze' || node.opType === 'Unsqueeze' || node.opType === 'ReduceMean') && index === 1) return this.#constant(name, init, 'int64');
    if ((node.opType === 'Conv' || node.opType === 'Gemm' || node.opType === 'MatMul') && index === 1) return this.#weight(node, name, init);
    if ((node.opType === 'Conv' || node.opType === 'Gemm') && index === 2) return this.#bias(node, name, init);
    if (node.opType === 'Clip') return this.#constant(name, init, 'float32');
    return this.#constantActivation(name, init);
  }

  #constant(name: string, t: OnnxTensor, dtype: 'int64' | 'int32' | 'float32'): string {
    this.#inits[name] = rawTensor(dtype, t.dims, dtype === 'int64' ? Array.from(t.data, (v) => BigInt(Math.round(v))) : t.data);
    return name;
  }

  /** A constant operand of Add/Mul/... (or an embedding table): per tensor over its own range. */
  #constantActivation(name: string, t: OnnxTensor): string {
    let lo = 0;
    let hi = 0;
    for (const v of t.data) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    const { scale, zeroPoint, dtype } = this.format.params(lo, hi);
    const [qlo, qhi] = QUANTIZED_RANGE[dtype];
    const domain = this.format.domain;
    const q = Array.from(t.data, (v) => Math.min(qhi, Math.max(qlo, Math.round(v / scale) + zeroPoint)));
    this.#inits[`${name}__quantized`] = rawTensor(dtype, t.dims, q);
    this.#inits[`${name}__scale`] = rawTensor('float32', [], [scale]);
    this.#inits[`${name}__zero_point`] = rawTensor(dtype, [], [zeroPoint]);
    this.#nodes.push({ op: 'DequantizeLinear', domain, inputs: [`${name}__quantized`, `${name}__scale`, `${name}__zero_point`], outputs: [`${name}__dq`] });
    this.#params.set(name, { scale: `${name}__scale`, zeroPoint: `${name}__zero_point`, scaleValue: scale }); // a Gather of it keeps them
    return `${name}__dq`;
  }

  /** int8 symmetric weights, per output channel unless per-tensor was asked for. */
  #weight(node: OnnxNode, name: string, t: OnnxTensor): string {
    const transB = node.opType === 'Gemm' && intAttr(node, 'transB', 0) !== 0;
    if (node.opType === 'Gemm' && (intAttr(node, 'transA', 0) !== 0 || intAttr(node, 'alpha', 1) !== 1 || intAttr(node, 'beta', 1) !== 1)) {
      throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `node '${node.name}' (Gemm) with transA or alpha/beta other than 1 cannot be quantised yet`);
    }
    const axis = node.opType === 'Conv' || transB ? 0 : 1;
    const channels = t.dims[axis];
    const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const scales = new Float32Array(this.perChannel ? channels : 1);
    const channelOf = (k: number) => (this.perChannel ? Math.floor(k / inner) % channels : 0);
    for (let k = 0; k < t.data.length; k++) scales[channelOf(k)] = Math.max(scales[channelOf(k)], Math.abs(t.data[k]));
    for (let c = 0; c < scales.length; c++) scales[c] = scales[c] > 0 ? Math.fround(scales[c] / 127) : 1;
    const q = Array.from(t.data, (v, k) => Math.min(127, Math.max(-127, Math.round(v / scales[channelOf(k)]))));
    const base = `${node.outputs[0]}__w`;
    this.#inits[`${base}_quantized`] = rawTensor('int8', t.dims, q);
    this.#inits[`${base}_scale`] = rawTensor('float32', this.perChannel ? [channels] : [], scales);
    this.#inits[`${base}_zero_point`] = rawTensor('int8', this.perChannel ? [channels] : [], new Array(scales.length).fill(0));
    this.#nodes.push({
      op: 'DequantizeLinear',
      inputs: [`${base}_quantized`, `${base}_scale`, `${base}_zero_point`],
      outputs: [`${base}_dq`],
      attrs: this.perChannel ? { axis } : undefined,
    });
    this.#weightScales.set(node, scales);
    this.#roundedWeights.set(node, { float: t, dequantized: Float32Array.from(q, (v, k) => v * scales[channelOf(k)]) });
    this.weights++;
    return `${base}_dq`;
  }

  readonly #weightScales = new Map<OnnxNode, Float32Array>();

  /** int32 bias at the accumulator scale (input scale x weight scale of its channel). */
  #bias(node: OnnxNode, name: string, t: OnnxTensor): string {
    const x = this.#params.get(node.inputs[0]);
    const w = this.#weightScales.get(node);
    if (!x || !w) throw new BitexactError('ERR_BITEXACT_INTERNAL', `bias of '${node.name}' before its input or weights`);
    const channels = t.data.length;
    const scales = Float32Array.from({ length: channels }, (_, c) => Math.fround(x.scaleValue * w[w.length === 1 ? 0 : c]));
    const rounded = this.#roundedWeights.get(node);
    const inputMeans = this.means?.mean(node.inputs[0]);
    const shift = rounded && inputMeans ? outputMeanShift(node, rounded.float, rounded.dequantized, inputMeans) : undefined;
    if (shift) this.biasCorrected++;
    const q = Array.from(t.data, (v, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round((v - (shift?.[c] ?? 0)) / scales[c]))));
    const base = `${node.outputs[0]}__b`;
    this.#inits[`${base}_quantized`] = rawTensor('int32', [channels], q);
    this.#inits[`${base}_scale`] = rawTensor('float32', [channels], scales);
    this.#inits[`${base}_zero_point`] = rawTensor('int32', [channels], new Array(channels).fill(0));
    this.#nodes.push({ op: 'DequantizeLinear', inputs: [`${base}_quantized`, `${base}_scale`, `${base}_zero_point`], outputs: [`${base}_dq`], attrs: { axis: 0 } });
    return `${base}_dq`;
  }
}

function toAttrs(node: OnnxNode): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [k, a] of Object.entries(node.attributes)) {
    if (a.kind === 'int') out[k] = a.value;
    else if (a.kind === 'ints') out[k] = a.value;
    else if (a.kind === 'string') out[k] = a.value;
    else if (a.kind === 'float') out[k] = { float: a.value };
    else if (a.kind === 'floats') out[k] = { floats: a.value };
    else throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `node '${node.name}': attribute '${k}' of kind ${a.kind} is not carried over yet`);
  }
  return out;
}
