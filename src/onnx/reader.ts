// A bounds-checked reader of ONNX ModelProto bytes into plain objects, for the tools that work on
// float graphs in TypeScript (the calibrating quantiser and its float reference executor). The
// deterministic engine has its own reader in native/core/onnx_model.cpp.
import { BitexactError } from '../errors.js';

export interface OnnxTensor {
  name: string;
  /** ONNX TensorProto.DataType code (1 float, 2 uint8, 3 int8, 5 int16, 6 int32, 7 int64, ...) */
  dataType: number;
  dims: number[];
  /** float32 tensors as Float32Array, integer ones widened to Float64Array (int64 via Number) */
  data: Float32Array | Float64Array;
}

export type OnnxAttribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: OnnxTensor }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] };

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** numbers for fixed dims, strings for symbolic ones; null when no shape is declared */
  shape: (number | string)[] | null;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  opsets: { domain: string; version: number }[];
  graph: OnnxGraph;
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(why: string): never {
    throw new BitexactError('ERR_BITEXACT_INVALID_MODEL', `malformed ONNX protobuf at byte ${this.pos}: ${why}`);
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    this.fail('varint too long');
  }

  int(): number {
    return Number(BigInt.asIntN(64, this.varint()));
  }

  bytes(): Uint8Array {
    const n = Number(this.varint());
    if (n < 0 || this.pos + n > this.end) this.fail('length past the end');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  sub(): Reader {
    const b = this.bytes();
    return new Reader(this.buf, b.byteOffset - this.buf.byteOffset, b.byteOffset - this.buf.byteOffset + b.length);
  }

  string(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) this.fail('truncated fixed32');
    const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 4).readFloatLE(0);
    this.pos += 4;
    return v;
  }

  fixed64(): number {
    if (this.pos + 8 > this.end) this.fail('truncated fixed64');
    const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 8).readDoubleLE(0);
    this.pos += 8;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.end) this.fail('field past the end');
  }

  /** Calls fn(field, wire) for every field; fn returns false for a field it does not read, which is
   *  skipped by its wire type (protobuf readers must ignore unknown fields). */
  fields(fn: (field: number, wire: number) => boolean): void {
    while (!this.done) {
      const key = Number(this.varint());
      const field = key >>> 3;
      const wire = key & 7;
      if (!fn(field, wire)) this.skip(wire);
    }
  }

  /** A repeated numeric field, packed (wire 2) or not. */
  repeated(wire: number, one: () => number, out: number[]): void {
    if (wire === 2) {
      const r = this.sub();
      while (!r.done) out.push(one.call(r));
    } else out.push(one.call(this));
  }
}

export function readOnnxModel(bytes: Uint8Array): OnnxModel {
  const r = new Reader(bytes);
  const model: OnnxModel = { irVersion: 0, producerName: '', opsets: [], graph: { name: '', nodes: [], initializers: new Map(), inputs: [], outputs: [] } };
  let sawGraph = false;
  r.fields((field, wire) => {
    if (field === 1 && wire === 0) model.irVersion = r.int();
    else if (field === 2 && wire === 2) model.producerName = r.string();
    else if (field === 7 && wire === 2) {
      model.graph = readGraph(r.sub());
      sawGraph = true;
    } else if (field === 8 && wire === 2) {
      const s = r.sub();
      const opset = { domain: '', version: 0 };
      s.fields((f, w) => {
        if (f === 1 && w === 2) opset.domain = s.string();
        else if (f === 2 && w === 0) opset.version = s.int();
        else return false;
        return true;
      });
      model.opsets.push(opset);
    } else return false;
    return true;
  });
  if (!sawGraph) throw new BitexactError('ERR_BITEXACT_INVALID_MODEL', 'not an ONNX model: no graph');
  return model;
}

function readGraph(r: Reader): OnnxGraph {
  const g: OnnxGraph = { name: '', nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  r.fields((field, wire) => {
    if (wire !== 2) return false;
    if (field === 1) g.nodes.push(readNode(r.sub()));
    else if (field === 2) g.name = r.string();
    else if (field === 5) {
      const t = readTensor(r.sub());
      g.initializers.set(t.name, t);
    } else if (field === 11) g.inputs.push(readValueInfo(r.sub()));
    else if (field === 12) g.outputs.push(readValueInfo(r.sub()));
    else return false;
    return true;
  });
  // Graph inputs that are also initializers are constants, not inputs a caller feeds.
  g.inputs = g.inputs.filter((i) => !g.initializers.has(i.name));
  return g;
}

function readNode(r: Reader): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: {} };
  r.fields((field, wire) => {
    if (wire !== 2) return false;
    if (field === 1) n.inputs.push(r.string());
    else if (field === 2) n.outputs.push(r.string());
    else if (field === 3) n.name = r.string();
    else if (field === 4) n.opType = r.string();
    else if (field === 7) n.domain = r.string();
    else if (field === 5) {
      const [name, attr] = readAttribute(r.sub());
      n.attributes[name] = attr;
    } else return false;
    return true;
  });
  if (!n.opType) r.fail('a node without op_type');
  return n;
}

