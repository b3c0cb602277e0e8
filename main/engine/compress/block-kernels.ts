// The per-row work of one GPTQ / SparseGPT block (docs/METHODS.md 1.3, 1.4): the column loop of
// rows [r0, r1) over columns [i1, i2), then their part of the lazy update W[:, i2:] -= Err1 @ U.
// Rows are independent inside a block, so the solver pool (solver-pool.ts) hands row ranges of
// the same block to worker threads; every row runs the same arithmetic in the same order whatever
// the range, so the result is bit-identical to one thread. Work that pools rows (the loss sum,
// the unstructured SparseGPT mask) stays with the caller, between blocks.
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
}

/** Scratch one thread reuses across blocks. */
export interface BlockScratch { w1: Float64Array; nmKeys: Float64Array }

export function blockScratch(job: BlockJob): BlockScratch {
  return { w1: new Float64Array(job.blockSize), nmKeys: new Float64Array(job.nmM) };
}

/** Column loop of rows [r0, r1) for the block starting at i1, then their lazy update. */
export function runBlockRows(job: BlockJob, i1: number, r0: number, r1: number, s: BlockScratch): void {
  const i2 = Math.min(i1 + job.blockSize, job.cols);
  if (job.kind === 'gptq') gptqRows(job, i1, i2, r0, r1, s.w1);
  else sparseRows(job, i1, i2, r0, r1, s.w1, s.nmKeys);
  if (i2 < job.cols) lazyBlockUpdate(job.wp, job.rows, job.cols, job.err, i2 - i1, job.u, i1, i2, r0, r1);
}

function gptqRows(job: BlockJob, i1: number, i2: number, r0: number, r1: number, w1: Float64Array): void {
  const { rows, cols, g, maxq, sym, mse, staticGroups, perm, wp, u, err, scales, zeros, codes, q: qP } = job;
  const count = i2 - i1;
  for (let r = r0; r < r1; r++) {
    const wr = r * cols;
    for (let k = 0; k < count; k++) w1[k] = wp[wr + i1 + k]!;
    let scale = 0, zero = 0;
    if (g === -1) { scale = scales[r]!; zero = zeros[r]!; }
    for (let i = 0; i < count; i++) {
      const col = i1 + i;
      if (g !== -1) {
        if (staticGroups) {
          const gi = Math.floor((perm ? perm[col]! : col) / g) * rows + r;
          scale = scales[gi]!; zero = zeros[gi]!;
        } else if (col % g === 0 || i === 0) {
          const gi = Math.floor(col / g) * rows + r;
          if (col % g === 0) {
            const p = fitQuantParams(wp, wr + col, wr + Math.min(cols, col + g), maxq, sym, mse);
            scales[gi] = p.scale; zeros[gi] = p.zero;
          }
          scale = scales[gi]!; zero = zeros[gi]!;
        }
      }
      const x = w1[i]!;
      const code = quantizeCode(x, scale, zero, maxq);
      const q = scale * (code - zero);
      codes[wr + col] = code; qP[wr + col] = q;
      const urow = col * cols;
      const d = u[urow + col]!;
      const e = (x - q) / d;
      // W1[:, i:] -= err * U[i, i:] (rank-1 update inside the block).
      for (let j = i + 1; j < count; j++) w1[j]! -= e * u[urow + i1 + j]!;
      err[r * count + i] = e;
    }
  }
}

function sparseRows(job: BlockJob, i1: number, i2: number, r0: number, r1: number, w1: Float64Array, nmKeys: Float64Array): void {
  const { rows, cols, g, maxq, sym, mse, quant, nmN, nmM, wp, u, err, scales, zeros, codes, q: out, mask } = job;
  const count = i2 - i1;
  for (let r = r0; r < r1; r++) {
    const wr = r * cols;
    for (let k = 0; k < count; k++) w1[k] = wp[wr + i1 + k]!;
    let scale = scales[r]!, zero = zeros[r]!;
    for (let i = 0; i < count; i++) {
      const col = i1 + i;
      const urow = col * cols;
      if (nmM > 0 && i % nmM === 0) {
        // Per row, prune the n of columns i..i+m-1 with the smallest saliency (current W1).
        for (let t = 0; t < nmM; t++) {
          const x = w1[i + t]!, d = u[(col + t) * cols + col + t]!;
          nmKeys[t] = (x * x) / (d * d);
        }
        markSmallest(nmKeys, nmN, (t) => { mask[wr + col + t] = 1; });
      }
      if (quant && g !== -1 && (col % g === 0 || i === 0)) {
        const gi = Math.floor(col / g) * rows + r;
        if (col % g === 0) {
          const p = fitQuantParams(wp, wr + col, wr + Math.min(cols, col + g), maxq, sym, mse);
          scales[gi] = p.scale; zeros[gi] = p.zero;
        }
        scale = scales[gi]!; zero = zeros[gi]!;
      }
      const x = w1[i]!;
      let q = mask[wr + col] ? 0 : x;
      if (quant) {
        const code = quantizeCode(q, scale, zero, maxq);
        codes[wr + col] = code;
        q = scale * (code - zero);
      }
      out[wr + col] = q;
      const d = u[urow + col]!;
      const e = (x - q) / d;
      for (let j = i + 1; j < count; j++) w1[j]! -= e * u[urow + i1 + j]!;
      err[r * count + i] = e;
    }
  }
}
