// Statistics of evaluation results, pure functions of numbers in and numbers out:
// - meanStderr: lm-evaluation-harness's mean_stderr, sample standard deviation / sqrt(n),
//   which for 0/1 values is sqrt(p (1 - p) / (n - 1));
// - perplexity (exp(-mean LL), the harness's aggregation) and a seeded bootstrap stderr of any
//   aggregate (the harness bootstraps perplexity's stderr);
// - McNemar's exact test on paired 0/1 outcomes (two-sided binomial test on the discordant
//   pairs) and a paired bootstrap confidence interval of the accuracy difference;
// - flip sets between a base, a compressed and a recovered model (METHODS.md section 4).
import { seededRng } from './random.ts';

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation over sqrt(n); NaN below two values (the harness cannot compute it). */
export function meanStderr(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mu = mean(xs);
  const variance = xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n);
}

/** Binomial stderr of a proportion p over n items: sqrt(p (1 - p) / (n - 1)). */
export function binomialStderr(p: number, n: number): number {
  return n < 2 ? NaN : Math.sqrt((p * (1 - p)) / (n - 1));
}

/** The harness's perplexity aggregation over per-item log-likelihoods: exp(-mean LL). */
export function perplexity(loglikelihoods: readonly number[]): number {
  return Math.exp(-mean(loglikelihoods));
}

/** Standard deviation of `aggregate` over `iters` seeded resamples (with replacement) of xs. */
export function bootstrapStderr(xs: readonly number[], aggregate: (s: number[]) => number, iters = 1000, seed = 1234): number {
  if (xs.length < 2) return NaN;
  const rng = seededRng(seed);
  const stats: number[] = [];
  const sample = new Array<number>(xs.length);
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < xs.length; i++) sample[i] = xs[Math.floor(rng() * xs.length)]!;
    stats.push(aggregate(sample));
  }
  const mu = mean(stats);
  return Math.sqrt(stats.reduce((a, s) => a + (s - mu) ** 2, 0) / (stats.length - 1));
}

export interface McNemarResult {
  /** Items right in A and wrong in B. */
  b: number;
  /** Items wrong in A and right in B. */
  c: number;
  /** Exact two-sided p-value: min(1, 2 P[X <= min(b, c)]), X ~ Binomial(b + c, 1/2). */
  p: number;
}

/** McNemar's exact test from the two discordant counts. */
export function mcnemarExact(b: number, c: number): McNemarResult {
  const n = b + c;
  if (n === 0) return { b, c, p: 1 };
  const k = Math.min(b, c);
  // Sum C(n, i) / 2^n for i <= k in log space (n can be thousands).
  let logC = 0;
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return { b, c, p: Math.min(1, 2 * tail) };
}

/** McNemar on two aligned 0/1 (or boolean) outcome lists. */
export function mcnemarPaired(a: readonly (number | boolean)[], bOutcomes: readonly (number | boolean)[]): McNemarResult {
  assertAligned(a, bOutcomes);
  let b = 0, c = 0;
  a.forEach((x, i) => {
    const y = bOutcomes[i];
    if (x && !y) b++;
    else if (!x && y) c++;
  });
  return mcnemarExact(b, c);
}

export interface PairedDifference {
  /** mean(B) - mean(A) on the paired items. */
  diff: number;
  lower: number;
  upper: number;
  level: number;
  resamples: number;
  seed: number;
}

/**
 * Percentile bootstrap CI of mean(B) - mean(A): the same resampled item indices are used for
 * both lists, so the pairing is kept.
 */
export function pairedBootstrapDiff(
  a: readonly (number | boolean)[], b: readonly (number | boolean)[], o: { resamples?: number; seed?: number; level?: number } = {},
): PairedDifference {
  assertAligned(a, b);
  const resamples = o.resamples ?? 1000, seed = o.seed ?? 1234, level = o.level ?? 0.95;
  const n = a.length;
  const d = a.map((x, i) => Number(b[i]) - Number(x));
  const diff = n ? mean(d) : NaN;
  if (n === 0) return { diff, lower: NaN, upper: NaN, level, resamples, seed };
  const rng = seededRng(seed);
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(rng() * n)]!;
    stats[r] = s / n;
  }
  stats.sort();
  const q = (p: number) => stats[Math.min(resamples - 1, Math.max(0, Math.floor(p * resamples)))]!;
  return { diff, lower: q((1 - level) / 2), upper: q(1 - (1 - level) / 2), level, resamples, seed };
}

export interface FlipSets<K> {
  /** Right in the base model, wrong after compression. */
  lostByCompression: K[];
  /** Lost by compression and right again after recovery. */
  regainedByRecovery: K[];
  /** Wrong in all models given. */
  neverKnown: K[];
  /** Right after compression, wrong after recovery (recovery broke them). */
  newlyWrong: K[];
  /** Wrong in the base model, right after compression. */
  gainedByCompression: K[];
  /** Right in all models given. */
  alwaysKnown: K[];
  /** Items present in every map (the others are not counted). */
  items: number;
}

/**
 * Flip sets over the items every model was scored on (keys: item ids). Without `recovered`,
 * regainedByRecovery and newlyWrong are empty and neverKnown / alwaysKnown cover base and
 * compressed only.
 */
export function flipSets<K>(base: ReadonlyMap<K, boolean>, compressed: ReadonlyMap<K, boolean>, recovered?: ReadonlyMap<K, boolean>): FlipSets<K> {
  const out: FlipSets<K> = { lostByCompression: [], regainedByRecovery: [], neverKnown: [], newlyWrong: [], gainedByCompression: [], alwaysKnown: [], items: 0 };
  for (const [k, b0] of base) {
    const c = compressed.get(k);
    const r = recovered ? recovered.get(k) : undefined;
    if (c === undefined || (recovered && r === undefined)) continue;
    out.items++;
    if (b0 && !c) out.lostByCompression.push(k);
    if (b0 && !c && r === true) out.regainedByRecovery.push(k);
    if (!b0 && c) out.gainedByCompression.push(k);
    if (recovered && c && r === false) out.newlyWrong.push(k);
    if (!b0 && !c && r !== true) out.neverKnown.push(k);
    if (b0 && c && r !== false) out.alwaysKnown.push(k);
  }
  return out;
}

function assertAligned(a: readonly unknown[], b: readonly unknown[]): void {
  if (a.length !== b.length) throw new RangeError(`paired outcome lists differ in length (${a.length} vs ${b.length})`);
}
