// runs.similarity's reading of stored arrays (main/engine/handlers/similarity-view.ts) and the
// Layers view's mapping of its answer (renderer/src/lib/layer-mapping.ts), on hand-made arrays
// whose expected values are worked out in the comments.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunSimilarityInfo } from '../../main/contract/index.ts';
import { displayToken, headSpreads, mapInfo, parseMapKind, parseStatsKind, spreadsFromStats } from '../../main/engine/handlers/similarity-view.ts';
import { inputBlock, layersFromSimilarity, variantLabel } from '../../renderer/src/lib/layer-mapping.ts';

test('stats [7, L] become one list per statistic; NaN (undefined for every example) becomes null', () => {
  // rows mean, std, min, q1, median, q3, max; L = 2
  const data = Float32Array.from([0.5, NaN, 0.1, 0, 0.2, 0, 0.3, 0, 0.4, 0, 0.6, 0, 0.9, 0]);
  const s = spreadsFromStats({ shape: [7, 2], data });
  assert.deepEqual(s.mean, [0.5, null]);
  assert.ok(Math.abs(s.std[0]! - 0.1) < 1e-7 && Math.abs(s.max[0]! - 0.9) < 1e-7);
  assert.throws(() => spreadsFromStats({ shape: [2, 7], data }), /\[7, layers\]/);
});

test('per-head mean and population std over examples, skipping undefined examples', () => {
  // [N=3, L=1, H=2]: head 0 = 1, 3, NaN -> mean 2, std 1; head 1 = 2, 2, 2 -> mean 2, std 0
  const h = headSpreads({ shape: [3, 1, 2], data: Float32Array.from([1, 2, 3, 2, NaN, 2]) });
  assert.deepEqual(h.mean, [[2, 2]]);
  assert.deepEqual(h.std, [[1, 0]]);
  // all undefined -> null
  assert.deepEqual(headSpreads({ shape: [1, 1, 1], data: Float32Array.from([NaN]) }), { mean: [[null]], std: [[null]] });
});

test('kind names, the input block of a soft-prompted map, and token display', () => {
  assert.deepEqual(parseMapKind('model/attention-map/e1-l3-h0'), { owner: 'model', example: 1, layer: 3, head: 0 });
  assert.equal(parseMapKind('model/attention-cos'), null);
  assert.deepEqual(parseStatsKind('model/cka-stats'), { label: 'model', measure: 'cka' });
  // A 2-token prompt before 2 text tokens: [4, 4]; the base map of the same example is [2, 2].
  const m = mapInfo({ owner: 'model', example: 0, layer: 0, head: 0 }, { shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i) }, 2);
  assert.deepEqual([m.inputRow, m.inputCol], [2, 2]);
  assert.deepEqual(inputBlock(m), [[10, 11], [14, 15]]);
  assert.equal(mapInfo({ owner: 'base', example: 0, layer: 0, head: 0 }, { shape: [1, 1], data: [NaN] }, 1).values[0]![0], 0);
  assert.deepEqual(['Ġthe', '▁cat', 'Ċ', 'Ġ'].map(displayToken), ['the', 'cat', '\\n', '␣']);
});

test('Layers: one line per analyse run with a ± std band, and base beside each variant', () => {
  const spread = (mean: number[], std: number[]) => ({ mean, std, min: mean, q1: mean, median: mean, q3: mean, max: mean });
  const run = (runId: number, name: string, mean: number[], prompt: number): RunSimilarityInfo => ({
    runId, name, status: 'done', inputRunId: 1, task: 'demo_mc', examples: 2, layers: 2, heads: 1,
    models: [{ label: 'model', measures: [{ measure: 'attention-cos', layers: spread(mean, [0.1, null as unknown as number]) }] }],
    texts: { 0: 'Question:  Who?\nAnswer:' }, tokens: { 0: ['<s>', 'Q'] },
    maps: [
      { owner: 'base', example: 0, layer: 1, head: 0, shape: [2, 2], inputRow: 0, inputCol: 0, values: [[1, 0], [0.5, 0.5]] },
      { owner: 'model', example: 0, layer: 1, head: 0, shape: [2 + prompt, 2 + prompt], inputRow: prompt, inputCol: prompt, values: Array.from({ length: 2 + prompt }, () => Array(2 + prompt).fill(0.25)) },
    ],
    arrays: [],
  });
  const d = layersFromSimilarity([run(5, 'analyze gptq-3bit', [0.99, 0.95], 0), run(7, 'analyze gptq-3bit+prompt', [0.8, 0.7], 3)]);
  assert.equal(variantLabel('analyze x+y'), 'x+y');
  assert.deepEqual(d.metrics.map((m) => m.id), ['attention']);
  const [a, b] = d.metrics[0]!.series;
  assert.equal(a!.label, 'gptq-3bit');
  assert.ok(Math.abs(a!.lo![0]! - 0.89) < 1e-12 && a!.hi![0] === 1, 'band = mean ± std, capped at 1');
  assert.ok(Number.isNaN(b!.lo![1]!), 'an undefined std leaves a gap in the band');
  assert.deepEqual(d.prompts, [{ id: 'e0', text: 'Question: Who? Answer:', reason: 'Example 1 of demo_mc (first 1 kept with maps)' }]);
  const maps = d.heatmaps.e0!;
  assert.equal(maps.length, 1);
  assert.equal(maps[0]!.title, 'Layer 1 · head 0');
  assert.deepEqual(maps[0]!.tokens, ['<s>', 'Q']);
  assert.deepEqual(maps[0]!.panels.map((p) => [p.label, p.values.length]), [['Base model', 2], ['gptq-3bit', 2], ['gptq-3bit+prompt', 2]]);
});
