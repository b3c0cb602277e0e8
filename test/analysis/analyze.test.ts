// analyzeModels on the tiny-llama fixture against scripts/oracles/analysis_ref.py, which runs
// the PyTorch model oracle on each example alone (no padding) and computes the similarities
// with independent formulas (CKA in its feature-space form). Here the examples go through
// padded batches, so agreement also shows that padding is excluded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyzeModels, type AnalyzeModelSpec } from '../../main/engine/analysis/analyze.ts';
import type { LayerSpreads, ModelSimilarity } from '../../main/engine/analysis/result.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { assertClose } from '../helpers/compare.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

interface OracleCase {
  prompt_length: number;
  prefix_length: number;
  attention: number[][][];
  activation: number[][];
  cka: number[][];
  summary: Record<'attention' | 'activation' | 'cka', Record<'mean' | 'std' | 'min' | 'q1' | 'median' | 'q3' | 'max', number[]>>;
  soft_prompt?: number[];
  prefix?: { keys: number[][]; values: number[][] };
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/analysis/expected.json', import.meta.url), 'utf8')) as {
  examples: number[][];
  cases: Record<string, OracleCase>;
};
const DIR = fixtureDir('tiny-llama');
const TOL = 1e-5;

function weight(name: string): Float32Array {
  const f = loadModelFolder(DIR);
  try {
    return f.weights.readFloat32(name);
  } finally {
    f.weights.close();
  }
}

/** The case's model, rebuilt from the description in analysis_ref.py. */
function spec(name: string): AnalyzeModelSpec {
  const c = oracle.cases[name]!;
  if (name === 'scaled_q1') {
    const n = 'model.layers.1.self_attn.q_proj.weight';
    return { label: name, dir: DIR, weightOverrides: new Map([[n, weight(n).map((v) => v * 1.5)]]) };
  }
  if (name === 'noised_mlp0') {
    const n = 'model.layers.0.mlp.down_proj.weight';
    return { label: name, dir: DIR, weightOverrides: new Map([[n, weight(n).map((v, i) => v + 0.05 * Math.sin(0.37 * i))]]) };
  }
  if (name === 'soft_prompt') return { label: name, dir: DIR, adapter: { softPrompt: Float32Array.from(c.soft_prompt!) } };
  if (name === 'prefix') {
    return { label: name, dir: DIR, adapter: { prefix: { keys: c.prefix!.keys.map((k) => Float32Array.from(k)), values: c.prefix!.values.map((v) => Float32Array.from(v)) } } };
  }
  return { label: name, dir: DIR };
}

const CASES = ['self', 'scaled_q1', 'noised_mlp0', 'soft_prompt', 'prefix'];

async function analyzeAll(batchSize: number) {
  return analyzeModels({ base: DIR, models: CASES.map(spec), tokenIds: oracle.examples, batchSize, cka: true, maps: { examples: 2, layers: [0, 1], heads: [0, 3] } });
}

const padded = analyzeAll(4);

function checkSummary(actual: LayerSpreads, expected: OracleCase['summary']['attention'], label: string): void {
  for (const k of ['mean', 'std', 'min', 'q1', 'median', 'q3', 'max'] as const) assertClose(actual[k], expected[k], { atol: TOL, label: `${label} ${k}` });
}

for (const name of CASES) {
  test(`${name}: per-example and per-layer similarities match the PyTorch oracle within 1e-5 (padded batch of 4)`, async () => {
    const r = await padded;
    const m = r.models.find((x) => x.label === name)!;
    const c = oracle.cases[name]!;
    assert.equal(m.promptLength, c.prompt_length);
    assert.equal(m.prefixLength, c.prefix_length);
    assert.deepEqual(m.perExample.attention.shape, [4, 2, 4]);
    assertClose(m.perExample.attention.data, c.attention.flat(2), { atol: TOL, label: `${name} attention [e, l, h]` });
    assertClose(m.perExample.activation.data, c.activation.flat(), { atol: TOL, label: `${name} activation [e, l]` });
    assertClose(m.perExample.cka!.data, c.cka.flat(), { atol: TOL, label: `${name} cka [e, l]` });
    checkSummary(m.attention, c.summary.attention, `${name} attention`);
    checkSummary(m.activation, c.summary.activation, `${name} activation`);
    checkSummary(m.cka!, c.summary.cka, `${name} cka`);
  });
}

