// The job scheduler: a bounded priority queue in front of the backends' run slots, with
// micro-batching of same-model single-sample jobs, cancellation, per-job timeouts, events and
// metrics. Results are the same bits as model.run on each job alone (batching included: a model's
// first batch is checked against single runs before batching is trusted for it).
import { EventEmitter } from 'node:events';
import { BitexactError, expected } from '../errors.js';
import type { Model, RunResult } from '../model.js';
import { normalizeTensor, type Tensor, type TensorInput } from '../tensor.js';
import { JobQueue } from './job_queue.js';
import { MetricsRecorder, type SchedulerMetrics } from './metrics.js';

export interface SchedulerOptions {
  /** concurrent runs per backend (default: cpu 2, so one run's hashing overlaps another's compute) */
  capacity?: Record<string, number>;
  /** jobs allowed to wait; more are rejected with ERR_BITEXACT_QUEUE_FULL (default 256) */
  maxQueue?: number;
  /** how long a batchable job waits for same-model companions, ms (default 2; 0 disables batching) */
  batchWindowMs?: number;
  /** most jobs in one batch (default 8) */
  maxBatch?: number;
  /** default per-job timeout from submission, ms (default none) */
  timeoutMs?: number;
}

export interface JobRequest {
  model: Model;
  /** inputs keyed by name; a model with one input also takes the tensor itself */
  inputs: Record<string, TensorInput> | TensorInput;
  /** higher runs first (default 0) */
  priority?: number;
  signal?: AbortSignal;
  /** overrides the scheduler's timeout, ms from submission */
  timeoutMs?: number;
  trace?: boolean;
  receipt?: boolean;
  /** a label for events (default: a sequence number) */
  id?: string;
}

export interface JobEvent {
  id: string;
  modelHash: string;
}

/**
 * Events: 'queued' (JobEvent & {queueDepth}), 'started' (JobEvent & {backend, batchSize}),
 * 'completed' (JobEvent & {latencyMs, outputHash}), 'failed' (JobEvent & {code, message}).
 */
