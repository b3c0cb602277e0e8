// Recovery adapters in memory: the trained parameters of one method on a frozen base, with the
// base's shape they were made for (checked on load). METHODS.md section 2 defines each method;
// peft-format.ts writes and reads them in PEFT's folder layout.
import { RecallError } from '../errors.ts';
import type { DecoderConfig } from '../models/types.ts';

export type RecoveryMethod = 'lora' | 'prompt' | 'prefix' | 'idp';
export const RECOVERY_METHODS: readonly RecoveryMethod[] = ['lora', 'prompt', 'prefix', 'idp'];

/** The dimensions of the base an adapter was trained on. */
export interface BaseShape {
  /** base_model_name_or_path. */
  name: string;
  modelType: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Width of the token embeddings (a soft prompt's rows): hidden_size, or OPT's word_embed_proj_dim. */
  tokenDim: number;
  maxPositions: number;
}

export interface LoraAdapter {
  method: 'lora';
  rank: number;
  alpha: number;
  /** PEFT lora_dropout; Recall trains without dropout (0), see the README of recover/. */
  dropout: number;
  targets: string[];
  /** Module path (e.g. model.layers.0.self_attn.q_proj) -> A [rank, in], B [out, rank], row-major. */
  weights: Map<string, { A: Float32Array; B: Float32Array }>;
}

/** How a prompt was initialised (METHODS.md 2: random N(0,1), an init text, or the first n vocabulary rows). */
export type PromptInit = { kind: 'random' } | { kind: 'text'; text: string } | { kind: 'vocab' };

/**
 * How a prefix was initialised: PEFT's random N(0, 1) Embedding, or the key/values the frozen
 * base computes for an init text (repeated or cut to n tokens) at positions 0..n-1 (Li & Liang 2021).
 */
export type PrefixInit = Exclude<PromptInit, { kind: 'vocab' }>;

export interface PromptAdapter {
  method: 'prompt';
  numVirtualTokens: number;
  init: PromptInit;
  /** P [n, tokenDim]. */
  embeddings: Float32Array;
}

export interface PrefixAdapter {
  method: 'prefix';
  numVirtualTokens: number;
  /** Trained through the reparameterisation MLP (folded into `kv` afterwards). */
  reparam: boolean;
  encoderHiddenSize: number | null;
  /** The init it was trained from (recorded in recall.json; a PEFT folder without one reads as random). */
  init: PrefixInit;
  /** PEFT's prefix rows [n, layers * 2 * kvHeads * headDim]: per row, layer-major, key then value, head, dim. */
  kv: Float32Array;
}

export type IdpTraining = 'joint-hard' | 'independent';

export interface IdpAdapter {
  method: 'idp';
  numVirtualTokens: number;
  numPrompts: number;
  selLayer: number;
  training: IdpTraining;
  init: PromptInit;
  /** The pool [m * n, tokenDim]: prompt i is rows i*n .. i*n + n - 1. */
  pool: Float32Array;
}

export type AdapterParams = LoraAdapter | PromptAdapter | PrefixAdapter | IdpAdapter;
export type Adapter = AdapterParams & { base: BaseShape };

export function baseShapeOf(config: DecoderConfig, name: string): BaseShape {
  return {
    name, modelType: config.modelType, hiddenSize: config.hiddenSize, numLayers: config.numLayers, numHeads: config.numHeads,
    numKvHeads: config.numKvHeads, headDim: config.headDim, tokenDim: config.wordEmbedProjDim, maxPositions: config.maxPositions,
  };
}

/** [in, out] of a PEFT target module of a base (any layer). */
export function moduleDims(config: DecoderConfig, target: string): [number, number] {
  const { hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize: ff } = config;
  const dims: Record<string, [number, number]> = {
    q_proj: [h, numHeads * headDim], k_proj: [h, numKvHeads * headDim], v_proj: [h, numKvHeads * headDim],
    o_proj: [numHeads * headDim, h], out_proj: [h, h], gate_proj: [h, ff], up_proj: [h, ff], down_proj: [ff, h], fc1: [h, ff], fc2: [ff, h],
  };
  const d = dims[target];
  const family = config.family === 'opt' ? ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'] : ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  if (!d || !family.includes(target)) {
    throw new RecallError('E_INVALID_ARGUMENT', `LoRA target '${target}' is not a module of a ${config.modelType} model (${family.join(', ')})`, { field: 'target_modules', value: target });
  }
  return d;
}

/** The HF module path of a target in layer i. */
export function modulePath(config: DecoderConfig, layer: number, target: string): string {
  if (config.family === 'opt') return `model.decoder.layers.${layer}.${target.startsWith('fc') ? '' : 'self_attn.'}${target}`;
  const group = ['q_proj', 'k_proj', 'v_proj', 'o_proj'].includes(target) ? 'self_attn' : 'mlp';
  return `model.layers.${layer}.${group}.${target}`;
}

/** LoRA's extra parameters on a base: r * (in + out) per targeted module and layer. */
export function loraParameterCount(config: DecoderConfig, rank: number, targets: string[]): number {
  return config.numLayers * targets.reduce((sum, t) => { const [i, o] = moduleDims(config, t); return sum + rank * (i + o); }, 0);
}

/** Extra parameters an adapter adds at inference (METHODS.md 2: IDP counts m*n*hidden). */
export function extraParameters(a: Adapter): number {
  switch (a.method) {
    case 'lora': return [...a.weights.values()].reduce((s, w) => s + w.A.length + w.B.length, 0);
    case 'prompt': return a.embeddings.length;
    case 'prefix': return a.kv.length;
    case 'idp': return a.pool.length;
  }
}

export function positiveInt(field: string, v: number, min = 1): number {
  if (!Number.isSafeInteger(v) || v < min) throw new RecallError('E_INVALID_ARGUMENT', `${field} must be an integer >= ${min}, got ${v}`, { field, value: v });
  return v;
}
