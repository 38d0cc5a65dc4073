// How errors become HTTP responses: every error has a stable code; the status says whose fault it
// is. Only a bug in bitexact gives a 5xx other than 503 (busy) and 504 (timed out).
import { BitexactError } from '../errors.js';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS: Record<string, number> = {
  ERR_BITEXACT_INPUT: 400,
  ERR_BITEXACT_INVALID_MODEL: 400,
  ERR_BITEXACT_UNSUPPORTED_OP: 422,
  ERR_BITEXACT_OVERFLOW_BOUND: 422,
  ERR_BITEXACT_RESOURCE: 413,
  ERR_BITEXACT_ISA: 400,
  ERR_BITEXACT_BACKEND: 400,
  ERR_BITEXACT_QUEUE_FULL: 503,
  ERR_BITEXACT_CANCELLED: 503,
  ERR_BITEXACT_TIMEOUT: 504,
  ERR_BITEXACT_DISPOSED: 503,
};

/** Status and body for any error thrown while serving a request. */
export function errorResponse(err: unknown): { status: number; body: { error: { code: string; message: string } } } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof BitexactError) return { status: STATUS[err.code] ?? 500, body: { error: { code: err.code, message: err.message } } };
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown; validationContext?: string };
  if (e?.validation) {
    return { status: 400, body: { error: { code: 'ERR_BITEXACT_REQUEST', message: `${e.validationContext ?? 'request'} ${e.message?.replace(/^(body|querystring|params)\s*/, '') ?? 'is invalid'}` } } };
  }
  // fastify's own client errors: bad JSON, body too large, unsupported content type, ...
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 413 ? 'ERR_BITEXACT_BODY_TOO_LARGE' : e.statusCode === 415 ? 'ERR_BITEXACT_CONTENT_TYPE' : 'ERR_BITEXACT_REQUEST';
    return { status: e.statusCode, body: { error: { code, message: e.message ?? 'bad request' } } };
  }
  return { status: 500, body: { error: { code: 'ERR_BITEXACT_INTERNAL', message: e?.message ?? String(err) } } };
}
