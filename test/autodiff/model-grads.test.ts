// Whole-model gradients of the next-token loss from Recall's autodiff, against PyTorch 1.13
// autograd (scripts/oracles/grads.py) on every fixture model: w.r.t. all weights, a soft
// prompt, LoRA A and B, and prefix key/values. Tolerance per tensor:
// |ours - torch| <= 1e-4 * max|torch| + 1e-6 (float32; torch float32 vs float64 differ by ~1e-6 x max).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildGradientGraph, gradName } from '../../main/engine/autodiff/backward.ts';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { loadModelFolder, type ModelFolder } from '../../main/engine/models/folder.ts';
import type { GraphOptions } from '../../main/engine/models/graph-options.ts';
import { transpose2d } from '../../main/engine/models/graph-layers.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { type HostTensor, float32, int64 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';
import { FIXTURE_MODELS, fixtureDir, GradFixture } from '../helpers/model-fixtures.ts';


function compareGrad(actual: Float32Array, expected: Float32Array, label: string) {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(actual, expected, { atol: 1e-4 * scale + 1e-6, label });
}

for (const name of FIXTURE_MODELS) {
  describe(`gradients vs PyTorch: ${name}`, () => {
    let folder: ModelFolder;
    let fx: GradFixture;
    before(() => { folder = loadModelFolder(fixtureDir(name)); fx = new GradFixture(name); });
    after(() => folder.weights.close());

    async function run(caseName: string, options: GraphOptions, wrt: (params: string[]) => string[], extra: (inputs: Record<string, unknown>) => Record<string, HostTensor>) {
      const c = fx.json.cases[caseName]!;
      const forward = buildModelGraph(folder.config, folder.weights, { ...options, loss: true });
      const params = forward.graph.initializers.filter((t) => !t.name.startsWith('/')).map((t) => t.name);
      const targets = wrt(params);
      const graph = buildGradientGraph(forward, { loss: 'loss', wrt: targets, paramsAsInputs: false });
      const session = await createSession(graph);
      try {
        const ids = fx.ints(c.inputs.input_ids);
        const [B, T] = fx.shape(c.inputs.input_ids) as [number, number];
        const mask = fx.ints(c.inputs.attention_mask);
        const total = fx.shape(c.inputs.attention_mask)[1]!;
        const labels = fx.ints(c.inputs.labels);
        const positions = c.inputs.position_ids ? fx.ints(c.inputs.position_ids) : Array.from({ length: B * T }, (_, i) => i % T);
        const out = await session.run({
          input_ids: int64([B, T], ids),
          attention_mask: int64([B, total], mask),
          position_ids: int64([B, positions.length / B], positions),
          labels: int64([B, labels.length / B], labels),
          ...extra(c.inputs),
        });
        assertClose(out.loss!.data as Float32Array, [c.loss], { atol: 1e-5, label: 'loss' });
        return { out, c, targets };
      } finally {
        await session.release();
      }
    }

    test('all weights (tied embeddings get both uses)', async () => {
      const { out, c, targets } = await run('full', {}, (p) => p, () => ({}));
      const seen = new Set<string>();
      for (const [hf, e] of Object.entries(c.grads)) {
        const transposed = targets.includes(`${hf}.T`);
        const ours = transposed ? `${hf}.T` : hf;
        assert.ok(targets.includes(ours), `no trainable value for ${hf}`);
        seen.add(ours);
        let g = out[gradName(ours)]!.data as Float32Array;
        if (transposed) { const [rows, cols] = fx.shape(e) as [number, number]; g = transpose2d(g, cols, rows); }
        compareGrad(g, fx.floats(e), `d loss / d ${hf}`);
      }
      assert.equal(seen.size, targets.length, 'every graph weight has an oracle gradient');
    });

    test('soft prompt', async () => {
      const { out, c } = await run('soft_prompt', { softPrompt: true }, () => ['prompt_embeds'], (inputs) => {
        const p = fx.floats(inputs.soft_prompt);
        const [n, E] = fx.shape(inputs.soft_prompt) as [number, number];
        return { prompt_embeds: float32([2, n, E], [...p, ...p]) };
      });
      const g = out[gradName('prompt_embeds')]!.data as Float32Array;
      const half = g.length / 2;
      compareGrad(g.slice(0, half).map((v, i) => v + g[half + i]!), fx.floats(c.grads.soft_prompt), 'd loss / d P (summed over the batch)');
    });

    test('LoRA A and B on q_proj and v_proj', async () => {
      const c = fx.json.cases.lora!;
      const weights = new Map<string, { A: Float32Array; B: Float32Array }>();
      for (const [k, v] of Object.entries(c.inputs.tensors as Record<string, unknown>)) {
        const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(k)!;
        const entry = weights.get(m[1]!) ?? { A: new Float32Array(), B: new Float32Array() };
        entry[m[2] as 'A' | 'B'] = fx.floats(v);
        weights.set(m[1]!, entry);
      }
      const lora = { targets: ['q_proj', 'v_proj'], rank: c.inputs.r as number, alpha: c.inputs.lora_alpha as number, weights };
      const { out } = await run('lora', { lora }, (p) => p.filter((n) => n.includes('.lora_')), () => ({}));
      for (const [k, e] of Object.entries(c.grads)) {
        const ours = `${k.replace(/^base_model\.model\./, '')}.T`;
        const [rows, cols] = fx.shape(e) as [number, number];
        compareGrad(transpose2d(out[gradName(ours)]!.data as Float32Array, cols, rows), fx.floats(e), `d loss / d ${k}`);
      }
    });

    test('prefix key/values', async () => {
      const c = fx.json.cases.prefix!;
      const L = folder.config.numLayers;
      const names = Array.from({ length: L }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat();
      const { out } = await run('prefix', { pastKeyValues: true }, () => names, (inputs) => {
        const feeds: Record<string, HostTensor> = {};
        for (let l = 0; l < L; l++) {
          const k = (inputs.past_keys as unknown[])[l], v = (inputs.past_values as unknown[])[l];
          feeds[`past_key_values.${l}.key`] = float32(fx.shape(k), fx.floats(k));
          feeds[`past_key_values.${l}.value`] = float32(fx.shape(v), fx.floats(v));
        }
        return feeds;
      });
      for (let l = 0; l < L; l++) {
        compareGrad(out[gradName(`past_key_values.${l}.key`)]!.data as Float32Array, fx.floats(c.grads[`past_keys.${l}`]), `d loss / d past key ${l}`);
        compareGrad(out[gradName(`past_key_values.${l}.value`)]!.data as Float32Array, fx.floats(c.grads[`past_values.${l}`]), `d loss / d past value ${l}`);
      }
    });
  });
}
