// Evaluation statistics against values computed independently: McNemar's exact p from the
// binomial distribution by hand (and Python's math.comb), the harness's mean_stderr,
// seeded bootstraps, and flip sets on a hand-made table.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { aggregateMetrics } from '../../main/engine/eval/evaluate.ts';
import {
  binomialStderr, bootstrapStderr, flipSets, mcnemarExact, mcnemarPaired, meanStderr, pairedBootstrapDiff, perplexity,
} from '../../main/engine/eval/stats.ts';
import { findTask } from '../../main/engine/eval/tasks.ts';
import type { SampleRecord } from '../../main/engine/eval/types.ts';

const close = (a: number, b: number, tol: number, label: string) => assert.ok(Math.abs(a - b) <= tol, `${label}: ${a} vs ${b} (diff ${Math.abs(a - b)})`);

describe('McNemar exact test', () => {
  test('b=10, c=2: p = 2 * (1 + 12 + 66) / 2^12 = 0.0385742...', () => {
    const r = mcnemarExact(10, 2);
    close(r.p, (2 * 79) / 4096, 1e-15, 'p');
    close(r.p, 0.03857421875, 1e-15, 'p');
    assert.equal(mcnemarExact(2, 10).p, r.p);
  });

  test('known values: no discordant pairs p = 1; b=c p = 1 (capped); b=25, c=10 (0.0166738478, Python math.comb)', () => {
    assert.equal(mcnemarExact(0, 0).p, 1);
    assert.equal(mcnemarExact(7, 7).p, 1);
    // 2 * sum(comb(35, k) for k in range(11)) / 2**35 = 0.01667384780012071
    close(mcnemarExact(25, 10).p, 0.01667384780012071, 1e-14, 'p(25,10)');
    // Large counts stay finite and tiny (log-space sum).
    const big = mcnemarExact(1500, 1000).p;
    assert.ok(big > 0 && big < 1e-20, `p(1500,1000) = ${big}`);
  });

  test('from paired outcomes: b counts right-in-A wrong-in-B', () => {
    const a = [1, 1, 1, 0, 0, 1, 0];
    const b = [0, 0, 1, 1, 0, 1, 0];
    assert.deepEqual({ ...mcnemarPaired(a, b), p: undefined }, { b: 2, c: 1, p: undefined });
    assert.throws(() => mcnemarPaired([1], [1, 0]), /differ in length/);
  });
});

describe('stderr and aggregation', () => {
  test('mean_stderr of 0/1 values equals sqrt(p (1 - p) / (n - 1))', () => {
    const xs = [1, 0, 0, 1, 1, 1, 0, 1, 0, 1];
    close(meanStderr(xs), Math.sqrt((0.6 * 0.4) / 9), 1e-15, 'stderr');
    close(binomialStderr(0.6, 10), Math.sqrt((0.6 * 0.4) / 9), 1e-15, 'binomial');
    assert.ok(Number.isNaN(meanStderr([1])));
    // Non-binary values: the sample standard deviation over sqrt(n) (Python statistics.stdev / sqrt(n)).
    close(meanStderr([1, 2, 3, 4]), 1.2909944487358056 / 2, 1e-15, 'stdev/sqrt(n)');
  });

  test('perplexity is exp(-mean LL) over items; its bootstrap stderr is reproducible by seed', () => {
    const lls = [-1.5, -0.2, -3.1, -0.9, -2.2, -0.4];
    close(perplexity(lls), Math.exp(8.3 / 6), 1e-12, 'perplexity');
    const a = bootstrapStderr(lls, perplexity, 500, 42);
    assert.equal(bootstrapStderr(lls, perplexity, 500, 42), a);
    assert.notEqual(bootstrapStderr(lls, perplexity, 500, 43), a);
    assert.ok(a > 0 && a < perplexity(lls));
  });

  test('aggregateMetrics: LAMBADA gives perplexity (bootstrap stderr) and acc (mean_stderr)', () => {
    const sample = (ll: number, acc: number) => ({ values: { perplexity: ll, acc } }) as unknown as SampleRecord;
    const samples = [sample(-1, 1), sample(-2, 0), sample(-3, 1), sample(-0.5, 1)];
    const [ppl, acc] = aggregateMetrics(findTask('lambada_openai')!, samples, { bootstrapIters: 200, seed: 9 });
    assert.equal(ppl!.name, 'perplexity');
    close(ppl!.value, Math.exp(6.5 / 4), 1e-12, 'ppl');
    assert.ok(ppl!.stderr > 0);
    assert.deepEqual(acc, { name: 'acc', value: 0.75, stderr: Math.sqrt((0.75 * 0.25) / 3) });
  });
});

describe('paired bootstrap of the accuracy difference', () => {
  const a: number[] = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 0 : 1));
  const b = a.map((x, i) => (i % 10 === 0 ? 0 : x));

  test('diff = mean(B) - mean(A); the CI contains it; same seed same CI, another seed another', () => {
    const r = pairedBootstrapDiff(a, b, { resamples: 1000, seed: 5 });
    close(r.diff, b.reduce((s, x) => s + x, 0) / 200 - a.reduce((s, x) => s + x, 0) / 200, 1e-15, 'diff');
    assert.ok(r.lower <= r.diff && r.diff <= r.upper && r.upper < 0, JSON.stringify(r));
    assert.deepEqual(pairedBootstrapDiff(a, b, { resamples: 1000, seed: 5 }), r);
    assert.notDeepEqual(pairedBootstrapDiff(a, b, { resamples: 1000, seed: 6 }), r);
  });

  test('identical outcomes give a zero-width interval at 0', () => {
    const r = pairedBootstrapDiff(a, a, { resamples: 100, seed: 1 });
    assert.deepEqual([r.diff, r.lower, r.upper], [0, 0, 0]);
  });
});

describe('flip sets', () => {
  // item: base, compressed, recovered
  const table: [number, boolean, boolean, boolean][] = [
    [0, true, false, true], // lost, regained
    [1, true, false, false], // lost, not regained
    [2, false, false, false], // never known
    [3, true, true, false], // newly wrong
    [4, false, true, true], // gained by compression
    [5, true, true, true], // always known
  ];
  const col = (j: 1 | 2 | 3) => new Map(table.map((r) => [r[0], r[j]]));

  test('base, compressed and recovered: lost, regained, never known, newly wrong', () => {
    const f = flipSets(col(1), col(2), col(3));
    assert.deepEqual(f, {
      lostByCompression: [0, 1], regainedByRecovery: [0], neverKnown: [2], newlyWrong: [3],
      gainedByCompression: [4], alwaysKnown: [5], items: 6,
    });
  });

  test('two models only; items missing from one map are not counted', () => {
    const compressed = col(2);
    compressed.delete(5);
    const f = flipSets(col(1), compressed);
    assert.deepEqual(f, {
      lostByCompression: [0, 1], regainedByRecovery: [], neverKnown: [2], newlyWrong: [],
      gainedByCompression: [4], alwaysKnown: [3], items: 5,
    });
  });
});
