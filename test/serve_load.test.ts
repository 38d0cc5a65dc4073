// Load on `bitexact serve` in its own process, over loopback, with the bundled real model:
// 500 requests from 50 concurrent clients with zero failures and identical hashes for identical
// inputs; the server's event-loop delay p99 under load stays below 50 ms; and its RSS after 2 000
// runs stays within a stated bound of its RSS after 200 (no leak).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel, readTensorFile } from '../src/index.js';
import { getJson, metricValue, postJson, startServe, type ServeProcess } from './helpers/serve_process.js';

const mnistDir = resolve(__dirname, '..', 'models', 'mnist-8-int8');
/** RSS after 2 000 runs may exceed RSS after 200 by at most this much. */
const RSS_GROWTH_BOUND_BYTES = 48 * 1024 * 1024;

describe('bitexact serve under load', () => {
  let dir: string;
  let server: ServeProcess;
  let modelHash: string;
  const bodies: string[] = [];
  const expected: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bitexact-load-'));
    mkdirSync(join(dir, 'models'));
    copyFileSync(join(mnistDir, 'model.onnx'), join(dir, 'models', 'mnist.onnx'));
    server = await startServe(['--models', join(dir, 'models'), '--db', join(dir, 'jobs.db'), '--max-queue', '1024']);
    modelHash = (await postJson(`${server.url}/v1/models`, { path: 'mnist.onnx' })).body.modelHash;
    const model = await loadModel(join(mnistDir, 'model.onnx'));
    for (const digit of [0, 2, 9]) {
      const t = await readTensorFile(join(mnistDir, `digit-${digit}.pb`));
      bodies.push(JSON.stringify({ modelHash, inputs: { Input3: { dtype: 'float32', shape: t.shape, data: Array.from(t.data as Float32Array) } } }));
      expected.push((await model.run({ Input3: t })).outputHash);
    }
    model.dispose();
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  /** `total` requests from `clients` concurrent clients; returns failures and hash mismatches. */
  async function load(total: number, clients: number) {
    let next = 0;
    let failures = 0;
    let mismatches = 0;
    const client = async () => {
      while (next < total) {
        const i = next++;
        const r = await fetch(`${server.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i % 3] });
        if (r.status !== 200) failures++;
        else if (((await r.json()) as { outputHash: string }).outputHash !== expected[i % 3]) mismatches++;
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    return { failures, mismatches };
  }

  async function scrape() {
    const r = await fetch(`${server.url}/metrics`);
    return r.text();
  }

  it('500 requests from 50 clients: no failures, same hashes, event-loop p99 < 50 ms', async () => {
    await scrape(); // prom-client resets the event-loop histogram at each scrape: measure this load only
    const { failures, mismatches } = await load(500, 50);
    const metrics = await scrape();
    const lagP99 = metricValue(metrics, 'nodejs_eventloop_lag_p99_seconds');
    console.log(`load: 500 requests / 50 clients, event-loop delay p99 ${(lagP99 * 1000).toFixed(1)} ms, ` +
      `job latency p99 ${metricValue(metrics, 'bitexact_job_latency_ms\\{quantile="0.99"\\}').toFixed(1)} ms`);
    expect([failures, mismatches]).toEqual([0, 0]);
    expect(lagP99).toBeLessThan(0.05);
    expect((await getJson(`${server.url}/healthz`)).body.ok).toBe(true);
  });

  it(`RSS after 2 000 runs is within ${RSS_GROWTH_BOUND_BYTES / 2 ** 20} MiB of RSS after 200`, async () => {
    // 500 runs done above; 200 more to warm up, then 1 800 more (2 500 in all).
    expect(await load(200, 20)).toEqual({ failures: 0, mismatches: 0 });
    const rssAfter200 = metricValue(await scrape(), 'process_resident_memory_bytes');
    expect(await load(1800, 20)).toEqual({ failures: 0, mismatches: 0 });
    const rssAfter2000 = metricValue(await scrape(), 'process_resident_memory_bytes');
    console.log(`rss: ${(rssAfter200 / 2 ** 20).toFixed(1)} MiB after 200 runs, ${(rssAfter2000 / 2 ** 20).toFixed(1)} MiB after 2 000`);
    expect(rssAfter2000 - rssAfter200).toBeLessThan(RSS_GROWTH_BOUND_BYTES);
  }, 120_000);
});
