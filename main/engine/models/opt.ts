// OPT decoder graph: learned positions with offset 2, pre- or post-LayerNorm per
// do_layer_norm_before, ReLU MLP, project_in/out when word_embed_proj_dim differs (opt-350m).
//
//   ids ─Gather(embed)─[concat prompt_embeds]─[project_in]─(+ positions[pos+2])─► h
//   per layer (pre-LN):  h ─LN─attn(q·d^-1/2)─out_proj─(+h) ─LN─fc2(relu(fc1))─(+h)─► h
//   per layer (post-LN): h ─attn─(+h)─LN ─fc2(relu(fc1))─(+h)─LN─► h
//   h ─[final LN]─[project_out]─lm_head─► logits

import { GraphBuilder } from '../onnx/builder.ts';
import type { Model } from '../onnx/ir.ts';
import type { DecoderConfig, WeightSource } from './types.ts';
import type { GraphOptions } from './graph-options.ts';
import {
  type LayerContext, attentionBias, attentionCore, layerNorm, linear, readWeight, splitHeads, transpose2d,
  weightInit, withPast,
} from './graph-layers.ts';
import { embedInputs, finishGraph } from './graph-io.ts';

/** OPT checkpoints name tensors model.decoder.* or (older exports) decoder.*. */
function optPrefix(weights: WeightSource): string {
  return weights.has('model.decoder.embed_tokens.weight') ? 'model.decoder' : 'decoder';
}

function projection(ctx: LayerContext, x: string, name: string): string {
  const [out, inp] = ctx.weights.info(`${name}.weight`).shape as [number, number];
  const wT = weightInit(ctx, `${name}.weight.T`, [inp, out], transpose2d(readWeight(ctx, `${name}.weight`), out, inp));
  return ctx.b.op1('MatMul', [x, wT], {}, { name: `/${name.replace(/^model\./, '').replace(/\./g, '/')}/MatMul` });
}

export function buildOptGraph(config: DecoderConfig, weights: WeightSource, options: GraphOptions = {}): Model {
  const b = new GraphBuilder('recall-opt');
  const ctx: LayerContext = { b, weights, options };
  const { hiddenSize: hidden, numHeads: heads, headDim } = config;
  const d = optPrefix(weights);
  const { h: tokens, positionIds, attentionMask, newLen, embedInit } = embedInputs(ctx, config, `${d}.embed_tokens.weight`);
  const projected = weights.has(`${d}.project_in.weight`) ? projection(ctx, tokens, `${d}.project_in`) : tokens;
  const posName = `${d}.embed_positions.weight`;
  const [posRows] = weights.info(posName).shape as [number, number];
  const posTable = weightInit(ctx, posName, [posRows, hidden], readWeight(ctx, posName));
  const shifted = b.op1('Add', [positionIds, b.scalar(2, 'int64')], {}, { name: '/model/embed_positions/Offset' });
  const pos = b.op1('Gather', [posTable, shifted], { axis: 0 }, { name: '/model/embed_positions/Gather' });
  let h = b.op1('Add', [projected, pos], {}, { name: '/model/embed/Add' });
  const bias = attentionBias(b, attentionMask, newLen);
  const preLN = config.doLayerNormBefore;
  for (let i = 0; i < config.numLayers; i++) {
    const p = `${d}.layers.${i}`;
    h = b.scope(`model/layers.${i}`, () => {
      const x = preLN ? layerNorm(ctx, h, `${p}.self_attn_layer_norm`, config.normEps, 'self_attn_layer_norm') : h;
      const attnOut = b.scope('attn', () => {
        const q = linear(ctx, x, `${p}.self_attn.q_proj`, 'q_proj', 'q_proj', true);
        const qs = b.op1('Mul', [q, b.scalar(headDim ** -0.5)], {}, { name: 'q/Scale' });
        const k = linear(ctx, x, `${p}.self_attn.k_proj`, 'k_proj', 'k_proj', true);
        const v = linear(ctx, x, `${p}.self_attn.v_proj`, 'v_proj', 'v_proj', true);
        const kv = withPast(b, i, splitHeads(b, k, heads, headDim, 'k/heads'), splitHeads(b, v, heads, headDim, 'v/heads'), !!options.pastKeyValues, heads, headDim);
        if (options.pastKeyValues) {
          b.output(kv.k, `present.${i}.key`);
          b.output(kv.v, `present.${i}.value`);
        }
        const core = attentionCore(b, splitHeads(b, qs, heads, headDim, 'q/heads'), kv.k, kv.v, bias, heads, heads, headDim, null);
        if (options.exposeAttentions) b.output(core.probs, `attentions.${i}`);
        return linear(ctx, core.context, `${p}.self_attn.out_proj`, 'out_proj', 'out_proj', true);
      });
      let h1 = b.op1('Add', [h, attnOut], {}, { name: 'attn_residual/Add' });
      if (!preLN) h1 = layerNorm(ctx, h1, `${p}.self_attn_layer_norm`, config.normEps, 'self_attn_layer_norm');
      const y = preLN ? layerNorm(ctx, h1, `${p}.final_layer_norm`, config.normEps, 'final_layer_norm') : h1;
      const mlpOut = b.scope('mlp', () => {
        const up = linear(ctx, y, `${p}.fc1`, 'fc1', 'fc1', true);
        const act = b.op1('Relu', [up], {}, { name: 'act/Relu' });
        return linear(ctx, act, `${p}.fc2`, 'fc2', 'fc2', true);
      });
      const h2 = b.op1('Add', [h1, mlpOut], {}, { name: 'mlp_residual/Add' });
      return preLN ? h2 : layerNorm(ctx, h2, `${p}.final_layer_norm`, config.normEps, 'final_layer_norm');
    });
    if (options.exposeHiddenStates) b.output(h, `hidden_states.${i}`);
  }
  let final = preLN && weights.has(`${d}.final_layer_norm.weight`) ? layerNorm(ctx, h, `${d}.final_layer_norm`, config.normEps, 'model/final_layer_norm') : h;
  if (weights.has(`${d}.project_out.weight`)) final = projection(ctx, final, `${d}.project_out`);
  const lmHead = config.tieWordEmbeddings || !weights.has('lm_head.weight')
    ? embedInit
    : weightInit(ctx, 'lm_head.weight', [config.vocabSize, config.wordEmbedProjDim], readWeight(ctx, 'lm_head.weight'));
  finishGraph(ctx, config, final, lmHead);
  return b.build({ model_type: 'opt', family: 'opt' });
}
