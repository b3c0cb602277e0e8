// Dense float64 linear algebra for GPTQ / SparseGPT (docs/METHODS.md 1.3): Cholesky, the inverse
// through it, and U, the upper Cholesky factor of inverse(H) (inverse(H) = U^T U), which GPTQ gets as
// torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True).
// Matrices are row-major Float64Array [n, n]; loops run along rows so memory is read contiguously.
import { RecallError } from '../errors.ts';

/** Dot product of a[ao .. ao+len) and b[bo .. bo+len), unrolled by 4 for the JIT. */
function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += a[ao + k]! * b[bo + k]!;
    s1 += a[ao + k + 1]! * b[bo + k + 1]!;
    s2 += a[ao + k + 2]! * b[bo + k + 2]!;
    s3 += a[ao + k + 3]! * b[bo + k + 3]!;
  }
  for (; k < len; k++) s0 += a[ao + k]! * b[bo + k]!;
  return s0 + s1 + s2 + s3;
}

/** Rows handled together so each earlier row is read from memory once per tile, not once per row. */
const TILE = 16;

/**
 * Lower Cholesky factor L (A = L L^T) of a symmetric positive definite A [n, n] (only the lower
 * triangle of A is read). L[i, j] = (A[i, j] - L[i, :j] . L[j, :j]) / L[j, j], rows in tiles of 16.
 * Throws E_COMPRESS_HESSIAN naming the first non-positive pivot.
 */
export function cholesky(a: Float64Array, n: number, what = 'matrix'): Float64Array {
  const l = new Float64Array(n * n);
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(n, i0 + TILE);
    // Columns left of the tile: every row of the tile against row j, which stays in cache.
    for (let j = 0; j < i0; j++) {
      const rj = j * n, ljj = l[rj + j]!;
      for (let i = i0; i < i1; i++) l[i * n + j] = (a[i * n + j]! - dot(l, i * n, l, rj, j)) / ljj;
    }
    for (let i = i0; i < i1; i++) {
      const ri = i * n;
      for (let j = i0; j <= i; j++) {
        const rj = j * n;
        const s = a[ri + j]! - dot(l, ri, l, rj, j);
        if (i === j) {
          if (!(s > 0)) {
            throw new RecallError('E_COMPRESS_HESSIAN', `${what} is not positive definite (pivot ${i} of ${n} is ${s}), even after damping`, { pivot: i, value: s, n });
          }
          l[ri + i] = Math.sqrt(s);
        } else {
          l[ri + j] = s / l[rj + j]!;
        }
      }
    }
  }
  return l;
}

/**
 * M^T for M = L^-1 of a lower-triangular L [n, n]: returns T upper triangular with T[j, i] = M[i, j],
 * M[i, j] = -(L[i, j:i] . M[j:i, j]) / L[i, i], M[i, i] = 1 / L[i, i]; both dot operands are rows
 * (of L and of T), and rows i go in tiles so T's row j is reused across the tile.
 */
export function invertLowerTransposed(l: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(n, i0 + TILE);
    for (let j = 0; j < i1; j++) {
      const rj = j * n;
      for (let i = Math.max(i0, j); i < i1; i++) {
        const ri = i * n, inv = 1 / l[ri + i]!;
        t[rj + i] = i === j ? inv : -dot(l, ri + j, t, rj + j, i - j) * inv;
      }
    }
  }
  return t;
}

/** Inverse M = L^-1 of a lower-triangular L [n, n] (lower triangular, row-major). */
export function invertLower(l: Float64Array, n: number): Float64Array {
  const t = invertLowerTransposed(l, n);
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] = t[j * n + i]!;
  return m;
}

/** inverse(A) for symmetric positive definite A, as L^-T L^-1 (torch.cholesky_inverse of cholesky(A)). */
export function inverseSpd(a: Float64Array, n: number, what = 'matrix'): Float64Array {
  const m = invertLower(cholesky(a, n, what), n);
  // inv[i, j] = sum_k m[k, i] m[k, j], k >= max(i, j): accumulate row k's outer product.
  const inv = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = 0; i <= k; i++) {
      const f = m[rk + i]!;
      if (f === 0) continue;
      const ri = i * n;
      for (let j = 0; j <= i; j++) inv[ri + j]! += f * m[rk + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) inv[j * n + i] = inv[i * n + j]!;
  return inv;
}

/**
 * U upper triangular with inverse(A) = U^T U (the factor GPTQ's loop reads), in one Cholesky and
 * one triangular inverse instead of GPTQ's three factorizations: with P the index reversal,
 * P A P = L' L'^T gives A = R R^T for the upper R = P L' P, so inverse(A) = (R^-1)^T R^-1 and
 * U = R^-1 = P L'^-1 P. (The Cholesky factor with positive diagonal is unique, so this is the
 * same U up to rounding; test/compress/linalg.test.ts checks it against the three-step route.)
 */
export function upperCholeskyOfInverse(a: Float64Array, n: number, what = 'matrix', alloc: (n: number) => Float64Array = (k) => new Float64Array(k)): Float64Array {
  const rev = alloc(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) rev[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)]!;
  const t = invertLowerTransposed(cholesky(rev, n, what), n);
  // U[i, j] = M[n-1-i, n-1-j] = T[n-1-j, n-1-i]; reuse rev as the output.
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) rev[i * n + j] = t[(n - 1 - j) * n + n - 1 - i]!;
  return rev;
}

/** Add percDamp * mean(diag(A)) to the diagonal in place (METHODS 1.3); returns the damp added. */
export function dampDiagonal(a: Float64Array, n: number, percDamp: number): number {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += a[i * n + i]!;
  mean /= n;
  const damp = percDamp * mean;
  for (let i = 0; i < n; i++) a[i * n + i]! += damp;
  return damp;
}
