// The pure similarity numerics: block selection (prompt/prefix/padding positions never enter),
// cosine, linear CKA (Kornblith et al. 2019) and the spread over examples; plus the batch
// feeds' layout of soft-prompt and prefix positions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adapterLayout, batchFeeds } from '../../main/engine/analysis/batch-feeds.ts';
import { activationCosine, attentionCosinePerHead, linearCka, spread } from '../../main/engine/analysis/similarity.ts';
import { assertClose, randomFloats } from '../helpers/compare.ts';
import { tinyConfig } from '../helpers/random-model.ts';

/** Feature-space linear CKA, ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), written directly. */
function ckaFeatureSpace(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number): number {
  const center = (a: Float32Array, d: number) => {
    const c = Float64Array.from(a);
    for (let k = 0; k < d; k++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += c[i * d + k]!;
      for (let i = 0; i < n; i++) c[i * d + k]! -= m / n;
    }
    return c;
  };
  const xc = center(x, dx), yc = center(y, dy);
  const frob2 = (a: Float64Array, da: number, b: Float64Array, db: number) => {
    let s = 0;
    for (let p = 0; p < da; p++) for (let q = 0; q < db; q++) {
      let v = 0;
      for (let i = 0; i < n; i++) v += a[i * da + p]! * b[i * db + q]!;
      s += v * v;
    }
    return s;
  };
  return frob2(yc, dy, xc, dx) / Math.sqrt(frob2(xc, dx, xc, dx) * frob2(yc, dy, yc, dy));
}

test('linear CKA: 1 for identical representations, and equal to the feature-space formula otherwise', () => {
  const n = 9, d = 6;
  const x = randomFloats(n * d, 3);
  assertClose([linearCka(x, x, n, d, d)], [1], { atol: 1e-12, label: 'CKA(X, X)' });
  const y = randomFloats(n * 4, 4);
  const ours = linearCka(x, y, n, d, 4);
  assertClose([ours], [ckaFeatureSpace(x, y, n, d, 4)], { atol: 1e-12, label: 'CKA(X, Y)' });
  assert.ok(ours > 0 && ours < 0.99, `CKA of unrelated representations ${ours}`);
  assert.ok(Number.isNaN(linearCka(x.subarray(0, d), x.subarray(0, d), 1, d, d)), 'one token: undefined');
});

test('linear CKA is invariant to orthogonal transforms, isotropic scaling and translation', () => {
  const n = 7, d = 2;
  const x = randomFloats(n * d, 11);
  const [c, s] = [Math.cos(0.7), Math.sin(0.7)];
  const y = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const [a, b] = [x[i * 2]!, x[i * 2 + 1]!];
    y[i * 2] = 3 * (c * a - s * b) + 5;
    y[i * 2 + 1] = 3 * (s * a + c * b) - 2;
  }
  assertClose([linearCka(x, y, n, d, d)], [1], { atol: 1e-6, label: 'CKA(X, 3XQ + t)' });
});

test('attention cosine reads only the input x input block of each head', () => {
  // Model: [1 example, 2 heads, prompt 2 + 3 tokens + 1 pad rows, prefix 1 + prompt 2 + 3 + 1 pad cols]
  const [H, R, C] = [2, 6, 7];
  const m = new Float32Array(H * R * C).fill(0.9); // garbage everywhere...
  const base = new Float32Array(2 * H * 4 * 4).fill(0.3); // base: batch 2, seq 4 (example 1 has 3 tokens + 1 pad)
  const block = [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]];
  const baseBlock = [[1, 0, 0], [0.4, 0.6, 0], [0.2, 0.3, 0.5]];
  for (let h = 0; h < H; h++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
    m[(h * R + 2 + i) * C + 3 + j] = block[i]![j]!; // ...except the block at rows 2.., cols 3..
    base[((1 * H + h) * 4 + i) * 4 + j] = h === 0 ? baseBlock[i]![j]! : block[i]![j]!;
  }
  const got = attentionCosinePerHead(
    { data: m, dims: [1, H, R, C], example: 0, rowOffset: 2, colOffset: 3, length: 3 },
    { data: base, dims: [2, H, 4, 4], example: 1, rowOffset: 0, colOffset: 0, length: 3 },
  );
  const a = block.flat(), b = baseBlock.flat();
  const dot = a.reduce((s, v, i) => s + v * b[i]!, 0);
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assertClose(got, [dot / (norm(a) * norm(b)), 1], { atol: 1e-7, label: 'per-head cosine' });
  assert.throws(() => attentionCosinePerHead(
    { data: m, dims: [1, H, R, C], example: 0, rowOffset: 4, colOffset: 3, length: 3 },
    { data: base, dims: [2, H, 4, 4], example: 1, rowOffset: 0, colOffset: 0, length: 3 },
  ), /outside/);
});

