// Recall's LLaMA-family and OPT graphs against the independent PyTorch oracle
// (scripts/oracles/models.py): logits, every layer's hidden state, the final hidden state and
// every attention map, plain and right-padded, with a soft prompt, with prefix key/values
// (and the present key/values), and with a LoRA branch whose B is non-zero.
// Tolerance: max abs diff <= 1e-4 in float32 (stated by the models issue).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadModelFolder, type ModelFolder } from '../../main/engine/models/folder.ts';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import type { GraphOptions } from '../../main/engine/models/graph-options.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { type HostTensor, float32, int64 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';
import { FIXTURE_MODELS, OracleFixture, fixtureDir } from '../helpers/model-fixtures.ts';

const ATOL = 1e-4;
const EXPOSE: GraphOptions = { exposeHiddenStates: true, exposeAttentions: true };

/** Position ids as each family's HF model derives them (see the fixtures' README). */
function positions(family: string, mask: number[], batch: number, total: number, past: number): number[] {
  const T = total - past;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    let cum = 0;
    const row = mask.slice(b * total, (b + 1) * total).map((m) => { cum += m; return family === 'opt' ? cum * m - 1 : 0; });
    for (let t = 0; t < T; t++) out.push(family === 'opt' ? row[past + t]! : past + t);
  }
  return out;
}

/** Keep only the positions where the mask is 1, [B, T, ...] flattened with `inner` per position. */
function masked(data: Float32Array, mask: number[] | undefined, inner: number): Float32Array {
  if (!mask) return data;
  return data.filter((_, i) => mask[Math.floor(i / inner)] === 1);
}

