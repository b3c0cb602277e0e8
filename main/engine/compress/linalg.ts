// Dense float64 linear algebra for GPTQ / SparseGPT (docs/METHODS.md 1.3): U, the upper Cholesky
// factor of inverse(H) (inverse(H) = U^T U), which GPTQ gets as
// torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True), computed in
// column passes that threads can share (upperCholeskyOfInverse); the row-update kernel they and
// GPTQ's lazy update use (subRows4); and a plain Cholesky and SPD inverse (tests, reference).
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
 * out[o + a*os + j] -= sum over k < K of c[c0 + a*ca + k*ck] * b[b0 + k*bs + j], for the four rows
 * a < 4 and j in [j0, j1). k goes four at a time, each quad as (c0 b0 + c1 b1) + (c2 b2 + c3 b3),
 * then the k left over one by one; the four rows share every load of b (the register blocking that
 * makes GPTQ's lazy update, the Cholesky and the triangular inverse fast in JS). Each element gets
 * the same arithmetic as one row alone (subRow1). With skipZero a row skips a quad (or a single k)
 * whose coefficients are all zero.
 */
export function subRows4(out: Float64Array, o: number, os: number, c: Float64Array, c0: number, ca: number, ck: number, b: Float64Array, b0: number, bs: number, K: number, j0: number, j1: number, skipZero: boolean): void {
  const o1 = o + os, o2 = o1 + os, o3 = o2 + os;
  let k = 0;
  for (; k + 3 < K; k += 4) {
    const p0 = c0 + k * ck, p1 = p0 + ca, p2 = p1 + ca, p3 = p2 + ca;
    const a00 = c[p0]!, a01 = c[p0 + ck]!, a02 = c[p0 + 2 * ck]!, a03 = c[p0 + 3 * ck]!;
    const a10 = c[p1]!, a11 = c[p1 + ck]!, a12 = c[p1 + 2 * ck]!, a13 = c[p1 + 3 * ck]!;
    const a20 = c[p2]!, a21 = c[p2 + ck]!, a22 = c[p2 + 2 * ck]!, a23 = c[p2 + 3 * ck]!;
    const a30 = c[p3]!, a31 = c[p3 + ck]!, a32 = c[p3 + 2 * ck]!, a33 = c[p3 + 3 * ck]!;
    const q0 = b0 + k * bs, q1 = q0 + bs, q2 = q1 + bs, q3 = q2 + bs;
    if (skipZero && ((a00 === 0 && a01 === 0 && a02 === 0 && a03 === 0) || (a10 === 0 && a11 === 0 && a12 === 0 && a13 === 0)
      || (a20 === 0 && a21 === 0 && a22 === 0 && a23 === 0) || (a30 === 0 && a31 === 0 && a32 === 0 && a33 === 0))) {
      quadRow(out, o, a00, a01, a02, a03, b, q0, bs, j0, j1);
      quadRow(out, o1, a10, a11, a12, a13, b, q0, bs, j0, j1);
      quadRow(out, o2, a20, a21, a22, a23, b, q0, bs, j0, j1);
      quadRow(out, o3, a30, a31, a32, a33, b, q0, bs, j0, j1);
      continue;
    }
    for (let j = j0; j < j1; j++) {
      const y0 = b[q0 + j]!, y1 = b[q1 + j]!, y2 = b[q2 + j]!, y3 = b[q3 + j]!;
      out[o + j]! -= a00 * y0 + a01 * y1 + (a02 * y2 + a03 * y3);
      out[o1 + j]! -= a10 * y0 + a11 * y1 + (a12 * y2 + a13 * y3);
      out[o2 + j]! -= a20 * y0 + a21 * y1 + (a22 * y2 + a23 * y3);
      out[o3 + j]! -= a30 * y0 + a31 * y1 + (a32 * y2 + a33 * y3);
    }
  }
  for (; k < K; k++) {
    const p = c0 + k * ck, q = b0 + k * bs;
    const x0 = c[p]!, x1 = c[p + ca]!, x2 = c[p + 2 * ca]!, x3 = c[p + 3 * ca]!;
    if (skipZero && (x0 === 0 || x1 === 0 || x2 === 0 || x3 === 0)) {
      subRow1(out, o, c, p, ck, b, q, bs, 1, j0, j1, true);
      subRow1(out, o1, c, p + ca, ck, b, q, bs, 1, j0, j1, true);
      subRow1(out, o2, c, p + 2 * ca, ck, b, q, bs, 1, j0, j1, true);
      subRow1(out, o3, c, p + 3 * ca, ck, b, q, bs, 1, j0, j1, true);
      continue;
    }
    for (let j = j0; j < j1; j++) {
      const y = b[q + j]!;
      out[o + j]! -= x0 * y;
      out[o1 + j]! -= x1 * y;
      out[o2 + j]! -= x2 * y;
      out[o3 + j]! -= x3 * y;
    }
  }
}

/** One row of subRows4 (same arithmetic): out[o + j] -= sum over k < K of c[c0 + k*ck] * b[b0 + k*bs + j]. */
export function subRow1(out: Float64Array, o: number, c: Float64Array, c0: number, ck: number, b: Float64Array, b0: number, bs: number, K: number, j0: number, j1: number, skipZero: boolean): void {
  let k = 0;
  for (; k + 3 < K; k += 4) {
    const p = c0 + k * ck;
    quadRow(out, o, c[p]!, c[p + ck]!, c[p + 2 * ck]!, c[p + 3 * ck]!, b, b0 + k * bs, bs, j0, j1, skipZero);
  }
  for (; k < K; k++) {
    const x = c[c0 + k * ck]!, q = b0 + k * bs;
    if (skipZero && x === 0) continue;
    for (let j = j0; j < j1; j++) out[o + j]! -= x * b[q + j]!;
  }
}

/** out[o + j] -= (x0 b0 + x1 b1) + (x2 b2 + x3 b3) over four rows of b from q0; skipped when all x are zero (and skipZero, the default). */
function quadRow(out: Float64Array, o: number, x0: number, x1: number, x2: number, x3: number, b: Float64Array, q0: number, bs: number, j0: number, j1: number, skipZero = true): void {
  if (skipZero && x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) return;
  const q1 = q0 + bs, q2 = q1 + bs, q3 = q2 + bs;
  for (let j = j0; j < j1; j++) out[o + j]! -= x0 * b[q0 + j]! + x1 * b[q1 + j]! + (x2 * b[q2 + j]! + x3 * b[q3 + j]!);
}

// The factor U of inverse(A) = U^T U in two column-parallel passes (upperCholeskyOfInverse):
// R = upper Cholesky factor of the index-reversed A (P A P = R^T R), by panels of PANEL rows, then
// M = R^-T (lower), column by column; U = P M P, which is M read backwards. Both passes are row
// updates "rows -= coefficients x earlier rows" through subRows4. Every element's arithmetic is
// fixed by the panel / chunk / tile grid (from index 0), never by how columns are split between
// threads, so any split gives the same bits.

/** Rows factored together in the Cholesky (one column-parallel step per panel). */
export const CHOL_PANEL = 64;
/** k per chunk of the Cholesky's update from the rows above a panel (cache blocking). */
const CHOL_KC = 128;
/** Columns per tile of a pass (the rows' tiles stay in L1). */
const JT = 256;
/** Columns per tile of the triangular inverse (tiles start at multiples of INV_TILE). */
const INV_TILE = 32;

/** Rows [i0, i1) of r at columns [j0, j1) (from each 4-row group's first row on): r[i, j] -= sum over k in [k0, k1) of r[k, i] r[k, j], k ascending in chunks of CHOL_KC from k0. */
function subAbove(r: Float64Array, n: number, i0: number, i1: number, k0: number, k1: number, j0: number, j1: number): void {
  for (let jt = j0; jt < j1; jt += JT) {
    const je = Math.min(j1, jt + JT);
    for (let kc = k0; kc < k1; kc += CHOL_KC) {
      const K = Math.min(k1, kc + CHOL_KC) - kc;
      let g = i0;
      for (; g + 3 < i1; g += 4) {
        const js = Math.max(jt, g);
        if (js < je) subRows4(r, g * n, n, r, kc * n + g, 1, n, r, kc * n, n, K, js, je, false);
      }
      for (; g < i1; g++) {
        const js = Math.max(jt, g);
        if (js < je) subRow1(r, g * n, r, kc * n + g, n, r, kc * n, n, K, js, je, false);
      }
    }
  }
}

/**
 * Cholesky step 1 of the panel at row k0 (this thread): bring its diagonal block up to date with
 * the rows above and factor it. r holds A in its upper triangle and R in the rows done so far.
 */
export function cholDiagonalBlock(r: Float64Array, n: number, k0: number, what: string): void {
  const k1 = Math.min(n, k0 + CHOL_PANEL);
  subAbove(r, n, k0, k1, 0, k0, k0, k1);
  for (let i = k0; i < k1; i++) {
    const ri = i * n;
    for (let k = k0; k < i; k++) {
      const x = r[k * n + i]!, rk = k * n;
      for (let j = i; j < k1; j++) r[ri + j]! -= x * r[rk + j]!;
    }
    const s = r[ri + i]!;
    if (!(s > 0)) {
      throw new RecallError('E_COMPRESS_HESSIAN', `${what} is not positive definite (pivot ${i} of ${n} is ${s}), even after damping`, { pivot: i, value: s, n });
    }
    const d = Math.sqrt(s);
    r[ri + i] = d;
    for (let j = i + 1; j < k1; j++) r[ri + j]! /= d;
  }
}

/** Cholesky step 2 of the panel at row k0, columns [j0, j1) right of its diagonal block (any thread). */
export function cholPanelColumns(r: Float64Array, n: number, k0: number, j0: number, j1: number): void {
  const k1 = Math.min(n, k0 + CHOL_PANEL);
  subAbove(r, n, k0, k1, 0, k0, j0, j1);
  for (let jt = j0; jt < j1; jt += JT) {
    const je = Math.min(j1, jt + JT);
    for (let g = k0; g < k1; g += 4) {
      const rows = Math.min(4, k1 - g);
      if (rows === 4) subRows4(r, g * n, n, r, k0 * n + g, 1, n, r, k0 * n, n, g - k0, jt, je, false);
      else for (let a = 0; a < rows; a++) subRow1(r, (g + a) * n, r, k0 * n + g + a, n, r, k0 * n, n, g - k0, jt, je, false);
      for (let i = g; i < g + rows; i++) {
        const ri = i * n;
        for (let k = g; k < i; k++) {
          const x = r[k * n + i]!, rk = k * n;
          for (let j = jt; j < je; j++) r[ri + j]! -= x * r[rk + j]!;
        }
        const d = r[ri + i]!;
        for (let j = jt; j < je; j++) r[ri + j]! /= d;
      }
    }
  }
}

/** Columns [j0, j1) of part `part` of `parts` of the Cholesky step at k0 (an even split of [k0 + panel, n)). */
export function cholColumnsPart(r: Float64Array, n: number, k0: number, part: number, parts: number): void {
  const k1 = Math.min(n, k0 + CHOL_PANEL);
  const at = (p: number) => k1 + Math.floor(((n - k1) * p) / parts);
  if (at(part + 1) > at(part)) cholPanelColumns(r, n, k0, at(part), at(part + 1));
}

/** Tiles [t0, t1) (INV_TILE columns each) of M = R^-T, lower, into m (zeros above the diagonal). */
function invTiles(r: Float64Array, m: Float64Array, n: number, t0: number, t1: number): void {
  for (let t = t0; t < t1; t++) {
    const jt = t * INV_TILE, je = Math.min(n, jt + INV_TILE);
    for (let g = jt; g < n; g += 4) {
      const rows = Math.min(4, n - g), jk = Math.min(je, g);
      // M[i, j] = -(sum over k in [j, i) of R[k, i] M[k, j]) / R[i, i]: first the finished rows above the group.
      if (jk > jt) {
        if (rows === 4) subRows4(m, g * n, n, r, jt * n + g, 1, n, m, jt * n, n, g - jt, jt, jk, false);
        else for (let a = 0; a < rows; a++) subRow1(m, (g + a) * n, r, jt * n + g + a, n, m, jt * n, n, g - jt, jt, jk, false);
      }
      for (let i = g; i < g + rows; i++) {
        const ri = i * n;
        for (let k = g; k < i; k++) {
          const x = r[k * n + i]!, rk = k * n, jEnd = Math.min(je, k + 1);
          for (let j = jt; j < jEnd; j++) m[ri + j]! -= x * m[rk + j]!;
        }
        const d = r[ri + i]!, jEnd = Math.min(je, i);
        for (let j = jt; j < jEnd; j++) m[ri + j]! /= d;
        if (i < je) m[ri + i] = 1 / d;
      }
    }
  }
}

/** Tiles of part `part` of `parts` of the inverse, split so each part has about the same work ((n - j)^2 per column). */
export function invColumnsPart(r: Float64Array, m: Float64Array, n: number, part: number, parts: number): void {
  const tiles = Math.ceil(n / INV_TILE);
  const cost = (t: number) => { const w = n - t * INV_TILE; return w * w; };
  let total = 0;
  for (let t = 0; t < tiles; t++) total += cost(t);
  let t = 0, acc = 0, t0 = -1;
  for (let p = 0; p <= part; p++) {
    t0 = t;
    const goal = (total * (p + 1)) / parts;
    while (t < tiles && (p === parts - 1 || acc + cost(t) / 2 <= goal)) acc += cost(t++);
  }
  if (t > t0) invTiles(r, m, n, t0, t);
}

/** The steps of upperCholeskyOfInverse that can run on several threads. */
export const PREP_CHOL = 1, PREP_INV = 2;
export interface PrepArrays { r: Float64Array; m: Float64Array; n: number }

/** Part `part` of `parts` of a step: PREP_CHOL (param = the panel's first row) or PREP_INV. */
export function prepStep(x: PrepArrays, op: number, param: number, part: number, parts: number): void {
  if (op === PREP_CHOL) cholColumnsPart(x.r, x.n, param, part, parts);
  else invColumnsPart(x.r, x.m, x.n, part, parts);
}

/** Runs every part of a step, part 0 on this thread, the others on worker threads; returns when all are done. */
export interface PrepTeam { step(op: number, param: number): void; close(): void }

/**
 * U upper triangular with inverse(A) = U^T U (the factor GPTQ's loop reads), in one Cholesky and
 * one triangular inverse instead of GPTQ's three factorizations: with P the index reversal,
 * P A P = R^T R (R upper) gives A = L^T L for the lower L = P R P, so inverse(A) = U^T U with
 * U = L^-T = P R^-T P. (The Cholesky factor with positive diagonal is unique, so this is the
 * same U up to rounding; test/compress/numerics.test.ts checks it against PyTorch's three steps.)
 * team(x), when given, may return a PrepTeam that spreads the column steps over threads (null:
 * this thread does them); it is asked before each step until it gives one, so workers that come
 * up meanwhile join.
 */
export function upperCholeskyOfInverse(a: Float64Array, n: number, what = 'matrix', alloc: (n: number) => Float64Array = (k) => new Float64Array(k), team?: (x: PrepArrays) => PrepTeam | null): Float64Array {
  const nn = n * n;
  const r = alloc(nn);
  // r = P A P (only the upper triangle is read; the lower one is scratch).
  for (let k = 0; k < nn; k++) r[k] = a[nn - 1 - k]!;
  const x: PrepArrays = { r, m: alloc(nn), n };
  const serial: PrepTeam = { step: (op, param) => prepStep(x, op, param, 0, 1), close: () => {} };
  // Ask for a team before every step until one comes (workers still starting join mid-way).
  let t: PrepTeam | null = null;
  const here = () => (t ??= team?.(x) ?? null) ?? serial;
  try {
    for (let k0 = 0; k0 < n; k0 += CHOL_PANEL) {
      cholDiagonalBlock(r, n, k0, what);
      if (k0 + CHOL_PANEL < n) here().step(PREP_CHOL, k0);
    }
    here().step(PREP_INV, 0);
  } finally {
    (t as PrepTeam | null)?.close();
  }
  // U[i, j] = M[n-1-i, n-1-j]: M backwards, into r.
  const m = x.m;
  for (let k = 0; k < nn; k++) r[k] = m[nn - 1 - k]!;
  return r;
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
