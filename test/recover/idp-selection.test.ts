// IDP's selection (METHODS.md 2) against a reference computed from the full model's exposed
// attention maps: the m prompts' KV (each from its own soft-prompt pass) laid side by side as
// the past, the input after them at positions n.., attentions.{selLayer} read from the whole
// graph, and score_i = mean over heads, input tokens and prompt i's key positions, written
// here as plain loops. The selector runs a graph cut at that layer; scores and the choice must
// agree. Also: the prefix reparameterisation MLP's gradient against finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { ModelRunner, type Past } from '../../main/engine/models/runner.ts';
import { IdpSelector, pickPrompt, poolPast } from '../../main/engine/recover/idp-selector.ts';
import { MLP, initPrefixMlp, normal, prefixMlpBackward, prefixMlpForward } from '../../main/engine/recover/prefix-kv.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { type HostTensor, int64 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

for (const [name, selLayer] of [['tiny-llama', 0], ['tiny-llama', 1], ['tiny-opt', 1]] as const) {
  test(`IDP selection matches attentions.${selLayer} of the full graph: ${name}`, async () => {
    const folder = loadModelFolder(fixtureDir(name));
    const { config } = folder;
    const m = 3, n = 4, E = config.wordEmbedProjDim, L = config.numLayers;
    const kvRunner = await ModelRunner.create(buildModelGraph(config, folder.weights, { softPrompt: true, pastKeyValues: true, logits: 'last' }), config);
    const selector = await IdpSelector.create(config, folder.weights, selLayer);
    const full = await createSession(buildModelGraph(config, folder.weights, { pastKeyValues: true, exposeAttentions: true }));
    folder.weights.close();
    try {
      const pool: Past[] = [];
      for (let i = 0; i < m; i++) pool.push(await kvRunner.promptPast(normal(n * E, 100 + i, 0.5 + i), n));
      const rows = [[1, 7, 83, 56, 48, 7], [1, 63, 17, 89, 41, 41], [1, 5, 5, 5, 9, 12]];
      const B = rows.length, T = 6, total = m * n + T;
      const feeds: Record<string, HostTensor> = {
        input_ids: int64([B, T], rows.flat()), position_ids: int64([B, T], rows.flatMap(() => [0, 1, 2, 3, 4, 5].map((t) => n + t))),
        attention_mask: int64([B, total], new Array<number>(B * total).fill(1)),
      };
      for (let l = 0; l < L; l++) { feeds[`past_key_values.${l}.key`] = poolPast(pool, l, 'keys', B); feeds[`past_key_values.${l}.value`] = poolPast(pool, l, 'values', B); }
      const attn = (await full.run(feeds))[`attentions.${selLayer}`]!;
      const A = attn.data as Float32Array, H = config.numHeads;
      assert.deepEqual(attn.dims, [B, H, T, total]);
      const reference = rows.map((_, b) => Array.from({ length: m }, (_, i) => {
        const cells: number[] = [];
        for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) cells.push(A[b * H * T * total + h * T * total + t * total + i * n + j]!);
        return cells.reduce((s, v) => s + v, 0) / cells.length;
      }));
      const scores = await selector.scores(rows, pool);
      assertClose(scores.flat(), reference.flat(), { atol: 1e-6, label: 'scores' });
      const choices = scores.map(pickPrompt);
      assert.deepEqual(choices, reference.map((r) => r.indexOf(Math.max(...r))));
      // The pool's KV placed side by side must be each prompt's own KV (prompt i at i*n..).
      const k0 = feeds['past_key_values.0.key']!.data as Float32Array, own = pool[1]!.keys[0]!.data as Float32Array;
      const D = config.headDim;
      assert.deepEqual(Array.from(k0.subarray(n * D, 2 * n * D)), Array.from(own.subarray(0, n * D)));
    } finally {
      await kvRunner.release(); await selector.release(); await full.release();
    }
  });
}

test('prefix reparameterisation MLP: backward equals central finite differences', () => {
  const n = 3, d = 4, hidden = 5, out = 6;
  const params = initPrefixMlp(n, d, hidden, out, 9);
  const w = normal(n * out, 11); // loss = sum(w * rows)
  const loss = (p: Map<string, Float32Array>) => { const r = prefixMlpForward(p, n, d, hidden, out).rows; return r.reduce((s, v, i) => s + v * w[i]!, 0); };
  const grads = prefixMlpBackward(params, prefixMlpForward(params, n, d, hidden, out), w, n, d, hidden, out);
  for (const name of Object.values(MLP)) {
    const p = params.get(name)!;
    for (const i of [0, p.length >> 1, p.length - 1]) {
      const keep = p[i]!, h = 1e-2;
      p[i] = keep + h; const up = loss(params);
      p[i] = keep - h; const down = loss(params);
      p[i] = keep;
      const fd = (up - down) / (2 * h);
      assert.ok(Math.abs(fd - grads.get(name)![i]!) <= 2e-3 * Math.max(1, Math.abs(fd)), `${name}[${i}]: fd ${fd} vs ${grads.get(name)![i]}`);
    }
  }
});
