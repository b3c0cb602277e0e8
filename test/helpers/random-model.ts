// Small random-weight models held in memory, for tests that need a model but not an oracle
// (consistency of KV reuse, scoring paths, graph snapshots).
import { MemoryWeights } from '../../main/engine/models/memory-weights.ts';
import type { DecoderConfig } from '../../main/engine/models/types.ts';
import { randomFloats } from './compare.ts';

export function tinyConfig(family: 'llama' | 'opt', over: Partial<DecoderConfig> = {}): DecoderConfig {
  return {
    family, modelType: family, vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numLayers: 2,
    numHeads: 4, numKvHeads: family === 'opt' ? 4 : 2, headDim: 4, maxPositions: 64, normEps: family === 'opt' ? 1e-5 : 1e-6,
    ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: true, attentionBias: false, outputBias: false,
    mlpBias: false, doLayerNormBefore: true, wordEmbedProjDim: 16, activation: family === 'opt' ? 'relu' : 'silu',
    slidingWindow: null, bosTokenId: 1, eosTokenIds: [2], padTokenId: family === 'opt' ? 1 : null, torchDtype: 'float32',
    ...over,
  };
}

export function randomWeights(c: DecoderConfig, seed = 1, scale = 0.3): MemoryWeights {
  const w = new MemoryWeights([], 'random-model');
  let s = seed;
  const add = (name: string, shape: number[]) => w.set(name, shape, randomFloats(shape.reduce((a, b) => a * b, 1), s++, scale));
  const ones = (name: string, n: number) => w.set(name, [n], randomFloats(n, s++, 0.1).map((v) => 1 + v));
  const H = c.hiddenSize, kv = c.numKvHeads * c.headDim, I = c.intermediateSize;
  if (c.family === 'llama') {
    add('model.embed_tokens.weight', [c.vocabSize, H]);
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}`;
      add(`${p}.self_attn.q_proj.weight`, [c.numHeads * c.headDim, H]);
      add(`${p}.self_attn.k_proj.weight`, [kv, H]);
      add(`${p}.self_attn.v_proj.weight`, [kv, H]);
      add(`${p}.self_attn.o_proj.weight`, [H, c.numHeads * c.headDim]);
      add(`${p}.mlp.gate_proj.weight`, [I, H]);
      add(`${p}.mlp.up_proj.weight`, [I, H]);
      add(`${p}.mlp.down_proj.weight`, [H, I]);
      ones(`${p}.input_layernorm.weight`, H);
      ones(`${p}.post_attention_layernorm.weight`, H);
    }
    ones('model.norm.weight', H);
    if (!c.tieWordEmbeddings) add('lm_head.weight', [c.vocabSize, H]);
    return w;
  }
  const d = 'model.decoder';
  add(`${d}.embed_tokens.weight`, [c.vocabSize, H]);
  add(`${d}.embed_positions.weight`, [c.maxPositions + 2, H]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `${d}.layers.${i}`;
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) { add(`${p}.self_attn.${m}.weight`, [H, H]); add(`${p}.self_attn.${m}.bias`, [H]); }
    add(`${p}.fc1.weight`, [I, H]); add(`${p}.fc1.bias`, [I]);
    add(`${p}.fc2.weight`, [H, I]); add(`${p}.fc2.bias`, [H]);
    for (const ln of ['self_attn_layer_norm', 'final_layer_norm']) { ones(`${p}.${ln}.weight`, H); add(`${p}.${ln}.bias`, [H]); }
  }
  ones(`${d}.final_layer_norm.weight`, H); add(`${d}.final_layer_norm.bias`, [H]);
  return w;
}