test('activation cosine: per-token cosine over the hidden axis, averaged over input tokens only', () => {
  // [batch 1, seq 4 (1 prompt + 2 tokens + 1 pad), hidden 2] vs base [1, 2, 2]
  const m = Float32Array.from([9, 9, 1, 0, 1, 1, 7, -7]);
  const base = Float32Array.from([1, 0, 0, 1]);
  const got = activationCosine({ data: m, dims: [1, 4, 2], example: 0, rowOffset: 1, length: 2 }, { data: base, dims: [1, 2, 2], example: 0, rowOffset: 0, length: 2 });
  assertClose([got], [(1 + Math.SQRT1_2) / 2], { atol: 1e-7, label: 'mean token cosine' });
});

test('spread: mean, sample std, NumPy-linear quartiles; NaN (undefined) values left out', () => {
  const s = spread([4, NaN, 1, 3, 2]);
  assertClose([s.mean, s.std, s.min, s.q1, s.median, s.q3, s.max, s.count], [2.5, Math.sqrt(5 / 3), 1, 1.75, 2.5, 3.25, 4, 4], { atol: 1e-12, label: 'spread' });
  assert.deepEqual({ ...spread([0.5]), mean: 0.5 }, { mean: 0.5, std: 0, min: 0.5, q1: 0.5, median: 0.5, q3: 0.5, max: 0.5, count: 1 });
  assert.equal(spread([NaN]).count, 0);
});

test('batch feeds: soft prompt and prefix positions come first, padding is masked', () => {
  const cfg = tinyConfig('llama', { numLayers: 1, padTokenId: 3 });
  const adapter = { softPrompt: new Float32Array(2 * 16).fill(0.5), prefix: { keys: [new Float32Array(2 * 3 * 4)], values: [new Float32Array(2 * 3 * 4)] } };
  const layout = adapterLayout(cfg, adapter, 'm');
  assert.deepEqual(layout, { promptLength: 2, prefixLength: 3 });
  const f = batchFeeds([[1, 5, 6], [1, 7]], cfg, adapter, layout);
  assert.deepEqual(Array.from(f.input_ids!.data as BigInt64Array, Number), [1, 5, 6, 1, 7, 3]);
  assert.deepEqual(f.prompt_embeds!.dims, [2, 2, 16]);
  assert.deepEqual(f['past_key_values.0.key']!.dims, [2, 2, 3, 4]);
  assert.deepEqual(Array.from(f.attention_mask!.data as BigInt64Array, Number), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual(Array.from(f.position_ids!.data as BigInt64Array, Number), [3, 4, 5, 6, 7, 3, 4, 5, 6, 6]);
  assert.throws(() => adapterLayout(cfg, { softPrompt: new Float32Array(15) }, 'bad'), /bad: soft prompt has 15 values/);
  assert.throws(() => adapterLayout(cfg, { prefix: { keys: [new Float32Array(5)], values: [new Float32Array(5)] } }, 'bad'), /prefix tensor/);
});
