// Synthetic ONNX models for benchmarks, written with a minimal protobuf encoder.
function varint(out, value) {
  let v = BigInt.asUintN(64, BigInt(value));
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
}
const key = (out, field, wire) => varint(out, (field << 3) | wire);
function bytesField(out, field, payload) {
  key(out, field, 2);
  varint(out, payload.length);
  for (let i = 0; i < payload.length; i++) out.push(payload[i]);
}
const stringField = (out, field, s) => bytesField(out, field, Buffer.from(s, 'utf8'));
function intField(out, field, v) {
  key(out, field, 0);
  varint(out, v);
}
function valueInfo(name, elem, dims) {
  const shape = [];
  for (const d of dims) {
    const dim = [];
    intField(dim, 1, d);
    bytesField(shape, 1, dim);
  }
  const tt = [];
  intField(tt, 1, elem);
  bytesField(tt, 2, shape);
  const type = [];
  bytesField(type, 1, tt);
  const out = [];
  stringField(out, 1, name);
  bytesField(out, 2, type);
  return out;
}

/** MatMulInteger Y[M,N] (int32) = A[M,K] (uint8 input) x B[K,N] (int8 constant). */
export function matMulIntegerModel(m, k, n, seed = 1) {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const b = Int8Array.from({ length: k * n }, () => next() - 128);
  const a = Uint8Array.from({ length: m * k }, () => next());
  const graph = [];
  const node = [];
  stringField(node, 1, 'A');
  stringField(node, 1, 'B');
  stringField(node, 2, 'Y');
  stringField(node, 3, 'gemm');
  stringField(node, 4, 'MatMulInteger');
  bytesField(graph, 1, node);
  stringField(graph, 2, 'bench');
  const init = [];
  intField(init, 1, k);
  intField(init, 1, n);
  intField(init, 2, 3);
  stringField(init, 8, 'B');
  bytesField(init, 9, new Uint8Array(b.buffer));
  bytesField(graph, 5, init);
  bytesField(graph, 11, valueInfo('A', 2, [m, k]));
  bytesField(graph, 12, valueInfo('Y', 6, [m, n]));
  const model = [];
  intField(model, 1, 8);
  const opset = [];
  intField(opset, 2, 17);
  bytesField(model, 8, opset);
  bytesField(model, 7, graph);
  return { bytes: Uint8Array.from(model), a };
}
