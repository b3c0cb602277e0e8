// The per-row work of one GPTQ / SparseGPT block (docs/METHODS.md 1.3, 1.4): the column loop of
// rows [r0, r1) over columns [i1, i2), then their part of the lazy update W[:, i2:] -= Err1 @ U.
// Rows are independent inside a block, so the solver pool (solver-pool.ts) hands row ranges of
// the same block to worker threads; every row runs the same arithmetic in the same order whatever
// the range, so the result is bit-identical to one thread. Rows go through the column loop four
// at a time, sharing each load of U's row (each row's arithmetic unchanged). Work that pools rows
// (the loss sum, the unstructured SparseGPT mask) stays with the caller, between blocks.
import { lazyBlockUpdate } from './hessian-solver.ts';
import { fitQuantParams, quantizeCode } from './quantizer.ts';
import { markSmallest } from './select.ts';

/** Everything one block needs; the arrays are shared (SharedArrayBuffer) when threads work on it. */
export interface BlockJob {
  kind: 'gptq' | 'sparsegpt';
  rows: number;
  cols: number;
  blockSize: number;
  /** Effective group size (-1 = whole row, also for SparseGPT without quant). */
  g: number;
  maxq: number;
  sym: boolean;
  mse: boolean;
  /** GPTQ: groups pre-fit by original column (AutoGPTQ static_groups). */
  staticGroups: boolean;
  /** GPTQ act-order permutation (processing position -> original column), else null. */
  perm: Int32Array | null;
  /** SparseGPT: quantize the kept weights too. */
  quant: boolean;
  /** SparseGPT n:m pattern (0 when unstructured). */
  nmN: number;
  nmM: number;
  /** Working weight [rows, cols] float64 (updated in place), U [cols, cols]. */
  wp: Float64Array;
  u: Float64Array;
  /** Scaled errors of the block, [rows, count] row-major. */
  err: Float64Array;
  /** [nGroups, rows]. */
  scales: Float32Array;
  zeros: Uint8Array;
  /** Codes and fake-quant / pruned values [rows, cols] in processing order. */
  codes: Uint8Array;
  q: Float32Array;
  /** SparseGPT pruning mask [rows, cols] (1 = pruned); empty for GPTQ. */
  mask: Uint8Array;
  /**
   * Unstructured SparseGPT: saliency W^2 / diag(U)^2 of the next block [rows, count], written by
   * each thread for its rows once its lazy update has brought them up to date; else empty.
   */
  keys: Float64Array;
}

/** Rows run together through a block's column loop: they share each load of U's row. */
const RB = 4;

/** Scratch one thread reuses across blocks: W1 of RB rows, their errors, scales and zeros. */
export interface BlockScratch { w1: Float64Array; e: Float64Array; scale: Float64Array; zero: Float64Array; nmKeys: Float64Array }

export function blockScratch(job: BlockJob): BlockScratch {
  return { w1: new Float64Array(RB * job.blockSize), e: new Float64Array(RB), scale: new Float64Array(RB), zero: new Float64Array(RB), nmKeys: new Float64Array(job.nmM) };
}

/** Column loop of rows [r0, r1) for the block starting at i1, then their lazy update. */
export function runBlockRows(job: BlockJob, i1: number, r0: number, r1: number, s: BlockScratch): void {
  const i2 = Math.min(i1 + job.blockSize, job.cols);
  for (let rb = r0; rb < r1; rb += RB) {
    const nr = Math.min(RB, r1 - rb);
    if (job.kind === 'gptq') gptqRows(job, i1, i2, rb, nr, s);
    else sparseRows(job, i1, i2, rb, nr, s);
  }
  if (i2 < job.cols) lazyBlockUpdate(job.wp, job.rows, job.cols, job.err, i2 - i1, job.u, i1, i2, r0, r1);
  if (job.keys.length > 0 && i2 < job.cols) saliency(job, i2, r0, r1);
}

/** keys[r, k] = W[r, i1+k]^2 / U[i1+k, i1+k]^2 for rows [r0, r1) of the block at i1, as it stands now. */
export function saliency(job: BlockJob, i1: number, r0: number, r1: number): void {
  const { cols, wp, u, keys } = job;
  const count = Math.min(i1 + job.blockSize, cols) - i1;
  for (let r = r0; r < r1; r++) {
    const wr = r * cols + i1, kr = r * count;
    for (let k = 0; k < count; k++) {
      const x = wp[wr + k]!, d = u[(i1 + k) * cols + i1 + k]!;
      keys[kr + k] = (x * x) / (d * d);
    }
  }
}

