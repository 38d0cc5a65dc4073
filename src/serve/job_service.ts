// Accepted jobs, end to end: journal first (so an acknowledged job survives a crash), then the
// scheduler, then the stored result. After a restart, recover() runs every job that was accepted
// but not finished; a finished job is never run again, and GET returns its stored result.
import { randomUUID } from 'node:crypto';
import { BitexactError } from '../errors.js';
import { keccak256 } from '../hash.js';
import type { RunResult } from '../model.js';
import type { Scheduler } from '../schedule/scheduler.js';
import type { Tensor } from '../tensor.js';
import { HttpError } from './http_errors.js';
import type { Journal, JobRow, JobState } from './journal.js';
import type { ModelRegistry } from './model_registry.js';
import { decodeTensors, encodeTensors } from './tensor_blob.js';

export interface InferRequest {
  modelHash: string;
  inputs: Record<string, Tensor>;
  trace: boolean;
  jobId?: string;
  priority: number;
}

export interface JobView {
  jobId: string;
  state: JobState;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
  /** a done job's result: what POST /v1/infer answers */
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

/** How an accepted job ended, as POST /v1/infer needs it: the stored result text, or the error. */
export interface JobOutcome {
  jobId: string;
  state: JobState;
  /** a done job's result as journalled (JSON text, sent as is) */
  resultJson?: string;
  error?: { code: string; message: string };
}

export class JobService {
  readonly #inflight = new Map<string, Promise<JobOutcome>>();
  /** jobs whose journal row is being committed: they hold a queue place and a jobId */
  readonly #accepting = new Map<string, { requestHash: string; committed: Promise<void> }>();
  readonly #backlog: JobRow[] = [];

  constructor(
    private readonly journal: Journal,
    private readonly registry: ModelRegistry,
    private readonly scheduler: Scheduler,
  ) {
    scheduler.on('started', (e: { id: string }) => journal.markRunning(e.id));
    const drain = () => this.#drainBacklog();
    scheduler.on('completed', drain);
    scheduler.on('failed', drain);
  }

