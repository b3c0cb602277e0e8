// The parts GPTQ and SparseGPT share (docs/METHODS.md 1.3 and 1.4): the Hessian preparation
// (dead columns, optional act-order permutation, damping, U = chol(inverse(H)) upper) and the
// lazy block update W[:, i2:] -= Err1 @ U[i1:i2, i2:], the one product that dominates the time.
import { RecallError } from '../errors.ts';
import { type PrepArrays, type PrepTeam, dampDiagonal, subRow1, subRows4, upperCholeskyOfInverse } from './linalg.ts';

export const DEFAULT_BLOCK_SIZE = 128;
export const DEFAULT_PERC_DAMP = 0.01;

export interface SolverOptions {
  /** Columns per lazy-update block (default 128). */
  blockSize?: number;
  /** Damping as a fraction of mean(diag(H)) (default 0.01). */
  percDamp?: number;
  /** Process columns in order of decreasing diag(H) (GPTQ's act-order / desc_act). */
  actOrder?: boolean;
  /** Names the layer in error messages. */
  name?: string;
  /**
   * Threads for the column loop and lazy update (this one plus threads - 1 workers; default
   * min(2, cores)). Layers under PARALLEL_MIN_WORK weights stay on one thread. Same result either way.
   */
  threads?: number;
}

export interface PreparedLayer {
  /** Working weight [rows, cols], float64, dead columns zeroed, columns permuted when actOrder. */
  w: Float64Array;
  /** U [cols, cols], upper triangular, inverse(H + damp I) = U^T U (in permuted order). */
  u: Float64Array;
  /** perm[i] = original column at position i (actOrder), else null. */
  perm: Int32Array | null;
  /** Dead columns (diag(H) == 0), by original index. */
  dead: Uint8Array;
  damp: number;
}

/** Check shapes and the shared options; returns (blockSize, percDamp). */
export function checkSolverInputs(w: Float32Array, rows: number, cols: number, h: Float64Array, o: SolverOptions): { blockSize: number; percDamp: number } {
  const name = o.name ?? 'layer';
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || w.length !== rows * cols) {
    throw new RecallError('E_SHAPE_MISMATCH', `${name}: weight has ${w.length} values, not rows ${rows} x cols ${cols}`, { name, rows, cols, length: w.length });
  }
  if (h.length !== cols * cols) {
    throw new RecallError('E_SHAPE_MISMATCH', `${name}: Hessian has ${h.length} values, expected cols^2 = ${cols * cols}`, { name, cols, length: h.length });
  }
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  const percDamp = o.percDamp ?? DEFAULT_PERC_DAMP;
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new RecallError('E_COMPRESS_CONFIG', `${name}: blockSize must be a positive integer, got ${blockSize}`, { field: 'blockSize', value: blockSize });
  }
  if (!(percDamp >= 0) || !Number.isFinite(percDamp)) {
    throw new RecallError('E_COMPRESS_CONFIG', `${name}: percDamp must be a finite number >= 0, got ${percDamp}`, { field: 'percDamp', value: percDamp });
  }
  return { blockSize, percDamp };
}

/**
 * METHODS 1.3 preamble: dead = diag(H) == 0; H[dead, dead] = 1; W[:, dead] = 0; with actOrder,
 * perm = argsort(diag(H), descending) (stable: ties keep column order, torch leaves them
 * unspecified); H += percDamp * mean(diag(H)) I; U = upper Cholesky factor of inverse(H).
 * The inputs are not modified. team: see upperCholeskyOfInverse (threads for the factorization).
 */
export function prepareLayer(w: Float32Array, rows: number, cols: number, hIn: Float64Array, percDamp: number, o: SolverOptions, alloc: (n: number) => Float64Array = (n) => new Float64Array(n), team?: (x: PrepArrays) => PrepTeam | null): PreparedLayer {
  const dead = new Uint8Array(cols);
  const diag = new Float64Array(cols);
  let anyDead = false;
  for (let c = 0; c < cols; c++) {
    diag[c] = hIn[c * cols + c]!;
    if (diag[c] === 0) { dead[c] = 1; diag[c] = 1; anyDead = true; }
  }
  let perm: Int32Array | null = null;
  if (o.actOrder) {
    perm = Int32Array.from({ length: cols }, (_, i) => i);
    perm.sort((a, b) => diag[b]! - diag[a]! || a - b);
  }
  let h: Float64Array;
  const wp = alloc(rows * cols);
  if (perm) {
    h = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) {
      const src = perm[i]! * cols, hr = i * cols;
      for (let j = 0; j < cols; j++) h[hr + j] = hIn[src + perm[j]!]!;
    }
    for (let r = 0; r < rows; r++) {
      const wr = r * cols;
      for (let i = 0; i < cols; i++) {
        const c = perm[i]!;
        wp[wr + i] = dead[c] ? 0 : w[wr + c]!;
      }
    }
  } else {
    h = hIn.slice();
    wp.set(w);
    if (anyDead) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (dead[c]) wp[r * cols + c] = 0;
  }
  for (let i = 0; i < cols; i++) h[i * cols + i] = diag[perm ? perm[i]! : i]!;
  const damp = dampDiagonal(h, cols, percDamp);
  const u = upperCholeskyOfInverse(h, cols, `${o.name ?? 'layer'}: Hessian (damp ${damp})`, alloc, team);
  return { w: wp, u, perm, dead, damp };
}

/**
 * W[:, i2:] -= Err1 @ U[i1:i2, i2:] (METHODS 1.3, lazy batch update). err is [rows, count]
 * row-major. Tiled over output columns so the rows' tiles stay in L1 while the U tile
 * (count x TILE) stays in L2; four rows share each load of U, four error terms are folded per
 * pass (subRows4), and a row skips four error terms that are all zero. Only rows [r0, r1) are
 * updated (each row's arithmetic does not depend on the range: threads split rows).
 */
export function lazyBlockUpdate(w: Float64Array, rows: number, cols: number, err: Float64Array, count: number, u: Float64Array, i1: number, i2: number, r0 = 0, r1 = rows): void {
  const TILE = 256;
  for (let j0 = i2; j0 < cols; j0 += TILE) {
    const j1 = Math.min(j0 + TILE, cols);
    let r = r0;
    for (; r + 3 < r1; r += 4) subRows4(w, r * cols, cols, err, r * count, count, 1, u, i1 * cols, cols, count, j0, j1, true);
    for (; r < r1; r++) subRow1(w, r * cols, err, r * count, 1, u, i1 * cols, cols, count, j0, j1, true);
  }
}

/** Scatter values in processing order back to original column order: out[r, perm[i]] = src[r, i]. */
export function unpermuteColumns<T extends Float32Array | Uint8Array>(src: T, rows: number, cols: number, perm: Int32Array | null): T {
  if (!perm) return src;
  const out = new (src.constructor as { new(n: number): T })(src.length);
  for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) out[r * cols + perm[i]!] = src[r * cols + i]!;
  return out;
}
