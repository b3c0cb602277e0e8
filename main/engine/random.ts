// The engine's one seeded generator: mulberry32 (Tommy Ettinger's 32-bit generator), tiny, fast,
// and its whole state is one uint32, so a sampler's position survives a checkpoint as a number.
// Every seeded stream in Recall (calibration draws, batch order, weight and adapter inits,
// dropout masks, evaluation subsets) is this sequence; the bundled demo model's weights depend
// on its exact output, so the arithmetic below must not change.

export class Mulberry32 {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A uint32. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  get state(): number {
    return this.s;
  }

  set state(s: number) {
    this.s = s >>> 0;
  }
}

/** Floats in [0, 1) from a seed, as a function. */
export function mulberry32(seed: number): () => number {
  const g = new Mulberry32(seed);
  return () => g.next();
}
