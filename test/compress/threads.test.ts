// GPTQ / SparseGPT on several threads (solver-pool.ts) give the one-thread result bit for bit:
// codes, fake-quant weights, masks, scales, zeros and the loss, on a layer big enough to use the
// workers, across the options that change the per-row code path (groups, act-order, static
// groups, MSE grid, n:m, joint quantization) and a last block narrower than 128 columns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantizeGptq } from '../../main/engine/compress/gptq.ts';
import { pruneSparseGpt } from '../../main/engine/compress/sparsegpt.ts';
import { PARALLEL_MIN_WORK, solverThreads, startedWorkers } from '../../main/engine/compress/solver-pool.ts';
import { randomFloats } from '../helpers/compare.ts';

const ROWS = 490, COLS = 544, N = 600;

/** H = 2/N X^T X of a random X [N, COLS], with two dead columns (diag 0). */
function hessian(): Float64Array {
  const x = randomFloats(N * COLS, 1, 7);
  for (let n = 0; n < N; n++) { x[n * COLS + 5] = 0; x[n * COLS + 300] = 0; }
  const h = new Float64Array(COLS * COLS);
  for (let n = 0; n < N; n++) {
    const o = n * COLS;
    for (let i = 0; i < COLS; i++) {
      const xi = x[o + i]!;
      if (xi === 0) continue;
      for (let j = 0; j < COLS; j++) h[i * COLS + j]! += (2 / N) * xi * x[o + j]!;
    }
  }
  return h;
}

const w = randomFloats(ROWS * COLS, 0.05, 11);
const h = hessian();

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
function sameBits(a: Record<string, unknown>, b: Record<string, unknown>, what: string): void {
  for (const k of Object.keys(a)) {
    const x = a[k], y = b[k];
    if (ArrayBuffer.isView(x)) assert.ok(ArrayBuffer.isView(y) && bytes(x).equals(bytes(y)), `${what}: ${k} differs`);
    else if (typeof x === 'number') assert.ok(Object.is(x, y), `${what}: ${k} ${x} vs ${String(y)}`);
    else if (x && typeof x === 'object') sameBits(x as Record<string, unknown>, y as Record<string, unknown>, `${what}.${k}`);
  }
}

test('the layer is big enough for the worker threads', () => {
  assert.ok(ROWS * COLS >= PARALLEL_MIN_WORK);
  assert.equal(solverThreads(2, ROWS, COLS), 2);
  assert.equal(solverThreads(2, 64, 64), 1);
});

const gptqCases = [
  { bits: 4, groupSize: 128 },
  { bits: 3, groupSize: -1 },
  { bits: 4, groupSize: 128, actOrder: true },
  { bits: 4, groupSize: 64, actOrder: true, staticGroups: true, sym: true, mse: true },
];
for (const c of gptqCases) {
  test(`GPTQ ${JSON.stringify(c)}: 2 and 3 threads equal 1 thread bit for bit`, () => {
    const one = quantizeGptq(w, ROWS, COLS, h, { ...c, threads: 1 });
    for (const threads of [2, 3]) sameBits(one as unknown as Record<string, unknown>, quantizeGptq(w, ROWS, COLS, h, { ...c, threads }) as unknown as Record<string, unknown>, `threads ${threads}`);
    assert.ok(startedWorkers() >= 2);
    assert.ok(one.loss > 0);
  });
}

const sparseCases = [
  { sparsity: 0.5 },
  { n: 2, m: 4, quant: { bits: 4, groupSize: 128 } },
  { sparsity: 0.3, quant: { bits: 4 } },
];
for (const c of sparseCases) {
  test(`SparseGPT ${JSON.stringify(c)}: 2 and 3 threads equal 1 thread bit for bit`, () => {
    const one = pruneSparseGpt(w, ROWS, COLS, h, { ...c, threads: 1 });
    for (const threads of [2, 3]) sameBits(one as unknown as Record<string, unknown>, pruneSparseGpt(w, ROWS, COLS, h, { ...c, threads }) as unknown as Record<string, unknown>, `threads ${threads}`);
    assert.ok(one.sparsity > 0);
  });
}

// Widths that are not multiples of 4 (the row-update kernel's quads leave a remainder) and a
// wide layer whose U (upper Cholesky of H^-1) is big enough for the workers to share its column passes.
for (const [rows, cols] of [[517, 515], [260, 1027]] as const) {
  test(`${rows}x${cols}: GPTQ (act-order, groups) and SparseGPT 50% on 2 and 3 threads equal 1 thread bit for bit`, () => {
    const n = Math.ceil(cols * 1.2);
    const x = randomFloats(n * cols, 1, 5);
    const hh = new Float64Array(cols * cols);
    for (let r = 0; r < n; r++) {
      const o = r * cols;
      for (let i = 0; i < cols; i++) {
        const xi = x[o + i]!;
        for (let j = 0; j < cols; j++) hh[i * cols + j]! += (2 / n) * xi * x[o + j]!;
      }
    }
    const ww = randomFloats(rows * cols, 0.05, 13);
    const g = { bits: 4, groupSize: 128, actOrder: true };
    const one = quantizeGptq(ww, rows, cols, hh, { ...g, threads: 1 });
    for (const threads of [2, 3]) sameBits(one as unknown as Record<string, unknown>, quantizeGptq(ww, rows, cols, hh, { ...g, threads }) as unknown as Record<string, unknown>, `GPTQ threads ${threads}`);
    const s = { sparsity: 0.5 };
    const sOne = pruneSparseGpt(ww, rows, cols, hh, { ...s, threads: 1 });
    for (const threads of [2, 3]) sameBits(sOne as unknown as Record<string, unknown>, pruneSparseGpt(ww, rows, cols, hh, { ...s, threads }) as unknown as Record<string, unknown>, `SparseGPT threads ${threads}`);
    assert.ok(one.loss > 0 && Math.abs(sOne.sparsity - 0.5) < 0.01, `sparsity ${sOne.sparsity}`);
  });
}
