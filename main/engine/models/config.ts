// Hugging Face config.json -> DecoderConfig, with the defaults each transformers config class
// applies when a field is absent (LlamaConfig, MistralConfig, Qwen2Config, OPTConfig in
// transformers 4.4x). Fields that fix tensor shapes (hidden_size, num_hidden_layers, ...) are
// required here even where transformers has a default: a silently defaulted 4096 would only
// surface later as a confusing shape mismatch.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import type { DecoderConfig, ModelFamily, RopeScaling } from './types.ts';

export const SUPPORTED_MODEL_TYPES: Readonly<Record<string, ModelFamily>> = {
  llama: 'llama', mistral: 'llama', qwen2: 'llama', opt: 'opt',
};

type Json = Record<string, unknown>;

/** Typed field access that names the file and the field in every error. */
class Fields {
  constructor(readonly file: string, readonly json: Json) {}

  private bad(field: string, want: string): never {
    throw new RecallError('E_CONFIG_FIELD', `${this.file}: field '${field}' must be ${want}, got ${JSON.stringify(this.json[field])}`, { file: this.file, field });
  }

  present(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  int(field: string, fallback?: number): number {
    if (!this.present(field)) {
      if (fallback === undefined) throw new RecallError('E_CONFIG_FIELD', `${this.file}: missing field '${field}'`, { file: this.file, field });
      return fallback;
    }
    const v = this.json[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) this.bad(field, 'a positive integer');
    return v;
  }

  num(field: string, fallback?: number): number {
    if (!this.present(field)) {
      if (fallback === undefined) throw new RecallError('E_CONFIG_FIELD', `${this.file}: missing field '${field}'`, { file: this.file, field });
      return fallback;
    }
    const v = this.json[field];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.bad(field, 'a number');
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    if (!this.present(field)) return fallback;
    const v = this.json[field];
    if (typeof v !== 'boolean') this.bad(field, 'true or false');
    return v;
  }

  str(field: string, fallback: string): string {
    if (!this.present(field)) return fallback;
    const v = this.json[field];
    if (typeof v !== 'string') this.bad(field, 'a string');
    return v;
  }

  /** Token id fields: an integer, a list of integers (eos in LLaMA 3), or null. */
  ids(field: string): number[] | null {
    if (!this.present(field)) return null;
    const v = this.json[field];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) this.bad(field, 'a token id or a list of token ids');
    return list as number[];
  }
}

/**
 * Parse a config.json object (and, when given, generation_config.json, whose bos/eos are
 * the ones generation uses) into a DecoderConfig. `file` names config.json in errors.
 */
export function parseDecoderConfig(json: unknown, file = 'config.json', generation?: unknown): DecoderConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RecallError('E_CONFIG_JSON', `${file}: not a JSON object`, { file });
  }
  const f = new Fields(file, json as Json);
  const modelType = f.str('model_type', '');
  const family = SUPPORTED_MODEL_TYPES[modelType];
  if (!family) {
    const supported = Object.keys(SUPPORTED_MODEL_TYPES).join(', ');
    throw new RecallError('E_CONFIG_MODEL_TYPE', `${file}: model_type '${modelType || '(missing)'}' is not supported (supported: ${supported})`, { file, field: 'model_type', modelType });
  }
  const base = family === 'opt' ? parseOpt(f) : parseLlamaFamily(f, modelType);
  const ids = tokenIds(f, generation, family);
  return { ...base, ...ids, modelType, torchDtype: f.present('torch_dtype') ? f.str('torch_dtype', '') : f.present('dtype') ? f.str('dtype', '') : null };
}

type Shape = Omit<DecoderConfig, 'modelType' | 'bosTokenId' | 'eosTokenIds' | 'padTokenId' | 'torchDtype'>;

function headDim(f: Fields, hidden: number, heads: number): number {
  if (f.present('head_dim')) return f.int('head_dim');
  if (hidden % heads !== 0) {
    throw new RecallError('E_CONFIG_FIELD', `${f.file}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads} and no head_dim is given`, { file: f.file, field: 'head_dim' });
  }
  return hidden / heads;
}