export class Scheduler extends EventEmitter {
  readonly #queue = new JobQueue<PendingJob>();
  readonly #metrics = new MetricsRecorder();
  readonly #slots: Map<string, { capacity: number; busy: number; busyMs: number }>;
  readonly #maxQueue: number;
  readonly #batchWindowMs: number;
  readonly #maxBatch: number;
  readonly #timeoutMs: number | undefined;
  /** per model: whether batching is known to give the same bits as single runs */
  readonly #batchTrust = new WeakMap<Model, 'checking' | 'trusted' | 'refused'>();
  #seq = 0;
  #pumpTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SchedulerOptions = {}) {
    super();
    const capacity = { cpu: 2, ...(options.capacity ?? {}) };
    for (const [name, n] of Object.entries(capacity)) {
      if (!(Number.isInteger(n) && n >= 1)) throw expected('a positive integer', `capacity.${name}`, n);
    }
    this.#slots = new Map(Object.entries(capacity).map(([name, n]) => [name, { capacity: n, busy: 0, busyMs: 0 }]));
    this.#maxQueue = positiveInt(options.maxQueue ?? 256, 'maxQueue');
    this.#batchWindowMs = nonNegative(options.batchWindowMs ?? 2, 'batchWindowMs');
    this.#maxBatch = positiveInt(options.maxBatch ?? 8, 'maxBatch');
    this.#timeoutMs = options.timeoutMs === undefined ? undefined : nonNegative(options.timeoutMs, 'timeoutMs');
  }

  /** Queues a job; resolves with its result, rejects with a BitexactError (stable `code`). */
  submit(request: JobRequest): Promise<RunResult> {
    try {
      return this.#enqueue(request);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** True when a submitted job would be rejected with ERR_BITEXACT_QUEUE_FULL. */
  get full(): boolean {
    return this.#queue.size >= this.#maxQueue;
  }

  /** How many more jobs the queue takes now. */
  get room(): number {
    return Math.max(0, this.#maxQueue - this.#queue.size);
  }

  metrics(): SchedulerMetrics {
    const m = this.#metrics;
    const now = performance.now();
    let running = 0;
    const backends: SchedulerMetrics['backends'] = {};
    for (const [name, s] of this.#slots) {
      running += s.busy;
      backends[name] = { capacity: s.capacity, busySlots: s.busy, busyMs: s.busyMs };
    }
    return {
      queueDepth: this.#queue.size,
      running,
      submitted: m.submitted,
      completed: m.completed,
      failed: m.failed,
      cancelled: m.cancelled,
      timedOut: m.timedOut,
      rejectedFull: m.rejectedFull,
      batches: m.batches,
      batchedJobs: m.batchedJobs,
      jobsPerSecond: m.jobsPerSecond(now),
      latencyMs: m.latency(),
      backends,
    };
  }

  /** Rejects every waiting job with ERR_BITEXACT_CANCELLED and refuses new ones; running jobs finish. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#pumpTimer);
    for (let job = this.#queue.pop(); job; job = this.#queue.pop()) {
      this.#settleError(job, new BitexactError('ERR_BITEXACT_CANCELLED', 'the scheduler was closed'));
    }
  }

  /** Emits only when someone listens: a busy server should not build event objects nobody reads. */
  #emit(event: string, payload: () => object): void {
    if (this.listenerCount(event) > 0) this.emit(event, payload());
  }

  #enqueue(request: JobRequest): Promise<RunResult> {
    if (this.#closed) throw new BitexactError('ERR_BITEXACT_CANCELLED', 'the scheduler is closed');
    if (typeof request !== 'object' || request === null) throw expected('a job object', 'submit', request);
    const { model } = request;
    if (!model || typeof model.run !== 'function') throw expected('a loaded Model', 'job.model', model);
    const priority = request.priority ?? 0;
    if (!Number.isFinite(priority)) throw expected('a finite number', 'job.priority', priority);
    const backend = 'cpu';
    if (!this.#slots.has(backend)) throw new BitexactError('ERR_BITEXACT_BACKEND', `the scheduler has no slots for backend '${backend}'`);
    const inputs = normaliseInputs(model, request.inputs);
    if (this.#queue.size >= this.#maxQueue) {
      this.#metrics.rejectedFull++;
      throw new BitexactError('ERR_BITEXACT_QUEUE_FULL', `the queue is full (${this.#maxQueue} jobs waiting); retry later`);
    }
    const seq = ++this.#seq;
    const job: PendingJob = {
      id: request.id ?? String(seq),
      seq,
      priority,
      waiting: false,
      model,
      backend,
      inputs,
      trace: request.trace === true,
      receipt: request.receipt === true,
      submittedAt: performance.now(),
      settled: false,
      resolve: () => {},
      reject: () => {},
    };
    const promise = new Promise<RunResult>((resolve, reject) => {
      job.resolve = resolve;
      job.reject = reject;
    });
    this.#watchCancellation(job, request);
    this.#metrics.submitted++;
    if (job.settled) return promise; // aborted before it was queued
    this.#queue.push(job);
    this.#emit('queued', () => ({ id: job.id, modelHash: model.modelHash, queueDepth: this.#queue.size }));
    this.#pump();
    return promise;
  }

  #watchCancellation(job: PendingJob, request: JobRequest): void {
    const stop = (reason: BitexactError) => {
      if (job.settled) return;
      if (this.#queue.take(job)) this.#pump(); // still waiting: leave the queue now
      job.controller?.abort(reason);
      this.#settleError(job, reason);
    };
    const signal = request.signal;
    const timeoutMs = request.timeoutMs ?? this.#timeoutMs;
    // Only jobs that can be stopped pay for a controller (and their runs for a native cancel token).
    if (signal || timeoutMs !== undefined) job.controller = new AbortController();
    if (signal) {
      const onAbort = () => stop(new BitexactError('ERR_BITEXACT_CANCELLED', `job ${job.id} was cancelled`));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        job.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
    }
    if (timeoutMs !== undefined && !job.settled) {
      const ms = nonNegative(timeoutMs, 'job.timeoutMs');
      const timer = setTimeout(() => stop(new BitexactError('ERR_BITEXACT_TIMEOUT', `job ${job.id} timed out after ${ms} ms`)), ms);
      const previous = job.cleanup;
      job.cleanup = () => {
        clearTimeout(timer);
        previous?.();
      };
    }
  }

  #pump(): void {
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    for (;;) {
      const job = this.#queue.peek();
      if (!job) return;
      const slot = this.#slots.get(job.backend)!;
      if (slot.busy >= slot.capacity) return;
      const group = this.#batchGroup(job);
      if (group && group.length < this.#maxBatch) {
        const waitMs = job.submittedAt + this.#batchWindowMs - performance.now();
        if (waitMs > 0) {
          this.#pumpTimer = setTimeout(() => this.#pump(), waitMs);
          return;
        }
      }
      const batch = group && group.length > 1 ? group : [job];
      for (const j of batch) if (j !== job) this.#queue.take(j);
      this.#queue.pop(); // job itself (the top)
      void this.#start(batch, slot);
    }
  }

  /** Waiting jobs that could share a run with `job` (job first), or null when it runs alone. */
  #batchGroup(job: PendingJob): PendingJob[] | null {
    if (this.#batchWindowMs === 0 || this.#maxBatch < 2 || !isSingleSample(job)) return null;
    const trust = this.#batchTrust.get(job.model);
    if (trust === 'refused' || trust === 'checking' || !job.model.batchable) return null;
    const traced = job.trace || job.receipt;
    return this.#queue.collect((j) => j.model === job.model && (j.trace || j.receipt) === traced && isSingleSample(j), this.#maxBatch);
  }

  async #start(batch: PendingJob[], slot: { busy: number; busyMs: number }): Promise<void> {
    slot.busy++;
    const started = performance.now();
    for (const job of batch) {
      this.#emit('started', () => ({ id: job.id, modelHash: job.model.modelHash, backend: job.backend, batchSize: batch.length }));
    }
    let outcomes: Outcome[];
    try {
      outcomes = batch.length === 1 ? [await this.#runAlone(batch[0])] : await this.#runBatch(batch);
    } catch (err) {
      outcomes = batch.map((job) => ({ job, error: err }));
    }
    // The slot is free before anyone hears back, so metrics read in a callback add up.
    slot.busy--;
    slot.busyMs += performance.now() - started;
    for (const o of outcomes) {
      if (o.result) this.#settle(o.job, o.result);
      else this.#settleError(o.job, o.error);
    }
    this.#pump();
  }

  async #runAlone(job: PendingJob): Promise<Outcome> {
    try {
      return { job, result: await job.model.run(job.inputs, { trace: job.trace, receipt: job.receipt, signal: job.controller?.signal }) };
    } catch (error) {
      return { job, error };
    }
  }

  async #runEachAlone(batch: PendingJob[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const job of batch) outcomes.push(await this.#runAlone(job));
    return outcomes;
  }

  async #runBatch(batch: PendingJob[]): Promise<Outcome[]> {
    const model = batch[0].model;
    const traced = batch[0].trace || batch[0].receipt;
    // The batch stops early only when every member has given up on it.
    const controller = new AbortController();
    const onMemberAbort = () => {
      if (batch.every((j) => j.controller?.signal.aborted)) controller.abort();
    };
    for (const j of batch) j.controller?.signal.addEventListener('abort', onMemberAbort, { once: true });
    const checking = this.#batchTrust.get(model) === undefined;
    if (checking) this.#batchTrust.set(model, 'checking');
    let results: RunResult[];
    try {
      results = await model.runBatch(batch.map((j) => j.inputs), { trace: traced, receipt: batch.some((j) => j.receipt), signal: controller.signal });
    } catch (err) {
      const e = err as BitexactError;
      if (e.code === 'ERR_BITEXACT_CANCELLED' || e.code === 'ERR_BITEXACT_DISPOSED') {
        if (checking) this.#batchTrust.delete(model);
        return batch.map((job) => ({ job, error: err }));
      }
      // A graph that cannot be traced per sample (or batched at all): never batch it again.
      this.#batchTrust.set(model, 'refused');
      this.#emit('batching', () => ({ modelHash: model.modelHash, trusted: false, reason: e.message }));
      return this.#runEachAlone(batch);
    } finally {
      for (const j of batch) j.controller?.signal.removeEventListener('abort', onMemberAbort);
    }
    if (checking) {
      // First batch of this model: it must equal single runs bit for bit before batching is trusted.
      const alone = await this.#runEachAlone(batch);
      if (alone.some((o) => o.error)) {
        this.#batchTrust.delete(model); // undecided: check again on a later batch
        return alone;
      }
      const same = alone.every((o, i) => o.result!.outputHash === results[i].outputHash && o.result!.traceRoot === results[i].traceRoot);
      this.#batchTrust.set(model, same ? 'trusted' : 'refused');
      this.#emit('batching', () => ({ modelHash: model.modelHash, trusted: same, reason: same ? 'matches single runs' : 'differs from single runs' }));
      if (!same) return alone;
    }
    this.#metrics.batches++;
    this.#metrics.batchedJobs += batch.length;
    return batch.map((job, i) => {
      const result = results[i];
      if (!job.receipt) delete result.receipt;
      if (!job.trace) {
        delete result.trace;
        if (!job.receipt) delete result.traceRoot;
      }
      return { job, result };
    });
  }

  #settle(job: PendingJob, result: RunResult): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup?.();
    const latencyMs = performance.now() - job.submittedAt;
    this.#metrics.recordCompletion(latencyMs, performance.now());
    job.resolve(result);
    this.#emit('completed', () => ({ id: job.id, modelHash: job.model.modelHash, latencyMs, outputHash: result.outputHash }));
  }

  #settleError(job: PendingJob, err: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup?.();
    const e = err instanceof BitexactError ? err : new BitexactError('ERR_BITEXACT_INTERNAL', String((err as Error)?.message ?? err));
    if (e.code === 'ERR_BITEXACT_CANCELLED') this.#metrics.cancelled++;
    else if (e.code === 'ERR_BITEXACT_TIMEOUT') this.#metrics.timedOut++;
    else this.#metrics.failed++;
    job.reject(e);
    this.#emit('failed', () => ({ id: job.id, modelHash: job.model.modelHash, code: e.code, message: e.message }));
  }
}

