// Trace files (docs/receipts.md): JSON with the run's hashes and every leaf.
import { readFile, writeFile } from 'node:fs/promises';
import { BitexactError } from '../errors.js';
import { merkleRoot, type MerkleProof, type TraceEntry } from '../trace.js';

export interface TraceFile {
  specVersion: number;
  modelHash: string;
  inputHash: string;
  outputHash: string;
  traceRoot: string;
  leaves: TraceEntry[];
}

const HASH = /^0x[0-9a-f]{64}$/;

export async function writeTraceFile(path: string, trace: TraceFile): Promise<void> {
  await writeFile(path, JSON.stringify(trace, null, 2) + '\n');
}

/** Reads and checks a trace file: every hash well-formed and the root matching the leaves. */
export async function readTraceFile(path: string): Promise<TraceFile> {
  let value: TraceFile;
  try {
    value = JSON.parse(await readFile(path, 'utf8')) as TraceFile;
  } catch (err) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read trace file ${path}: ${(err as Error).message}`);
  }
  const bad = (why: string) => new BitexactError('ERR_BITEXACT_INPUT', `trace file ${path}: ${why}`);
  if (typeof value !== 'object' || value === null || !Array.isArray(value.leaves)) throw bad('expected an object with a leaves array');
  for (const key of ['modelHash', 'inputHash', 'outputHash', 'traceRoot'] as const) {
    if (typeof value[key] !== 'string' || !HASH.test(value[key])) throw bad(`${key} is not a 0x-prefixed 32-byte hash`);
  }
  value.leaves.forEach((leaf, i) => {
    if (leaf?.index !== i || typeof leaf.op !== 'string' || !HASH.test(leaf.hash) || !HASH.test(leaf.leaf)) {
      throw bad(`leaf ${i} is malformed`);
    }
  });
  if (merkleRoot(value.leaves.map((l) => l.leaf)) !== value.traceRoot) throw bad('traceRoot does not match its leaves');
  return value;
}

export function isMerkleProof(v: unknown): v is MerkleProof {
  const p = v as MerkleProof;
  return typeof p === 'object' && p !== null && Number.isInteger(p.index) && Number.isInteger(p.leafCount) &&
    typeof p.leaf === 'string' && HASH.test(p.leaf) && Array.isArray(p.siblings) && p.siblings.every((s) => typeof s === 'string' && HASH.test(s));
}