  /**
   * Accepts a job: journals it (resolves once committed to disk) and queues it. `done` settles
   * with how it ended. A repeated jobId with the same request returns the same job.
   */
  async accept(request: InferRequest): Promise<{ jobId: string; done: Promise<JobOutcome> }> {
    this.registry.get(request.modelHash); // refuses an unknown model before anything is journalled
    const inputs = encodeTensors(request.inputs);
    const requestHash = keccak256(Buffer.concat([Buffer.from(`${request.modelHash}:${request.trace ? 1 : 0}:`), inputs]));
    if (request.jobId) {
      const existing = await this.#existing(request.jobId);
      if (existing) {
        if (existing.requestHash !== requestHash) {
          throw new HttpError(409, 'ERR_BITEXACT_JOB_CONFLICT', `job '${request.jobId}' exists with a different request`);
        }
        return { jobId: existing.id, done: this.#inflight.get(existing.id) ?? Promise.resolve(this.#outcome(existing.id)) };
      }
    }
    if (this.#accepting.size >= this.scheduler.room) {
      throw new BitexactError('ERR_BITEXACT_QUEUE_FULL', 'the queue is full; retry later');
    }
    const jobId = request.jobId ?? randomUUID();
    const committed = this.journal.addJob({ id: jobId, modelHash: request.modelHash, requestHash, inputs, trace: request.trace, priority: request.priority });
    this.#accepting.set(jobId, { requestHash, committed });
    try {
      await committed;
      return { jobId, done: this.#run(jobId, request.modelHash, request.inputs, request.trace, request.priority) };
    } finally {
      this.#accepting.delete(jobId);
    }
  }

  /** The journalled job with this id, waiting for its commit when it is being accepted right now. */
  async #existing(jobId: string): Promise<{ id: string; requestHash: string } | undefined> {
    const accepting = this.#accepting.get(jobId);
    if (accepting) {
      await accepting.committed.catch(() => {});
      await Promise.resolve(); // let that accept() register its run first
    }
    return this.journal.job(jobId);
  }

  #outcome(id: string): JobOutcome {
    const row = this.journal.job(id)!;
    return {
      jobId: row.id,
      state: row.state,
      ...(row.result ? { resultJson: row.result } : {}),
      ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage ?? '' } } : {}),
    };
  }

  view(id: string): JobView | undefined {
    const row = this.journal.job(id);
    if (!row) return undefined;
    return {
      jobId: row.id,
      state: row.state,
      attempts: row.attempts,
      createdAt: row.createdAt,
      finishedAt: row.finishedAt,
      ...(row.result ? { result: JSON.parse(row.result) as Record<string, unknown> } : {}),
      ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage ?? '' } } : {}),
    };
  }

  /** Queues every accepted-but-unfinished job from the journal (after a restart). */
  recover(): number {
    const rows = this.journal.unfinishedJobs();
    this.#backlog.push(...rows);
    this.#drainBacklog();
    return rows.length;
  }

  /** Settles once every job handed to the scheduler has had its outcome written to the journal. */
  async drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight.values()]);
  }

  #drainBacklog(): void {
    while (this.#backlog.length > 0 && !this.scheduler.full) {
      const row = this.#backlog.shift()!;
      if (!this.registry.has(row.modelHash)) {
        void this.journal.markFailed(row.id, 'ERR_BITEXACT_UNKNOWN_MODEL', `model ${row.modelHash} could not be loaded after a restart`);
        continue;
      }
      try {
        void this.#run(row.id, row.modelHash, decodeTensors(row.inputs), row.trace, row.priority);
      } catch (err) {
        void this.journal.markFailed(row.id, 'ERR_BITEXACT_INTERNAL', (err as Error).message);
      }
    }
  }

  #run(jobId: string, modelHash: string, inputs: Record<string, Tensor>, trace: boolean, priority: number): Promise<JobOutcome> {
    const model = this.registry.get(modelHash);
    const done = this.scheduler
      .submit({ model, inputs, receipt: true, trace, priority, id: jobId })
      .then(
        async (r): Promise<JobOutcome> => {
          // Serialised once: the journal stores this text and the HTTP reply sends it as is.
          const resultJson = JSON.stringify(resultBody(jobId, r, trace));
          await this.journal.markDone(jobId, resultJson);
          return { jobId, state: 'done', resultJson };
        },
        async (err: BitexactError): Promise<JobOutcome> => {
          // A server shutting down cancels waiting jobs: they stay accepted and run after a restart.
          if (err.code === 'ERR_BITEXACT_CANCELLED') return { jobId, state: 'queued' };
          const code = err.code ?? 'ERR_BITEXACT_INTERNAL';
          await this.journal.markFailed(jobId, code, err.message);
          return { jobId, state: 'failed', error: { code, message: err.message } };
        },
      )
      .catch((err: Error): JobOutcome => ({ jobId, state: 'running', error: { code: 'ERR_BITEXACT_INTERNAL', message: err.message } }));
    this.#inflight.set(jobId, done);
    void done.finally(() => this.#inflight.delete(jobId));
    return done;
  }
}

/** The JSON a finished job answers with. Outputs are number arrays (int64 as decimal strings). */
export function resultBody(jobId: string, r: RunResult, trace: boolean): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(r.outputs)) {
    const data = o.data instanceof BigInt64Array ? Array.from(o.data, (v) => v.toString()) : Array.from(o.data as ArrayLike<number>);
    outputs[name] = { dtype: o.dtype, shape: o.shape, data, hash: o.hash };
  }
  const receipt = r.receipt ? { ...r.receipt } : undefined;
  if (receipt && !trace) delete receipt.trace;
  return {
    jobId,
    modelHash: r.modelHash,
    inputHash: r.inputHash,
    outputHash: r.outputHash,
    traceRoot: r.traceRoot,
    outputs,
    receipt,
    ...(trace ? { trace: r.trace } : {}),
    backend: r.backend,
    timings: r.timings,
    ...(r.batch ? { batch: r.batch } : {}),
  };
}
