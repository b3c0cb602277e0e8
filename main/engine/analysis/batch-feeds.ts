// Feeds for one right-padded batch of token sequences, with an optional soft prompt
// (prompt_embeds) and prefix (past_key_values), laid out as the graph options describe
// (graph-options.ts):
//   input_ids      [batch, seq]                 right-padded with padId
//   prompt_embeds  [batch, n, embed]            the same prompt for every row
//   position_ids   [batch, n + seq]             past + j (padded positions repeat the last real one)
//   attention_mask [batch, p + n + seq]         1 for prefix, prompt and real tokens, 0 for padding
//   past_key_values.{l}.key|value [batch, kvHeads, p, headDim]

import { RecallError } from '../errors.ts';
import type { DecoderConfig } from '../models/types.ts';
import { type HostTensor, float32, int64 } from '../runtime/tensors.ts';

/** Recovery parameters that change the input positions (LoRA only changes weights). */
export interface PositionAdapter {
  /** Soft prompt P [n, embed] (prompt tuning / one IDP prompt), row-major. */
  softPrompt?: Float32Array;
  /** Prefix key/values per layer, each [kvHeads, p, headDim] (LLaMA keys already rotated). */
  prefix?: { keys: Float32Array[]; values: Float32Array[] };
}

export interface AdapterLayout {
  /** Soft-prompt positions n (query rows and key columns before the input). */
  promptLength: number;
  /** Prefix positions p (key columns only). */
  prefixLength: number;
}

/** The adapter's position counts, checked against the model's dimensions. */
export function adapterLayout(config: DecoderConfig, adapter: PositionAdapter | undefined, label: string): AdapterLayout {
  let promptLength = 0, prefixLength = 0;
  const embed = config.family === 'opt' ? config.wordEmbedProjDim : config.hiddenSize;
  if (adapter?.softPrompt) {
    if (adapter.softPrompt.length === 0 || adapter.softPrompt.length % embed !== 0) {
      throw new RecallError('E_SHAPE_MISMATCH', `${label}: soft prompt has ${adapter.softPrompt.length} values, not a multiple of the embedding size ${embed}`, { field: 'softPrompt' });
    }
    promptLength = adapter.softPrompt.length / embed;
  }
  if (adapter?.prefix) {
    const { keys, values } = adapter.prefix;
    const per = config.numKvHeads * config.headDim;
    if (keys.length !== config.numLayers || values.length !== config.numLayers) {
      throw new RecallError('E_SHAPE_MISMATCH', `${label}: prefix has ${keys.length} key and ${values.length} value tensors for ${config.numLayers} layers`, { field: 'prefix' });
    }
    prefixLength = keys[0]!.length / per;
    const bad = [...keys, ...values].findIndex((t) => t.length !== prefixLength * per || !Number.isInteger(prefixLength) || prefixLength < 1);
    if (bad >= 0) {
      throw new RecallError('E_SHAPE_MISMATCH', `${label}: prefix tensor ${bad} is not [${config.numKvHeads}, p, ${config.headDim}] with the same p in every layer`, { field: 'prefix' });
    }
  }
  return { promptLength, prefixLength };
}

function tile(data: Float32Array, times: number): Float32Array {
  const out = new Float32Array(data.length * times);
  for (let i = 0; i < times; i++) out.set(data, i * data.length);
  return out;
}

/** Feeds for `rows` (each at least one token) after the adapter's positions. */
export function batchFeeds(rows: number[][], config: DecoderConfig, adapter: PositionAdapter | undefined, layout: AdapterLayout): Record<string, HostTensor> {
  const batch = rows.length;
  const seq = Math.max(...rows.map((r) => r.length));
  const { promptLength: n, prefixLength: p } = layout;
  const pad = config.padTokenId ?? 0;
  const ids = new Array<number>(batch * seq).fill(pad);
  const positions = new Array<number>(batch * (n + seq));
  const mask = new Array<number>(batch * (p + n + seq)).fill(0);
  rows.forEach((r, b) => {
    r.forEach((t, j) => (ids[b * seq + j] = t));
    for (let j = 0; j < n + seq; j++) positions[b * (n + seq) + j] = p + Math.min(j, n + r.length - 1);
    for (let j = 0; j < p + n + r.length; j++) mask[b * (p + n + seq) + j] = 1;
  });
  const feeds: Record<string, HostTensor> = {
    input_ids: int64([batch, seq], ids),
    position_ids: int64([batch, n + seq], positions),
    attention_mask: int64([batch, p + n + seq], mask),
  };
  if (adapter?.softPrompt) feeds.prompt_embeds = float32([batch, n, adapter.softPrompt.length / n], tile(adapter.softPrompt, batch));
  if (adapter?.prefix) {
    const dims = [batch, config.numKvHeads, p, config.headDim];
    adapter.prefix.keys.forEach((k, l) => {
      feeds[`past_key_values.${l}.key`] = float32(dims, tile(k, batch));
      feeds[`past_key_values.${l}.value`] = float32(dims, tile(adapter.prefix!.values[l]!, batch));
    });
  }
  return feeds;
}
