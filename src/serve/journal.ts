// The durable job journal (SQLite, WAL, synchronous=FULL): registered models, and every accepted
// job with its inputs, state and result. A job is acknowledged only after its row is committed,
// so a crash (kill -9) or power loss loses nothing: on restart, jobs not yet done run again and
// done jobs return their stored result.
//
// Writes go to a worker thread that owns the writing connection and commits whatever has queued
// up in one transaction (group commit: one fsync for many jobs), so fsync never blocks the event
// loop. Reads use a second connection on the main thread (WAL readers never wait for the writer).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
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

const WRITES = {
  addModel: 'INSERT OR IGNORE INTO models (model_hash, path, bytes, registered_at) VALUES (?, ?, ?, ?)',
  addJob: `INSERT INTO jobs (id, model_hash, request_hash, inputs, trace, priority, state, created_at)
           VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)`,
  markRunning: `UPDATE jobs SET state = 'running', attempts = attempts + 1 WHERE id = ? AND state IN ('queued', 'running')`,
  markDone: `UPDATE jobs SET state = 'done', result = ?, finished_at = ? WHERE id = ? AND state IN ('queued', 'running')`,
  markFailed: `UPDATE jobs SET state = 'failed', error_code = ?, error_message = ?, finished_at = ? WHERE id = ? AND state IN ('queued', 'running')`,
} as const;

type WriteKind = keyof typeof WRITES;

export class Journal {
  readonly #reader: Database.Database;
  readonly #writer: Worker;
  readonly #pending = new Map<number, { resolve: (changes: number) => void; reject: (e: Error) => void }>();
  #nextOp = 0;
  #writerError: Error | undefined;
  readonly #outbox: { op: number; kind: WriteKind; args: unknown[] }[] = [];
  #getJob: Database.Statement | undefined; // prepared once: GET /v1/jobs and every finished job read it
  #closed: Promise<void> | undefined;

