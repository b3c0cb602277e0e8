// Adapters on disk in PEFT's folder layout, so a user can take them to PEFT and bring PEFT's
// adapters here:
//   adapter_config.json          PEFT's config (peft_type LORA | PROMPT_TUNING | PREFIX_TUNING,
//                                task_type CAUSAL_LM, r / lora_alpha / target_modules, or
//                                num_virtual_tokens / token_dim / num_layers / num_attention_heads)
//   adapter_model.safetensors    PEFT's tensor names: base_model.model.<module>.lora_A.weight [r, in],
//                                .lora_B.weight [out, r]; prompt_embeddings [n, token_dim] (prompt);
//                                prompt_embeddings [n, num_layers * 2 * token_dim] (prefix, folded)
//   recall.json                  what PEFT does not record: the method, base shape, init (prompt,
//                                prefix, IDP), training
// IDP (not a PEFT method) uses the same two files with peft_type "IDP": prompt_embeddings
// [m * n, token_dim] (prompt i = rows i*n..i*n+n-1) and num_prompts, sel_layer, idp_training,
// idp_selection in adapter_config.json. Prefix with GQA follows PEFT (#1901): token_dim =
// kv_heads * head_dim and num_attention_heads = kv_heads.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import { openSafetensors } from '../models/safetensors.ts';
import { writeSafetensors } from '../models/safetensors-write.ts';
import type { Adapter, BaseShape, PromptInit } from './adapter.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const RECALL_INFO = 'recall.json';
const LORA_NAME = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

type Json = Record<string, unknown>;

function peftInit(init: PromptInit): Json {
  return init.kind === 'text' ? { prompt_tuning_init: 'TEXT', prompt_tuning_init_text: init.text } : { prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null };
}

/** PEFT's adapter_config.json for an adapter. */
export function peftConfig(a: Adapter): Json {
  const common = { base_model_name_or_path: a.base.name, task_type: 'CAUSAL_LM', inference_mode: true, revision: null };
  const prompts = { num_transformer_submodules: 1, num_layers: a.base.numLayers, tokenizer_name_or_path: a.base.name };
  switch (a.method) {
    case 'lora':
      return {
        ...common, peft_type: 'LORA', r: a.rank, lora_alpha: a.alpha, lora_dropout: a.dropout, target_modules: a.targets,
        bias: 'none', fan_in_fan_out: false, init_lora_weights: true, modules_to_save: null, use_rslora: false, use_dora: false,
      };
    case 'prompt':
      return { ...common, ...prompts, peft_type: 'PROMPT_TUNING', num_virtual_tokens: a.numVirtualTokens, token_dim: a.base.tokenDim, num_attention_heads: a.base.numHeads, ...peftInit(a.init) };
    case 'prefix':
      return {
        ...common, ...prompts, peft_type: 'PREFIX_TUNING', num_virtual_tokens: a.numVirtualTokens, token_dim: a.base.numKvHeads! * a.base.headDim!,
        num_attention_heads: a.base.numKvHeads, prefix_projection: a.reparam, encoder_hidden_size: a.encoderHiddenSize,
      };
    case 'idp':
      return {
        ...common, ...prompts, peft_type: 'IDP', num_virtual_tokens: a.numVirtualTokens, token_dim: a.base.tokenDim, num_attention_heads: a.base.numHeads,
        num_prompts: a.numPrompts, sel_layer: a.selLayer, idp_training: a.training, idp_selection: 'hard-top1-mean-attention', ...peftInit(a.init),
      };
  }
}

