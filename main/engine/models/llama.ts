// LLaMA-family decoder graph (llama, mistral, qwen2; covers LLaMA 1/2/3, SmolLM, TinyLlama):
// token embedding, RMSNorm, rotary embeddings, grouped-query attention, SwiGLU MLP,
// tied or untied lm_head, q/k/v bias where qwen2 has it.
//
//   ids ─Gather(embed)─[concat prompt_embeds]─► h
//   per layer:  h ─RMSNorm─q/k/v─RoPE(q,k)─attention(+past)─o_proj─(+h)─► h
//               h ─RMSNorm─down(silu(gate)·up)─(+h)─► h        (hidden_states.i)
//   h ─RMSNorm─lm_head─► logits

import { GraphBuilder } from '../onnx/builder.ts';
import type { Model } from '../onnx/ir.ts';
import type { DecoderConfig, WeightSource } from './types.ts';
import type { GraphOptions } from './graph-options.ts';
import {
  type LayerContext, applyRotary, attentionBias, attentionCore, linear, rmsNorm,
  rotaryTables, splitHeads, storedWeight, withPast,
} from './graph-layers.ts';
import { rotaryInvFreq } from './rope.ts';
import { embedInputs, finishGraph } from './graph-io.ts';

export function buildLlamaGraph(config: DecoderConfig, weights: WeightSource, options: GraphOptions = {}): Model {
  const b = new GraphBuilder(`recall-${config.modelType}`);
  const ctx: LayerContext = { b, weights, options };
  const { hiddenSize: hidden, numHeads: heads, numKvHeads: kvHeads, headDim } = config;
  const embedName = 'model.embed_tokens.weight';
  const { h: h0, positionIds, attentionMask, newLen, embedInit } = embedInputs(ctx, config, embedName);
  const bias = attentionBias(b, attentionMask, newLen);
  const rot = rotaryTables(b, positionIds, rotaryInvFreq(config));
  let h = h0;
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    h = b.scope(`model/layers.${i}`, () => {
      const x = rmsNorm(ctx, h, `${p}.input_layernorm.weight`, config.normEps, 'input_layernorm');
      const attnOut = b.scope('attn', () => {
        const q = linear(ctx, x, `${p}.self_attn.q_proj`, 'q_proj', 'q_proj', config.attentionBias);
        const k = linear(ctx, x, `${p}.self_attn.k_proj`, 'k_proj', 'k_proj', config.attentionBias);
        const v = linear(ctx, x, `${p}.self_attn.v_proj`, 'v_proj', 'v_proj', config.attentionBias);
        const qh = applyRotary(b, splitHeads(b, q, heads, headDim, 'q/heads'), rot, headDim, 'q/rotary');
        const kh = applyRotary(b, splitHeads(b, k, kvHeads, headDim, 'k/heads'), rot, headDim, 'k/rotary');
        const vh = splitHeads(b, v, kvHeads, headDim, 'v/heads');
        const kv = withPast(b, i, kh, vh, !!options.pastKeyValues, kvHeads, headDim);
        if (options.pastKeyValues) {
          b.output(kv.k, `present.${i}.key`);
          b.output(kv.v, `present.${i}.value`);
        }
        const core = attentionCore(b, qh, kv.k, kv.v, bias, heads, kvHeads, headDim, 1 / Math.sqrt(headDim));
        if (options.exposeAttentions) b.output(core.probs, `attentions.${i}`);
        return linear(ctx, core.context, `${p}.self_attn.o_proj`, 'o_proj', 'o_proj', config.outputBias);
      });
      const h1 = b.op1('Add', [h, attnOut], {}, { name: 'attn_residual/Add' });
      const y = rmsNorm(ctx, h1, `${p}.post_attention_layernorm.weight`, config.normEps, 'post_attention_layernorm');
      const mlpOut = b.scope('mlp', () => {
        const gate = linear(ctx, y, `${p}.mlp.gate_proj`, 'gate_proj', 'gate_proj', config.mlpBias);
        const up = linear(ctx, y, `${p}.mlp.up_proj`, 'up_proj', 'up_proj', config.mlpBias);
        const act = b.op1('Mul', [gate, b.op1('Sigmoid', [gate], {}, { name: 'act/Sigmoid' })], {}, { name: 'act/SiLU' });
        const gated = b.op1('Mul', [act, up], {}, { name: 'gate/Mul' });
        return linear(ctx, gated, `${p}.mlp.down_proj`, 'down_proj', 'down_proj', config.mlpBias);
      });
      return b.op1('Add', [h1, mlpOut], {}, { name: 'mlp_residual/Add' });
    });
    if (options.exposeHiddenStates) b.output(h, `hidden_states.${i}`);
  }
  const final = rmsNorm(ctx, h, 'model.norm.weight', config.normEps, 'model/norm');
  const lmHead = config.tieWordEmbeddings || !weights.has('lm_head.weight')
    ? embedInit
    : storedWeight(ctx, 'lm_head.weight', [config.vocabSize, hidden]);
  finishGraph(ctx, config, final, lmHead);
  return b.build({ model_type: config.modelType, family: 'llama' });
}
