// Recomputation per decoder layer (buildGradientGraph's checkpointLayers, autodiff/recompute.ts):
// the gradients equal the kept-activation ones and PyTorch's (scripts/oracles/grads.py fixtures,
// as in model-grads.test.ts), and structurally no gradient op reads a value made inside a
// checkpointed layer except that layer's outputs; each layer is recomputed once, after the
// backward ops of the layers above it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildGradientGraph, gradName } from '../../main/engine/autodiff/backward.ts';
import { layerScopes } from '../../main/engine/autodiff/recompute.ts';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { loadModelFolder, type ModelFolder } from '../../main/engine/models/folder.ts';
import type { GraphOptions } from '../../main/engine/models/graph-options.ts';
import { transpose2d } from '../../main/engine/models/graph-layers.ts';
import type { Model } from '../../main/engine/onnx/ir.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { ModelGradient } from '../../main/engine/tune/model-gradient.ts';
import { type HostTensor, float32, int64 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';
import { type GradCase, fixtureDir, GradFixture } from '../helpers/model-fixtures.ts';


const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * Every forward value made inside a layer segment that a node outside the segment reads in the
 * FORWARD graph is one of the layer's outputs; the rest are its interior values.
 */
function interiorValues(forward: Model): Map<string, string> {
  const segOf = new Map<string, string>(); // value -> segment that makes it
  for (const n of forward.graph.nodes) {
    const s = layerScopes(n.name);
    if (s) for (const o of n.outputs) if (o) segOf.set(o, s);
  }
  const outputs = new Set(forward.graph.outputs.map((o) => o.name));
  for (const n of forward.graph.nodes) {
    const s = layerScopes(n.name);
    for (const i of n.inputs) if (segOf.has(i) && segOf.get(i) !== s) outputs.add(i);
  }
  for (const o of outputs) segOf.delete(o);
  return segOf;
}

for (const name of ['tiny-llama', 'tiny-opt', 'tiny-qwen2', 'tiny-opt350'] as const) {
  describe(`checkpointed layers: ${name}`, () => {
    let folder: ModelFolder;
    let fx: GradFixture;
    before(() => { folder = loadModelFolder(fixtureDir(name)); fx = new GradFixture(name); });
    after(() => folder.weights.close());

    function feeds(c: GradCase): Record<string, HostTensor> {
      const ids = fx.ints(c.inputs.input_ids);
      const [B, T] = fx.shape(c.inputs.input_ids) as [number, number];
      const total = fx.shape(c.inputs.attention_mask)[1]!;
      const labels = fx.ints(c.inputs.labels);
      const positions = c.inputs.position_ids ? fx.ints(c.inputs.position_ids) : Array.from({ length: B * T }, (_, i) => i % T);
      return {
        input_ids: int64([B, T], ids),
        attention_mask: int64([B, total], fx.ints(c.inputs.attention_mask)),
        position_ids: int64([B, positions.length / B], positions),
        labels: int64([B, labels.length / B], labels),
      };
    }

    async function gradients(graph: Model, f: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
      const session = await createSession(graph);
      try { return await session.run(f); } finally { await session.release(); }
    }

    test('all weights: the same gradients as without checkpointing, and as PyTorch', async () => {
      const c = fx.cases.full!;
      const forward = buildModelGraph(folder.config, folder.weights, { loss: true });
      const targets = forward.graph.initializers.filter((t) => !t.name.startsWith('/')).map((t) => t.name);
      const plain = await gradients(buildGradientGraph(forward, { loss: 'loss', wrt: targets, paramsAsInputs: false }), feeds(c));
      const ckpt = await gradients(buildGradientGraph(forward, { loss: 'loss', wrt: targets, paramsAsInputs: false, checkpointLayers: true }), feeds(c));
      assertClose(ckpt.loss!.data as Float32Array, [c.loss], { atol: 1e-5, label: 'loss' });
      assert.equal((ckpt.loss!.data as Float32Array)[0], (plain.loss!.data as Float32Array)[0], 'the forward pass is the same graph');
      let worst = 0;
      for (const [hf, e] of Object.entries(c.grads)) {
        const transposed = targets.includes(`${hf}.T`);
        const ours = transposed ? `${hf}.T` : hf;
        const a = ckpt[gradName(ours)]!.data as Float32Array, p = plain[gradName(ours)]!.data as Float32Array;
        // Recomputing runs the same ops on the same inputs: equal up to ORT's kernel choices (<= 1e-6 of the scale).
        const scale = maxAbs(p);
        worst = Math.max(worst, assertClose(a, p, { atol: 1e-6 * Math.max(scale, 1), label: `checkpointed vs kept d loss / d ${hf}` }).maxAbs / Math.max(scale, 1));
        const g = transposed ? transpose2d(a, ...(fx.shape(e).slice().reverse() as [number, number])) : a;
        const expected = fx.floats(e);
        assertClose(g, expected, { atol: 1e-4 * maxAbs(expected) + 1e-6, label: `checkpointed d loss / d ${hf} vs torch` });
      }
      assert.ok(worst <= 1e-6, `largest difference to the kept-activation gradients ${worst} of their scale`);
      if (process.env.RECALL_CHECKPOINT_DIFF) console.log(`${name}: checkpointed vs kept, largest |diff| / max(max|g|, 1) = ${worst}`);
    });

    test('structure: no gradient op reads a layer\'s interior values; each layer is recomputed once, after the layers above', () => {
      const forward = buildModelGraph(folder.config, folder.weights, { loss: true });
      const targets = forward.graph.initializers.filter((t) => !t.name.startsWith('/')).map((t) => t.name);
      const g = buildGradientGraph(forward, { loss: 'loss', wrt: targets, checkpointLayers: true });
      const interior = interiorValues(forward);
      assert.ok(interior.size > 0);
      const forwardNames = new Set(forward.graph.nodes.map((n) => n.name));
      const added = g.graph.nodes.filter((n) => !forwardNames.has(n.name));
      const readers = added.filter((n) => n.inputs.some((i) => interior.has(i)));
      assert.deepEqual(readers.map((n) => `${n.name} reads ${n.inputs.filter((i) => interior.has(i)).join(', ')}`), [],
        'backward and recompute nodes read only layer inputs and outputs from the forward pass');
      // Forward nodes that use interior values are all inside their own layer.
      for (const n of forward.graph.nodes) for (const i of n.inputs) if (interior.has(i)) assert.equal(layerScopes(n.name), interior.get(i), `${n.name} reads ${i}`);

      const L = folder.config.numLayers;
      const nodeAt = new Map(g.graph.nodes.map((n, k) => [n.name, k]));
      let previousEnd = -1;
      for (let l = L - 1; l >= 0; l--) {
        const seg = `/model/layers.${l}/`;
        const copies = g.graph.nodes.filter((n) => n.name.startsWith(`/recompute${seg}`) && !n.name.includes('/barrier/'));
        assert.ok(copies.length > 0, `layer ${l} is recomputed`);
        // Once: every copy is of a distinct forward node of that layer, and the matmuls whose inputs the rules read are there.
        const originals = copies.map((n) => n.name.slice('/recompute'.length));
        assert.equal(new Set(originals).size, originals.length);
        for (const o of originals) assert.ok(forwardNames.has(o) && o.startsWith(seg), `${o} is a forward node of layer ${l}`);
        assert.ok(copies.filter((n) => n.opType === 'MatMul').length >= 4, `layer ${l}: the projections' inputs are recomputed`);
        // Copies sit right before the layer's gradient ops, after those of layer l+1.
        const firstCopy = Math.min(...copies.map((n) => nodeAt.get(n.name)!));
        const grads = g.graph.nodes.filter((n) => n.name.startsWith(`/grad${seg}`)).map((n) => nodeAt.get(n.name)!);
        assert.ok(firstCopy > previousEnd, `layer ${l} is recomputed after the gradient ops of layer ${l + 1}`);
        assert.ok(firstCopy < Math.min(...grads), `layer ${l} is recomputed before its gradient ops`);
        previousEnd = Math.max(...grads);
      }
      // Only the layers are recomputed.
      assert.deepEqual(g.graph.nodes.filter((n) => n.name.startsWith('/recompute/') && !n.name.startsWith('/recompute/model/layers.')).map((n) => n.name), []);
    });

    if (name === 'tiny-llama' || name === 'tiny-opt') {
      test('prefix key/values (graph inputs read inside the layers) and LoRA: same gradients as without checkpointing', async () => {
        const L = folder.config.numLayers;
        const c = fx.cases.prefix!;
        const forward = buildModelGraph(folder.config, folder.weights, { pastKeyValues: true, loss: true } satisfies GraphOptions);
        const names = Array.from({ length: L }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat();
        const f = feeds(c);
        for (let l = 0; l < L; l++) {
          const k = (c.inputs.past_keys as unknown[])[l], v = (c.inputs.past_values as unknown[])[l];
          f[`past_key_values.${l}.key`] = float32(fx.shape(k), fx.floats(k));
          f[`past_key_values.${l}.value`] = float32(fx.shape(v), fx.floats(v));
        }
        const plain = await gradients(buildGradientGraph(forward, { loss: 'loss', wrt: names }), f);
        const ckpt = await gradients(buildGradientGraph(forward, { loss: 'loss', wrt: names, checkpointLayers: true }), f);
        for (const n of names) {
          const p = plain[gradName(n)]!.data as Float32Array;
          assertClose(ckpt[gradName(n)]!.data as Float32Array, p, { atol: 1e-6 * Math.max(maxAbs(p), 1), label: `d loss / d ${n}` });
        }
        for (let l = 0; l < L; l++) {
          assertClose(ckpt[gradName(`past_key_values.${l}.key`)]!.data as Float32Array, fx.floats(c.grads[`past_keys.${l}`]), { atol: 1e-4 * maxAbs(fx.floats(c.grads[`past_keys.${l}`])) + 1e-6, label: `past key ${l} vs torch` });
        }

        const lc = fx.cases.lora!;
        const weights = new Map<string, { A: Float32Array; B: Float32Array }>();
        for (const [k, v] of Object.entries(lc.inputs.tensors as Record<string, unknown>)) {
          const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(k)!;
          const entry = weights.get(m[1]!) ?? { A: new Float32Array(), B: new Float32Array() };
          entry[m[2] as 'A' | 'B'] = fx.floats(v);
          weights.set(m[1]!, entry);
        }
        const lora = { targets: ['q_proj', 'v_proj'], rank: lc.inputs.r as number, alpha: lc.inputs.lora_alpha as number, weights };
        const lf = buildModelGraph(folder.config, folder.weights, { lora, loss: true });
        const lw = lf.graph.initializers.map((t) => t.name).filter((n) => n.includes('.lora_'));
        const lp = await gradients(buildGradientGraph(lf, { loss: 'loss', wrt: lw, paramsAsInputs: false }), feeds(lc));
        const lk = await gradients(buildGradientGraph(lf, { loss: 'loss', wrt: lw, paramsAsInputs: false, checkpointLayers: true }), feeds(lc));
        for (const n of lw) {
          const p = lp[gradName(n)]!.data as Float32Array;
          assertClose(lk[gradName(n)]!.data as Float32Array, p, { atol: 1e-6 * Math.max(maxAbs(p), 1), label: `d loss / d ${n}` });
        }
      });
    }
  });
}

describe('recompute option', () => {
  test('recompute.scopes with the layer rule is checkpointLayers; only what the rules read is recomputed', () => {
    const folder = loadModelFolder(fixtureDir('tiny-llama'));
    try {
      const forward = buildModelGraph(folder.config, folder.weights, { loss: true });
      const wrt = ['model.layers.0.mlp.down_proj.weight.T'];
      const a = buildGradientGraph(forward, { loss: 'loss', wrt, checkpointLayers: true });
      const b = buildGradientGraph(forward, { loss: 'loss', wrt, recompute: { scopes: layerScopes } });
      assert.deepEqual(a.graph.nodes.map((n) => n.name), b.graph.nodes.map((n) => n.name));
      // Only layer 0's down_proj gradient is wanted: layer 1's backward only passes gradients
      // through, and layer 0 recomputes just what down_proj's weight gradient reads (its input).
      const copies = a.graph.nodes.filter((n) => n.name.startsWith('/recompute/') && !n.name.includes('/barrier/'));
      assert.ok(copies.every((n) => !n.name.includes('/down_proj/')), 'the output of down_proj itself is not needed');
      assert.ok(copies.some((n) => n.name === '/recompute/model/layers.0/mlp/gate/Mul'), 'down_proj\'s input is recomputed');
    } finally {
      folder.weights.close();
    }
  });
});

describe('ModelGradient checkpointLayers', () => {
  test('the training bridge (extended optimization, parameters as inputs) gives the same loss and gradients with it', async () => {
    const folder = loadModelFolder(fixtureDir('tiny-llama'));
    const [B, T] = [2, 5];
    const ids = Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 7) % 50));
    const batch = { inputs: ids, labels: Int32Array.from(ids, (v, i) => (i % T === T - 1 ? -100 : ids[i + 1]!)), batchSize: B, seqLen: T, sequences: [0, 1] };
    const plain = await ModelGradient.create(folder.config, folder.weights, { trainable: 'all', threads: 1 });
    const ckpt = await ModelGradient.create(folder.config, folder.weights, { trainable: 'all', threads: 1, checkpointLayers: true });
    folder.weights.close();
    try {
      const [a, b] = [await plain.gradient(batch), await ckpt.gradient(batch)];
      assert.equal(b.loss, a.loss);
      assert.deepEqual([...b.grads.keys()], [...a.grads.keys()]);
      for (const [n, g] of a.grads) assertClose(b.grads.get(n)!, g, { atol: 1e-6 * Math.max(maxAbs(g), 1), label: `grad ${n}` });
    } finally {
      await plain.release();
      await ckpt.release();
    }
  });
});
