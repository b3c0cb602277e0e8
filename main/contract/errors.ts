// One result shape crosses every boundary (IPC, WebSocket bridge, CLI, tests): a call either
// succeeds with a value or fails with a stable code, a message that names the offending thing,
// and optional details. Codes are part of the contract: add new ones, never rename or reuse.
// The engine's own coded errors (main/engine/errors.ts: E_SAFETENSORS_HEADER, E_CONFIG_FIELD ...)
// pass through with their code, message and details.
// The engine's own coded errors (main/engine/errors.ts: E_SAFETENSORS_HEADER, E_CONFIG_FIELD...)
// pass through with their code, message and details unchanged.
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
  /** A bug: anything thrown without an E_* code. */
  'E_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ApiErrorBody {
  /** One of ERROR_CODES, or an engine-specific E_* code passed through. */
  code: ErrorCode | (string & {});
  message: string;
  details?: unknown;
}

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ApiErrorBody };

/** An error with one of the API's codes, thrown by the API layer; adapters turn it into an envelope. */
export class ApiError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'ApiError';
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

export function ok<T>(value: T): Envelope<T> {
  return { ok: true, value };
}

export function fail(code: ApiErrorBody['code'], message: string, details?: unknown): Envelope<never> {
  return details === undefined ? { ok: false, error: { code, message } } : { ok: false, error: { code, message, details } };
}

const CODED = /^E_[A-Z0-9_]+$/;

/**
 * Any thrown value as an error envelope: an ApiError, or any Error carrying an E_* code (the
 * engine's RecallError), keeps its code and details; anything else is a bug, E_INTERNAL.
 */
export function failFromError(err: unknown): Envelope<never> {
  if (err instanceof ApiError) return fail(err.code, err.message, err.details);
  const coded = err as { code?: unknown; details?: unknown } | null;
  if (err instanceof Error && typeof coded?.code === 'string' && CODED.test(coded.code)) {
    const d = coded.details;
    return fail(coded.code, err.message, d && typeof d === 'object' && Object.keys(d).length ? d : undefined);
  }
  const message = err instanceof Error ? err.message : String(err);
  return fail('E_INTERNAL', `internal error: ${message}`);
}

/** Unwraps an envelope, throwing an Error carrying its code and details (for callers that prefer throws). */
export function unwrap<T>(envelope: Envelope<T>): T {
  if (envelope.ok) return envelope.value;
  const { code, message, details } = envelope.error;
  throw Object.assign(new Error(message), { name: 'ApiError', code, details });
}
