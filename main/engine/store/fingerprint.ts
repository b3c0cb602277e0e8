// Content fingerprints for reuse: two runs with the same kind, inputs and config compute the same
// thing, so a finished one can stand in for the other (runs.findReusableRun). The hash is over
// canonical JSON, so key order in a config object never changes it.

import { createHash } from 'node:crypto';
import { RecallError } from '../errors.ts';

/**
 * JSON with object keys sorted at every depth. Rejects what JSON.stringify would silently turn
 * into null or drop inside arrays (NaN, Infinity, functions, bigint), since two different
 * configs must never share a fingerprint. Undefined object members are omitted, as in JSON.
 */
export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new RecallError('E_INVALID_ARGUMENT', `fingerprint: ${path} is ${value}, which JSON cannot hold`, { path });
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const withToJson = obj as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return canonicalJson(withToJson.toJSON(), path);
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new RecallError('E_INVALID_ARGUMENT', `fingerprint: ${path} is a ${typeof value}, which JSON cannot hold`, { path });
  }
}

/** sha256 (hex) of the canonical JSON of a value. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
