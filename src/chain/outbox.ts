// The executor's durable outbox (SQLite, WAL, synchronous=FULL): for every job it was seated on,
// what it computed, the salt (written before the commit is sent, so a crash between commit and
// reveal can still reveal) and how far it got. Nothing is sent twice: on restart each row is
// checked against the chain before anything is resent.
import Database from 'better-sqlite3';
import { BitexactError } from '../errors.js';

export type OutboxState = 'committing' | 'committed' | 'revealed' | 'finalized' | 'skipped' | 'missed';

export interface OutboxRow {
  jobId: bigint;
  state: OutboxState;
  reason: string | null;
  outputHash: string | null;
  traceRoot: string | null;
  salt: string | null;
  commitDeadline: number;
  revealDeadline: number;
}

export class Outbox {
  readonly #db: Database.Database;

  constructor(path: string, readonly market: string) {
    try {
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.exec(`
        CREATE TABLE IF NOT EXISTS chain_jobs (
          market TEXT NOT NULL,
          job_id TEXT NOT NULL,
          state TEXT NOT NULL,
          reason TEXT,
          output_hash TEXT,
          trace_root TEXT,
          salt TEXT,
          commit_deadline INTEGER NOT NULL,
          reveal_deadline INTEGER NOT NULL,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (market, job_id)
        );
        CREATE TABLE IF NOT EXISTS chain_cursor (market TEXT PRIMARY KEY, next_block INTEGER NOT NULL);`);
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot open the node database ${path}: ${(err as Error).message}`);
    }
  }

  has(jobId: bigint): boolean {
    return this.#db.prepare('SELECT 1 FROM chain_jobs WHERE market = ? AND job_id = ?').get(this.market, jobId.toString()) !== undefined;
  }

  /** Records a job: its result and salt before the commit goes out, or why it was skipped. */
  record(row: Omit<OutboxRow, 'reason'> & { reason?: string | null }): void {
    this.#db
      .prepare(
        `INSERT INTO chain_jobs (market, job_id, state, reason, output_hash, trace_root, salt, commit_deadline, reveal_deadline, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(this.market, row.jobId.toString(), row.state, row.reason ?? null, row.outputHash, row.traceRoot, row.salt, row.commitDeadline, row.revealDeadline, new Date().toISOString());
  }

  setState(jobId: bigint, state: OutboxState, reason?: string): void {
    this.#db
      .prepare('UPDATE chain_jobs SET state = ?, reason = COALESCE(?, reason), updated_at = ? WHERE market = ? AND job_id = ?')
      .run(state, reason ?? null, new Date().toISOString(), this.market, jobId.toString());
  }

  /** Rows still needing something from this executor (commit, reveal or finalise). */
  pending(): OutboxRow[] {
    const rows = this.#db
      .prepare(`SELECT * FROM chain_jobs WHERE market = ? AND state IN ('committing', 'committed', 'revealed') ORDER BY CAST(job_id AS INTEGER)`)
      .all(this.market) as Record<string, unknown>[];
    return rows.map((r) => ({
      jobId: BigInt(r.job_id as string),
      state: r.state as OutboxState,
      reason: r.reason as string | null,
      outputHash: r.output_hash as string | null,
      traceRoot: r.trace_root as string | null,
      salt: r.salt as string | null,
      commitDeadline: r.commit_deadline as number,
      revealDeadline: r.reveal_deadline as number,
    }));
  }

  nextBlock(): number | undefined {
    const r = this.#db.prepare('SELECT next_block FROM chain_cursor WHERE market = ?').get(this.market) as { next_block: number } | undefined;
    return r?.next_block;
  }

  setNextBlock(block: number): void {
    this.#db.prepare('INSERT INTO chain_cursor (market, next_block) VALUES (?, ?) ON CONFLICT (market) DO UPDATE SET next_block = excluded.next_block').run(this.market, block);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
