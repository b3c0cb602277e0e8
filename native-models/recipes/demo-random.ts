// A seeded random source for the demo corpus. The corpus is committed and must regenerate
// byte for byte from its seed on any machine, so nothing here touches Math.random.
// It draws from the engine's mulberry32 (main/engine/random.ts), good enough for shuffling
// sentences; it is not meant for statistics.

import { mulberry32 } from '../../main/engine/random.ts';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  /** A new array with the items in random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** k distinct items, in random order. */
  sample<T>(items: readonly T[], k: number): T[];
  /** An independent stream, so adding draws to one part of the recipe leaves the others unchanged. */
  fork(label: string): Rng;
}

/** FNV-1a of a label, to derive a sub-stream seed from a parent seed and a name. */
function hashLabel(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  const rng: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
    sample: (items, k) => {
      if (k > items.length) throw new Error(`cannot sample ${k} of ${items.length} items`);
      return rng.shuffle(items).slice(0, k);
    },
    fork: (label) => createRng(hashLabel(seed, label)),
  };
  return rng;
}