  constructor(path: string) {
    try {
      this.#reader = new Database(path);
      this.#reader.pragma('journal_mode = WAL');
      this.#reader.pragma('busy_timeout = 5000');
      this.#reader.exec(SCHEMA);
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot open the job database ${path}: ${(err as Error).message}`);
    }
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#writer = new Worker(`(${journalWriter.toString()})()`, { eval: true, workerData: { path, sqlite, writes: WRITES } });
    this.#writer.on('message', (replies: { op: number; changes?: number; error?: string }[] | 'closed') => {
      if (!Array.isArray(replies)) return; // 'closed', answered in close()
      for (const r of replies) {
        const p = this.#pending.get(r.op);
        this.#pending.delete(r.op);
        if (r.error !== undefined) p?.reject(new BitexactError('ERR_BITEXACT_INTERNAL', `job journal write failed: ${r.error}`));
        else p?.resolve(r.changes ?? 0);
      }
    });
    this.#writer.on('error', (err) => {
      this.#writerError = err;
      for (const p of this.#pending.values()) p.reject(new BitexactError('ERR_BITEXACT_INTERNAL', `job journal writer failed: ${err.message}`));
      this.#pending.clear();
    });
    this.#writer.unref();
  }

  addModel(row: Omit<ModelRow, 'registeredAt'>): Promise<void> {
    return this.#write('addModel', [row.modelHash, row.path, row.bytes, new Date().toISOString()]).then(() => undefined);
  }

  models(): ModelRow[] {
    return (this.#reader.prepare('SELECT * FROM models ORDER BY registered_at').all() as Record<string, unknown>[]).map((r) => ({
      modelHash: r.model_hash as string,
      path: r.path as string | null,
      bytes: r.bytes as Buffer | null,
      registeredAt: r.registered_at as string,
    }));
  }

  /** Records an accepted job; resolves once the row is committed to disk. */
  addJob(job: { id: string; modelHash: string; requestHash: string; inputs: Buffer; trace: boolean; priority: number }): Promise<void> {
    const args = [job.id, job.modelHash, job.requestHash, job.inputs, job.trace ? 1 : 0, job.priority, new Date().toISOString()];
    return this.#write('addJob', args).then(() => undefined);
  }

  job(id: string): JobRow | undefined {
    this.#getJob ??= this.#reader.prepare('SELECT * FROM jobs WHERE id = ?');
    const r = this.#getJob.get(id) as Record<string, unknown> | undefined;
    return r ? toJobRow(r) : undefined;
  }

  /** Jobs accepted but not finished (queued, or running when the process died), oldest first. */
  unfinishedJobs(): JobRow[] {
    const rows = this.#reader.prepare(`SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, rowid`).all();
    return (rows as Record<string, unknown>[]).map(toJobRow);
  }

  /** Counts a run attempt (ordered after the job's insert; nobody waits for it). */
  markRunning(id: string): void {
    this.#write('markRunning', [id]).catch(() => {}); // a lost attempt count only matters after a crash
  }

  /** Stores the result; false when the job was already finished (it is never finished twice). */
  async markDone(id: string, result: string): Promise<boolean> {
    return (await this.#write('markDone', [result, new Date().toISOString(), id])) === 1;
  }

  async markFailed(id: string, code: string, message: string): Promise<boolean> {
    return (await this.#write('markFailed', [code, message, new Date().toISOString(), id])) === 1;
  }

  /** Commits every write already handed over, then closes both connections. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (!this.#writerError) {
        await new Promise<void>((resolve) => {
          this.#writer.on('message', (m) => m === 'closed' && resolve());
          this.#writer.once('exit', () => resolve());
          if (this.#outbox.length > 0) this.#writer.postMessage(this.#outbox.splice(0));
          this.#writer.postMessage('close');
        });
      }
      await this.#writer.terminate();
      if (this.#reader.open) this.#reader.close();
    })();
    return this.#closed;
  }

  #write(kind: WriteKind, args: unknown[]): Promise<number> {
    if (this.#writerError) return Promise.reject(new BitexactError('ERR_BITEXACT_INTERNAL', `job journal writer failed: ${this.#writerError.message}`));
    if (this.#closed) return Promise.reject(new BitexactError('ERR_BITEXACT_INTERNAL', 'the job journal is closed'));
    const op = ++this.#nextOp;
    return new Promise((resolve, reject) => {
      this.#pending.set(op, { resolve, reject });
      // One message per event-loop turn carries every write made in it.
      if (this.#outbox.length === 0) setImmediate(() => this.#writer.postMessage(this.#outbox.splice(0)));
      this.#outbox.push({ op, kind, args });
    });
  }
}

/**
 * The writer thread's whole program (run with eval, so it must not refer to anything outside
 * itself). Writes that arrive while a commit is in progress are committed together in the next
 * transaction; each write's reply carries its row count or its error.
 */
function journalWriter(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort, workerData } = require('node:worker_threads');
  const Sqlite = require(workerData.sqlite);
  const db = new Sqlite(workerData.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  const statements: Record<string, { run(...a: unknown[]): { changes: number } }> = {};
  for (const [kind, sql] of Object.entries(workerData.writes as Record<string, string>)) statements[kind] = db.prepare(sql);
  let queue: { op: number; kind: string; args: unknown[] }[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    let replies: { op: number; changes?: number; error?: string }[] = [];
    try {
      db.transaction(() => {
        replies = [];
        for (const w of batch) {
          try {
            replies.push({ op: w.op, changes: statements[w.kind].run(...w.args).changes });
          } catch (e) {
            replies.push({ op: w.op, error: (e as Error).message }); // this statement only; the rest commit
          }
        }
      })();
    } catch (e) {
      replies = batch.map((w) => ({ op: w.op, error: `commit failed: ${(e as Error).message}` }));
    }
    parentPort.postMessage(replies);
  };
  parentPort.on('message', (m: 'close' | { op: number; kind: string; args: unknown[] }[]) => {
    if (m === 'close') {
      flush();
      db.close();
      parentPort.postMessage('closed');
      return;
    }
    queue.push(...m);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
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
