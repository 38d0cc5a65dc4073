/** Stable error codes: branch on `err.code`, never on the message. */
export type ErrorCode =
  | 'ERR_BITEXACT_INVALID_MODEL'
  | 'ERR_BITEXACT_UNSUPPORTED_OP'
  | 'ERR_BITEXACT_INPUT'
  | 'ERR_BITEXACT_OVERFLOW_BOUND'
  | 'ERR_BITEXACT_RESOURCE'
  | 'ERR_BITEXACT_ISA'
  | 'ERR_BITEXACT_BACKEND'
  | 'ERR_BITEXACT_DISPOSED'
  | 'ERR_BITEXACT_CANCELLED'
  | 'ERR_BITEXACT_TIMEOUT'
  | 'ERR_BITEXACT_QUEUE_FULL'
  | 'ERR_BITEXACT_CHAIN'
  | 'ERR_BITEXACT_CHAIN_REVERT'
  | 'ERR_BITEXACT_NATIVE'
  | 'ERR_BITEXACT_INTERNAL';

export class BitexactError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'BitexactError';
    this.code = code;
  }
}

/** Errors that come from the user's input (exit code 2 in the CLI), as opposed to bugs. */
export const INPUT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ERR_BITEXACT_INVALID_MODEL',
  'ERR_BITEXACT_UNSUPPORTED_OP',
  'ERR_BITEXACT_INPUT',
  'ERR_BITEXACT_OVERFLOW_BOUND',
  'ERR_BITEXACT_RESOURCE',
  'ERR_BITEXACT_ISA',
  'ERR_BITEXACT_BACKEND',
  'ERR_BITEXACT_CHAIN',
  'ERR_BITEXACT_CHAIN_REVERT',
  'ERR_BITEXACT_DISPOSED',
]);

/** Re-wraps an error thrown by the addon (a plain Error with a `code`) as a BitexactError. */
export function fromNative(err: unknown): BitexactError {
  if (err instanceof BitexactError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && e.code.startsWith('ERR_BITEXACT_') ? (e.code as ErrorCode) : 'ERR_BITEXACT_INTERNAL';
  return new BitexactError(code, typeof e?.message === 'string' ? e.message : String(err));
}

/** "Expected X for Y but received Z" */
export function expected(what: string, forWhat: string, received: unknown): BitexactError {
  return new BitexactError('ERR_BITEXACT_INPUT', `Expected ${what} for ${forWhat} but received ${describe(received)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as { length?: number }).length ?? v.byteLength}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
