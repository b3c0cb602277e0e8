// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_ (1.13):
// total = ||(||g_1||, ..., ||g_n||)||, scale = max_norm / (total + 1e-6), clamped to <= 1,
// and every gradient multiplied by it. Norms are summed in float64 and rounded to float32
// (torch's result is a float32 tensor), so the scale matches torch's to ~1 ulp.
import { RecallError } from '../errors.ts';

const f = Math.fround;

/** The global L2 norm of all gradients (float32-rounded, like torch's result). */
export function globalGradNorm(grads: Iterable<Float32Array>): number {
  let sumSquares = 0;
  for (const g of grads) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    const norm = f(Math.sqrt(s)); // torch.norm(g): one float32 per tensor
    sumSquares += norm * norm;
  }
  return f(Math.sqrt(sumSquares));
}

/**
 * Scale the gradients in place so their global L2 norm is at most maxNorm; returns the norm
 * before clipping (NaN or Infinity when a gradient is not finite; then they are scaled by NaN
 * or 0 as torch would, and the caller decides what to do).
 */
export function clipGradNorm(grads: Map<string, Float32Array> | Float32Array[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RecallError('E_INVALID_ARGUMENT', `clipGradNorm: maxNorm must be > 0, got ${maxNorm}`, { field: 'maxNorm', value: maxNorm });
  const list = grads instanceof Map ? [...grads.values()] : grads;
  const total = globalGradNorm(list);
  // torch evaluates `max_norm / (total + 1e-6)` as Tensor.__rtruediv__: reciprocal() * max_norm.
  const coef = f(f(1 / f(total + f(1e-6))) * f(maxNorm));
  if (coef < 1 || Number.isNaN(coef)) {
    for (const g of list) for (let i = 0; i < g.length; i++) g[i] = f(g[i]! * coef);
  }
  return total;
}
