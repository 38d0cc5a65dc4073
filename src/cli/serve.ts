// `bitexact serve`: runs the HTTP API until SIGINT/SIGTERM, then shuts down cleanly (waiting jobs
// stay in the journal and run after the next start).
import { parseArgs } from 'node:util';
import { startServer } from '../serve/server.js';

export const SERVE_USAGE = `  bitexact serve [--host 127.0.0.1] [--port 8080] [--models DIR] [--db FILE] [--token T | --token-env NAME]
               [--threads N] [--capacity N] [--max-queue N] [--batch-window-ms MS] [--max-batch N] [--max-body-mb MB]`;

/** Parses a positive (or, with min 0, non-negative) number option; throws a usage message. */
function numberOption(values: Record<string, unknown>, name: string, min = 1, integer = true): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw Object.assign(new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got '${String(raw)}'`), { usage: true });
  }
  return n;
}

export async function commandServe(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      models: { type: 'string' },
      db: { type: 'string' },
      token: { type: 'string' },
      'token-env': { type: 'string' },
      threads: { type: 'string' },
      capacity: { type: 'string' },
      'max-queue': { type: 'string' },
      'batch-window-ms': { type: 'string' },
      'max-batch': { type: 'string' },
      'max-body-mb': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw Object.assign(new Error(`serve takes no positional arguments (got '${positionals[0]}')`), { usage: true });
  let token = values.token;
  if (values['token-env']) {
    token = process.env[values['token-env']];
    if (!token) throw Object.assign(new Error(`--token-env ${values['token-env']}: that variable is not set`), { usage: true });
  }
  const capacity = numberOption(values, 'capacity');
  const maxBodyMb = numberOption(values, 'max-body-mb', 1, false);
  const server = await startServer({
    host: values.host ?? '127.0.0.1',
    port: numberOption(values, 'port', 0) ?? 8080,
    modelsDir: values.models,
    dbPath: values.db ?? 'bitexact-jobs.db',
    token,
    maxBodyBytes: maxBodyMb === undefined ? undefined : Math.floor(maxBodyMb * 1024 * 1024),
    load: { threads: numberOption(values, 'threads') },
    scheduler: {
      ...(capacity ? { capacity: { cpu: capacity } } : {}),
      maxQueue: numberOption(values, 'max-queue'),
      batchWindowMs: numberOption(values, 'batch-window-ms', 0, false),
      maxBatch: numberOption(values, 'max-batch'),
    },
  });
  process.stdout.write(`bitexact serve: listening on ${server.url} (db ${values.db ?? 'bitexact-jobs.db'}${token ? ', token required' : ''})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write('bitexact serve: shutting down\n');
  await server.close();
  return 0;
}
