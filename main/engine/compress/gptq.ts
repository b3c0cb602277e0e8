// GPTQ (Frantar et al. 2022; docs/METHODS.md 1.3) and round-to-nearest, as pure functions:
// a float32 weight [rows, cols] and its float64 Hessian [cols, cols] in, codes and fake-quant out.
//
// Rows are independent inside a block, so the column loop runs four rows at a time on a copy of
// their block (it stays in L1), and the lazy update of the remaining columns is one tiled product;
// both are in block-kernels.ts, split over threads by row ranges (solver-pool.ts, bit-identical),
// as is the Hessian preparation (linalg.ts, by columns).
// Group fits follow GPTQ's gptq.py exactly: the quantizer of a group starting inside a block is fit
// on W as it stood when the block began (gptq.py fits on W while the loop updates its clone W1).
import { RecallError } from '../errors.ts';
import type { BlockJob } from './block-kernels.ts';
import { type SolverOptions, checkSolverInputs, prepareLayer, unpermuteColumns } from './hessian-solver.ts';
import { type GroupQuantized, type QuantConfig, checkQuantConfig, fitQuantParams, groupCount, maxCode, quantizeCode } from './quantizer.ts';
import { allocator, prepTeams, prestartWorkers, runBlocks, solverThreads } from './solver-pool.ts';

export interface GptqOptions extends QuantConfig, SolverOptions {
  /** AutoGPTQ's static_groups: fit every group on the (dead-zeroed) weight before the loop, by original column. */
  staticGroups?: boolean;
}

export interface GptqResult extends GroupQuantized {
  /** perm[i] = original column quantized i-th (actOrder), else null. */
  perm: Int32Array | null;
  /** GPTQ loss: sum over rows and columns of (w - q)^2 / U[i,i]^2 / 2 (METHODS 1.3). */
  loss: number;
  /** percDamp * mean(diag(H)) added to the diagonal. */
  damp: number;
  /** Columns with diag(H) == 0 (quantized as zero weights). */
  deadColumns: number;
}

/** gIdx[c] = group of original column c: c / g with static groups or no act-order, else position / g. */
function groupIndex(cols: number, g: number, perm: Int32Array | null, staticGroups: boolean): Int32Array {
  const gIdx = new Int32Array(cols);
  if (g === -1) return gIdx;
  for (let i = 0; i < cols; i++) {
    const c = perm ? perm[i]! : i;
    gIdx[c] = Math.floor((staticGroups ? c : i) / g);
  }
  return gIdx;
}

/** Round-to-nearest: the quantizer of METHODS 1.2 applied to W directly (no Hessian). */
export function quantizeRtn(w: Float32Array, rows: number, cols: number, cfg: QuantConfig): GroupQuantized {
  const g = checkQuantConfig(cfg, cols);
  if (w.length !== rows * cols) throw new RecallError('E_SHAPE_MISMATCH', `weight has ${w.length} values, not ${rows} x ${cols}`, { rows, cols });
  const maxq = maxCode(cfg.bits);
  const nG = groupCount(cols, g), span = g === -1 ? cols : g;
  const out: GroupQuantized = {
    rows, cols, bits: cfg.bits, groupSize: g, weight: new Float32Array(rows * cols), codes: new Uint8Array(rows * cols),
    scales: new Float32Array(nG * rows), zeros: new Uint8Array(nG * rows), gIdx: groupIndex(cols, g, null, false),
  };
  for (let r = 0; r < rows; r++) {
    for (let gi = 0; gi < nG; gi++) {
      const a = r * cols + gi * span, b = r * cols + Math.min(cols, (gi + 1) * span);
      const { scale, zero } = fitQuantParams(w, a, b, maxq, cfg.sym ?? false, cfg.mse ?? false);
      out.scales[gi * rows + r] = scale;
      out.zeros[gi * rows + r] = zero;
      for (let k = a; k < b; k++) {
        const code = quantizeCode(w[k]!, scale, zero, maxq);
        out.codes[k] = code;
        out.weight[k] = scale * (code - zero);
      }
    }
  }
  return out;
}

/**
 * GPTQ of one linear layer (METHODS 1.3): blocksize 128, percdamp 0.01, dead columns, optional
 * act-order, static groups, group size, sym, MSE grid. Inputs are not modified.
 */
export function quantizeGptq(w: Float32Array, rows: number, cols: number, h: Float64Array, opts: GptqOptions): GptqResult {
  const { blockSize, percDamp } = checkSolverInputs(w, rows, cols, h, opts);
  const g = checkQuantConfig(opts, cols);
  const maxq = maxCode(opts.bits);
  const sym = opts.sym ?? false, mse = opts.mse ?? false;
  const staticGroups = (opts.staticGroups ?? false) && g !== -1;
  const nG = groupCount(cols, g);
  const threads = solverThreads(opts.threads, rows, cols);
  // Workers load while this thread fits and prepares (they join the preparation once up).
  if (threads > 1) prestartWorkers(threads - 1);
  const alloc = allocator(threads > 1);
  const scales = alloc.f32(nG * rows), zeros = alloc.u8(nG * rows);

  // Whole-row quantizer: gptq.py fits it on W before the dead columns are zeroed.
  if (g === -1) {
    for (let r = 0; r < rows; r++) {
      const p = fitQuantParams(w, r * cols, (r + 1) * cols, maxq, sym, mse);
      scales[r] = p.scale; zeros[r] = p.zero;
    }
  }
  const prep = prepareLayer(w, rows, cols, h, percDamp, opts, alloc.f64, prepTeams(threads));
  const { w: wp, u, perm } = prep;
  if (staticGroups) {
    // AutoGPTQ static_groups: groups of original columns of the dead-zeroed W, fit before permuting.
    const row = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < cols; i++) row[perm ? perm[i]! : i] = wp[r * cols + i]!;
      for (let gi = 0; gi < nG; gi++) {
        const p = fitQuantParams(row, gi * g, Math.min(cols, (gi + 1) * g), maxq, sym, mse);
        scales[gi * rows + r] = p.scale; zeros[gi * rows + r] = p.zero;
      }
    }
  }

  const job: BlockJob = {
    kind: 'gptq', rows, cols, blockSize, g, maxq, sym, mse, staticGroups, perm, quant: true, nmN: 0, nmM: 0,
    wp, u, err: alloc.f64(rows * blockSize), scales, zeros, codes: alloc.u8(rows * cols), q: alloc.f32(rows * cols), mask: new Uint8Array(0), keys: new Float64Array(0),
  };
  let loss = 0;
  // The loss sums (err^2 / 2) block by block, row by row, as the one-thread loop always did.
  const sumLoss = (i1: number, i2: number) => {
    const n = rows * (i2 - i1), err = job.err;
    for (let k = 0; k < n; k++) { const e = err[k]!; loss += (e * e) / 2; }
  };
  runBlocks(job, threads, () => {}, sumLoss);
  const own = <T extends Float32Array | Uint8Array>(a: T): T => (threads > 1 ? (a.slice() as T) : a);
  // Results on ordinary ArrayBuffers (unpermuteColumns copies anyway).
  const out = <T extends Float32Array | Uint8Array>(a: T): T => (perm ? unpermuteColumns(a, rows, cols, perm) : own(a));
  return {
    rows, cols, bits: opts.bits, groupSize: g,
    weight: out(job.q), codes: out(job.codes),
    scales: own(scales), zeros: own(zeros), gIdx: groupIndex(cols, g, perm, staticGroups), perm, loss, damp: prep.damp,
    deadColumns: prep.dead.reduce((s, v) => s + v, 0),
  };
}
