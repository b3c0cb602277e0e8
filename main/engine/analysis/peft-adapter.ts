// Read a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) into the
// analysis adapter: LoRA weights (a graph edit), a prompt-tuning soft prompt, or prefix-tuning
// key/values. Shapes follow huggingface/peft (tuners/, peft_model.get_prompt):
//   LORA            base_model.model.{module}.lora_A.weight [r, in], .lora_B.weight [out, r]
//   PROMPT_TUNING   prompt_embeddings [n, embed]
//   PREFIX_TUNING   prompt_embeddings [n, layers * 2 * kvHeads * headDim] (projection folded away),
//                   viewed as [n, layers * 2, kvHeads, headDim] and permuted to
//                   [layers * 2, kvHeads, n, headDim]; entry 2l is layer l's keys, 2l + 1 its values.
//   IDP (Recall's, not PEFT)  the prompt pool, read by recover/peft-format.ts; analyze.ts runs
//                   IDP's selection per example and analyses it after the chosen prompt's KV.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import { openSafetensors } from '../models/safetensors.ts';
import type { DecoderConfig } from '../models/types.ts';
import { checkAdapterFits } from '../recover/adapter-fit.ts';
import { readAdapter } from '../recover/peft-format.ts';
import type { AnalysisAdapter } from './analyze.ts';

interface PeftConfig {
  peft_type?: string;
  r?: number;
  lora_alpha?: number;
  target_modules?: string[] | string;
  num_virtual_tokens?: number;
  prefix_projection?: boolean;
}

const LORA_NAME = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/;

export function readPeftAdapter(dir: string, config: DecoderConfig): AnalysisAdapter {
  const cfgFile = join(dir, 'adapter_config.json');
  const dataFile = join(dir, 'adapter_model.safetensors');
  for (const f of [cfgFile, dataFile]) if (!existsSync(f)) throw new RecallError('E_NOT_FOUND', `${f}: not found (expected a PEFT adapter folder)`, { file: f });
  let cfg: PeftConfig;
  try {
    cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as PeftConfig;
  } catch (e) {
    throw new RecallError('E_CONFIG_JSON', `${cfgFile}: ${(e as Error).message}`, { file: cfgFile });
  }
  if (cfg.peft_type === 'IDP') {
    const a = readAdapter(dir);
    checkAdapterFits(a, config, dir);
    if (a.method !== 'idp') throw new RecallError('E_CONFIG_FIELD', `${cfgFile}: peft_type IDP but not an IDP adapter`, { file: cfgFile });
    return { idp: { numVirtualTokens: a.numVirtualTokens, numPrompts: a.numPrompts, selLayer: a.selLayer, pool: a.pool } };
  }
  const weights = openSafetensors(dataFile);
  try {
    const type = cfg.peft_type;
    if (type === 'LORA') {
      const map = new Map<string, { A?: Float32Array; B?: Float32Array }>();
      for (const name of weights.names()) {
        const m = LORA_NAME.exec(name);
        if (!m) continue;
        const entry = map.get(m[1]!) ?? {};
        entry[m[2] as 'A' | 'B'] = weights.readFloat32(name);
        map.set(m[1]!, entry);
      }
      const incomplete = [...map].find(([, w]) => !w.A || !w.B);
      if (incomplete) throw new RecallError('E_MISSING_TENSOR', `${dataFile}: module ${incomplete[0]} has only one of lora_A / lora_B`, { file: dataFile });
      if (typeof cfg.r !== 'number' || typeof cfg.lora_alpha !== 'number') throw new RecallError('E_CONFIG_FIELD', `${cfgFile}: LoRA needs numeric r and lora_alpha`, { file: cfgFile });
      const targets = [...new Set([...map.keys()].map((k) => k.slice(k.lastIndexOf('.') + 1)))];
      return { lora: { targets, rank: cfg.r, alpha: cfg.lora_alpha, weights: new Map([...map].map(([k, w]) => [k, { A: w.A!, B: w.B! }])) } };
    }
    if (type !== 'PROMPT_TUNING' && type !== 'PREFIX_TUNING') {
      throw new RecallError('E_CONFIG_FIELD', `${cfgFile}: peft_type '${String(type)}' is not supported (LORA, PROMPT_TUNING, PREFIX_TUNING)`, { file: cfgFile });
    }
    if (!weights.has('prompt_embeddings')) throw new RecallError('E_MISSING_TENSOR', `${dataFile}: no 'prompt_embeddings' tensor`, { file: dataFile });
    const { shape } = weights.info('prompt_embeddings');
    const emb = weights.readFloat32('prompt_embeddings');
    if (type === 'PROMPT_TUNING') return { softPrompt: emb };
    // PEFT saves a projected prefix already folded (get_prompt_embedding_to_save): then
    // prompt_embeddings is [n, layers * 2 * kv width] whatever prefix_projection says.
    const folded = shape.length === 2 && shape[1] === config.numLayers * 2 * config.numKvHeads * config.headDim;
    if (cfg.prefix_projection && !folded) throw new RecallError('E_CONFIG_FIELD', `${cfgFile}: prefix_projection adapters are supported only with the MLP folded into prompt_embeddings`, { file: cfgFile });
    return { prefix: prefixFromEmbeddings(emb, shape, config, dataFile) };
  } finally {
    weights.close();
  }
}

/** PEFT's past_key_values layout of a prefix embedding [n, layers * 2 * kvHeads * headDim]. */
export function prefixFromEmbeddings(emb: Float32Array, shape: number[], config: DecoderConfig, file = 'prompt_embeddings'): { keys: Float32Array[]; values: Float32Array[] } {
  const { numLayers: L, numKvHeads: KV, headDim: D } = config;
  const width = L * 2 * KV * D;
  if (shape.length !== 2 || shape[1] !== width) {
    throw new RecallError('E_SHAPE_MISMATCH', `${file}: prefix embeddings of shape [${shape.join(', ')}], expected [n, ${width}] (${L} layers x 2 x ${KV} kv heads x ${D})`, { file });
  }
  const n = shape[0]!;
  const slot = (s: number) => {
    const out = new Float32Array(KV * n * D);
    for (let h = 0; h < KV; h++) for (let t = 0; t < n; t++) for (let d = 0; d < D; d++) out[(h * n + t) * D + d] = emb[t * width + (s * KV + h) * D + d]!;
    return out;
  };
  return { keys: Array.from({ length: L }, (_, l) => slot(2 * l)), values: Array.from({ length: L }, (_, l) => slot(2 * l + 1)) };
}