for (const name of FIXTURE_MODELS) {
  describe(`oracle: ${name}`, () => {
    let folder: ModelFolder;
    let fx: OracleFixture;
    before(() => { folder = loadModelFolder(fixtureDir(name)); fx = new OracleFixture(name); });
    after(() => folder.weights.close());

    async function runCase(caseName: string, options: GraphOptions, extraFeeds: (c: ReturnType<OracleFixture['case']>) => Record<string, HostTensor> = () => ({})) {
      const c = fx.case(caseName);
      const ids = fx.tensor(c.inputs.input_ids);
      const maskT = fx.tensor(c.inputs.attention_mask);
      const mask = Array.from(maskT.data as BigInt64Array, Number);
      const [B, T] = ids.shape as [number, number];
      const total = maskT.shape[1]!;
      const past = (c.inputs.past_length as number | undefined) ?? 0;
      const model = buildModelGraph(folder.config, folder.weights, { ...EXPOSE, ...options });
      const session = await createSession(model);
      try {
        const out = await session.run({
          input_ids: int64([B, T], Array.from(ids.data as BigInt64Array, Number)),
          position_ids: int64([B, total - past], positions(folder.config.family, mask, B, total, past)),
          attention_mask: int64([B, total], mask),
          ...extraFeeds(c),
        });
        return { c, out, mask: caseName === 'padded' ? mask : undefined };
      } finally {
        await session.release();
      }
    }

    function compareForward(r: Awaited<ReturnType<typeof runCase>>, label: string) {
      const { c, out, mask } = r;
      const o = c.outputs;
      const V = folder.config.vocabSize;
      const layers = o.layer_outputs as unknown[];
      const hidden = fx.tensor(layers[1]).shape.at(-1)!;
      assertClose(masked(out.logits!.data as Float32Array, mask, V), masked(fx.floats(o.logits), mask, V), { atol: ATOL, label: `${label} logits` });
      for (let i = 0; i < folder.config.numLayers; i++) {
        assertClose(masked(out[`hidden_states.${i}`]!.data as Float32Array, mask, hidden), masked(fx.floats(layers[i + 1]), mask, hidden), { atol: ATOL, label: `${label} hidden_states.${i}` });
        const att = (o.attentions as unknown[])[i];
        const [, H, Tq, K] = fx.tensor(att).shape as number[];
        // padded: compare attention rows of real query positions only
        const rowMask = mask ? Array.from({ length: mask.length / Tq * Tq }, (_, k) => k) : undefined;
        const a = out[`attentions.${i}`]!.data as Float32Array;
        const e = fx.floats(att);
        if (!rowMask) assertClose(a, e, { atol: ATOL, label: `${label} attentions.${i}` });
        else {
          const keep = (idx: number) => { const b = Math.floor(idx / (H! * Tq! * K!)); const q = Math.floor(idx / K!) % Tq!; return mask![b * Tq! + q] === 1; };
          assertClose(a.filter((_, k) => keep(k)), e.filter((_, k) => keep(k)), { atol: ATOL, label: `${label} attentions.${i}` });
        }
      }
      const fh = fx.tensor(o.final_hidden);
      assertClose(masked(out.final_hidden!.data as Float32Array, mask, fh.shape.at(-1)!), masked(fh.data as Float32Array, mask, fh.shape.at(-1)!), { atol: ATOL, label: `${label} final_hidden` });
    }

    test('plain: logits, hidden states, attentions', async () => compareForward(await runCase('plain', {}), 'plain'));
    test('padded (right padding): real positions match', async () => compareForward(await runCase('padded', {}), 'padded'));

    test('soft prompt before the token embeddings', async () => {
      const r = await runCase('soft_prompt', { softPrompt: true }, (c) => {
        const p = fx.tensor(c.inputs.soft_prompt);
        const [n, E] = p.shape as [number, number];
        const B = fx.tensor(c.inputs.input_ids).shape[0]!;
        const rep = new Float32Array(B * n * E);
        for (let b = 0; b < B; b++) rep.set(p.data as Float32Array, b * n * E);
        return { prompt_embeds: float32([B, n, E], rep) };
      });
      compareForward(r, 'soft_prompt');
    });

    test('prefix key/values: outputs and present key/values', async () => {
      const r = await runCase('prefix', { pastKeyValues: true }, (c) => {
        const feeds: Record<string, HostTensor> = {};
        (c.inputs.past_keys as unknown[]).forEach((k, i) => {
          const kt = fx.tensor(k);
          feeds[`past_key_values.${i}.key`] = float32(kt.shape, kt.data as Float32Array);
          const vt = fx.tensor((c.inputs.past_values as unknown[])[i]);
          feeds[`past_key_values.${i}.value`] = float32(vt.shape, vt.data as Float32Array);
        });
        return feeds;
      });
      compareForward(r, 'prefix');
      for (let i = 0; i < folder.config.numLayers; i++) {
        assertClose(r.out[`present.${i}.key`]!.data as Float32Array, fx.floats((r.c.outputs.present_keys as unknown[])[i]), { atol: ATOL, label: `present.${i}.key` });
        assertClose(r.out[`present.${i}.value`]!.data as Float32Array, fx.floats((r.c.outputs.present_values as unknown[])[i]), { atol: ATOL, label: `present.${i}.value` });
      }
    });

    test('LoRA on q_proj and v_proj with non-zero B', async () => {
      const c = fx.case('lora');
      const weights = new Map<string, { A: Float32Array; B: Float32Array }>();
      for (const [k, v] of Object.entries(c.inputs.tensors as Record<string, unknown>)) {
        const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(k);
        assert.ok(m, `unexpected LoRA tensor name ${k}`);
        const entry = weights.get(m[1]!) ?? { A: new Float32Array(), B: new Float32Array() };
        entry[m[2] as 'A' | 'B'] = fx.floats(v);
        weights.set(m[1]!, entry);
      }
      const lora = { targets: ['q_proj', 'v_proj'], rank: c.inputs.r as number, alpha: c.inputs.lora_alpha as number, weights };
      compareForward(await runCase('lora', { lora }), 'lora');
    });

    test('float16-stored weights: logits within the float16 tolerance (atol 1e-2)', async () => {
      // Weights rounded to float16 (relative error <= 2^-11), math in float32.
      const r = await runCase('plain', { weightDtype: 'float16' });
      const d = assertClose(r.out.logits!.data as Float32Array, fx.floats(r.c.outputs.logits), { atol: 1e-2, label: 'fp16 logits' });
      console.log(`# ${name} float16 weights: max abs logit diff ${d.maxAbs.toExponential(2)}`);
    });

    test('log-probabilities and argmax per position', async () => {
      const r = await runCase('logprobs', { logprobs: true });
      assertClose(r.out.logprobs!.data as Float32Array, fx.floats(r.c.outputs.log_softmax), { atol: ATOL, label: 'log_softmax' });
    });
  });
}
