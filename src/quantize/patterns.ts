// Float-graph rewrites that turn the decompositions exporters write for transformer blocks into the
// single ops bitexact runs in integers (and onnxruntime runs too):
//   ReduceMean, Sub, Pow 2 | Mul self, ReduceMean, Add eps, Sqrt, Div [, Mul gamma] [, Add beta]
//                                                            -> LayerNormalization (last axis)
//   Div(x, sqrt 2) | Mul(x, 1/sqrt 2), Erf, Add 1, Mul x, Mul 0.5 (in either order)
//                                                            -> com.microsoft Gelu
//   Div(x, constant)                                         -> Mul(x, 1 / constant)
// and the analysis that keeps an attention mask in float: an additive one (computed from a graph
// input, added to the scores right before a Softmax; quantising (1 - mask) * -10000 together with
// the scores would spend the whole uint8 range on the mask) or a select (Where(cond, scores, -inf)).
// bitexact runs that Add/Where + Softmax as one integer masked softmax.
import type { OnnxModel, OnnxNode, OnnxTensor } from '../onnx/reader.js';

type Graph = OnnxModel['graph'];
const FLOAT = 1;

interface GraphView {
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  isOutput: (name: string) => boolean;
}

function view(g: Graph): GraphView {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const outputs = new Set(g.outputs.map((o) => o.name));
  return { producer, consumers, isOutput: (name) => outputs.has(name) };
}

/** The only reader of `value` when it has exactly one and is not a graph output. */
function soleConsumer(v: GraphView, value: string, opType: string): OnnxNode | undefined {
  const c = v.consumers.get(value) ?? [];
  return c.length === 1 && c[0].opType === opType && !v.isOutput(value) ? c[0] : undefined;
}

function scalar(g: Graph, name: string): number | undefined {
  const t = g.initializers.get(name);
  return t && t.data.length === 1 ? t.data[0] : undefined;
}

const near = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) <= 1e-4 * Math.abs(b);

/** The operand of a two-input node other than `value`. */
function other(n: OnnxNode, value: string): string | undefined {
  if (n.inputs.length !== 2) return undefined;
  return n.inputs[0] === value ? n.inputs[1] : n.inputs[1] === value ? n.inputs[0] : undefined;
}

/** Axes a ReduceMean reduces (attribute before opset 18, input after), normalised against `rank`. */
function reduceAxes(g: Graph, n: OnnxNode, rank: number): number[] | undefined {
  const a = n.attributes.axes;
  const raw = a && a.kind === 'ints' ? a.value : n.inputs[1] ? Array.from(g.initializers.get(n.inputs[1])?.data ?? []) : undefined;
  return raw?.map((x) => (x < 0 ? x + rank : x));
}

function keepsDims(n: OnnxNode): boolean {
  const k = n.attributes.keepdims;
  return !k || k.kind !== 'int' || k.value !== 0;
}

/** Removes nodes none of whose outputs are read (or graph outputs). Returns how many went. */
export function removeDeadNodes(g: Graph): number {
  let removed = 0;
  for (;;) {
    const v = view(g);
    const dead = g.nodes.filter((n) => n.outputs.every((o) => !o || (!v.consumers.has(o) && !v.isOutput(o))));
    if (dead.length === 0) return removed;
    g.nodes = g.nodes.filter((n) => !dead.includes(n));
    removed += dead.length;
  }
}

/** Replaces `last` (keeping its place and output) with `replacement`; the rest dies with removeDeadNodes. */
function replace(g: Graph, last: OnnxNode, replacement: Omit<OnnxNode, 'outputs'>): void {
  g.nodes[g.nodes.indexOf(last)] = { ...replacement, outputs: [last.outputs[0]] };
}

function addInitializer(g: Graph, name: string, dims: number[], data: ArrayLike<number>): string {
  const t: OnnxTensor = { name, dataType: FLOAT, dims, data: Float32Array.from(data) };
  g.initializers.set(name, t);
  return name;
}

