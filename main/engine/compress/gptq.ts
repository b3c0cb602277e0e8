// GPTQ (Frantar et al. 2022; docs/METHODS.md 1.3) and round-to-nearest, as pure functions:
// a float32 weight [rows, cols] and its float64 Hessian [cols, cols] in, codes and fake-quant out.
//
// Rows are independent inside a block, so the column loop runs row by row on a copy of the row's
// block (it stays in L1), and the lazy update of the remaining columns is one tiled product.
// Group fits follow GPTQ's gptq.py exactly: the quantizer of a group starting inside a block is fit
// on W as it stood when the block began (gptq.py fits on W while the loop updates its clone W1).
import { RecallError } from '../errors.ts';
import { type SolverOptions, checkSolverInputs, lazyBlockUpdate, prepareLayer, unpermuteColumns } from './hessian-solver.ts';
import { type GroupQuantized, type QuantConfig, checkQuantConfig, fitQuantParams, groupCount, maxCode, quantizeCode } from './quantizer.ts';

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
  const scales = new Float32Array(nG * rows), zeros = new Uint8Array(nG * rows);

  // Whole-row quantizer: gptq.py fits it on W before the dead columns are zeroed.
  if (g === -1) {
    for (let r = 0; r < rows; r++) {
      const p = fitQuantParams(w, r * cols, (r + 1) * cols, maxq, sym, mse);
      scales[r] = p.scale; zeros[r] = p.zero;
    }
  }
  const prep = prepareLayer(w, rows, cols, h, percDamp, opts);
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

  const codesP = new Uint8Array(rows * cols), qP = new Float32Array(rows * cols);
  const w1 = new Float64Array(blockSize), err = new Float64Array(rows * blockSize);
  let loss = 0;
  for (let i1 = 0; i1 < cols; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, cols), count = i2 - i1;
    for (let r = 0; r < rows; r++) {
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
        codesP[wr + col] = code; qP[wr + col] = q;
        const urow = col * cols;
        const d = u[urow + col]!;
        const e = (x - q) / d;
        loss += (e * e) / 2;
        // W1[:, i:] -= err * U[i, i:] (rank-1 update inside the block).
        for (let j = i + 1; j < count; j++) w1[j]! -= e * u[urow + i1 + j]!;
        err[r * count + i] = e;
      }
    }
    if (i2 < cols) lazyBlockUpdate(wp, rows, cols, err, count, u, i1, i2);
  }
  return {
    rows, cols, bits: opts.bits, groupSize: g,
    weight: unpermuteColumns(qP, rows, cols, perm), codes: unpermuteColumns(codesP, rows, cols, perm),
    scales, zeros, gIdx: groupIndex(cols, g, perm, staticGroups), perm, loss, damp: prep.damp,
    deadColumns: prep.dead.reduce((s, v) => s + v, 0),
  };
}