function tensorsOf(a: Adapter): { name: string; shape: number[]; data: Float32Array }[] {
  const n = 'numVirtualTokens' in a ? a.numVirtualTokens : 0;
  switch (a.method) {
    case 'lora':
      return [...a.weights].sort(([x], [y]) => (x < y ? -1 : 1)).flatMap(([module, w]) => [
        { name: `base_model.model.${module}.lora_A.weight`, shape: [a.rank, w.A.length / a.rank], data: w.A },
        { name: `base_model.model.${module}.lora_B.weight`, shape: [w.B.length / a.rank, a.rank], data: w.B },
      ]);
    case 'prompt': return [{ name: 'prompt_embeddings', shape: [n, a.embeddings.length / n], data: a.embeddings }];
    case 'prefix': return [{ name: 'prompt_embeddings', shape: [n, a.kv.length / n], data: a.kv }];
    case 'idp': return [{ name: 'prompt_embeddings', shape: [a.numPrompts * n, a.pool.length / (a.numPrompts * n)], data: a.pool }];
  }
}

/** Write an adapter folder (files replaced atomically, one by one). */
export function writeAdapter(dir: string, a: Adapter, info: Json = {}): void {
  mkdirSync(dir, { recursive: true });
  const put = (file: string, write: (tmp: string) => void) => { const tmp = join(dir, `${file}.tmp`); write(tmp); renameSync(tmp, join(dir, file)); };
  put(ADAPTER_WEIGHTS, (tmp) => writeSafetensors(tmp, tensorsOf(a).map((t) => ({ ...t, dtype: 'float32' as const })), { format: 'pt' }));
  put(ADAPTER_CONFIG, (tmp) => writeFileSync(tmp, `${JSON.stringify(peftConfig(a), null, 2)}\n`));
  const init = 'init' in a ? a.init : undefined;
  put(RECALL_INFO, (tmp) => writeFileSync(tmp, `${JSON.stringify({ producedBy: 'recall tune', method: a.method, base: a.base, ...(init ? { init } : {}), ...info }, null, 2)}\n`));
}

const invalid = (dir: string, field: string, why: string) => new RecallError('E_INVALID_ARGUMENT', `${dir}: adapter ${field} ${why}`, { file: dir, field });

