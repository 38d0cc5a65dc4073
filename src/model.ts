import { readFile } from 'node:fs/promises';
import { addon, type NativeModel, type NativeRunResult, type NativeSpec } from './native.js';
import { splitBatchResult, stackSamples, type SampleInputs } from './batch.js';
import { BitexactError, expected, fromNative } from './errors.js';
import type { TraceEntry } from './trace.js';
import { createReceipt, type Receipt } from './receipt.js';
import { normalizeTensor, viewBytes, type DType, type Tensor, type TensorInput } from './tensor.js';

export type Backend = 'auto' | 'cpu' | 'cuda';
export type Isa = 'scalar' | 'avx2' | 'avx512vnni';

export interface LoadOptions {
  /**
   * 'auto' (default): a usable CUDA GPU when there is one, else the CPU. 'cpu': always the CPU.
   * 'cuda': the GPU `device`, or ERR_BITEXACT_BACKEND saying why none is usable. Results are
   * the same bytes on every backend.
   */
  backend?: Backend;
  /** CUDA device index for backend 'cuda' or 'auto' (default 0) */
  device?: number;
  /** compute threads; default one per core. Results never depend on it. */
  threads?: number;
  /** force a CPU kernel path; default BITEXACT_CPU_ISA, else the best this CPU has. Results never depend on it. */
  isa?: Isa;
  /** cap on live tensor memory in one run, MiB (default 4096); larger runs are refused before allocating */
  maxMemoryMB?: number;
  /**
   * Graph inputs to bind to fixed values at load time (they become initializers). Lets models
   * that feed weights, scales or zero points as inputs be compiled.
   */
  constants?: Record<string, TensorInput>;
}

export interface RunOptions {
  /** accept NaN/Inf in float inputs to QuantizeLinear (Inf saturates, NaN maps to the zero point) */
  allowNonFinite?: boolean;
  /** hash every executed node's output and commit to them in a Merkle tree (docs/receipts.md) */
  trace?: boolean;
  /** also build a receipt (implies trace) */
  receipt?: boolean;
  /**
   * Test-only fault injection: flips one bit of the output of executed node N. Never set it in
   * production; it exists so tests can show that verification localises a wrong node.
   */
  testFaultNode?: number;
  /**
   * Aborting stops the run before its next node; the promise rejects with ERR_BITEXACT_CANCELLED
   * (or with the signal's reason when that is a BitexactError, e.g. a scheduler's timeout).
   */
  signal?: AbortSignal;
}

export interface TensorSpec {
  name: string;
  dtype: DType;
  /** numbers for fixed dims, strings for symbolic ones (e.g. "batch_size"); null when undeclared */
  shape: (number | string)[] | null;
}

export interface OutputTensor extends Tensor {
  /** canonical keccak256 hash of this output */
  hash: string;
}

export interface RunResult {
  outputs: Record<string, OutputTensor>;
  /** hash of the named output set: the result commitment */
  outputHash: string;
  inputHash: string;
  modelHash: string;
  backend: BackendInfo;
  timings: { runMs: number; hashMs: number; totalMs: number };
  /** with `trace: true`: one entry per executed node, in execution order */
  trace?: TraceEntry[];
  /** with `trace: true`: Merkle root over the trace leaves */
  traceRoot?: string;
  /** with `receipt: true`: the unsigned receipt of this run (signReceipt adds a signature) */
  receipt?: Receipt;
  /** for runBatch results: the batch's size and this sample's place in it */
  batch?: { size: number; index: number };
}

/** Where a run executed. On 'cuda', ops without a GPU kernel run on the CPU (isa, threads). */
export interface BackendInfo {
  name: 'cpu' | 'cuda';
  isa: Isa;
  threads: number;
  /** with 'cuda': "cuda:0 (NVIDIA H100 80GB HBM3)" */
  device?: string;
}

const MiB = 1024 * 1024;

export class Model {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** keccak256 of the model file's bytes */
  readonly modelHash: string;
  readonly isa: Isa;
  readonly threads: number;
  /** where this model's runs execute */
  readonly backend: BackendInfo;
  readonly #native: NativeModel;
  readonly #maxMemoryBytes: number;
  #disposed = false;