// Defaults differing between the three LLaMA-family classes (transformers configuration_*.py).
const LLAMA_DEFAULTS: Record<string, { maxPositions: number; kvHeads: number | null; slidingWindow: number | null }> = {
  llama: { maxPositions: 2048, kvHeads: null, slidingWindow: null },
  mistral: { maxPositions: 4096 * 32, kvHeads: 8, slidingWindow: 4096 },
  qwen2: { maxPositions: 32768, kvHeads: 32, slidingWindow: null },
};

function parseLlamaFamily(f: Fields, modelType: string): Shape {
  const d = LLAMA_DEFAULTS[modelType]!;
  const hiddenSize = f.int('hidden_size');
  const numHeads = f.int('num_attention_heads');
  const numKvHeads = f.int('num_key_value_heads', d.kvHeads ?? numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new RecallError('E_CONFIG_FIELD', `${f.file}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`, { file: f.file, field: 'num_key_value_heads' });
  }
  const { theta, scaling } = parseRope(f);
  // qwen2 always has q/k/v bias and never an o_proj bias; llama's attention_bias covers all four.
  const attentionBias = modelType === 'qwen2' ? true : modelType === 'llama' ? f.bool('attention_bias', false) : false;
  const outputBias = modelType === 'llama' ? attentionBias : false;
  let slidingWindow: number | null = null;
  if (modelType === 'mistral') slidingWindow = f.json.sliding_window === null ? null : f.int('sliding_window', d.slidingWindow!);
  if (modelType === 'qwen2' && f.bool('use_sliding_window', false)) slidingWindow = f.int('sliding_window', 4096);
  return {
    family: 'llama',
    vocabSize: f.int('vocab_size'),
    hiddenSize,
    intermediateSize: f.int('intermediate_size'),
    numLayers: f.int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim: headDim(f, hiddenSize, numHeads),
    maxPositions: f.int('max_position_embeddings', d.maxPositions),
    normEps: f.num('rms_norm_eps', 1e-6),
    ropeTheta: theta,
    ropeScaling: scaling,
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    attentionBias,
    outputBias,
    mlpBias: modelType === 'llama' ? f.bool('mlp_bias', false) : false,
    doLayerNormBefore: true,
    wordEmbedProjDim: hiddenSize,
    activation: f.str('hidden_act', 'silu'),
    slidingWindow,
  };
}

/** rope_theta and rope_scaling, also accepting transformers 5's combined rope_parameters. */
function parseRope(f: Fields): { theta: number; scaling: RopeScaling | null } {
  const params = f.json.rope_parameters;
  const field = params !== undefined && params !== null ? 'rope_parameters' : 'rope_scaling';
  const raw = f.json[field];
  let theta = f.num('rope_theta', 10000);
  if (raw === undefined || raw === null) return { theta, scaling: null };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RecallError('E_CONFIG_ROPE_SCALING', `${f.file}: field '${field}' must be an object or null`, { file: f.file, field });
  }
  const r = new Fields(`${f.file} (${field})`, raw as Json);
  if (field === 'rope_parameters') theta = r.num('rope_theta', theta);
  const type = r.str('rope_type', r.str('type', 'default'));
  if (type === 'default') return { theta, scaling: null };
  if (type === 'linear') return { theta, scaling: { type: 'linear', factor: r.num('factor') } };
  if (type === 'llama3') {
    return {
      theta,
      scaling: {
        type: 'llama3',
        factor: r.num('factor'),
        lowFreqFactor: r.num('low_freq_factor'),
        highFreqFactor: r.num('high_freq_factor'),
        originalMaxPositions: r.int('original_max_position_embeddings'),
      },
    };
  }
  throw new RecallError('E_CONFIG_ROPE_SCALING', `${f.file}: field '${field}' has rope type '${type}', which Recall does not support (supported: default, linear, llama3)`, { file: f.file, field, ropeType: type });
}