function readAttribute(r: Reader): [string, OnnxAttribute] {
  let name = '';
  let type = 0;
  let f = 0;
  let i = 0;
  let s = '';
  let t: OnnxTensor | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  r.fields((field, wire) => {
    if (field === 1 && wire === 2) name = r.string();
    else if (field === 2 && wire === 5) f = r.fixed32();
    else if (field === 3 && wire === 0) i = r.int();
    else if (field === 4 && wire === 2) s = r.string();
    else if (field === 5 && wire === 2) t = readTensor(r.sub());
    else if (field === 7) r.repeated(wire, Reader.prototype.fixed32, floats);
    else if (field === 8) r.repeated(wire, Reader.prototype.int, ints);
    else if (field === 9 && wire === 2) strings.push(r.string());
    else if (field === 20 && wire === 0) type = r.int();
    else return false;
    return true;
  });
  switch (type) {
    case 1: return [name, { kind: 'float', value: f }];
    case 2: return [name, { kind: 'int', value: i }];
    case 3: return [name, { kind: 'string', value: s }];
    case 4: if (t) return [name, { kind: 'tensor', value: t }]; break;
    case 6: return [name, { kind: 'floats', value: floats }];
    case 7: return [name, { kind: 'ints', value: ints }];
    case 8: return [name, { kind: 'strings', value: strings }];
  }
  throw new BitexactError('ERR_BITEXACT_INVALID_MODEL', `attribute '${name}' has unsupported type ${type}`);
}

const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8 };

function readTensor(r: Reader): OnnxTensor {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const doubles: number[] = [];
  r.fields((field, wire) => {
    if (field === 1) r.repeated(wire, Reader.prototype.int, dims);
    else if (field === 2 && wire === 0) dataType = r.int();
    else if (field === 4) r.repeated(wire, Reader.prototype.fixed32, floats);
    else if (field === 5 || field === 7 || field === 11) r.repeated(wire, Reader.prototype.int, ints);
    else if (field === 8 && wire === 2) name = r.string();
    else if (field === 9 && wire === 2) raw = r.bytes();
    else if (field === 10) r.repeated(wire, Reader.prototype.fixed64, doubles);
    else if (field === 14 && wire === 0) {
      if (r.int() === 1) r.fail(`tensor '${name}' keeps its data in an external file, which is not supported`);
    } else return false;
    return true;
  });
  const count = dims.reduce((a, b) => a * b, 1);
  const t: OnnxTensor = { name, dataType, dims, data: dataType === 1 ? new Float32Array(count) : new Float64Array(count) };
  if (raw) {
    const size = ELEMENT_BYTES[dataType];
    if (!size) r.fail(`tensor '${name}' has unsupported data type ${dataType}`);
    if (raw.length !== count * size) r.fail(`tensor '${name}' has ${raw.length} bytes of data but dims need ${count * size}`);
    const view = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    for (let k = 0; k < count; k++) {
      const o = k * size;
      switch (dataType) {
        case 1: t.data[k] = view.readFloatLE(o); break;
        case 2: case 9: t.data[k] = view.readUInt8(o); break;
        case 3: t.data[k] = view.readInt8(o); break;
        case 4: t.data[k] = view.readUInt16LE(o); break;
        case 5: t.data[k] = view.readInt16LE(o); break;
        case 6: t.data[k] = view.readInt32LE(o); break;
        case 7: t.data[k] = Number(view.readBigInt64LE(o)); break;
        case 11: t.data[k] = view.readDoubleLE(o); break;
        default: r.fail(`tensor '${name}' has unsupported data type ${dataType}`);
      }
    }
  } else {
    const source = dataType === 1 ? floats : dataType === 11 ? doubles : ints;
    if (source.length !== count) r.fail(`tensor '${name}' has ${source.length} values but dims need ${count}`);
    t.data.set(source);
  }
  return t;
}

function readValueInfo(r: Reader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  r.fields((field, wire) => {
    if (field === 1 && wire === 2) v.name = r.string();
    else if (field === 2 && wire === 2) {
      const type = r.sub();
      type.fields((f, w) => {
        if (f !== 1 || w !== 2) return false;
        const tensorType = type.sub();
        tensorType.fields((tf, tw) => {
          if (tf === 1 && tw === 0) v.elemType = tensorType.int();
          else if (tf === 2 && tw === 2) {
            v.shape = [];
            const shape = tensorType.sub();
            shape.fields((sf, sw) => {
              if (sf !== 1 || sw !== 2) return false;
              const dim = shape.sub();
              let value: number | string = '?';
              dim.fields((df, dw) => {
                if (df === 1 && dw === 0) value = dim.int();
                else if (df === 2 && dw === 2) value = dim.string();
                else return false;
                return true;
              });
              v.shape!.push(value);
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return v;
}