  /** @internal use loadModel() */
  constructor(native: NativeModel, maxMemoryBytes: number) {
    this.#native = native;
    this.#maxMemoryBytes = maxMemoryBytes;
    const d = native.describe();
    this.inputs = d.inputs.map(toSpec);
    this.outputs = d.outputs.map(toSpec);
    this.modelHash = d.modelHash;
    this.isa = d.isa as Isa;
    this.threads = d.threads;
    this.backend = { name: d.backend, isa: this.isa, threads: this.threads, ...(d.device ? { device: d.device } : {}) };
  }

  /**
   * Runs the model. Inputs are keyed by input name; a model with one input also accepts the
   * tensor itself. Never blocks the event loop; concurrent runs are safe.
   */
  async run(inputs: Record<string, TensorInput> | TensorInput, options: RunOptions = {}): Promise<RunResult> {
    if (this.#disposed) throw new BitexactError('ERR_BITEXACT_DISPOSED', 'the model has been disposed');
    const named = this.#nameInputs(inputs);
    const tensors: SampleInputs = {};
    for (const [name, t] of Object.entries(named)) tensors[name] = normalizeTensor(t, `input '${name}'`);
    const started = performance.now();
    const r = await this.#invoke(tensors, options, 0);
    const outputs: Record<string, OutputTensor> = {};
    for (const o of r.outputs) {
      const dtype = o.dtype as DType;
      outputs[o.name] = { dtype, shape: o.shape, data: viewBytes(dtype, o.data), hash: o.hash };
    }
    const result: RunResult = {
      outputs,
      outputHash: r.outputHash,
      inputHash: r.inputHash,
      modelHash: this.modelHash,
      backend: { ...this.backend },
      timings: { ...r.timings, totalMs: performance.now() - started },
      ...(r.trace ? { trace: r.trace.map((t) => ({ ...t, dtype: t.dtype as DType })), traceRoot: r.traceRoot } : {}),
    };
    if (options.receipt) result.receipt = createReceipt(result);
    return result;
  }

  /**
   * True when every input and output has a symbolic leading dimension, so single-sample runs can
   * be stacked into one batch (runBatch). Whether the graph keeps samples independent is checked by
   * the caller (the scheduler compares its first batch against single runs).
   */
  get batchable(): boolean {
    const symbolicLead = (s: TensorSpec) => s.shape !== null && s.shape.length > 0 && typeof s.shape[0] === 'string';
    return this.inputs.every(symbolicLead) && this.outputs.every(symbolicLead);
  }

  /**
   * Runs several single-sample inputs (leading dimension 1) as one batch and returns, for each,
   * the result it would get alone: its own outputs, hashes and, when traced, its own trace, root
   * and receipt. Exact only for models whose nodes keep samples independent (see `batchable`).
   */
  async runBatch(samples: (Record<string, TensorInput> | TensorInput)[], options: RunOptions = {}): Promise<RunResult[]> {
    if (this.#disposed) throw new BitexactError('ERR_BITEXACT_DISPOSED', 'the model has been disposed');
    if (!Array.isArray(samples) || samples.length === 0) throw expected('a non-empty array of samples', 'runBatch', samples);
    if (options.testFaultNode !== undefined) throw new BitexactError('ERR_BITEXACT_INPUT', 'testFaultNode is not supported in batched runs');
    const normalised = samples.map((s, i) => {
      const out: SampleInputs = {};
      for (const [name, t] of Object.entries(this.#nameInputs(s))) out[name] = normalizeTensor(t, `sample ${i} input '${name}'`);
      return out;
    });
    const started = performance.now();
    const traced = options.trace === true || options.receipt === true;
    const r = await this.#invoke(stackSamples(normalised), options, traced ? samples.length : 0);
    const totalMs = performance.now() - started;
    return splitBatchResult(r, normalised).map((part, index) => {
      const result: RunResult = {
        ...part,
        modelHash: this.modelHash,
        backend: { ...this.backend },
        timings: { ...r.timings, totalMs },
        batch: { size: samples.length, index },
      };
      if (options.receipt) result.receipt = createReceipt(result);
      return result;
    });
  }

  async #invoke(tensors: SampleInputs, options: RunOptions, traceSamples: number): Promise<NativeRunResult> {
    const list = Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape], data: t.data }));
    const signal = options.signal;
    if (signal?.aborted) throw abortError(signal);
    const token = signal ? new (addon().CancelToken)() : undefined;
    const onAbort = () => token?.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.#native.run(list, {
        allowNonFinite: options.allowNonFinite === true,
        maxMemoryBytes: this.#maxMemoryBytes,
        trace: options.trace === true || options.receipt === true,
        ...(options.testFaultNode !== undefined ? { testFaultNode: options.testFaultNode } : {}),
        ...(token ? { cancel: token } : {}),
        ...(traceSamples > 0 ? { traceSamples } : {}),
      });
    } catch (err) {
      const e = fromNative(err);
      throw e.code === 'ERR_BITEXACT_CANCELLED' && signal ? abortError(signal) : e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Frees the model. Runs already in flight complete; later runs reject with ERR_BITEXACT_DISPOSED. */
  dispose(): void {
    this.#disposed = true;
    this.#native.dispose();
  }

  #nameInputs(inputs: Record<string, TensorInput> | TensorInput): Record<string, TensorInput> {
    if (typeof inputs !== 'object' || inputs === null) throw expected('an object of named input tensors', 'inputs', inputs);
    const looksLikeTensor = 'dtype' in inputs && 'shape' in inputs && 'data' in inputs;
    if (looksLikeTensor && !this.inputs.some((i) => i.name === 'dtype')) {
      if (this.inputs.length !== 1) {
        throw new BitexactError(
          'ERR_BITEXACT_INPUT',
          `the model has ${this.inputs.length} inputs (${this.inputs.map((i) => i.name).join(', ')}); pass them by name`,
        );
      }
      return { [this.inputs[0].name]: inputs as TensorInput };
    }
    return inputs as Record<string, TensorInput>;
  }
}