function num(dir: string, c: Json, field: string, min = 1): number {
  const v = c[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(dir, field, `must be an integer >= ${min} (got ${JSON.stringify(v)})`);
  return v;
}

/** Read an adapter folder written by Recall or by PEFT (LoRA, prompt tuning, prefix tuning) or Recall's IDP. */
export function readAdapter(dir: string): Adapter {
  const cfgPath = join(dir, ADAPTER_CONFIG), weightsPath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(cfgPath)) throw new RecallError('E_NOT_FOUND', `${dir}: no ${ADAPTER_CONFIG} (not an adapter folder)`, { file: cfgPath });
  if (!existsSync(weightsPath)) throw new RecallError('E_NOT_FOUND', `${dir}: no ${ADAPTER_WEIGHTS}`, { file: weightsPath });
  let c: Json;
  try { c = JSON.parse(readFileSync(cfgPath, 'utf8')) as Json; } catch (e) { throw new RecallError('E_INVALID_ARGUMENT', `${cfgPath}: not JSON (${(e as Error).message})`, { file: cfgPath }); }
  const recall = existsSync(join(dir, RECALL_INFO)) ? JSON.parse(readFileSync(join(dir, RECALL_INFO), 'utf8')) as Json : {};
  const base = { name: String(c.base_model_name_or_path ?? ''), ...(recall.base as Partial<BaseShape> | undefined) } as BaseShape;
  if (c.task_type !== undefined && c.task_type !== 'CAUSAL_LM') throw invalid(dir, 'task_type', `is ${JSON.stringify(c.task_type)}; Recall runs CAUSAL_LM adapters`);
  const w = openSafetensors(weightsPath);
  try {
    const tensor = (name: string) => { if (!w.has(name)) throw new RecallError('E_MISSING_TENSOR', `${weightsPath}: no tensor '${name}'`, { file: weightsPath, tensor: name }); return { data: w.readFloat32(name), shape: w.info(name).shape }; };
    const init = (recall.init as PromptInit | undefined) ?? (c.prompt_tuning_init === 'TEXT' ? { kind: 'text' as const, text: String(c.prompt_tuning_init_text ?? '') } : { kind: 'random' as const });
    const promptRows = (rows: number, field: string) => {
      const t = tensor('prompt_embeddings');
      if (t.shape.length !== 2 || t.shape[0] !== rows) throw invalid(dir, field, `says ${rows} rows but prompt_embeddings is [${t.shape}]`);
      return t;
    };
    // A PEFT folder without recall.json: the base's shape as far as PEFT's fields tell it.
    if (c.num_layers !== undefined) base.numLayers ??= c.num_layers as number;
    if (c.token_dim !== undefined && c.peft_type !== 'PREFIX_TUNING') base.tokenDim ??= c.token_dim as number;
    switch (c.peft_type) {
      case 'LORA': {
        const rank = num(dir, c, 'r');
        const weights = new Map<string, { A: Float32Array; B: Float32Array }>();
        for (const name of w.names()) {
          const m = LORA_NAME.exec(name);
          if (!m) continue;
          const e = weights.get(m[1]!) ?? { A: new Float32Array(), B: new Float32Array() };
          const t = tensor(name);
          if (t.shape[m[2] === 'A' ? 0 : 1] !== rank) throw invalid(dir, 'r', `is ${rank} but ${name} is [${t.shape}]`);
          e[m[2] as 'A' | 'B'] = t.data;
          weights.set(m[1]!, e);
        }
        if (weights.size === 0) throw invalid(dir, 'weights', `hold no LoRA tensors (base_model.model.<module>.lora_A.weight)`);
        const targets = Array.isArray(c.target_modules) ? c.target_modules.map(String) : [...new Set([...weights.keys()].map((k) => k.split('.').at(-1)!))];
        return { method: 'lora', base, rank, alpha: typeof c.lora_alpha === 'number' ? c.lora_alpha : rank, dropout: Number(c.lora_dropout ?? 0), targets, weights };
      }
      case 'PROMPT_TUNING': {
        const n = num(dir, c, 'num_virtual_tokens');
        return { method: 'prompt', base, numVirtualTokens: n, init, embeddings: promptRows(n, 'num_virtual_tokens').data };
      }
      case 'PREFIX_TUNING': {
        const n = num(dir, c, 'num_virtual_tokens'), layers = num(dir, c, 'num_layers');
        const kvDim = num(dir, c, 'token_dim'), kvHeads = num(dir, c, 'num_attention_heads');
        const t = promptRows(n, 'num_virtual_tokens');
        if (t.shape[1] !== 2 * layers * kvDim) throw invalid(dir, 'token_dim', `${kvDim} x 2 x num_layers ${layers} does not match prompt_embeddings [${t.shape}]`);
        if (c.prefix_projection === true && c.inference_mode === false) throw invalid(dir, 'prefix_projection', 'is true with inference_mode false: save the adapter from PEFT (which folds the projection) first');
        base.numKvHeads ??= kvHeads;
        base.headDim ??= kvDim / kvHeads;
        // PEFT records no prefix init; Recall's recall.json does (random or text).
        const prefixInit = init.kind === 'text' ? init : { kind: 'random' as const };
        return { method: 'prefix', base, numVirtualTokens: n, reparam: c.prefix_projection === true, encoderHiddenSize: (c.encoder_hidden_size as number | null) ?? null, init: prefixInit, kv: t.data };
      }
      case 'IDP': {
        const n = num(dir, c, 'num_virtual_tokens'), m = num(dir, c, 'num_prompts');
        const selLayer = num(dir, c, 'sel_layer', 0);
        const training = c.idp_training === 'independent' ? 'independent' : 'joint-hard';
        return { method: 'idp', base, numVirtualTokens: n, numPrompts: m, selLayer, training, init, pool: promptRows(m * n, 'num_virtual_tokens x num_prompts').data };
      }
      default:
        throw invalid(dir, 'peft_type', `is ${JSON.stringify(c.peft_type)}; Recall reads LORA, PROMPT_TUNING, PREFIX_TUNING and IDP`);
    }
  } finally {
    w.close();
  }
}
