// Model graph builders: text snapshots of the built graphs (a refactor shows zero diff),
// validity of every option combination, and float16-stored weights against float32.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import type { GraphOptions } from '../../main/engine/models/graph-options.ts';
import { snapshotModel } from '../../main/engine/onnx/snapshot.ts';
import { validateModel } from '../../main/engine/onnx/validate.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { int64 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';
import { randomWeights, tinyConfig } from '../helpers/random-model.ts';
import { assertSnapshot } from '../helpers/snapshot.ts';

const snap = (name: string) => fileURLToPath(new URL(`../fixtures/snapshots/${name}.snap`, import.meta.url));
const ALL: GraphOptions = {
  exposeHiddenStates: true, exposeAttentions: true, softPrompt: true, pastKeyValues: true,
  lora: { targets: ['q_proj', 'v_proj'], rank: 2, alpha: 4 }, logprobs: true,
};

for (const family of ['llama', 'opt'] as const) {
  const config = tinyConfig(family, { numLayers: 1 });
  test(`${family} graph snapshot (plain)`, () => {
    assertSnapshot(snapshotModel(buildModelGraph(config, randomWeights(config))), snap(`${family}-plain`));
  });
  test(`${family} graph snapshot (every option)`, () => {
    assertSnapshot(snapshotModel(buildModelGraph(config, randomWeights(config), ALL)), snap(`${family}-all-options`));
  });
  test(`${family} graph: names are predictable`, () => {
    const m = buildModelGraph(config, randomWeights(config), ALL);
    const nodes = new Set(m.graph.nodes.map((n) => n.name));
    const proj = family === 'llama' ? 'q_proj' : 'q_proj';
    for (const n of [`/model/layers.0/attn/${proj}/MatMul`, `/model/layers.0/attn/${proj}/lora_A/MatMul`, '/lm_head/MatMul']) {
      assert.ok(nodes.has(n), `missing node ${n}`);
    }
    const outputs = m.graph.outputs.map((o) => o.name);
    assert.deepEqual(outputs.filter((o) => o.startsWith('attentions') || o.startsWith('hidden_states')), ['attentions.0', 'hidden_states.0']);
    validateModel(m);
  });
  test(`${family} graph: float16-stored weights match float32 within fp16 rounding`, async () => {
    const weights = randomWeights(config);
    const feeds = { input_ids: int64([1, 6], [1, 5, 9, 2, 7, 3]), position_ids: int64([1, 6], [0, 1, 2, 3, 4, 5]), attention_mask: int64([1, 6], [1, 1, 1, 1, 1, 1]) };
    const run = async (o: GraphOptions) => {
      const s = await createSession(buildModelGraph(config, weights, o));
      try { return (await s.run(feeds)).logits!.data as Float32Array; } finally { await s.release(); }
    };
    const f32 = await run({});
    const f16 = await run({ weightDtype: 'float16' });
    // Weights rounded to fp16 (rel. error <= 2^-11) perturb logits of this model by ~1e-3.
    assertClose(f16, f32, { atol: 5e-3, rtol: 5e-3, label: 'fp16-weight logits' });
    assert.ok(f16.some((v, i) => v !== f32[i]), 'fp16 path should differ at least by rounding');
  });
}
