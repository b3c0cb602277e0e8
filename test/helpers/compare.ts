// Numeric comparison for oracle tests (llm.c's habit): on failure, print the first
// mismatches with their indices and the max absolute and relative difference.
import { Mulberry32 } from '../../main/engine/random.ts';
import assert from 'node:assert/strict';

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** What is being compared, for the message. */
  label?: string;
  /** How many mismatches to list (default 8). */
  show?: number;
}

export interface Diff { maxAbs: number; maxRel: number; mismatches: number }

export function diffArrays(actual: ArrayLike<number | bigint>, expected: ArrayLike<number | bigint>, atol: number, rtol: number): Diff & { first: string[] } {
  let maxAbs = 0, maxRel = 0, mismatches = 0;
  const first: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]), e = Number(expected[i]);
    const d = Math.abs(a - e);
    const bad = Number.isNaN(a) !== Number.isNaN(e) || d > atol + rtol * Math.abs(e);
    if (!Number.isNaN(d)) {
      maxAbs = Math.max(maxAbs, d);
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), 1e-12));
    }
    if (bad) {
      mismatches++;
      if (first.length < 8) first.push(`[${i}] actual ${a} expected ${e} (diff ${d.toExponential(3)})`);
    }
  }
  return { maxAbs, maxRel, mismatches, first };
}

/** Assert |actual - expected| <= atol + rtol * |expected| elementwise; returns the diff stats. */
export function assertClose(actual: ArrayLike<number | bigint>, expected: ArrayLike<number | bigint>, o: CloseOptions = {}): Diff {
  const { atol = 1e-5, rtol = 0, label = 'values' } = o;
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != expected ${expected.length}`);
  const d = diffArrays(actual, expected, atol, rtol);
  if (d.mismatches > 0) {
    assert.fail(
      `${label}: ${d.mismatches} of ${expected.length} elements differ (atol ${atol}, rtol ${rtol}); ` +
        `max abs diff ${d.maxAbs.toExponential(3)}, max rel diff ${d.maxRel.toExponential(3)}\n  first mismatches:\n    ${d.first.join('\n    ')}`,
    );
  }
  return { maxAbs: d.maxAbs, maxRel: d.maxRel, mismatches: 0 };
}

/** Deterministic pseudo-random floats in [-scale, scale) (mulberry32), for test inputs. */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * scale;
  return out;
}