/** The LayerNorm decomposition over the last axis -> LayerNormalization. Returns how many. */
export function fuseLayerNormPatterns(g: Graph, dims: Map<string, number[]>): number {
  let fused = 0;
  for (const mean of g.nodes.filter((n) => n.opType === 'ReduceMean')) {
    const v = view(g);
    const x = mean.inputs[0];
    const rank = dims.get(x)?.length;
    if (!rank || !keepsDims(mean) || reduceAxes(g, mean, rank)?.join() !== `${rank - 1}`) continue;
    const sub = soleConsumer(v, mean.outputs[0], 'Sub');
    if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) continue;
    const centred = sub.outputs[0];
    const users = [...new Set(v.consumers.get(centred) ?? [])]; // Mul(d, d) reads it twice
    const square = users.find((n) => (n.opType === 'Pow' && near(scalar(g, n.inputs[1]), 2)) || (n.opType === 'Mul' && n.inputs[0] === centred && n.inputs[1] === centred));
    const div = users.find((n) => n.opType === 'Div' && n.inputs[0] === centred);
    if (!square || !div || users.length !== 2 || v.isOutput(centred)) continue;
    const variance = soleConsumer(v, square.outputs[0], 'ReduceMean');
    if (!variance || !keepsDims(variance) || reduceAxes(g, variance, rank)?.join() !== `${rank - 1}`) continue;
    const addEps = soleConsumer(v, variance.outputs[0], 'Add');
    const epsilon = addEps && scalar(g, other(addEps, variance.outputs[0]) ?? '');
    const sqrt = addEps && soleConsumer(v, addEps.outputs[0], 'Sqrt');
    if (epsilon === undefined || !sqrt || div.inputs[1] !== sqrt.outputs[0]) continue;
    const width = dims.get(x)![rank - 1];
    const perChannel = (name: string | undefined) => {
      const t = name ? g.initializers.get(name) : undefined;
      return t && t.data.length === width && t.dims.filter((d) => d !== 1).length <= 1 ? t : undefined;
    };
    let last = div;
    const mul = soleConsumer(v, div.outputs[0], 'Mul');
    const gamma = mul && perChannel(other(mul, div.outputs[0]));
    if (mul && gamma) last = mul;
    const add = soleConsumer(v, last.outputs[0], 'Add');
    const beta = add && perChannel(other(add, last.outputs[0]));
    if (add && beta) last = add;
    const base = `${last.outputs[0]}__layernorm`;
    const inputs = [x, addInitializer(g, `${base}_scale`, [width], gamma?.data ?? new Float32Array(width).fill(1))];
    if (beta) inputs.push(addInitializer(g, `${base}_bias`, [width], beta.data));
    replace(g, last, {
      name: base,
      opType: 'LayerNormalization',
      domain: '',
      inputs,
      attributes: { axis: { kind: 'int', value: -1 }, epsilon: { kind: 'float', value: epsilon } },
    });
    removeDeadNodes(g);
    fused++;
  }
  return fused;
}

/** The erf GELU decomposition -> com.microsoft Gelu. Returns how many. */
export function fuseGeluPatterns(g: Graph): number {
  let fused = 0;
  for (const erf of g.nodes.filter((n) => n.opType === 'Erf')) {
    const v = view(g);
    const scaled = v.producer.get(erf.inputs[0]);
    if (!scaled || v.isOutput(erf.inputs[0]) || (v.consumers.get(erf.inputs[0]) ?? []).length !== 1) continue;
    const x = scaled.inputs[0];
    const isScale =
      (scaled.opType === 'Div' && near(scalar(g, scaled.inputs[1]), Math.SQRT2)) || (scaled.opType === 'Mul' && near(scalar(g, scaled.inputs[1]), Math.SQRT1_2));
    const onePlus = soleConsumer(v, erf.outputs[0], 'Add');
    if (!isScale || !onePlus || !near(scalar(g, other(onePlus, erf.outputs[0]) ?? ''), 1)) continue;
    const mul = soleConsumer(v, onePlus.outputs[0], 'Mul');
    const factor = mul && other(mul, onePlus.outputs[0]);
    if (!mul || !factor) continue;
    let last: OnnxNode | undefined;
    if (factor === x) {
      // x * (1 + erf) then * 0.5
      const half = soleConsumer(v, mul.outputs[0], 'Mul');
      if (half && near(scalar(g, other(half, mul.outputs[0]) ?? ''), 0.5)) last = half;
    } else {
      // (x * 0.5) * (1 + erf)
      const half = v.producer.get(factor);
      if (half?.opType === 'Mul' && other(half, x) !== undefined && near(scalar(g, other(half, x)!), 0.5)) last = mul;
    }
    if (!last) continue;
    replace(g, last, { name: `${last.outputs[0]}__gelu`, opType: 'Gelu', domain: 'com.microsoft', inputs: [x], attributes: {} });
    removeDeadNodes(g);
    fused++;
  }
  return fused;
}

