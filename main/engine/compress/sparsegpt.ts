// SparseGPT (Frantar & Alistarh 2023; docs/METHODS.md 1.4): unstructured or n:m pruning with the
// OBS error compensation of GPTQ's column loop, optionally quantizing the kept weights too (joint
// sparsity + quantization). Same Hessian preparation as GPTQ, never permuted.
//
// Departure from sparsegpt.py, as METHODS 1.4 asks: the unstructured mask prunes exactly
// floor(numel * s) entries per block (sparsegpt.py prunes every entry <= the value at that rank,
// i.e. one more, plus ties); ties are broken by lower (row, column) index.
import { RecallError } from '../errors.ts';
import { type BlockJob, saliency } from './block-kernels.ts';
import { type SolverOptions, checkSolverInputs, prepareLayer } from './hessian-solver.ts';
import { type GroupQuantized, type QuantConfig, checkQuantConfig, fitQuantParams, groupCount, maxCode } from './quantizer.ts';
import { kthSmallest } from './select.ts';
import { allocator, prepTeams, prestartWorkers, runBlocks, solverThreads } from './solver-pool.ts';

export interface SparseGptOptions extends Omit<SolverOptions, 'actOrder'> {
  /** Unstructured sparsity in [0, 1): fraction of each rows x block pruned. */
  sparsity?: number;
  /** n:m semi-structured: prune n of every m consecutive input columns, per row (n < m). */
  n?: number;
  m?: number;
  /** Joint sparsity + quantization of the kept weights (METHODS 1.4, "quantized too"). */
  quant?: QuantConfig;
}

export interface SparseGptResult {
  rows: number;
  cols: number;
  /** Pruned (and, with quant, fake-quantized) weight [rows, cols]. */
  weight: Float32Array;
  /** 1 where pruned [rows, cols]. */
  mask: Uint8Array;
  /** Pruned fraction, count(mask) / numel. */
  sparsity: number;
  /** sum of (w - q)^2 / U[i,i]^2 / 2, as GPTQ's loss. */
  loss: number;
  damp: number;
  deadColumns: number;
  /** Codes, scales, zeros of the kept weights (pruned entries hold the code of 0) with quant. */
  quant: GroupQuantized | null;
}

type Pattern = { kind: 'unstructured'; s: number } | { kind: 'nm'; n: number; m: number };

function checkPattern(o: SparseGptOptions, cols: number, blockSize: number): Pattern {
  const cfg = (msg: string, details: Record<string, unknown>) => new RecallError('E_COMPRESS_CONFIG', `${o.name ?? 'layer'}: ${msg}`, details);
  if ((o as SolverOptions).actOrder) throw cfg('SparseGPT does not permute columns (actOrder is GPTQ only)', { field: 'actOrder' });
  const hasNm = o.n !== undefined || o.m !== undefined;
  if (hasNm === (o.sparsity !== undefined)) throw cfg('give either sparsity or n and m', { sparsity: o.sparsity, n: o.n, m: o.m });
  if (!hasNm) {
    const s = o.sparsity!;
    if (!(s >= 0 && s < 1)) throw cfg(`sparsity must be in [0, 1), got ${s}`, { field: 'sparsity', value: s });
    return { kind: 'unstructured', s };
  }
  const n = o.n ?? NaN, m = o.m ?? NaN;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || n >= m) throw cfg(`n:m needs integers 1 <= n < m, got ${n}:${m}`, { field: 'n', n, m });
  if (blockSize % m !== 0 || cols % m !== 0) {
    throw cfg(`n:m needs m (${m}) to divide the block size (${blockSize}) and the column count (${cols})`, { field: 'm', m, cols, blockSize });
  }
  return { kind: 'nm', n, m };
}

/**
 * Mark in mask the k smallest of keys [rows, count] (block columns i1..), ties by lower (row,
 * column): select.ts's markSmallest, with the index arithmetic inlined (it runs on every block).
 */
function markSmallestBlock(keys: Float64Array, k: number, mask: Uint8Array, rows: number, count: number, cols: number, i1: number): void {
  if (k <= 0) return;
  const all = k >= keys.length;
  const t = all ? Infinity : kthSmallest(keys, k - 1);
  let below = 0;
  if (!all) for (let f = 0; f < keys.length; f++) if (keys[f]! < t) below++;
  let ties = k - below;
  for (let r = 0; r < rows; r++) {
    const kr = r * count, mr = r * cols + i1;
    for (let c = 0; c < count; c++) {
      const v = keys[kr + c]!;
      if (all || v < t) mask[mr + c] = 1;
      else if (v === t && ties > 0) { mask[mr + c] = 1; ties--; }
    }
  }
}

