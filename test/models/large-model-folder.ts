// A synthetic LLaMA-style Hugging Face folder whose weights total several GB yet cost seconds
// to write: the token embedding (tied lm_head, almost all the bytes) repeats a random
// [period, hidden] block down its rows, so row v equals row v % period; the few layers are
// small random tensors. The same model with the vocabulary cut to `period` rows is the cheap
// reference: logits[t, v] of the big model equal logits[t, v % period] of the small one.
import { closeSync, copyFileSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryWeights } from '../../main/engine/models/memory-weights.ts';
import { randomFloats } from '../helpers/compare.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

export interface SyntheticLlama {
  vocab: number;
  /** Rows of the repeated embedding block; vocab must be a multiple of it. */
  period: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
}

export function syntheticConfig(s: SyntheticLlama, vocab = s.vocab): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', attention_bias: false, mlp_bias: false,
    bos_token_id: 1, eos_token_id: 2, hidden_size: s.hidden, intermediate_size: s.intermediate, max_position_embeddings: 256,
    num_attention_heads: s.heads, num_hidden_layers: s.layers, num_key_value_heads: s.kvHeads, rms_norm_eps: 1e-6,
    rope_scaling: null, rope_theta: 10000, tie_word_embeddings: true, torch_dtype: 'float32', vocab_size: vocab,
  };
}

/** Every tensor except the embedding, in file order, with deterministic values. */
function layerTensors(s: SyntheticLlama): { name: string; shape: number[]; data: () => Float32Array }[] {
  const H = s.hidden, hd = H / s.heads, kv = s.kvHeads * hd, I = s.intermediate;
  const out: { name: string; shape: number[]; data: () => Float32Array }[] = [];
  let seed = 10;
  const add = (name: string, shape: number[], scale: number) => {
    const n = shape.reduce((a, b) => a * b, 1), sd = seed++;
    out.push({ name, shape, data: () => randomFloats(n, sd, scale) });
  };
  const ones = (name: string) => {
    const sd = seed++;
    out.push({ name, shape: [H], data: () => randomFloats(H, sd, 0.1).map((v) => 1 + v) });
  };
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.self_attn.q_proj.weight`, [H, H], 1 / Math.sqrt(H));
    add(`${p}.self_attn.k_proj.weight`, [kv, H], 1 / Math.sqrt(H));
    add(`${p}.self_attn.v_proj.weight`, [kv, H], 1 / Math.sqrt(H));
    add(`${p}.self_attn.o_proj.weight`, [H, H], 1 / Math.sqrt(H));
    add(`${p}.mlp.gate_proj.weight`, [I, H], 1 / Math.sqrt(H));
    add(`${p}.mlp.up_proj.weight`, [I, H], 1 / Math.sqrt(H));
    add(`${p}.mlp.down_proj.weight`, [H, I], 1 / Math.sqrt(I));
    ones(`${p}.input_layernorm.weight`);
    ones(`${p}.post_attention_layernorm.weight`);
  }
  ones('model.norm.weight');
  return out;
}

const embedBlock = (s: SyntheticLlama) => randomFloats(s.period * s.hidden, 7, 1);

/** Bytes of the float32 weights (what the graph's initializers hold). */
export function syntheticWeightBytes(s: SyntheticLlama): number {
  return 4 * (s.vocab * s.hidden + layerTensors(s).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0));
}

/** Write config.json, tokenizer.json and model.safetensors (float32) into `dir`. */
export function writeSyntheticLlama(dir: string, s: SyntheticLlama): void {
  if (s.vocab % s.period !== 0) throw new Error(`vocab ${s.vocab} is not a multiple of period ${s.period}`);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(syntheticConfig(s)));
  copyFileSync(join(fixtureDir('tiny-llama'), 'tokenizer.json'), join(dir, 'tokenizer.json'));
  const layers = layerTensors(s);
  const entries = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden] }, ...layers];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const e of entries) {
    const bytes = 4 * e.shape.reduce((a, b) => a * b, 1);
    header[e.name] = { dtype: 'F32', shape: e.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  headerBytes.set(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  try {
    const write = (b: Uint8Array) => { let done = 0; while (done < b.length) done += writeSync(fd, b, done, b.length - done); };
    write(len);
    write(headerBytes);
    // The embedding: `vocab / period` copies of one block, written from a ~16 MB buffer.
    const block = new Uint8Array(embedBlock(s).buffer);
    const reps = Math.max(1, Math.floor((16 << 20) / block.byteLength));
    const big = new Uint8Array(block.byteLength * reps);
    for (let r = 0; r < reps; r++) big.set(block, r * block.byteLength);
    let rows = s.vocab / s.period;
    while (rows > 0) {
      const n = Math.min(reps, rows);
      write(big.subarray(0, n * block.byteLength));
      rows -= n;
    }
    for (const t of layers) { const d = t.data(); write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)); }
  } finally {
    closeSync(fd);
  }
}

/** The same model with the vocabulary cut to `period` rows, held in memory. */
export function slicedReference(s: SyntheticLlama): MemoryWeights {
  const w = new MemoryWeights([], 'sliced-reference');
  w.set('model.embed_tokens.weight', [s.period, s.hidden], embedBlock(s));
  for (const t of layerTensors(s)) w.set(t.name, t.shape, t.data());
  return w;
}
