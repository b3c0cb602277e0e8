// Unit tests of the compression building blocks: half-to-even rounding, the quantizer, float64
// linear algebra (U against PyTorch's three-factorization route from the fixture), and the
// validation errors at the public edge (one clear RecallError each).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantizeGptq, quantizeRtn } from '../../main/engine/compress/gptq.ts';
import { cholesky, dampDiagonal, inverseSpd, upperCholeskyOfInverse } from '../../main/engine/compress/linalg.ts';
import { pruneMagnitude } from '../../main/engine/compress/magnitude.ts';
import { fitQuantParams, quantizeCode, roundHalfEven } from '../../main/engine/compress/quantizer.ts';
import { pruneSparseGpt } from '../../main/engine/compress/sparsegpt.ts';
import { type RecallErrorCode, isRecallError } from '../../main/engine/errors.ts';
import { assertClose, randomFloats } from '../helpers/compare.ts';
import { loadLayer, manifest, readF64 } from './fixture.ts';

test('roundHalfEven sends ties to the even neighbour, like torch.round', () => {
  const xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999999, 2.5000001, -3.7, 7, 0];
  assert.deepEqual(xs.map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, 3, -4, 7, 0].map((v) => v + 0));
});

test('quantizer: asym range includes 0, sym zero is (maxq+1)/2, all-zero row widens to [-1, 1]', () => {
  const x = [0.2, 0.9, 0.4];
  const a = fitQuantParams(x, 0, 3, 15, false, false);
  assert.equal(a.scale, Math.fround(0.9 / 15));
  assert.equal(a.zero, 0);
  const s = fitQuantParams([-0.3, 0.6], 0, 2, 7, true, false);
  assert.equal(s.zero, 4);
  assert.equal(s.scale, Math.fround(1.2 / 7));
  const z = fitQuantParams([0, 0], 0, 2, 3, false, false);
  assert.deepEqual(z, { scale: Math.fround(2 / 3), zero: 1 }); // 1 / fround(2/3) = 1.4999999...
  assert.equal(quantizeCode(100, 0.1, 3, 15), 15);
  assert.equal(quantizeCode(-100, 0.1, 3, 15), 0);
  assert.equal(quantizeCode(0.25, 0.1, 0, 15), 2); // 2.5 -> 2 (even)
});

test('MSE grid never increases the |err|^2.4 objective over the plain min/max fit', () => {
  const x = randomFloats(128, 5, 1);
  x[3] = 6; // an outlier that the shrink should clip
  const obj = (p: { scale: number; zero: number }) => Array.from(x).reduce((s, v) => s + Math.abs(p.scale * (quantizeCode(v, p.scale, p.zero, 15) - p.zero) - v) ** 2.4, 0);
  const plain = fitQuantParams(x, 0, x.length, 15, false, false), mse = fitQuantParams(x, 0, x.length, 15, false, true);
  assert.ok(obj(mse) <= obj(plain));
  assert.ok(mse.scale < plain.scale);
});

test('U from one Cholesky + triangular inverse equals PyTorch chol(cholesky_inverse(chol(H)), upper) (48 x 48 fixture)', () => {
  const { n, offset, damp } = manifest.linalg;
  const full = loadLayer('b');
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i * n + j] = full.h[(i + offset) * full.cols + j + offset]!;
  assert.ok(Math.abs(dampDiagonal(h, n, 0.01) - damp) <= 1e-12 * damp);
  assertClose(upperCholeskyOfInverse(h, n), readF64('linalg.U48.f64.gz'), { atol: 1e-10, rtol: 1e-9, label: 'U' });
  const inv = inverseSpd(h, n);
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < n; k++) s += h[i * n + k]! * inv[k * n + j]!; eye[i * n + j] = s; }
  assertClose(eye, Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0)), { atol: 1e-9, label: 'H inverse(H)' });
});

test('Cholesky of a matrix that is not positive definite names the pivot', () => {
  assert.throws(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2, 'H'), (e) => isRecallError(e, 'E_COMPRESS_HESSIAN') && /pivot 1 of 2/.test(e.message));
});

