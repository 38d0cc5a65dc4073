// Receipts (docs/receipts.md): a signed, schema-checked commitment to one run, and verification
// by re-execution.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { Wallet, getBytes, verifyMessage } from 'ethers';
import { BitexactError } from './errors.js';
import { keccak256 as nativeKeccak256 } from './hash.js';
import { info } from './info.js';
import { packageRoot } from './native.js';
import { engineVersion } from './version.js';
import { diffTraces, merkleRoot, type TraceDivergence, type TraceEntry } from './trace.js';
import type { Model, RunResult } from './model.js';
import type { TensorInput } from './tensor.js';

export const RECEIPT_KIND = 'bitexact.receipt';

export interface Receipt {
  kind: typeof RECEIPT_KIND;
  specVersion: number;
  engineVersion: string;
  modelHash: string;
  inputHash: string;
  outputHash: string;
  traceRoot: string;
  /** keccak256(abi.encode(kind, specVersion, engineVersion, modelHash, inputHash, outputHash, traceRoot)) */
  digest: string;
  backend: { name: string; isa?: string; threads?: number; device?: string };
  timings: Record<string, number>;
  createdAt: string;
  /** the leaves behind traceRoot, so a verifier can localise a divergence */
  trace?: TraceEntry[];
  /** EIP-191 signature of the 32-byte digest */
  signature?: string;
  signer?: string;
}

type DigestFields = Pick<Receipt, 'kind' | 'specVersion' | 'engineVersion' | 'modelHash' | 'inputHash' | 'outputHash' | 'traceRoot'>;

/**
 * The receipt's digest: keccak256(abi.encode(string kind, uint32 specVersion, string
 * engineVersion, bytes32 modelHash, bytes32 inputHash, bytes32 outputHash, bytes32 traceRoot)),
 * so a contract can recompute it. Encoded here by hand and hashed natively: a server builds one
 * per job, and ethers' generic coder costs more than the run of a small model.
 */
export function receiptDigest(r: DigestFields): string {
  if (!(Number.isInteger(r.specVersion) && r.specVersion >= 0 && r.specVersion <= 0xffffffff)) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `specVersion must be a uint32, not ${String(r.specVersion)}`);
  }
  const words = [r.modelHash, r.inputHash, r.outputHash, r.traceRoot].map((h, i) => {
    if (typeof h !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(h)) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `${['modelHash', 'inputHash', 'outputHash', 'traceRoot'][i]} must be a 32-byte 0x-hex hash`);
    }
    return Buffer.from(h.slice(2), 'hex');
  });
  const kind = Buffer.from(r.kind, 'utf8');
  const engine = Buffer.from(r.engineVersion, 'utf8');
  const padded = (n: number) => Math.ceil(n / 32) * 32;
  const head = 7 * 32;
  const out = Buffer.alloc(head + 32 + padded(kind.length) + 32 + padded(engine.length));
  const putUint = (offset: number, v: number) => out.writeUInt32BE(v, offset + 28); // right-aligned in its word
  const kindAt = head;
  const engineAt = kindAt + 32 + padded(kind.length);
  putUint(0, kindAt);
  putUint(32, r.specVersion);
  putUint(64, engineAt);
  words.forEach((w, i) => w.copy(out, 96 + 32 * i));
  putUint(kindAt, kind.length);
  kind.copy(out, kindAt + 32);
  putUint(engineAt, engine.length);
  engine.copy(out, engineAt + 32);
  return nativeKeccak256(out);
}

let cachedSpecVersion: number | undefined;
function specVersion(): number {
  return (cachedSpecVersion ??= info().specVersion);
}

/** Builds a receipt from a traced run. */
export function createReceipt(result: RunResult): Receipt {
  if (!result.traceRoot || !result.trace) {
    throw new BitexactError('ERR_BITEXACT_INPUT', 'a receipt needs a traced run (run with { receipt: true } or { trace: true })');
  }
  const fields: DigestFields = {
    kind: RECEIPT_KIND,
    specVersion: specVersion(),
    engineVersion,
    modelHash: result.modelHash,
    inputHash: result.inputHash,
    outputHash: result.outputHash,
    traceRoot: result.traceRoot,
  };
  return {
    ...fields,
    digest: receiptDigest(fields),
    backend: result.backend,
    timings: result.timings,
    createdAt: new Date().toISOString(),
    trace: result.trace,
  };
}

