// Stacking single-sample inputs into one batch along dimension 0 and splitting a batched run's
// results back into what each sample would have got alone (hashes, traces and receipts included).
// Which models this is exact for is decided by the caller (see Model.batchable and the scheduler).
import { BitexactError } from './errors.js';
import { addon, type NativeRunResult } from './native.js';
import { viewBytes, type DType, type Tensor } from './tensor.js';
import type { TraceEntry } from './trace.js';

/** One batch member's inputs, keyed by input name, already normalised; every shape leads with 1. */
export type SampleInputs = Record<string, Tensor>;

/** Stacks samples along dimension 0. All samples must give the same inputs with the same shapes. */
export function stackSamples(samples: SampleInputs[]): SampleInputs {
  const first = samples[0];
  const out: SampleInputs = {};
  for (const [name, t] of Object.entries(first)) {
    if (t.shape[0] !== 1) throw new BitexactError('ERR_BITEXACT_INPUT', `input '${name}' of a batched sample must lead with 1, not ${t.shape[0]}`);
    const bytes = new Uint8Array(t.data.byteLength * samples.length);
    samples.forEach((s, i) => {
      const m = s[name];
      if (!m || m.dtype !== t.dtype || m.shape.join() !== t.shape.join()) {
        throw new BitexactError('ERR_BITEXACT_INPUT', `sample ${i} of a batch differs from sample 0 in input '${name}'`);
      }
      bytes.set(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength), i * t.data.byteLength);
    });
    out[name] = { dtype: t.dtype, shape: [samples.length, ...t.shape.slice(1)], data: viewBytes(t.dtype, bytes) };
  }
  return out;
}

export interface SampleResult {
  outputs: Record<string, Tensor & { hash: string }>;
  outputHash: string;
  inputHash: string;
  trace?: TraceEntry[];
  traceRoot?: string;
}

/** Splits a batched native result (trace hashed per sample) into per-sample results. */
export function splitBatchResult(r: NativeRunResult, samples: SampleInputs[]): SampleResult[] {
  const n = samples.length;
  const native = addon();
  const perSampleTrace = r.trace ? r.trace.length / n : 0;
  return samples.map((sample, s) => {
    const outputs: SampleResult['outputs'] = {};
    for (const o of r.outputs) {
      if (o.shape[0] !== n) {
        throw new BitexactError('ERR_BITEXACT_INPUT', `output '${o.name}' has shape [${o.shape.join(',')}], which does not lead with the batch of ${n}`);
      }
      const dtype = o.dtype as DType;
      const sliceBytes = o.data.byteLength / n;
      const bytes = o.data.subarray(s * sliceBytes, (s + 1) * sliceBytes);
      const shape = [1, ...o.shape.slice(1)];
      const data = viewBytes(dtype, bytes);
      outputs[o.name] = { dtype, shape, data, hash: native.hashTensor({ dtype, shape, data }) };
    }
    const inputHashes = Object.entries(sample).map(([name, t]) => ({ name, hash: native.hashTensor({ dtype: t.dtype, shape: [...t.shape], data: t.data }) }));
    const result: SampleResult = {
      outputs,
      outputHash: native.hashNamed(Object.entries(outputs).map(([name, o]) => ({ name, hash: o.hash }))),
      inputHash: native.hashNamed(inputHashes),
    };
    if (r.trace && r.traceRoots) {
      result.trace = r.trace.slice(s * perSampleTrace, (s + 1) * perSampleTrace).map((t) => ({ ...t, dtype: t.dtype as DType }));
      result.traceRoot = r.traceRoots[s];
    }
    return result;
  });
}