/** How one job's run ended; applied once its slot is free. */
interface Outcome {
  job: PendingJob;
  result?: RunResult;
  error?: unknown;
}

interface PendingJob {
  id: string;
  seq: number;
  priority: number;
  waiting: boolean;
  model: Model;
  backend: string;
  inputs: Record<string, Tensor>;
  trace: boolean;
  receipt: boolean;
  submittedAt: number;
  /** aborted when the job is cancelled or times out; stops its run (alone) before the next node.
   *  Only jobs with a signal or a timeout have one. */
  controller?: AbortController;
  settled: boolean;
  resolve: (r: RunResult) => void;
  reject: (e: unknown) => void;
  cleanup?: () => void;
}

function normaliseInputs(model: Model, inputs: JobRequest['inputs']): Record<string, Tensor> {
  if (typeof inputs !== 'object' || inputs === null) throw expected('an object of named input tensors', 'job.inputs', inputs);
  const named: Record<string, TensorInput> =
    'dtype' in inputs && 'shape' in inputs && 'data' in inputs && model.inputs.length === 1
      ? { [model.inputs[0].name]: inputs as TensorInput }
      : (inputs as Record<string, TensorInput>);
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(named)) out[name] = normalizeTensor(t, `input '${name}'`);
  return out;
}

function isSingleSample(job: PendingJob): boolean {
  return Object.values(job.inputs).every((t) => t.shape.length > 0 && t.shape[0] === 1);
}

function positiveInt(v: number, name: string): number {
  if (!(Number.isInteger(v) && v >= 1)) throw expected('a positive integer', name, v);
  return v;
}

function nonNegative(v: number, name: string): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw expected('a non-negative number of ms', name, v);
  return v;
}
