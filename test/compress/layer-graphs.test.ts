// The compression driver's per-layer graphs: chaining the embedding cut and every layer
// graph reproduces the full model's hidden states, and each Gram output is X^T X of the rows
// the module really reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildLayerGraph } from '../../main/engine/compress/layer-graphs.ts';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { extractSubgraph } from '../../main/engine/onnx/subgraph.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { type HostTensor, float32, int64 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';
import { randomWeights, tinyConfig } from '../helpers/random-model.ts';

for (const family of ['llama', 'opt'] as const) {
  test(`${family}: embed cut + layer graphs chain to the full model's hidden states; Gram = X^T X`, async () => {
    const config = tinyConfig(family);
    const full = buildModelGraph(config, randomWeights(config), { exposeHiddenStates: true });
    const B = 2, T = 5;
    const common: Record<string, HostTensor> = {
      position_ids: int64([B, T], [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]),
      attention_mask: int64([B, T], new Array(B * T).fill(1)),
    };
    const ids = int64([B, T], [1, 5, 9, 12, 3, 1, 7, 7, 20, 33]);
    const whole = await createSession(full);
    const ref = await whole.run({ ...common, input_ids: ids });
    await whole.release();

    const layer0In = full.graph.nodes.find((n) => n.name === '/model/layers.0/attn_residual/Add')!.inputs[0]!;
    const embed = await createSession(extractSubgraph(full, { inputs: [], outputs: [layer0In] }));
    let h = (await embed.run({ ...common, input_ids: ids }))[layer0In]!;
    await embed.release();
    for (let i = 0; i < config.numLayers; i++) {
      const lg = buildLayerGraph(full, config, i);
      assert.deepEqual(lg.model.graph.inputs.map((x) => x.name).sort(), ['attention_mask', 'position_ids', lg.input].sort());
      const s = await createSession(lg.model);
      const out = await s.run({ ...common, [lg.input]: float32(h.dims, h.data as Float32Array) });
      // The Gram of the first module's input against X^T X of that input computed here.
      const m = lg.modules[0]!;
      const probe = await createSession(extractSubgraph(lg.model, { inputs: [lg.input], outputs: [m.input] }));
      const x = (await probe.run({ ...common, [lg.input]: float32(h.dims, h.data as Float32Array) }))[m.input]!.data as Float32Array;
      await probe.release();
      const xtx = new Float64Array(m.cols * m.cols);
      for (let r = 0; r < x.length / m.cols; r++) for (let a = 0; a < m.cols; a++) for (let c = 0; c < m.cols; c++) xtx[a * m.cols + c]! += x[r * m.cols + a]! * x[r * m.cols + c]!;
      assertClose(out[lg.gramOf.get(m.input)!]!.data as Float32Array, xtx, { atol: 1e-4, rtol: 1e-5, label: `layer ${i} gram of ${m.name}` });
      h = out[lg.output]!;
      await s.release();
      assertClose(h.data as Float32Array, ref[`hidden_states.${i}`]!.data as Float32Array, { atol: 1e-5, label: `layer ${i} output` });
      assert.equal(lg.modules.length, family === 'llama' ? 7 : 6);
    }
  });
}