/** The error a run stopped by `signal` rejects with: its reason when that is ours, else CANCELLED. */
function abortError(signal: AbortSignal): BitexactError {
  if (signal.reason instanceof BitexactError) return signal.reason;
  return new BitexactError('ERR_BITEXACT_CANCELLED', 'the run was cancelled');
}

function toSpec(s: NativeSpec): TensorSpec {
  return { name: s.name, dtype: s.dtype as DType, shape: s.shape };
}

/** Loads an ONNX model from a path or its bytes, compiling it for integer execution. */
export async function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Promise<Model> {
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'cpu' && backend !== 'cuda') {
    throw expected("'auto', 'cpu' or 'cuda'", 'backend', backend);
  }
  if (options.device !== undefined && !(Number.isInteger(options.device) && options.device >= 0)) {
    throw expected('a CUDA device index (an integer >= 0)', 'device', options.device);
  }
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1 && options.threads <= 1024)) {
    throw expected('an integer from 1 to 1024', 'threads', options.threads);
  }
  if (options.isa !== undefined && !['scalar', 'avx2', 'avx512vnni'].includes(options.isa)) {
    throw expected("'scalar', 'avx2' or 'avx512vnni'", 'isa', options.isa);
  }
  if (options.maxMemoryMB !== undefined && !(typeof options.maxMemoryMB === 'number' && options.maxMemoryMB > 0)) {
    throw expected('a positive number of MiB', 'maxMemoryMB', options.maxMemoryMB);
  }
  let bytes: Buffer;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read model file ${source}: ${(err as Error).message}`);
    }
  } else if (source instanceof Uint8Array) {
    bytes = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  } else {
    throw expected('a file path or a Uint8Array', 'model', source);
  }
  const maxMemoryBytes = Math.floor((options.maxMemoryMB ?? 4096) * MiB);
  try {
    const constants = Object.entries(options.constants ?? {}).map(([name, t]) => {
      const c = normalizeTensor(t, `constant '${name}'`);
      return { name, dtype: c.dtype, shape: [...c.shape], data: c.data };
    });
    const native = await addon().loadModel(bytes, {
      isa: options.isa, threads: options.threads, maxMemoryBytes, constants, backend, device: options.device,
    });
    return new Model(native, maxMemoryBytes);
  } catch (err) {
    throw fromNative(err);
  }
}