/** Div by a constant -> Mul by its reciprocal (bitexact has an integer Mul, not a Div). */
export function divisionsToProducts(g: Graph): void {
  for (const n of g.nodes) {
    const c = n.opType === 'Div' ? g.initializers.get(n.inputs[1]) : undefined;
    if (!c || g.initializers.has(n.inputs[0]) || !c.data.every((d) => d !== 0)) continue;
    n.opType = 'Mul';
    n.inputs = [n.inputs[0], addInitializer(g, `${n.inputs[1]}__reciprocal`, c.dims, Array.from(c.data, (d) => 1 / d))];
  }
}

const MASK_OPS = new Set(['Cast', 'Sub', 'Add', 'Mul', 'Div', 'Neg', 'Equal', 'Not', 'Unsqueeze', 'Reshape', 'Squeeze']);
/** a select's masked value: exp underflows to 0 for it in float too (attention_mask.h) */
const MASKED_VALUE = -1000;

/**
 * Attention masks: an Add read only by a Softmax, one operand of which is computed from graph
 * inputs and constants alone by MASK_OPS, or a Where read only by a Softmax choosing between the
 * scores and a constant <= -1000 on such a condition. Returns those Adds/Wheres and the nodes of
 * the mask computations (left in float by the quantiser; bitexact evaluates them exactly).
 */
export function findAttentionMasks(g: Graph): { maskedOps: Set<OnnxNode>; maskNodes: Set<OnnxNode> } {
  const v = view(g);
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  const maskedOps = new Set<OnnxNode>();
  const maskNodes = new Set<OnnxNode>();
  const cone = (value: string, into: Set<OnnxNode>): boolean => {
    if (graphInputs.has(value) || g.initializers.has(value)) return true;
    const p = v.producer.get(value);
    if (!p || !MASK_OPS.has(p.opType) || !p.inputs.every((i) => !i || cone(i, into))) return false;
    into.add(p);
    return true;
  };
  for (const where of g.nodes) {
    if (where.opType !== 'Where' || where.inputs.length !== 3 || !soleConsumer(v, where.outputs[0], 'Softmax')) continue;
    const [condition, a, b] = where.inputs;
    const masked = (name: string) => scalar(g, name) !== undefined && scalar(g, name)! <= MASKED_VALUE;
    const nodes = new Set<OnnxNode>();
    if (masked(a) === masked(b) || graphInputs.has(condition) || !cone(condition, nodes)) continue;
    maskedOps.add(where);
    for (const n of nodes) maskNodes.add(n);
  }
  // A constant mask in the model (causal attention): every element 0 (attend) or <= MASKED_VALUE.
  const constantMask = (name: string) => {
    const t = g.initializers.get(name);
    if (!t || t.dataType !== FLOAT || t.data.length < 2) return false;
    const values = Array.from(t.data);
    return values.every((x) => x === 0 || x <= MASKED_VALUE) && values.some((x) => x !== 0);
  };
  for (const add of g.nodes) {
    if (add.opType !== 'Add' || add.inputs.length !== 2 || !soleConsumer(v, add.outputs[0], 'Softmax')) continue;
    for (const operand of add.inputs) {
      const scores = other(add, operand) ?? '';
      if (constantMask(operand) && !g.initializers.has(scores) && !graphInputs.has(scores)) {
        maskedOps.add(add);
        continue;
      }
      const nodes = new Set<OnnxNode>();
      if (graphInputs.has(operand) || g.initializers.has(operand) || !cone(operand, nodes)) continue;
      const reachesInput = [...nodes].some((n) => n.inputs.some((i) => graphInputs.has(i)));
      if (!reachesInput || cone(other(add, operand) ?? '', new Set())) continue;
      maskedOps.add(add);
      for (const n of nodes) maskNodes.add(n);
    }
  }
  return { maskedOps, maskNodes };
}
