// A minimal ONNX protobuf writer for building test models in memory (no onnx package needed).
type Bytes = number[];

function varint(out: Bytes, value: number | bigint): void {
  let v = BigInt.asUintN(64, BigInt(value));
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
}

function key(out: Bytes, field: number, wire: number): void {
  varint(out, (field << 3) | wire);
}

function bytesField(out: Bytes, field: number, payload: Uint8Array | Bytes): void {
  key(out, field, 2);
  varint(out, payload.length);
  for (const b of payload) out.push(b);
}

function stringField(out: Bytes, field: number, s: string): void {
  bytesField(out, field, Buffer.from(s, 'utf8'));
}

function intField(out: Bytes, field: number, v: number | bigint): void {
  key(out, field, 0);
  varint(out, v);
}

export const ELEM = { float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7 } as const;
export type ElemName = keyof typeof ELEM;

export interface TensorValue {
  dtype: ElemName;
  dims: number[];
  /** raw little-endian bytes */
  raw: Uint8Array;
}

export function tensorValue(dtype: ElemName, dims: number[], values: ArrayLike<number> | ArrayLike<bigint>): TensorValue {
  let raw: Uint8Array;
  const n = values.length;
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

function encodeTensor(name: string, t: TensorValue): Bytes {
  const out: Bytes = [];
  for (const d of t.dims) intField(out, 1, d);
  intField(out, 2, ELEM[t.dtype]);
  stringField(out, 8, name);
  bytesField(out, 9, t.raw);
  return out;
}

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | TensorValue;

function encodeAttribute(name: string, value: AttrValue): Bytes {
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
    key(out, 2, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value.float);
    out.push(...b);
    intField(out, 20, 1);
  } else if ('floats' in value) {
    for (const f of value.floats) {
      key(out, 7, 5);
      const b = Buffer.alloc(4);
      b.writeFloatLE(f);
      out.push(...b);
    }
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
  dtype: ElemName;
  /** numbers or symbolic names; omitted = shape not declared */
  shape?: (number | string)[];
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
  intField(tensorType, 1, ELEM[v.dtype]);
  if (v.shape) bytesField(tensorType, 2, shape);
  const type: Bytes = [];
  bytesField(type, 1, tensorType);
  const out: Bytes = [];
  stringField(out, 1, v.name);
  bytesField(out, 2, type);
  return out;
}

export interface ModelSpec {
  nodes: NodeSpec[];
  inputs: IoSpec[];
  outputs: IoSpec[];
  initializers?: Record<string, TensorValue>;
  opset?: number;
}

export function buildModel(spec: ModelSpec): Uint8Array {
  const graph: Bytes = [];
  spec.nodes.forEach((n, i) => {
    const node: Bytes = [];
    for (const input of n.inputs) stringField(node, 1, input);
    for (const output of n.outputs) stringField(node, 2, output);
    stringField(node, 3, n.name ?? `node${i}`);
    stringField(node, 4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) bytesField(node, 5, encodeAttribute(k, v));
    if (n.domain) stringField(node, 7, n.domain);
    bytesField(graph, 1, node);
  });
  stringField(graph, 2, 'test');
  for (const [name, t] of Object.entries(spec.initializers ?? {})) bytesField(graph, 5, encodeTensor(name, t));
  for (const v of spec.inputs) bytesField(graph, 11, encodeValueInfo(v));
  for (const v of spec.outputs) bytesField(graph, 12, encodeValueInfo(v));
  const model: Bytes = [];
  intField(model, 1, 8);
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

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInts(random: () => number, n: number, lo: number, hi: number, extremeShare = 0.1): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < extremeShare / 2) out[i] = lo;
    else if (r < extremeShare) out[i] = hi;
    else out[i] = lo + Math.floor(random() * (hi - lo + 1));
  }
  return out;
}
