// Magnitude pruning baseline (docs/METHODS.md 1.4, last line): prune the entries of |W| at or
// below the global s-quantile of the matrix, as exactly floor(numel * s) entries (ties broken by
// lower flat index, so the count is exact and runs are reproducible); and n:m magnitude pruning
// (per row, the n smallest |w| of every m consecutive columns, ties by lower column).
import { RecallError } from '../errors.ts';
import { markSmallest } from './select.ts';

export interface MagnitudeOptions {
  /** Unstructured fraction in [0, 1). */
  sparsity?: number;
  /** n:m: prune n of every m consecutive columns in each row (n < m, m divides cols). */
  n?: number;
  m?: number;
  name?: string;
}

export interface MagnitudeResult {
  /** Pruned weight [rows, cols]. */
  weight: Float32Array;
  /** 1 where pruned. */
  mask: Uint8Array;
  /** count(mask) / numel. */
  sparsity: number;
}

function fail(o: MagnitudeOptions, msg: string, details: Record<string, unknown>): never {
  throw new RecallError('E_COMPRESS_CONFIG', `${o.name ?? 'layer'}: ${msg}`, details);
}

/** Magnitude pruning of W [rows, cols], unstructured (sparsity) or n:m. W is not modified. */
export function pruneMagnitude(w: Float32Array, rows: number, cols: number, o: MagnitudeOptions): MagnitudeResult {
  if (w.length !== rows * cols) throw new RecallError('E_SHAPE_MISMATCH', `${o.name ?? 'layer'}: weight has ${w.length} values, not ${rows} x ${cols}`, { rows, cols });
  const hasNm = o.n !== undefined || o.m !== undefined;
  if (hasNm === (o.sparsity !== undefined)) fail(o, 'give either sparsity or n and m', { sparsity: o.sparsity, n: o.n, m: o.m });
  const mask = new Uint8Array(rows * cols);
  let pruned = 0;
  if (!hasNm) {
    const s = o.sparsity!;
    if (!(s >= 0 && s < 1)) fail(o, `sparsity must be in [0, 1), got ${s}`, { field: 'sparsity', value: s });
    const keys = Float64Array.from(w, Math.abs);
    pruned = markSmallest(keys, Math.floor(w.length * s), (i) => { mask[i] = 1; });
  } else {
    const n = o.n ?? NaN, m = o.m ?? NaN;
    if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || n >= m) fail(o, `n:m needs integers 1 <= n < m, got ${n}:${m}`, { field: 'n', n, m });
    if (cols % m !== 0) fail(o, `n:m needs m (${m}) to divide the column count (${cols})`, { field: 'm', m, cols });
    const keys = new Float64Array(m);
    for (let base = 0; base < w.length; base += m) {
      for (let t = 0; t < m; t++) keys[t] = Math.abs(w[base + t]!);
      pruned += markSmallest(keys, n, (t) => { mask[base + t] = 1; });
    }
  }
  const weight = Float32Array.from(w, (v, i) => (mask[i] ? 0 : v));
  return { weight, mask, sparsity: pruned / w.length };
}