test('a model against itself: every similarity is 1 within 1e-6 on every layer and head', async () => {
  const m = (await padded).models.find((x) => x.label === 'self')!;
  for (const a of [m.perExample.attention.data, m.perExample.activation.data, m.perExample.cka!.data]) {
    for (const v of a) assert.ok(Math.abs(v - 1) <= 1e-6, `similarity ${v}`);
  }
  assert.deepEqual(m.attention.count, [4, 4]);
});

test('layers before the perturbed one have similarity 1; the perturbed layer and later do not', async () => {
  const r = await padded;
  const q1 = r.models.find((x) => x.label === 'scaled_q1')!;
  const near1 = (v: number) => Math.abs(v - 1) <= 1e-6;
  assert.ok(near1(q1.attention.min[0]!) && near1(q1.activation.min[0]!), 'layer 0 untouched by a layer-1 change');
  assert.ok(q1.attention.max[1]! < 1 - 1e-4 && q1.activation.max[1]! < 1 - 1e-5, `layer 1: ${q1.attention.max[1]}, ${q1.activation.max[1]}`);
  // An MLP change in layer 0 leaves layer 0's attention (computed before the MLP) identical.
  const n0 = r.models.find((x) => x.label === 'noised_mlp0')!;
  assert.ok(near1(n0.attention.min[0]!) && n0.activation.max[0]! < 1 - 1e-3);
});

test('padding is excluded: a padded batch gives the values of single unpadded examples', async () => {
  const [a, b] = [await padded, await analyzeAll(1)];
  for (const [i, m] of a.models.entries()) {
    const s = b.models[i]!;
    assertClose(m.perExample.attention.data, s.perExample.attention.data, { atol: 1e-6, label: `${m.label} attention` });
    assertClose(m.perExample.activation.data, s.perExample.activation.data, { atol: 1e-6, label: `${m.label} activation` });
    assertClose(m.perExample.cka!.data, s.perExample.cka!.data, { atol: 1e-6, label: `${m.label} cka` });
  }
});

test('soft-prompt and prefix positions are dropped: similarities < 1, maps keep them with the input block marked', async () => {
  const r = await padded;
  const sp = r.models.find((x) => x.label === 'soft_prompt')! as ModelSimilarity;
  const px = r.models.find((x) => x.label === 'prefix')!;
  for (const m of [sp, px]) for (const v of m.perExample.attention.data) assert.ok(v < 1 - 1e-4);
  // Example 0 has 7 tokens: the soft prompt adds 3 rows and columns, the prefix 2 columns.
  const spMap = sp.maps.find((m) => m.example === 0 && m.layer === 1 && m.head === 3)!;
  assert.deepEqual([spMap.map.shape, spMap.inputRow, spMap.inputCol], [[10, 10], 3, 3]);
  const pxMap = px.maps.find((m) => m.example === 1 && m.layer === 0 && m.head === 0)!;
  assert.deepEqual([pxMap.map.shape, pxMap.inputRow, pxMap.inputCol], [[5, 7], 0, 2]);
  const baseMap = r.baseMaps.find((m) => m.example === 1 && m.layer === 0 && m.head === 0)!;
  assert.deepEqual(baseMap.map.shape, [5, 5]);
  // Rows are probability distributions over the visible keys; causal zeros above the diagonal.
  for (let i = 0; i < 5; i++) {
    const row = Array.from(pxMap.map.data.subarray(i * 7, i * 7 + 7));
    assertClose([row.reduce((s, v) => s + v, 0)], [1], { atol: 1e-5, label: `prefix map row ${i}` });
    assert.ok(row.slice(2 + i + 1).every((v) => v === 0));
  }
  // Maps: 2 examples x 2 layers x 2 heads per model, and for the base.
  assert.equal(sp.maps.length, 8);
  assert.equal(r.baseMaps.length, 8);
});