/** W1[a, i+1:count] -= e[a] * U[col, i1+i+1 : i1+count] for the nr rows (each row's arithmetic as alone). */
function rankOne(w1: Float64Array, count: number, nr: number, e: Float64Array, u: Float64Array, ub: number, i: number): void {
  if (nr === RB) {
    const e0 = e[0]!, e1 = e[1]!, e2 = e[2]!, e3 = e[3]!;
    const o1 = count, o2 = 2 * count, o3 = 3 * count;
    for (let j = i + 1; j < count; j++) {
      const y = u[ub + j]!;
      w1[j]! -= e0 * y;
      w1[o1 + j]! -= e1 * y;
      w1[o2 + j]! -= e2 * y;
      w1[o3 + j]! -= e3 * y;
    }
    return;
  }
  for (let a = 0; a < nr; a++) {
    const ea = e[a]!, o = a * count;
    for (let j = i + 1; j < count; j++) w1[o + j]! -= ea * u[ub + j]!;
  }
}

/** GPTQ's column loop over rows [rb, rb + nr) of the block [i1, i2). */
function gptqRows(job: BlockJob, i1: number, i2: number, rb: number, nr: number, s: BlockScratch): void {
  const { rows, cols, g, maxq, sym, mse, staticGroups, perm, wp, u, err, scales, zeros, codes, q: qP } = job;
  const { w1, e: es, scale: sc, zero: zr } = s;
  const count = i2 - i1;
  for (let a = 0; a < nr; a++) {
    const wr = (rb + a) * cols;
    for (let k = 0; k < count; k++) w1[a * count + k] = wp[wr + i1 + k]!;
    if (g === -1) { sc[a] = scales[rb + a]!; zr[a] = zeros[rb + a]!; }
  }
  for (let i = 0; i < count; i++) {
    const col = i1 + i, urow = col * cols;
    const d = u[urow + col]!;
    for (let a = 0; a < nr; a++) {
      const r = rb + a, wr = r * cols;
      if (g !== -1) {
        if (staticGroups) {
          const gi = Math.floor((perm ? perm[col]! : col) / g) * rows + r;
          sc[a] = scales[gi]!; zr[a] = zeros[gi]!;
        } else if (col % g === 0 || i === 0) {
          const gi = Math.floor(col / g) * rows + r;
          if (col % g === 0) {
            const p = fitQuantParams(wp, wr + col, wr + Math.min(cols, col + g), maxq, sym, mse);
            scales[gi] = p.scale; zeros[gi] = p.zero;
          }
          sc[a] = scales[gi]!; zr[a] = zeros[gi]!;
        }
      }
      const scale = sc[a]!, zero = zr[a]!;
      const x = w1[a * count + i]!;
      const code = quantizeCode(x, scale, zero, maxq);
      const q = scale * (code - zero);
      codes[wr + col] = code; qP[wr + col] = q;
      const e = (x - q) / d;
      err[r * count + i] = e;
      es[a] = e;
    }
    // W1[:, i:] -= err * U[i, i:] (rank-1 update inside the block).
    rankOne(w1, count, nr, es, u, urow + i1, i);
  }
}

/** SparseGPT's column loop over rows [rb, rb + nr) of the block [i1, i2). */
function sparseRows(job: BlockJob, i1: number, i2: number, rb: number, nr: number, s: BlockScratch): void {
  const { rows, cols, g, maxq, sym, mse, quant, nmN, nmM, wp, u, err, scales, zeros, codes, q: out, mask } = job;
  const { w1, e: es, scale: sc, zero: zr, nmKeys } = s;
  const count = i2 - i1;
  for (let a = 0; a < nr; a++) {
    const wr = (rb + a) * cols;
    for (let k = 0; k < count; k++) w1[a * count + k] = wp[wr + i1 + k]!;
    sc[a] = scales[rb + a]!; zr[a] = zeros[rb + a]!;
  }
  for (let i = 0; i < count; i++) {
    const col = i1 + i, urow = col * cols;
    const d = u[urow + col]!;
    for (let a = 0; a < nr; a++) {
      const r = rb + a, wr = r * cols, o = a * count;
      if (nmM > 0 && i % nmM === 0) {
        // Per row, prune the n of columns i..i+m-1 with the smallest saliency (current W1).
        for (let t = 0; t < nmM; t++) {
          const x = w1[o + i + t]!, dt = u[(col + t) * cols + col + t]!;
          nmKeys[t] = (x * x) / (dt * dt);
        }
        markSmallest(nmKeys, nmN, (t) => { mask[wr + col + t] = 1; });
      }
      if (quant && g !== -1 && (col % g === 0 || i === 0)) {
        const gi = Math.floor(col / g) * rows + r;
        if (col % g === 0) {
          const p = fitQuantParams(wp, wr + col, wr + Math.min(cols, col + g), maxq, sym, mse);
          scales[gi] = p.scale; zeros[gi] = p.zero;
        }
        sc[a] = scales[gi]!; zr[a] = zeros[gi]!;
      }
      const x = w1[o + i]!;
      let q = mask[wr + col] ? 0 : x;
      if (quant) {
        const scale = sc[a]!, zero = zr[a]!;
        const code = quantizeCode(q, scale, zero, maxq);
        codes[wr + col] = code;
        q = scale * (code - zero);
      }
      out[wr + col] = q;
      const e = (x - q) / d;
      err[r * count + i] = e;
      es[a] = e;
    }
    rankOne(w1, count, nr, es, u, urow + i1, i);
  }
}
