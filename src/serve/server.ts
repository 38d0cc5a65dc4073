// `bitexact serve`: the HTTP API (fastify) over the model registry, the scheduler and the durable
// job journal. Routes and error codes: docs/serve.md.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { BitexactError } from '../errors.js';
import type { LoadOptions, Model } from '../model.js';
import { Scheduler, type SchedulerOptions } from '../schedule/scheduler.js';
import { bytesPerElement, elementCount, normalizeTensor, viewBytes, type DType, type Tensor } from '../tensor.js';
import { errorResponse, HttpError } from './http_errors.js';
import { JobService } from './job_service.js';
import { Journal } from './journal.js';
import { ModelRegistry } from './model_registry.js';
import { createMetricsRegistry } from './prometheus.js';
import { inferBody, inferQuery, jobParams } from './schemas.js';

export interface ServeOptions {
  host?: string;
  /** 0 picks a free port (see Server.url) */
  port?: number;
  /** models may be registered by a path inside this folder */
  modelsDir?: string;
  /** the SQLite job journal */
  dbPath: string;
  /** when set, every route but /healthz needs `Authorization: Bearer TOKEN` */
  token?: string;
  /** largest request body (model uploads included), bytes; default 256 MiB */
  maxBodyBytes?: number;
  scheduler?: SchedulerOptions;
  load?: LoadOptions;
}

export interface Server {
  url: string;
  app: FastifyInstance;
  scheduler: Scheduler;
  /** stops accepting, lets running jobs finish, leaves waiting ones in the journal, closes the db */
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<Server> {
  const journal = new Journal(options.dbPath);
  const registry = new ModelRegistry(journal, options.modelsDir, options.load ?? {});
  const scheduler = new Scheduler(options.scheduler);
  const jobs = new JobService(journal, registry, scheduler);
  const app = Fastify({
    bodyLimit: options.maxBodyBytes ?? 256 * 1024 * 1024,
    logger: false,
    routerOptions: { maxParamLength: 256 },
    // Unknown fields are refused, not silently dropped (fastify's default removes them).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = errorResponse(err);
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'ERR_BITEXACT_NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });
  if (options.token) {
    const expected = Buffer.from(`Bearer ${options.token}`);
    app.addHook('onRequest', async (req) => {
      if (req.url === '/healthz') return;
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new HttpError(401, 'ERR_BITEXACT_UNAUTHORIZED', 'this server needs Authorization: Bearer <token>');
      }
    });
  }

  app.get('/healthz', async () => ({ ok: true, models: registry.list().length, queueDepth: scheduler.metrics().queueDepth }));

  const metrics = createMetricsRegistry(scheduler);
  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  });

  app.get('/v1/models', async () => ({ models: registry.list() }));
  app.post('/v1/models', async (req, reply) => {
    const body = req.body;
    let registered;
    if (Buffer.isBuffer(body)) registered = await registry.registerUpload(body);
    else {
      const valid = validateRegister(body);
      registered = await registry.registerPath(valid.path);
    }
    return reply.status(registered.created ? 201 : 200).send(registered.description);
  });

  app.post('/v1/infer', { schema: { body: inferBody, querystring: inferQuery } }, async (req, reply) => {
    const body = req.body as InferJson;
    const model = registry.get(body.modelHash);
    const inputs = tensorsFromJson(model, body.inputs);
    const accepted = await jobs.accept({ modelHash: body.modelHash, inputs, trace: body.trace === true, jobId: body.jobId, priority: body.priority ?? 0 });
    const query = req.query as { async?: string };
    if (query.async === '1' || query.async === 'true') {
      return reply.status(202).send({ jobId: accepted.jobId, state: jobs.view(accepted.jobId)?.state ?? 'queued', href: `/v1/jobs/${accepted.jobId}` });
    }
    const outcome = await accepted.done;
    if (outcome.state === 'done' && outcome.resultJson) return reply.type('application/json; charset=utf-8').send(outcome.resultJson);
    if (outcome.error) {
      const { status, body: errorBody } = errorResponse(new BitexactError(outcome.error.code as never, outcome.error.message));
      return reply.status(status).send({ ...errorBody, jobId: outcome.jobId });
    }
    // cancelled by a shutdown: still accepted, it runs after the restart
    return reply.status(202).send({ jobId: outcome.jobId, state: outcome.state, href: `/v1/jobs/${outcome.jobId}` });
  });

