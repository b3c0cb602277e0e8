// The parts GPTQ and SparseGPT share (docs/METHODS.md 1.3 and 1.4): the Hessian preparation
// (dead columns, optional act-order permutation, damping, U = chol(inverse(H)) upper) and the
// lazy block update W[:, i2:] -= Err1 @ U[i1:i2, i2:], the one product that dominates the time.
import { RecallError } from '../errors.ts';
import { dampDiagonal, upperCholeskyOfInverse } from './linalg.ts';

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
 * The inputs are not modified.
 */
export function prepareLayer(w: Float32Array, rows: number, cols: number, hIn: Float64Array, percDamp: number, o: SolverOptions, alloc: (n: number) => Float64Array = (n) => new Float64Array(n)): PreparedLayer {
  const dead = new Uint8Array(cols);
  const diag = new Float64Array(cols);
  for (let c = 0; c < cols; c++) {
    diag[c] = hIn[c * cols + c]!;
    if (diag[c] === 0) { dead[c] = 1; diag[c] = 1; }
  }
  let perm: Int32Array | null = null;
  if (o.actOrder) {
    perm = Int32Array.from({ length: cols }, (_, i) => i);
    perm.sort((a, b) => diag[b]! - diag[a]! || a - b);
  }
  const at = perm ? (i: number) => perm![i]! : (i: number) => i;
  const h = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) {
    const src = at(i) * cols;
    for (let j = 0; j < cols; j++) h[i * cols + j] = hIn[src + at(j)]!;
    h[i * cols + i] = diag[at(i)]!;
  }
  const wp = alloc(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < cols; i++) {
      const c = at(i);
      wp[r * cols + i] = dead[c] ? 0 : w[r * cols + c]!;
    }
  }
  const damp = dampDiagonal(h, cols, percDamp);
  const u = upperCholeskyOfInverse(h, cols, `${o.name ?? 'layer'}: Hessian (damp ${damp})`, alloc);
  return { w: wp, u, perm, dead, damp };
}

/**
 * W[:, i2:] -= Err1 @ U[i1:i2, i2:] (METHODS 1.3, lazy batch update). err is [rows, count]
 * row-major. Tiled over output columns so a row's tile stays in L1 while the U tile
 * (count x TILE) stays in L2; four error terms are folded per pass over the tile. Only rows
 * [r0, r1) are updated (each row's arithmetic does not depend on the range: threads split rows).
 */
export function lazyBlockUpdate(w: Float64Array, rows: number, cols: number, err: Float64Array, count: number, u: Float64Array, i1: number, i2: number, r0 = 0, r1 = rows): void {
  const TILE = 256;
  for (let j0 = i2; j0 < cols; j0 += TILE) {
    const j1 = Math.min(j0 + TILE, cols);
    for (let r = r0; r < r1; r++) {
      const wr = r * cols, er = r * count;
      let k = 0;
      for (; k + 3 < count; k += 4) {
        const e0 = err[er + k]!, e1 = err[er + k + 1]!, e2 = err[er + k + 2]!, e3 = err[er + k + 3]!;
        if (e0 === 0 && e1 === 0 && e2 === 0 && e3 === 0) continue;
        const u0 = (i1 + k) * cols, u1 = u0 + cols, u2 = u1 + cols, u3 = u2 + cols;
        for (let j = j0; j < j1; j++) {
          w[wr + j]! -= e0 * u[u0 + j]! + e1 * u[u1 + j]! + (e2 * u[u2 + j]! + e3 * u[u3 + j]!);
        }
      }
      for (; k < count; k++) {
        const e = err[er + k]!;
        if (e === 0) continue;
        const uk = (i1 + k) * cols;
        for (let j = j0; j < j1; j++) w[wr + j]! -= e * u[uk + j]!;
      }
    }
  }
}

/** Scatter values in processing order back to original column order: out[r, perm[i]] = src[r, i]. */
export function unpermuteColumns<T extends Float32Array | Uint8Array>(src: T, rows: number, cols: number, perm: Int32Array | null): T {
  if (!perm) return src;
  const out = new (src.constructor as { new(n: number): T })(src.length);
  for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) out[r * cols + perm[i]!] = src[r * cols + i]!;
  return out;
}
