// Uniform min/max quantizer of docs/METHODS.md 1.2 (GPTQ's quant.py), per output row or per
// group of input columns. Pure numerics: values in, (scale, zero) and codes out.
//
// Precision: values are handled in float64, but every scale is rounded to float32 as soon as it
// is fitted (GPTQ runs in float32, so its scales are float32 too). That makes the fake-quant
// value scale * (code - zero) exactly representable as the float32 product ORT's MatMulNBits
// computes from the packed weights (a float32 times an integer below 2^8 is exact in float64).
import { RecallError } from '../errors.ts';

export interface QuantConfig {
  /** 2..8 bits per weight. */
  bits: number;
  /** Columns per group; -1 (default) = one (scale, zero) per whole row. */
  groupSize?: number;
  /** Symmetric grid: zero fixed at (maxq + 1) / 2 (METHODS 1.2). Default false (asymmetric). */
  sym?: boolean;
  /** GPTQ's MSE grid search of a shrunk range (quant.py: grid 100, maxshrink 0.8, norm 2.4). */
  mse?: boolean;
}

/** Grid search constants from GPTQ's quant.py (Quantizer.configure defaults). */
export const MSE_GRID = 100;
export const MSE_MAX_SHRINK = 0.8;
export const MSE_NORM = 2.4;

export interface QuantParams { scale: number; zero: number }

/** Round to nearest, ties to even (torch.round); Math.round sends ties up. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** 2^bits - 1, after checking bits (METHODS 1.2: bits 2..8). */
export function maxCode(bits: number): number {
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RecallError('E_COMPRESS_CONFIG', `quantization bits must be an integer from 2 to 8, got ${bits}`, { field: 'bits', value: bits });
  }
  return 2 ** bits - 1;
}

/** Check a quantizer config once at the public edge; returns the normalized group size. */
export function checkQuantConfig(c: QuantConfig, cols: number): number {
  maxCode(c.bits);
  const g = c.groupSize ?? -1;
  if (g !== -1 && (!Number.isInteger(g) || g < 1)) {
    throw new RecallError('E_COMPRESS_CONFIG', `groupSize must be -1 (whole row) or a positive integer, got ${g}`, { field: 'groupSize', value: g });
  }
  return g === -1 || g >= cols ? -1 : g;
}

/** Integer code of x: clamp(roundHalfEven(x / scale) + zero, 0, maxq) (METHODS 1.2). */
export function quantizeCode(x: number, scale: number, zero: number, maxq: number): number {
  const c = roundHalfEven(x / scale) + zero;
  return c < 0 ? 0 : c > maxq ? maxq : c;
}

/** Fake-quant value of x: scale * (code - zero). */
export function quantizeValue(x: number, scale: number, zero: number, maxq: number): number {
  return scale * (quantizeCode(x, scale, zero, maxq) - zero);
}

function paramsFor(xmin: number, xmax: number, maxq: number, sym: boolean): QuantParams {
  const scale = Math.fround((xmax - xmin) / maxq);
  return { scale, zero: sym ? (maxq + 1) / 2 : roundHalfEven(-xmin / scale) + 0 }; // + 0: no -0 zero point
}

/**
 * Fit (scale, zero) on x[start, end) (one row, or one row's group), as GPTQ's find_params
 * with perchannel=True: range clipped to include 0, symmetric range when sym, the degenerate
 * all-zero range widened to [-1, 1]; with mse, keep the shrink p = 1 - i/100 (i < 80) whose
 * sum |q(x) - x|^2.4 is strictly lowest.
 */
export function fitQuantParams(x: ArrayLike<number>, start: number, end: number, maxq: number, sym: boolean, mse: boolean): QuantParams {
  let xmin = 0, xmax = 0;
  for (let i = start; i < end; i++) {
    const v = x[i]!;
    if (v < xmin) xmin = v;
    if (v > xmax) xmax = v;
  }
  if (sym) {
    xmax = Math.max(-xmin, xmax);
    if (xmin < 0) xmin = -xmax;
  }
  if (xmin === 0 && xmax === 0) { xmin = -1; xmax = 1; }
  let best = paramsFor(xmin, xmax, maxq, sym);
  if (!mse) return best;
  let bestErr = Infinity;
  for (let i = 0; i < Math.trunc(MSE_MAX_SHRINK * MSE_GRID); i++) {
    const p = 1 - i / MSE_GRID;
    const cand = paramsFor(p * xmin, p * xmax, maxq, sym);
    let err = 0;
    for (let k = start; k < end; k++) {
      const v = x[k]!;
      err += Math.abs(quantizeValue(v, cand.scale, cand.zero, maxq) - v) ** MSE_NORM;
    }
    if (err < bestErr) { bestErr = err; best = cand; }
  }
  return best;
}

/** Result of quantizing a [rows, cols] matrix per row or per group (round to nearest). */
export interface GroupQuantized {
  rows: number;
  cols: number;
  bits: number;
  /** Effective group size (-1 = whole row). */
  groupSize: number;
  /** Fake-quant weight [rows, cols] (float32, = scale * (code - zero)). */
  weight: Float32Array;
  /** Integer codes [rows, cols], 0..2^bits - 1. */
  codes: Uint8Array;
  /** [nGroups, rows] (GPTQ checkpoint order); float32 values. */
  scales: Float32Array;
  /** [nGroups, rows] integer zero points. */
  zeros: Uint8Array;
  /** Group of each input column [cols]. */
  gIdx: Int32Array;
}

/** Number of groups for cols columns. */
export function groupCount(cols: number, groupSize: number): number {
  return groupSize === -1 ? 1 : Math.ceil(cols / groupSize);
}

/**
 * Dequantize codes with per-group (scale, zero) through gIdx: W[r, c] = s[g, r] * (q[r, c] - z[g, r]),
 * g = gIdx[c]; in float64 then rounded to float32 (exact, see the header).
 */
export function dequantize(codes: Uint8Array, scales: ArrayLike<number>, zeros: ArrayLike<number>, gIdx: Int32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = gIdx[c]! * rows + r;
      out[r * cols + c] = scales[g]! * (codes[r * cols + c]! - zeros[g]!);
    }
  }
  return out;
}
