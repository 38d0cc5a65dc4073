// The durable job journal (SQLite, WAL, synchronous=FULL): registered models, and every accepted
// job with its inputs, state and result. A job is acknowledged only after its row is committed,
// so a crash (kill -9) loses nothing: on restart, jobs not yet done run again and done jobs
// return their stored result.
import Database from 'better-sqlite3';
import { BitexactError } from '../errors.js';

export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface JobRow {
  id: string;
  modelHash: string;
  requestHash: string;
  inputs: Buffer;
  trace: boolean;
  priority: number;
  state: JobState;
  /** how many times a run of this job started (more than 1 only after a crash mid-run) */
  attempts: number;
  /** the response body of a done job (JSON) */
  result: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface ModelRow {
  modelHash: string;
  /** a path inside the server's models folder, or null for an uploaded model kept in `bytes` */
  path: string | null;
  bytes: Buffer | null;
  registeredAt: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS models (
  model_hash TEXT PRIMARY KEY,
  path TEXT,
  bytes BLOB,
  registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  model_hash TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  inputs BLOB NOT NULL,
  trace INTEGER NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  result TEXT,
  error_code TEXT,
  error_message TEXT,
  created_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running');
`;

export class Journal {
  readonly #db: Database.Database;
  readonly #insertJob: Database.Statement;
  readonly #getJob: Database.Statement;
  readonly #markRunning: Database.Statement;
  readonly #markDone: Database.Statement;
  readonly #markFailed: Database.Statement;

  constructor(path: string) {
    try {
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('busy_timeout = 5000');
      this.#db.exec(SCHEMA);
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot open the job database ${path}: ${(err as Error).message}`);
    }
    this.#insertJob = this.#db.prepare(
      `INSERT INTO jobs (id, model_hash, request_hash, inputs, trace, priority, state, created_at)
       VALUES (@id, @modelHash, @requestHash, @inputs, @trace, @priority, 'queued', @createdAt)`,
    );
    this.#getJob = this.#db.prepare('SELECT * FROM jobs WHERE id = ?');
    this.#markRunning = this.#db.prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1 WHERE id = ? AND state IN ('queued', 'running')`);
    this.#markDone = this.#db.prepare(`UPDATE jobs SET state = 'done', result = ?, finished_at = ? WHERE id = ? AND state IN ('queued', 'running')`);
    this.#markFailed = this.#db.prepare(
      `UPDATE jobs SET state = 'failed', error_code = ?, error_message = ?, finished_at = ? WHERE id = ? AND state IN ('queued', 'running')`,
    );
  }

  addModel(row: Omit<ModelRow, 'registeredAt'>): void {
    this.#db
      .prepare('INSERT OR IGNORE INTO models (model_hash, path, bytes, registered_at) VALUES (?, ?, ?, ?)')
      .run(row.modelHash, row.path, row.bytes, new Date().toISOString());
  }

  models(): ModelRow[] {
    return (this.#db.prepare('SELECT * FROM models ORDER BY registered_at').all() as Record<string, unknown>[]).map((r) => ({
      modelHash: r.model_hash as string,
      path: r.path as string | null,
      bytes: r.bytes as Buffer | null,
      registeredAt: r.registered_at as string,
    }));
  }

  /** Records an accepted job (committed before this returns). */
  addJob(job: { id: string; modelHash: string; requestHash: string; inputs: Buffer; trace: boolean; priority: number }): void {
    this.#insertJob.run({ ...job, trace: job.trace ? 1 : 0, createdAt: new Date().toISOString() });
  }

  job(id: string): JobRow | undefined {
    const r = this.#getJob.get(id) as Record<string, unknown> | undefined;
    return r ? toJobRow(r) : undefined;
  }

  /** Jobs accepted but not finished (queued, or running when the process died), oldest first. */
  unfinishedJobs(): JobRow[] {
    return (this.#db.prepare(`SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, rowid`).all() as Record<string, unknown>[]).map(
      toJobRow,
    );
  }

  markRunning(id: string): void {
    this.#markRunning.run(id);
  }

  /** Stores the result; false when the job was already finished (it is never finished twice). */
  markDone(id: string, result: string): boolean {
    return this.#markDone.run(result, new Date().toISOString(), id).changes === 1;
  }

  markFailed(id: string, code: string, message: string): boolean {
    return this.#markFailed.run(code, message, new Date().toISOString(), id).changes === 1;
  }

  counts(): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const r of this.#db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

function toJobRow(r: Record<string, unknown>): JobRow {
  return {
    id: r.id as string,
    modelHash: r.model_hash as string,
    requestHash: r.request_hash as string,
    inputs: r.inputs as Buffer,
    trace: r.trace === 1,
    priority: r.priority as number,
    state: r.state as JobState,
    attempts: r.attempts as number,
    result: r.result as string | null,
    errorCode: r.error_code as string | null,
    errorMessage: r.error_message as string | null,
    createdAt: r.created_at as string,
    finishedAt: r.finished_at as string | null,
  };
}
