// The HTTP API on 127.0.0.1: registering models, synchronous and async inference with receipts,
// idempotent job ids, the token, and every class of bad request getting its 4xx while the
// server keeps serving.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel, readTensorFile, verifyReceipt } from '../src/index.js';
import { startServer, type Server } from '../src/serve/server.js';
import { getJson, postJson, postRaw } from './helpers/serve_process.js';
import { matmulChain } from './helpers/small_models.js';

const mnistDir = resolve(__dirname, '..', 'models', 'mnist-8-int8');
const TOKEN = 'test-token-123';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('bitexact serve (HTTP API)', () => {
  let dir: string;
  let server: Server;
  let mnistHash: string;
  let digit: { dtype: 'float32'; shape: number[]; data: number[] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bitexact-serve-'));
    mkdirSync(join(dir, 'models', 'mnist'), { recursive: true });
    writeFileSync(join(dir, 'models', 'mnist', 'model.onnx'), readFileSync(join(mnistDir, 'model.onnx')));
    writeFileSync(join(dir, 'outside.onnx'), readFileSync(join(mnistDir, 'model.onnx')));
    server = await startServer({ port: 0, dbPath: join(dir, 'jobs.db'), modelsDir: join(dir, 'models'), token: TOKEN, maxBodyBytes: 8 * 1024 * 1024 });
    const t = await readTensorFile(join(mnistDir, 'digit-2.pb'));
    digit = { dtype: 'float32', shape: [...t.shape], data: Array.from(t.data as Float32Array) };
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers a model by path, lists it, and registering again is idempotent', async () => {
    const r = await postJson(`${server.url}/v1/models`, { path: 'mnist/model.onnx' }, auth);
    expect(r.status).toBe(201);
    mnistHash = r.body.modelHash;
    expect(r.body.inputs[0]).toEqual({ name: 'Input3', dtype: 'float32', shape: [1, 1, 28, 28] });
    expect((await postJson(`${server.url}/v1/models`, { path: 'mnist/model.onnx' }, auth)).status).toBe(200);
    const list = await getJson(`${server.url}/v1/models`, auth);
    expect(list.body.models.map((m: { modelHash: string }) => m.modelHash)).toEqual([mnistHash]);
  });

  it('infers synchronously with a receipt that verifies by re-execution', async () => {
    const r = await postJson(`${server.url}/v1/infer`, { modelHash: mnistHash, inputs: { Input3: digit } }, auth);
    expect(r.status).toBe(200);
    const model = await loadModel(join(mnistDir, 'model.onnx'));
    const direct = await model.run({ Input3: { ...digit, data: Float32Array.from(digit.data) } });
    expect(r.body.outputHash).toBe(direct.outputHash);
    expect(r.body.outputs.logits.data).toEqual(Array.from(direct.outputs.logits.data));
    expect(r.body.trace).toBeUndefined();
    const verdict = await verifyReceipt(r.body.receipt, model, { Input3: { ...digit, data: Float32Array.from(digit.data) } });
    expect(verdict.ok).toBe(true);
    model.dispose();
    const job = await getJson(`${server.url}/v1/jobs/${r.body.jobId}`, auth);
    expect(job.body).toMatchObject({ jobId: r.body.jobId, state: 'done', attempts: 1 });
    expect(job.body.result.outputHash).toBe(direct.outputHash);
  });

  it('accepts async jobs, reports them by id, and treats a repeated jobId as the same job', async () => {
    const body = { modelHash: mnistHash, inputs: { Input3: digit }, trace: true, jobId: 'client-job-1' };
    const accepted = await postJson(`${server.url}/v1/infer?async=1`, body, auth);
    expect(accepted.status).toBe(202);
    expect(accepted.body.jobId).toBe('client-job-1');
    let job;
    for (let i = 0; i < 200; i++) {
      job = await getJson(`${server.url}/v1/jobs/client-job-1`, auth);
      if (job.body.state === 'done') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(job!.body.state).toBe('done');
    expect(job!.body.result.trace.length).toBeGreaterThan(3);
    const again = await postJson(`${server.url}/v1/infer`, body, auth);
    expect(again.status).toBe(200);
    expect(again.body.outputHash).toBe(job!.body.result.outputHash);
    expect((await getJson(`${server.url}/v1/jobs/client-job-1`, auth)).body.attempts).toBe(1);
    const conflict = await postJson(`${server.url}/v1/infer`, { ...body, trace: false }, auth);
    expect([conflict.status, conflict.body.error.code]).toEqual([409, 'ERR_BITEXACT_JOB_CONFLICT']);
  });

  it('registers an uploaded model', async () => {
    const bytes = matmulChain(1, 2, 8);
    const r = await fetch(`${server.url}/v1/models`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...auth }, body: bytes });
    expect(r.status).toBe(201);
    const body = (await r.json()) as { modelHash: string; batchable: boolean };
    expect(body.batchable).toBe(true);
    const infer = await postJson(
      `${server.url}/v1/infer`,
      { modelHash: body.modelHash, inputs: { x: { dtype: 'float32', shape: [1, 2, 8], data: Buffer.from(new Float32Array(16).fill(1).buffer).toString('base64') } } },
      auth,
    );
    expect(infer.status, JSON.stringify(infer.body)).toBe(200);
    expect(infer.body.outputs.y.shape).toEqual([1, 2, 8]);
  });

  it('gives each class of bad request its 4xx and a stable code, and keeps serving', async () => {
    const infer = (body: unknown, headers = auth) => postJson(`${server.url}/v1/infer`, body, headers);
    const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
      ['no token', () => infer({ modelHash: mnistHash, inputs: { Input3: digit } }, {} as typeof auth), 401, 'ERR_BITEXACT_UNAUTHORIZED'],
      ['wrong token', () => infer({ modelHash: mnistHash, inputs: { Input3: digit } }, { authorization: 'Bearer nope' }), 401, 'ERR_BITEXACT_UNAUTHORIZED'],
      ['malformed JSON', () => infer('{"modelHash": '), 400, 'ERR_BITEXACT_REQUEST'],
      ['missing inputs', () => infer({ modelHash: mnistHash }), 400, 'ERR_BITEXACT_REQUEST'],
      ['bad hash', () => infer({ modelHash: '0x1234', inputs: { Input3: digit } }), 400, 'ERR_BITEXACT_REQUEST'],
      ['unknown field', () => infer({ modelHash: mnistHash, inputs: { Input3: digit }, extra: 1 }), 400, 'ERR_BITEXACT_REQUEST'],
      ['unknown model', () => infer({ modelHash: '0x' + 'ab'.repeat(32), inputs: { Input3: digit } }), 404, 'ERR_BITEXACT_UNKNOWN_MODEL'],
      ['unknown input', () => infer({ modelHash: mnistHash, inputs: { Input3: digit, other: digit } }), 400, 'ERR_BITEXACT_INPUT'],
      ['missing input', () => infer({ modelHash: mnistHash, inputs: { other: digit } }), 400, 'ERR_BITEXACT_INPUT'],
      ['wrong dtype', () => infer({ modelHash: mnistHash, inputs: { Input3: { ...digit, dtype: 'uint8' } } }), 400, 'ERR_BITEXACT_INPUT'],
      ['wrong shape', () => infer({ modelHash: mnistHash, inputs: { Input3: { ...digit, shape: [1, 1, 28, 27] } } }), 400, 'ERR_BITEXACT_INPUT'],
      ['wrong element count', () => infer({ modelHash: mnistHash, inputs: { Input3: { ...digit, data: [1, 2, 3] } } }), 400, 'ERR_BITEXACT_INPUT'],
      ['non-numeric data', () => infer({ modelHash: mnistHash, inputs: { Input3: { ...digit, data: digit.data.map(() => 'x') } } }), 400, 'ERR_BITEXACT_INPUT'],
      ['bad base64 length', () => infer({ modelHash: mnistHash, inputs: { Input3: { ...digit, data: 'AAAA' } } }), 400, 'ERR_BITEXACT_INPUT'],
      ['body too large', () => postRaw(`${server.url}/v1/infer`, Buffer.alloc(9 * 1024 * 1024, 0x20), { 'content-type': 'application/json', ...auth }), 413, 'ERR_BITEXACT_BODY_TOO_LARGE'],
      ['path outside the models folder', () => postJson(`${server.url}/v1/models`, { path: '../outside.onnx' }, auth), 400, 'ERR_BITEXACT_REQUEST'],
      ['missing model file', () => postJson(`${server.url}/v1/models`, { path: 'nope.onnx' }, auth), 404, 'ERR_BITEXACT_MODEL_NOT_FOUND'],
      ['register body', () => postJson(`${server.url}/v1/models`, { file: 'x' }, auth), 400, 'ERR_BITEXACT_REQUEST'],
      ['unknown job', () => getJson(`${server.url}/v1/jobs/nope`, auth), 404, 'ERR_BITEXACT_UNKNOWN_JOB'],
      ['bad job id', () => getJson(`${server.url}/v1/jobs/${'x'.repeat(129)}`, auth), 400, 'ERR_BITEXACT_REQUEST'],
      ['unknown route', () => getJson(`${server.url}/v2/nothing`, auth), 404, 'ERR_BITEXACT_NOT_FOUND'],
    ];
    for (const [label, request, status, code] of cases) {
      const r = await request();
      expect([label, r.status, r.body.error?.code]).toEqual([label, status, code]);
      expect(r.body.error.message.length, label).toBeGreaterThan(5);
    }
    const garbage = await fetch(`${server.url}/v1/models`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...auth }, body: Buffer.from('not an onnx model') });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as any).error.code).toBe('ERR_BITEXACT_INVALID_MODEL');
    const text = await fetch(`${server.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/xml', ...auth }, body: '<x/>' });
    expect(text.status).toBe(415);
    // still serving
    const ok = await infer({ modelHash: mnistHash, inputs: { Input3: digit } });
    expect(ok.status).toBe(200);
  });

  it('serves /healthz without the token and /metrics in Prometheus format', async () => {
    const health = await getJson(`${server.url}/healthz`);
    expect(health.body).toMatchObject({ ok: true, models: 2 });
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/^bitexact_jobs\{outcome="completed"\} \d+/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds /m);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  });
});