/** Signs the digest with an Ethereum key (EIP-191 personal message). The key is never logged. */
export async function signReceipt(receipt: Receipt, privateKey: string): Promise<Receipt> {
  let wallet: Wallet;
  try {
    wallet = new Wallet(privateKey);
  } catch {
    throw new BitexactError('ERR_BITEXACT_INPUT', 'the signing key is not a valid 32-byte hex private key');
  }
  const signature = await wallet.signMessage(getBytes(receipt.digest));
  return { ...receipt, signature, signer: wallet.address };
}

let validator: ValidateFunction | undefined;

function validate(value: unknown): string | null {
  if (!validator) {
    const schema = JSON.parse(readFileSync(join(packageRoot, 'schemas', 'receipt.schema.json'), 'utf8'));
    validator = new Ajv({ allErrors: false, strict: false, validateFormats: false }).compile(schema);
  }
  if (validator(value)) return null;
  const e = validator.errors?.[0];
  return e ? `${e.instancePath || '(root)'} ${e.message}` : 'invalid';
}

/** Parses and schema-checks a receipt (ERR_BITEXACT_INPUT with the first problem otherwise). */
export function parseReceipt(value: unknown, label = 'receipt'): Receipt {
  const problem = validate(value);
  if (problem) throw new BitexactError('ERR_BITEXACT_INPUT', `${label} does not match the receipt schema: ${problem}`);
  return value as Receipt;
}

export async function readReceiptFile(path: string): Promise<Receipt> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read receipt ${path}: ${(err as Error).message}`);
  }
  return parseReceipt(value, `receipt ${path}`);
}

export interface ReceiptCheck {
  what: string;
  ok: boolean;
  expected?: string;
  actual?: string;
}

export interface Verdict {
  ok: boolean;
  checks: ReceiptCheck[];
  /** the address that signed the digest, when the receipt is signed */
  signer?: string;
  /** where the re-execution's trace first leaves the receipt's, when both traces are known */
  divergence?: TraceDivergence;
}

/**
 * Re-executes the run a receipt claims and compares every committed hash. The caller checks that
 * `model` is the receipt's model (modelHash) before calling; a mismatch there is bad input.
 */
export async function verifyReceipt(receipt: Receipt, model: Model, inputs: Record<string, TensorInput>): Promise<Verdict> {
  const checks: ReceiptCheck[] = [];
  const digest = receiptDigest(receipt);
  checks.push({ what: 'digest', ok: digest === receipt.digest, expected: receipt.digest, actual: digest });
  let signer: string | undefined;
  if (receipt.signature) {
    try {
      signer = verifyMessage(getBytes(receipt.digest), receipt.signature);
    } catch {
      signer = undefined;
    }
    const ok = signer !== undefined && (receipt.signer === undefined || receipt.signer.toLowerCase() === signer.toLowerCase());
    checks.push({ what: 'signature', ok, expected: receipt.signer, actual: signer });
  }
  if (receipt.trace) {
    const root = merkleRoot(receipt.trace.map((t) => t.leaf));
    checks.push({ what: 'trace leaves', ok: root === receipt.traceRoot, expected: receipt.traceRoot, actual: root });
  }
  const r = await model.run(inputs, { trace: true });
  for (const key of ['modelHash', 'inputHash', 'outputHash', 'traceRoot'] as const) {
    checks.push({ what: key, ok: r[key] === receipt[key], expected: receipt[key], actual: r[key] });
  }
  const verdict: Verdict = { ok: checks.every((c) => c.ok), checks, ...(signer ? { signer } : {}) };
  if (receipt.trace && r.trace && r.traceRoot !== receipt.traceRoot) verdict.divergence = diffTraces(receipt.trace, r.trace);
  return verdict;
}
