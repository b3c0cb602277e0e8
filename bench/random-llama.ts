// A random-weight LLaMA-style HF folder for benches that need a model bigger than the fixtures.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../main/engine/models/safetensors-write.ts';
import { randomFloats } from '../test/helpers/compare.ts';
import { fixtureDir } from '../test/helpers/model-fixtures.ts';

export const SIZES = {
  '29m': { vocab: 8000, hidden: 512, intermediate: 1536, layers: 8, heads: 8, kvHeads: 4 },
  '80m': { vocab: 8000, hidden: 768, intermediate: 2048, layers: 12, heads: 12, kvHeads: 4 },
  // The 29m model's layers, 32 deep as LLaMA-7B is: what grows with depth shows against it.
  '104m-deep': { vocab: 8000, hidden: 512, intermediate: 1536, layers: 32, heads: 8, kvHeads: 4 },
};
export type Size = (typeof SIZES)['29m'];

/** A random-weight LLaMA folder (float32, tied embeddings) with the tiny fixture's tokenizer; returns its weight bytes. */
export function writeRandomModel(dir: string, s: Size): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: s.hidden, intermediate_size: s.intermediate,
    num_attention_heads: s.heads, num_hidden_layers: s.layers, num_key_value_heads: s.kvHeads, rms_norm_eps: 1e-6, rope_theta: 10000,
    rope_scaling: null, max_position_embeddings: 512, tie_word_embeddings: true, vocab_size: s.vocab, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  }));
  copyFileSync(join(fixtureDir('tiny-llama'), 'tokenizer.json'), join(dir, 'tokenizer.json'));
  const H = s.hidden, kv = (s.kvHeads * H) / s.heads, I = s.intermediate;
  let seed = 1, bytes = 0;
  const t = (name: string, shape: number[], scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1), sd = seed++;
    bytes += 4 * n;
    return { name, dtype: 'float32' as const, shape, data: () => randomFloats(n, sd, scale).map((v) => v + offset) };
  };
  const tensors = [t('model.embed_tokens.weight', [s.vocab, H], 1)];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`, r = 1 / Math.sqrt(H);
    tensors.push(t(`${p}.self_attn.q_proj.weight`, [H, H], r), t(`${p}.self_attn.k_proj.weight`, [kv, H], r),
      t(`${p}.self_attn.v_proj.weight`, [kv, H], r), t(`${p}.self_attn.o_proj.weight`, [H, H], r),
      t(`${p}.mlp.gate_proj.weight`, [I, H], r), t(`${p}.mlp.up_proj.weight`, [I, H], r), t(`${p}.mlp.down_proj.weight`, [H, I], 1 / Math.sqrt(I)),
      t(`${p}.input_layernorm.weight`, [H], 0.1, 1), t(`${p}.post_attention_layernorm.weight`, [H], 0.1, 1));
  }
  tensors.push(t('model.norm.weight', [H], 0.1, 1));
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return bytes;
}