function parseOpt(f: Fields): Shape {
  const hiddenSize = f.int('hidden_size');
  const numHeads = f.int('num_attention_heads');
  const doLayerNormBefore = f.bool('do_layer_norm_before', true);
  // OPTConfig knobs whose other value changes which tensors exist; no released OPT uses them.
  if (f.bool('_remove_final_layer_norm', false)) unsupported(f, '_remove_final_layer_norm', true);
  if (!f.bool('layer_norm_elementwise_affine', true)) unsupported(f, 'layer_norm_elementwise_affine', false);
  const bias = f.bool('enable_bias', true);
  return {
    family: 'opt',
    vocabSize: f.int('vocab_size'),
    hiddenSize,
    intermediateSize: f.int('ffn_dim'),
    numLayers: f.int('num_hidden_layers'),
    numHeads,
    numKvHeads: numHeads,
    headDim: headDim(f, hiddenSize, numHeads),
    maxPositions: f.int('max_position_embeddings', 2048),
    normEps: 1e-5, // nn.LayerNorm's default; OPTConfig has no eps field
    ropeTheta: 10000,
    ropeScaling: null,
    // PretrainedConfig's default, which OPTConfig does not override.
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    attentionBias: bias,
    outputBias: bias,
    mlpBias: bias,
    doLayerNormBefore,
    wordEmbedProjDim: f.int('word_embed_proj_dim', hiddenSize),
    activation: f.str('activation_function', 'relu'),
    slidingWindow: null,
  };
}

function unsupported(f: Fields, field: string, value: unknown): never {
  throw new RecallError('E_CONFIG_FIELD', `${f.file}: field '${field}' = ${JSON.stringify(value)} is not supported`, { file: f.file, field });
}

// Defaults of the config classes: LlamaConfig/MistralConfig bos 1 eos 2, OPTConfig bos 2
// eos 2 pad 1, Qwen2Config none (its checkpoints always write them).
const ID_DEFAULTS: Record<ModelFamily | 'qwen2', { bos: number | null; eos: number | null; pad: number | null }> = {
  llama: { bos: 1, eos: 2, pad: null },
  qwen2: { bos: null, eos: null, pad: null },
  opt: { bos: 2, eos: 2, pad: 1 },
};

function tokenIds(f: Fields, generation: unknown, family: ModelFamily): Pick<DecoderConfig, 'bosTokenId' | 'eosTokenIds' | 'padTokenId'> {
  const d = ID_DEFAULTS[f.json.model_type === 'qwen2' ? 'qwen2' : family];
  const g = typeof generation === 'object' && generation !== null ? new Fields(f.file.replace(/config\.json$/, 'generation_config.json'), generation as Json) : null;
  const pick = (field: string, fallback: number | null): number[] => {
    const fromGen = g?.ids(field);
    if (fromGen) return fromGen;
    const fromConfig = f.ids(field);
    if (fromConfig) return fromConfig;
    // An explicit null means "none", not "the class default".
    return f.json[field] === null || fallback === null ? [] : [fallback];
  };
  return { bosTokenId: pick('bos_token_id', d.bos)[0] ?? null, eosTokenIds: pick('eos_token_id', d.eos), padTokenId: pick('pad_token_id', d.pad)[0] ?? null };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RecallError('E_CONFIG_JSON', `${file}: not valid JSON (${(e as Error).message})`, { file }, { cause: e });
  }
}

/** Read <dir>/config.json and, when present, <dir>/generation_config.json. */
export function readDecoderConfig(dir: string): DecoderConfig {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new RecallError('E_NOT_FOUND', `${file}: file not found (is ${dir} a Hugging Face model folder?)`, { file });
  const genFile = join(dir, 'generation_config.json');
  return parseDecoderConfig(readJson(file), file, existsSync(genFile) ? readJson(genFile) : undefined);
}
