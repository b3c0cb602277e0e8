// Seeded randomness for evaluation: the --limit subset, few-shot examples and bootstrap
// resamples are reproducible from a seed (mulberry32: 32-bit state, uniform in [0, 1)).

import { mulberry32 } from '../random.ts';

export type Rng = () => number;

export function seededRng(seed: number): Rng {
  return mulberry32(seed);
}

/** A 32-bit seed from a seed and labels (task name, item index), so streams do not overlap. */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const ch of labels.join('\u0000')) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** `k` distinct values of [0, n) in random order (partial Fisher-Yates). */
export function sampleIndices(n: number, k: number, rng: Rng): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng() * (n - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, m);
}
