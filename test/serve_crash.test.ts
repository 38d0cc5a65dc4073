// Crash safety: accept jobs, `kill -9` the server mid-run, restart it on the same database:
// every accepted job completes exactly once — finished jobs keep their stored result and are not
// run again, unfinished ones run after the restart — and results equal direct runs.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadModel } from '../src/index.js';
import { getJson, postJson, startServe, type ServeProcess } from './helpers/serve_process.js';
import { matmulChain, randomFloats } from './helpers/small_models.js';

const JOBS = 24;

describe('bitexact serve crash and restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitexact-crash-'));
  let server: ServeProcess | undefined;
  afterAll(async () => {
    if (server) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 mid-run, restart on the same db: every accepted job completes exactly once', async () => {
    mkdirSync(join(dir, 'models'));
    const bytes = matmulChain(60, 512, 256);
    writeFileSync(join(dir, 'models', 'chain.onnx'), bytes);
    const args = ['--models', join(dir, 'models'), '--db', join(dir, 'jobs.db'), '--capacity', '1', '--batch-window-ms', '0'];
    server = await startServe(args);
    const modelHash = (await postJson(`${server.url}/v1/models`, { path: 'chain.onnx' })).body.modelHash;
    const inputs = Array.from({ length: JOBS }, (_, i) => randomFloats([1, 512, 256], 1000 + i));
    const ids: string[] = [];
    for (const x of inputs) {
      const body = { modelHash, inputs: { x: { dtype: x.dtype, shape: x.shape, data: Buffer.from(x.data.buffer).toString('base64') } } };
      const r = await postJson(`${server.url}/v1/infer?async=1`, body);
      expect(r.status).toBe(202);
      ids.push(r.body.jobId);
    }
    // Let a few finish, then crash while the rest are queued or running.
    // Jobs run in arrival order (one slot): wait for the third, then kill.
    for (let tries = 0; tries < 5000; tries++) {
      if ((await getJson(`${server.url}/v1/jobs/${ids[2]}`)).body.state === 'done') break;
    }
    await server.kill();
    // What the journal held at the moment of the crash, read straight from the SQLite file.
    const db = new Database(join(dir, 'jobs.db'), { readonly: true });
    const rows = db.prepare('SELECT id, state, finished_at, result FROM jobs').all() as { id: string; state: string; finished_at: string; result: string }[];
    db.close();
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort()); // every accepted job was journalled
    const finishedBefore = new Map<string, { finishedAt: string; outputHash: string }>();
    for (const r of rows) if (r.state === 'done') finishedBefore.set(r.id, { finishedAt: r.finished_at, outputHash: JSON.parse(r.result).outputHash });
    expect(finishedBefore.size).toBeGreaterThanOrEqual(3);
    expect(finishedBefore.size).toBeLessThan(JOBS); // the crash really came mid-way

    server = await startServe(args);
    const final = new Map<string, any>();
    for (let tries = 0; final.size < JOBS && tries < 3000; tries++) {
      for (const id of ids) {
        if (final.has(id)) continue;
        const job = (await getJson(`${server.url}/v1/jobs/${id}`)).body;
        if (job.state === 'done' || job.state === 'failed') final.set(id, job);
      }
      if (final.size < JOBS) await new Promise((r) => setTimeout(r, 20));
    }
    expect(final.size).toBe(JOBS);
    const model = await loadModel(bytes);
    for (let i = 0; i < JOBS; i++) {
      const job = final.get(ids[i]);
      expect(job.state, ids[i]).toBe('done');
      expect(job.result.outputHash).toBe((await model.run(inputs[i])).outputHash);
      const before = finishedBefore.get(ids[i]);
      if (before) {
        // finished before the crash: stored result returned, never run again
        expect([job.finishedAt, job.attempts, job.result.outputHash]).toEqual([before.finishedAt, 1, before.outputHash]);
      } else {
        expect(job.attempts).toBeGreaterThanOrEqual(1);
      }
    }
    model.dispose();
    const rerun = [...final.values()].filter((j) => j.attempts > 1).length;
    console.log(`crash: ${finishedBefore.size}/${JOBS} done before kill -9, ${rows.filter((r) => r.state === 'running').length} running; ` +
      `after restart all ${JOBS} done, ${rerun} started twice (running at the crash), none finished twice`);
    const health = (await getJson(`${server.url}/healthz`)).body;
    expect(health.models).toBe(1); // the registered model was restored from the journal
    expect(await server.stop()).toBe(0);
    server = undefined;
  });
});
