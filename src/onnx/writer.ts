// Encodes ONNX ModelProto bytes: the quantiser's output (and the test suite's in-memory models).
// Only the fields bitexact and onnxruntime need: graph, nodes, attributes, initializers as
// raw_data, typed inputs/outputs, opset imports.

export type Bytes = number[];

export function varint(out: Bytes, value: number | bigint): void {
  let v = BigInt.asUintN(64, BigInt(value));
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
}

export function key(out: Bytes, field: number, wire: number): void {
  varint(out, (field << 3) | wire);
}

export function bytesField(out: Bytes, field: number, payload: Uint8Array | Bytes): void {
  key(out, field, 2);
  varint(out, payload.length);
  for (let i = 0; i < payload.length; i++) out.push(payload[i]);
}

export function stringField(out: Bytes, field: number, s: string): void {
  bytesField(out, field, Buffer.from(s, 'utf8'));
}

export function intField(out: Bytes, field: number, v: number | bigint): void {
  key(out, field, 0);
  varint(out, v);
}

export function floatField(out: Bytes, field: number, f: number): void {
  key(out, field, 5);
  const b = Buffer.alloc(4);
  b.writeFloatLE(f);
  for (const x of b) out.push(x);
}

/** ONNX TensorProto.DataType codes of the element types written here. */
export const ELEMENT_TYPE = { float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7 } as const;
export type ElementName = keyof typeof ELEMENT_TYPE;

/** A tensor to write: its little-endian bytes. */
export interface RawTensor {
  dtype: ElementName;
  dims: number[];
  raw: Uint8Array;
}

export function rawTensor(dtype: ElementName, dims: number[], values: ArrayLike<number> | ArrayLike<bigint>): RawTensor {
  const n = values.length;
  let raw: Uint8Array;
  switch (dtype) {
    case 'float32': raw = new Uint8Array(Float32Array.from(values as ArrayLike<number>).buffer); break;
    case 'uint8': raw = Uint8Array.from(values as ArrayLike<number>); break;
    case 'int8': raw = new Uint8Array(Int8Array.from(values as ArrayLike<number>).buffer); break;
    case 'uint16': raw = new Uint8Array(Uint16Array.from(values as ArrayLike<number>).buffer); break;
    case 'int16': raw = new Uint8Array(Int16Array.from(values as ArrayLike<number>).buffer); break;
    case 'int32': raw = new Uint8Array(Int32Array.from(values as ArrayLike<number>).buffer); break;
    case 'int64': {
      const b = new BigInt64Array(n);
      for (let i = 0; i < n; i++) b[i] = BigInt((values as ArrayLike<number | bigint>)[i]);
      raw = new Uint8Array(b.buffer);
      break;
    }
  }
  return { dtype, dims, raw };
}

export function encodeTensor(name: string, t: RawTensor): Bytes {
  const out: Bytes = [];
  for (const d of t.dims) intField(out, 1, d);
  intField(out, 2, ELEMENT_TYPE[t.dtype]);
  stringField(out, 8, name);
  bytesField(out, 9, t.raw);
  return out;
}

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | RawTensor;

export function encodeAttribute(name: string, value: AttrValue): Bytes {
  const out: Bytes = [];
  stringField(out, 1, name);
  if (typeof value === 'number') {
    intField(out, 3, value);
    intField(out, 20, 2);
  } else if (Array.isArray(value)) {
    for (const v of value) intField(out, 8, v);
    intField(out, 20, 7);
  } else if (typeof value === 'string') {
    stringField(out, 4, value);
    intField(out, 20, 3);
  } else if ('float' in value) {
    floatField(out, 2, value.float);
    intField(out, 20, 1);
  } else if ('floats' in value) {
    for (const f of value.floats) floatField(out, 7, f);
    intField(out, 20, 6);
  } else {
    bytesField(out, 5, encodeTensor('', value));
    intField(out, 20, 4);
  }
  return out;
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  name?: string;
  attrs?: Record<string, AttrValue>;
}

export interface IoSpec {
  name: string;
  dtype: ElementName;
  /** numbers or symbolic names; omitted = shape not declared */
  shape?: (number | string)[];
}

export interface ModelSpec {
  nodes: NodeSpec[];
  inputs: IoSpec[];
  outputs: IoSpec[];
  initializers?: Record<string, RawTensor>;
  /** ai.onnx opset (default 17) */
  opset?: number;
  producer?: string;
}

function encodeValueInfo(v: IoSpec): Bytes {
  const shape: Bytes = [];
  for (const d of v.shape ?? []) {
    const dim: Bytes = [];
    if (typeof d === 'number') intField(dim, 1, d);
    else stringField(dim, 2, d);
    bytesField(shape, 1, dim);
  }
  const tensorType: Bytes = [];
  intField(tensorType, 1, ELEMENT_TYPE[v.dtype]);
  if (v.shape) bytesField(tensorType, 2, shape);
  const type: Bytes = [];
  bytesField(type, 1, tensorType);
  const out: Bytes = [];
  stringField(out, 1, v.name);
  bytesField(out, 2, type);
  return out;
}

export function writeOnnxModel(spec: ModelSpec): Uint8Array {
  const graph: Bytes = [];
  // Node names must be unique (onnxruntime refuses duplicates): generated ones avoid given ones.
  const taken = new Set(spec.nodes.flatMap((n) => (n.name ? [n.name] : [])));
  const fresh = (i: number) => {
    let name = `node${i}`;
    for (let k = 1; taken.has(name); k++) name = `node${i}_${k}`;
    taken.add(name);
    return name;
  };
  spec.nodes.forEach((n, i) => {
    const node: Bytes = [];
    for (const input of n.inputs) stringField(node, 1, input);
    for (const output of n.outputs) stringField(node, 2, output);
    stringField(node, 3, n.name ?? fresh(i));
    stringField(node, 4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) bytesField(node, 5, encodeAttribute(k, v));
    if (n.domain) stringField(node, 7, n.domain);
    bytesField(graph, 1, node);
  });
  stringField(graph, 2, 'graph');
  for (const [name, t] of Object.entries(spec.initializers ?? {})) bytesField(graph, 5, encodeTensor(name, t));
  for (const v of spec.inputs) bytesField(graph, 11, encodeValueInfo(v));
  for (const v of spec.outputs) bytesField(graph, 12, encodeValueInfo(v));
  const model: Bytes = [];
  intField(model, 1, 8);
  if (spec.producer) stringField(model, 2, spec.producer);
  const opset: Bytes = [];
  intField(opset, 2, spec.opset ?? 17);
  bytesField(model, 8, opset);
  const ms: Bytes = [];
  stringField(ms, 1, 'com.microsoft');
  intField(ms, 2, 1);
  bytesField(model, 8, ms);
  bytesField(model, 7, graph);
  return Uint8Array.from(model);
}
