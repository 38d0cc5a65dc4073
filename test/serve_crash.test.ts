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
const HEAVY = 3; // the job running when the server is killed

describe('bitexact serve crash and restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitexact-crash-'));
  let server: ServeProcess | undefined;
  afterAll(async () => {
    if (server) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 mid-run, restart on the same db: every accepted job completes exactly once', async () => {
    mkdirSync(join(dir, 'models'));
    // Jobs run one at a time in arrival order. Job HEAVY runs for a second or more (thousands of
    // layers over one shared weight), so the crash lands while it runs and the later jobs wait,
    // however fast the engine gets; the others are quick.
    const light = { file: 'light.onnx', bytes: matmulChain(4, 16, 64), shape: [1, 16, 64] };
    const heavy = { file: 'heavy.onnx', bytes: matmulChain(2000, 512, 256, { shareWeights: true }), shape: [1, 512, 256] };
    for (const m of [light, heavy]) writeFileSync(join(dir, 'models', m.file), m.bytes);
    const args = ['--models', join(dir, 'models'), '--db', join(dir, 'jobs.db'), '--capacity', '1', '--batch-window-ms', '0'];
    server = await startServe(args);
    const modelHashes = new Map<typeof light, string>();
    for (const m of [light, heavy]) modelHashes.set(m, (await postJson(`${server.url}/v1/models`, { path: m.file })).body.modelHash);
    const models = Array.from({ length: JOBS }, (_, i) => (i === HEAVY ? heavy : light));
    const inputs = models.map((m, i) => randomFloats(m.shape, 1000 + i));
    const ids: string[] = [];
    const submit = async (i: number) => {
      const x = inputs[i];
      const body = { modelHash: modelHashes.get(models[i]), inputs: { x: { dtype: x.dtype, shape: x.shape, data: Buffer.from(x.data.buffer).toString('base64') } } };
      const r = await postJson(`${server!.url}/v1/infer?async=1`, body);
      expect(r.status).toBe(202);
      ids.push(r.body.jobId);
    };
    const waitFor = async (i: number, states: string[]) => {
      for (let tries = 0; tries < 5000; tries++) {
        if (states.includes((await getJson(`${server!.url}/v1/jobs/${ids[i]}`)).body.state)) return;
        await new Promise((r) => setTimeout(r, 2));
      }
      throw new Error(`job ${i} never reached ${states.join('/')}`);
    };
    // A few finish, the heavy one starts, the rest queue behind it: then crash.
    for (let i = 0; i < HEAVY; i++) await submit(i);
    await waitFor(HEAVY - 1, ['done']);
    await submit(HEAVY);
    await waitFor(HEAVY, ['running']);
    for (let i = HEAVY + 1; i < JOBS; i++) await submit(i);
    await server.kill();
    // What the journal held at the moment of the crash, read straight from the SQLite file.
    const db = new Database(join(dir, 'jobs.db'), { readonly: true });
    const rows = db.prepare('SELECT id, state, finished_at, result FROM jobs').all() as { id: string; state: string; finished_at: string; result: string }[];
    db.close();
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort()); // every accepted job was journalled
    const stateAtCrash = new Map(rows.map((r) => [r.id, r.state]));
    expect(ids.map((id) => stateAtCrash.get(id))).toEqual(ids.map((_, i) => (i < HEAVY ? 'done' : i === HEAVY ? 'running' : 'queued')));
    const finishedBefore = new Map<string, { finishedAt: string; outputHash: string }>();
    for (const r of rows) if (r.state === 'done') finishedBefore.set(r.id, { finishedAt: r.finished_at, outputHash: JSON.parse(r.result).outputHash });

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
    const direct = new Map<typeof light, Awaited<ReturnType<typeof loadModel>>>();
    for (const m of [light, heavy]) direct.set(m, await loadModel(m.bytes));
    for (let i = 0; i < JOBS; i++) {
      const job = final.get(ids[i]);
      expect(job.state, ids[i]).toBe('done');
      expect(job.result.outputHash).toBe((await direct.get(models[i])!.run(inputs[i])).outputHash);
      const before = finishedBefore.get(ids[i]);
      if (before) {
        // finished before the crash: stored result returned, never run again
        expect([job.finishedAt, job.attempts, job.result.outputHash]).toEqual([before.finishedAt, 1, before.outputHash]);
      } else {
        expect(job.attempts).toBe(i === HEAVY ? 2 : 1); // the interrupted run starts again; queued ones once
      }
    }
    for (const m of direct.values()) m.dispose();
    const rerun = [...final.values()].filter((j) => j.attempts > 1).length;
    console.log(`crash: ${finishedBefore.size}/${JOBS} done before kill -9, ${rows.filter((r) => r.state === 'running').length} running; ` +
      `after restart all ${JOBS} done, ${rerun} started twice (running at the crash), none finished twice`);
    const health = (await getJson(`${server.url}/healthz`)).body;
    expect(health.models).toBe(2); // the registered models were restored from the journal
    expect(await server.stop()).toBe(0);
    server = undefined;
  });
});