  app.get('/v1/jobs/:id', { schema: { params: jobParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const view = jobs.view(id);
    if (!view) return reply.status(404).send({ error: { code: 'ERR_BITEXACT_UNKNOWN_JOB', message: `no job '${id}'` } });
    return view;
  });

  const failed = await registry.restore();
  for (const f of failed) console.warn(`bitexact serve: model ${f.modelHash} not restored: ${f.reason}`);
  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
  jobs.recover();
  const address = app.server.address();
  const url = typeof address === 'object' && address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);

  let closed = false;
  return {
    url,
    app,
    scheduler,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      scheduler.close(); // waiting jobs stay queued in the journal for the next start
      await jobs.drain(); // running jobs finish and their results are committed
      registry.dispose();
      await journal.close();
    },
  };
}

interface InferJson {
  modelHash: string;
  inputs: Record<string, { dtype: DType; shape: number[]; data: (number | string)[] | string }>;
  trace?: boolean;
  jobId?: string;
  priority?: number;
}

function validateRegister(body: unknown): { path: string } {
  const ok = typeof body === 'object' && body !== null && typeof (body as { path?: unknown }).path === 'string' && Object.keys(body).length === 1;
  if (!ok) throw new HttpError(400, 'ERR_BITEXACT_REQUEST', 'body must be {"path": "<file inside --models>"} (JSON) or the model file itself (application/octet-stream)');
  return body as { path: string };
}

/** JSON tensors to typed tensors, checked against the model's declared inputs before queueing. */
function tensorsFromJson(model: Model, inputs: InferJson['inputs']): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const spec of model.inputs) {
    if (!(spec.name in inputs)) throw new BitexactError('ERR_BITEXACT_INPUT', `missing input '${spec.name}'`);
  }
  for (const [name, json] of Object.entries(inputs)) {
    const spec = model.inputs.find((s) => s.name === name);
    if (!spec) throw new BitexactError('ERR_BITEXACT_INPUT', `the model has no input '${name}' (inputs: ${model.inputs.map((s) => s.name).join(', ')})`);
    if (json.dtype !== spec.dtype) throw new BitexactError('ERR_BITEXACT_INPUT', `input '${name}' must be ${spec.dtype}, not ${json.dtype}`);
    if (spec.shape) {
      const fits = spec.shape.length === json.shape.length && spec.shape.every((d, i) => typeof d !== 'number' || d < 0 || d === json.shape[i]);
      if (!fits) throw new BitexactError('ERR_BITEXACT_INPUT', `input '${name}' must have shape [${spec.shape.join(',')}], not [${json.shape.join(',')}]`);
    }
    if (typeof json.data === 'string') out[name] = fromBase64(name, { ...json, data: json.data });
    else out[name] = normalizeTensor({ ...json, data: json.dtype === 'int64' ? json.data.map(toBigInt) : json.data }, `input '${name}'`);
  }
  return out;
}

/** int64 elements may come as decimal strings (JSON numbers lose precision past 2^53). */
function toBigInt(v: number | string): bigint | number {
  if (typeof v !== 'string') return v;
  if (!/^-?\d{1,19}$/.test(v)) throw new BitexactError('ERR_BITEXACT_INPUT', `an int64 element must be an integer or a decimal string, not ${JSON.stringify(v.slice(0, 30))}`);
  return BigInt(v);
}

function fromBase64(name: string, json: { dtype: DType; shape: number[]; data: string }): Tensor {
  const bytes = Buffer.from(json.data, 'base64');
  const expected = elementCount(json.shape) * bytesPerElement(json.dtype);
  if (bytes.length !== expected) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `input '${name}' data decodes to ${bytes.length} bytes but shape [${json.shape.join(',')}] of ${json.dtype} needs ${expected}`);
  }
  return { dtype: json.dtype, shape: json.shape, data: viewBytes(json.dtype, Uint8Array.from(bytes)) };
}