test('dead columns are zeroed and do not break GPTQ; a negative-definite Hessian fails clearly even after damping', () => {
  const [rows, cols] = [8, 16];
  const w = randomFloats(rows * cols, 9);
  const h = new Float64Array(cols * cols);
  for (let i = 1; i < cols; i++) h[i * cols + i] = 1 + i;
  const r = quantizeGptq(w, rows, cols, h, { bits: 4 });
  assert.equal(r.deadColumns, 1);
  for (let i = 0; i < rows; i++) assert.equal(r.weight[i * cols], 0);
  const bad = Float64Array.from(h, (v) => -v);
  bad[0] = -1;
  assert.throws(() => quantizeGptq(w, rows, cols, bad, { bits: 4, name: 'layers.0.q_proj' }),
    (e) => isRecallError(e, 'E_COMPRESS_HESSIAN') && /layers\.0\.q_proj: Hessian .*not positive definite/.test(e.message));
});

const w = randomFloats(4 * 16, 1), h = Float64Array.from({ length: 256 }, (_, k) => (k % 17 === 0 ? 1 : 0));
const bad: [string, () => unknown, RecallErrorCode, RegExp][] = [
  ['bits 1', () => quantizeRtn(w, 4, 16, { bits: 1 }), 'E_COMPRESS_CONFIG', /bits must be an integer from 2 to 8, got 1/],
  ['bits 9', () => quantizeGptq(w, 4, 16, h, { bits: 9 }), 'E_COMPRESS_CONFIG', /got 9/],
  ['bits 3.5', () => pruneSparseGpt(w, 4, 16, h, { sparsity: 0.5, quant: { bits: 3.5 } }), 'E_COMPRESS_CONFIG', /got 3.5/],
  ['group size 0', () => quantizeGptq(w, 4, 16, h, { bits: 4, groupSize: 0 }), 'E_COMPRESS_CONFIG', /groupSize/],
  ['sparsity 1', () => pruneSparseGpt(w, 4, 16, h, { sparsity: 1 }), 'E_COMPRESS_CONFIG', /sparsity must be in \[0, 1\), got 1/],
  ['sparsity -0.1', () => pruneMagnitude(w, 4, 16, { sparsity: -0.1 }), 'E_COMPRESS_CONFIG', /got -0.1/],
  ['n >= m', () => pruneSparseGpt(w, 4, 16, h, { n: 4, m: 4 }), 'E_COMPRESS_CONFIG', /1 <= n < m, got 4:4/],
  ['magnitude n >= m', () => pruneMagnitude(w, 4, 16, { n: 3, m: 2 }), 'E_COMPRESS_CONFIG', /got 3:2/],
  ['m not dividing cols', () => pruneMagnitude(w, 4, 16, { n: 2, m: 5 }), 'E_COMPRESS_CONFIG', /divide the column count/],
  ['both sparsity and n:m', () => pruneSparseGpt(w, 4, 16, h, { sparsity: 0.5, n: 2, m: 4 }), 'E_COMPRESS_CONFIG', /either sparsity or n and m/],
  ['weight shape', () => quantizeGptq(w, 5, 16, h, { bits: 4 }), 'E_SHAPE_MISMATCH', /not rows 5 x cols 16/],
  ['Hessian shape', () => quantizeGptq(w, 4, 16, new Float64Array(10), { bits: 4 }), 'E_SHAPE_MISMATCH', /cols\^2 = 256/],
];
for (const [what, run, code, msg] of bad) {
  test(`bad input gives one clear error: ${what}`, () => {
    assert.throws(run, (e) => isRecallError(e, code) && msg.test(e.message));
  });
}

test('inputs are not modified', () => {
  const l = loadLayer('b');
  const w0 = l.w.slice(), h0 = l.h.slice();
  quantizeGptq(l.w, l.rows, l.cols, l.h, { bits: 4, actOrder: true, groupSize: 32 });
  pruneSparseGpt(l.w, l.rows, l.cols, l.h, { sparsity: 0.5 });
  assert.deepEqual(l.w, w0);
  assert.deepEqual(l.h, h0);
});