/** SparseGPT of one linear layer (METHODS 1.4). Inputs are not modified. */
export function pruneSparseGpt(w: Float32Array, rows: number, cols: number, h: Float64Array, opts: SparseGptOptions): SparseGptResult {
  const { blockSize, percDamp } = checkSolverInputs(w, rows, cols, h, opts);
  const pattern = checkPattern(opts, cols, blockSize);
  const qc = opts.quant;
  const g = qc ? checkQuantConfig(qc, cols) : -1;
  const maxq = qc ? maxCode(qc.bits) : 0;
  const sym = qc?.sym ?? false, mse = qc?.mse ?? false;
  const nG = groupCount(cols, g);
  const threads = solverThreads(opts.threads, rows, cols);
  // Workers load while this thread fits and prepares (they join the preparation once up).
  if (threads > 1) prestartWorkers(threads - 1);
  const alloc = allocator(threads > 1);
  const scales = alloc.f32(nG * rows), zeros = alloc.u8(nG * rows);
  if (qc && g === -1) {
    // As sparsegpt.py / gptq.py: the whole-row quantizer is fit on W before dead columns are zeroed.
    for (let r = 0; r < rows; r++) {
      const p = fitQuantParams(w, r * cols, (r + 1) * cols, maxq, sym, mse);
      scales[r] = p.scale; zeros[r] = p.zero;
    }
  }
  const prep = prepareLayer(w, rows, cols, h, percDamp, { ...opts, actOrder: false }, alloc.f64, prepTeams(threads));
  const { w: wp, u } = prep;
  const job: BlockJob = {
    kind: 'sparsegpt', rows, cols, blockSize, g, maxq, sym, mse, staticGroups: false, perm: null, quant: !!qc,
    nmN: pattern.kind === 'nm' ? pattern.n : 0, nmM: pattern.kind === 'nm' ? pattern.m : 0,
    wp, u, err: alloc.f64(rows * blockSize), scales, zeros, codes: alloc.u8(qc ? rows * cols : 0), q: alloc.f32(rows * cols), mask: alloc.u8(rows * cols),
    keys: alloc.f64(pattern.kind === 'unstructured' ? rows * blockSize : 0),
  };
  const mask = job.mask;
  const markBlock = (i1: number, i2: number) => {
    if (pattern.kind !== 'unstructured') return;
    // Saliency W1^2 / diag(U1)^2 on the block as it stands now, pooled over rows x block (the
    // threads wrote it for every block after the first, with their lazy update).
    if (i1 === 0) saliency(job, 0, 0, rows);
    const count = i2 - i1;
    markSmallestBlock(job.keys.subarray(0, rows * count), Math.floor(rows * count * pattern.s), mask, rows, count, cols, i1);
  };
  let loss = 0;
  // The loss sums (err^2 / 2) block by block, row by row, as the one-thread loop always did.
  const sumLoss = (i1: number, i2: number) => {
    const n = rows * (i2 - i1), err = job.err;
    for (let k = 0; k < n; k++) { const e = err[k]!; loss += (e * e) / 2; }
  };
  runBlocks(job, threads, markBlock, sumLoss);
  let pruned = 0;
  for (let k = 0; k < mask.length; k++) pruned += mask[k]!;
  const own = <T extends Float32Array | Uint8Array>(a: T): T => (threads > 1 ? (a.slice() as T) : a);
  const out = own(job.q), codes = own(job.codes);
  const gIdx = new Int32Array(cols);
  if (g !== -1) for (let c = 0; c < cols; c++) gIdx[c] = Math.floor(c / g);
  return {
    rows, cols, weight: out, mask: own(mask), sparsity: pruned / (rows * cols), loss, damp: prep.damp,
    deadColumns: prep.dead.reduce((s, v) => s + v, 0),
    quant: qc ? { rows, cols, bits: qc.bits, groupSize: g, weight: out, codes, scales: own(scales), zeros: own(zeros), gIdx } : null,
  };
}
