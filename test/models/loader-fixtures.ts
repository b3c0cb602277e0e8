// Synthetic Hugging Face model folders for the loader tests: tiny LLaMA and OPT configs whose
// tensors are written with writeSafetensors, plus a raw writer for malformed files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDecoderConfig } from '../../main/engine/models/config.ts';
import { writeSafetensors, type TensorToWrite } from '../../main/engine/models/safetensors-write.ts';
import { expectedTensors } from '../../main/engine/models/tensor-layout.ts';
import { randomFloats } from '../helpers/compare.ts';

export function tempDir(prefix = 'recall-loader-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A safetensors file from a header given verbatim (object or raw string) and data bytes. */
export function writeRawSafetensors(file: string, header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: number): void {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(lengthOverride ?? json.length), true);
  const out = new Uint8Array(8 + json.length + data.length);
  out.set(len);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  writeFileSync(file, out);
}

export const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 11, hidden_size: 8, intermediate_size: 12,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32,
  rms_norm_eps: 1e-5, torch_dtype: 'float32',
};

export const TINY_OPT = {
  model_type: 'opt', architectures: ['OPTForCausalLM'], vocab_size: 13, hidden_size: 8, ffn_dim: 16,
  num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 6, word_embed_proj_dim: 4,
  do_layer_norm_before: true, torch_dtype: 'float16',
};

/**
 * Write config.json and model.safetensors holding every tensor the config implies (random
 * values). `rename` maps stored names (OPT's prefix-less checkpoints), `reshape` plants a bad
 * shape, `omit` drops tensors.
 */
export function writeModelFolder(dir: string, config: Record<string, unknown>, o: { rename?: (n: string) => string; reshape?: Record<string, number[]>; omit?: string[]; dtype?: 'float32' | 'bfloat16' } = {}): TensorToWrite[] {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const parsed = parseDecoderConfig(config);
  const tensors: TensorToWrite[] = expectedTensors(parsed)
    .filter((t) => !t.optional && !o.omit?.includes(t.name))
    .map((t, i) => {
      const shape = o.reshape?.[t.name] ?? t.shape;
      const values = randomFloats(shape.reduce((a, b) => a * b, 1), 100 + i);
      const dtype = o.dtype ?? 'float32';
      // bfloat16: the top 16 bits of each float32 (truncation is fine for test data).
      const data = dtype === 'float32' ? values : Uint16Array.from(new Uint32Array(values.buffer), (u) => u >>> 16);
      return { name: o.rename ? o.rename(t.name) : t.name, dtype, shape, data };
    });
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return tensors;
}
