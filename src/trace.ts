// Execution traces: every executed node's output hash, committed to in a binary Merkle tree
// (docs/receipts.md). The hashing and the tree live in native code (native/core/merkle.cpp).
import { addon } from './native.js';
import { expected, fromNative } from './errors.js';
import type { DType } from './tensor.js';

export interface TraceEntry {
  /** position among executed nodes, from 0 */
  index: number;
  /** the ONNX node's name (its first output's name when unnamed) */
  node: string;
  /** the op that ran, domain-qualified outside ai.onnx (e.g. "com.microsoft::QLinearAdd") */
  op: string;
  dtype: DType;
  shape: number[];
  /** canonical hash of the node's output */
  hash: string;
  /** keccak256(uint32_be(index) ‖ keccak256(op) ‖ hash) */
  leaf: string;
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

/** The leaf a trace entry contributes to the tree. */
export function traceLeaf(index: number, op: string, outputHash: string): string {
  return wrap(() => addon().traceLeaf(index, op, outputHash));
}

export function merkleRoot(leaves: readonly string[]): string {
  return wrap(() => addon().merkleRoot([...leaves]));
}

export interface MerkleProof {
  index: number;
  leafCount: number;
  leaf: string;
  /** sibling hashes from the leaf's level upwards */
  siblings: string[];
}

/** An inclusion proof for leaf `index`. */
export function merkleProof(leaves: readonly string[], index: number): MerkleProof {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw expected(`an integer from 0 to ${leaves.length - 1}`, 'leaf index', index);
  }
  return { index, leafCount: leaves.length, leaf: leaves[index], siblings: wrap(() => addon().merkleProof([...leaves], index)) };
}

export function verifyMerkleProof(proof: MerkleProof, root: string): boolean {
  return wrap(() => addon().verifyMerkleProof(proof.leaf, proof.index, proof.leafCount, proof.siblings, root));
}

export interface TraceDivergence {
  /** first index whose leaf differs, or null when the traces agree */
  firstIndex: number | null;
  a?: TraceEntry;
  b?: TraceEntry;
  /** how many positions differ (a length difference counts the extra entries) */
  differing: number;
}

/** Compares two traces of the same model and input: where they first diverge. */
export function diffTraces(a: readonly TraceEntry[], b: readonly TraceEntry[]): TraceDivergence {
  let firstIndex: number | null = null;
  let differing = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i].leaf !== b[i].leaf) {
      differing++;
      if (firstIndex === null) firstIndex = i;
    }
  }
  if (firstIndex === null && a.length !== b.length) firstIndex = Math.min(a.length, b.length);
  return firstIndex === null ? { firstIndex, differing } : { firstIndex, a: a[firstIndex], b: b[firstIndex], differing };
}
