// One result shape crosses every boundary (IPC, WebSocket bridge, CLI, tests): a call either
// succeeds with a value or fails with a stable code, a message that names the offending thing,
// and optional details. Codes are part of the contract: add new ones, never rename or reuse.
// No imports: the renderer and the Electron preload bundle this file.

export const ERROR_CODES = [
  /** Params failed the method's schema, or a value is unusable (message names the field). */
  'E_BAD_ARGUMENT',
  /** The method name is not in the contract. */
  'E_UNKNOWN_METHOD',
  /** The caller may not make this call (an untrusted frame, a wrong token). */
  'E_FORBIDDEN',
  /** A named thing (model, run, file) does not exist. */
  'E_NOT_FOUND',
  /** Reading or writing the data folder failed. */
  'E_IO',
  /** Something the call needs is not installed or not available on this machine. */
  'E_UNAVAILABLE',
  /** The work was cancelled. */
  'E_CANCELLED',
  /** The API was closed before or during the call. */
  'E_CLOSED',
  /** The connection to the engine failed (raised by clients, never by the engine). */
  'E_TRANSPORT',
  /** A bug: anything thrown that is not a RecallError. */
  'E_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ApiErrorBody };

/** An error with a stable code. The engine throws these; adapters turn them into envelopes. */
export class RecallError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'RecallError';
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

export function ok<T>(value: T): Envelope<T> {
  return { ok: true, value };
}

export function fail(code: ErrorCode, message: string, details?: unknown): Envelope<never> {
  return details === undefined ? { ok: false, error: { code, message } } : { ok: false, error: { code, message, details } };
}

/** Any thrown value as an error envelope; non-RecallErrors become E_INTERNAL. */
export function failFromError(err: unknown): Envelope<never> {
  if (err instanceof RecallError) return fail(err.code, err.message, err.details);
  const message = err instanceof Error ? err.message : String(err);
  return fail('E_INTERNAL', `internal error: ${message}`);
}

/** Unwraps an envelope, throwing a RecallError for a failure (for callers that prefer throws). */
export function unwrap<T>(envelope: Envelope<T>): T {
  if (envelope.ok) return envelope.value;
  throw new RecallError(envelope.error.code, envelope.error.message, envelope.error.details);
}
