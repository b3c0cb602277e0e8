// Prefix tuning's initial key/values (METHODS.md 2). `random`: PEFT's prefix Embedding, N(0, 1)
// (the default, unchanged). `text:<words>` (Li & Liang 2021: initialise the prefix with the
// activations of real words): the init text's tokens (no special tokens) repeated or cut to n,
// run alone through the frozen base being recovered (the compressed model) at positions 0..n-1,
// and each layer's present.{l}.key|value [kvHeads, n, headDim] (keys after RoPE) is the prefix.
// Tokens after a prefix take positions n.. (model-gradient.ts, runner.ts), so the untrained text
// prefix IS the text's KV cache: the model scores what follows as if the text were written there.
// The reparameterised prefix is an MLP's output (Embedding -> Linear -> tanh -> Linear) and is
// refused with a text init: no init of the MLP's own parameters gives chosen outputs exactly.
import { RecallError } from '../errors.ts';
import { buildModelGraph } from '../models/build-graph.ts';
import { ModelRunner } from '../models/runner.ts';
import type { Tokenizer } from '../models/tokenizer.ts';
import type { DecoderConfig, WeightSource } from '../models/types.ts';
import type { SessionOptions } from '../runtime/session.ts';
import type { PrefixInit } from './adapter.ts';
import { type KvDims, normal, rowsToPast } from './prefix-kv.ts';
import { initTextTokens } from './prompt-init.ts';

/** Parse the CLI/API spelling: 'random' or 'text:<words>' (`field` names the option in errors). */
export function parsePrefixInit(s: string, field = 'init'): PrefixInit {
  if (s === 'random') return { kind: 'random' };
  if (s.startsWith('text:') && s.length > 5) return { kind: 'text', text: s.slice(5) };
  throw new RecallError('E_INVALID_ARGUMENT', `prefix tuning's ${field} must be random or text:<init text> (got '${s}')`, { field, value: s });
}

/** Refuse an init the prefix cannot start from, naming the field (before any model is run). */
export function checkPrefixInit(spec: { reparam: boolean; init?: PrefixInit | undefined }, field = 'init'): void {
  const init = spec.init;
  if (init === undefined || init.kind === 'random') return;
  if (init.kind !== 'text') {
    throw new RecallError('E_INVALID_ARGUMENT', `prefix tuning's ${field} must be random or text:<init text> (got kind '${(init as { kind: string }).kind}')`, { field, value: (init as { kind: string }).kind });
  }
  if (init.text.length === 0) throw new RecallError('E_INVALID_ARGUMENT', `prefix tuning's ${field} text is empty: give text:<init text>`, { field, value: 'text:' });
  if (spec.reparam) {
    throw new RecallError('E_INVALID_ARGUMENT',
      `prefix tuning's ${field} text:<words> needs reparam off: the reparameterised prefix is the output of an MLP (Embedding -> Linear -> tanh -> Linear), which no init of its parameters makes equal to given key/values; train without reparam, or with ${field} random`,
      { field, value: `text:${init.text}` });
  }
}

/**
 * The initial prefix as graph inputs past_key_values.{l}.key|value [kvHeads, n, headDim]:
 * random rows N(0, 1) from `seed` (PEFT's layout), or the base's KV of the init text.
 */
export async function initialPrefixPast(init: PrefixInit, dims: KvDims, config: DecoderConfig, weights: WeightSource, tokenizer: Tokenizer, seed: number, session: SessionOptions): Promise<Map<string, Float32Array>> {
  if (init.kind === 'random') return rowsToPast(normal(dims.n * dims.layers * 2 * dims.kvHeads * dims.headDim, seed), dims);
  const ids = initTextTokens(init.text, dims.n, tokenizer);
  return textKv(config, weights, ids, session);
}

/** present.{l}.key|value of the base run on `ids` alone (positions 0.., all attended), as [kvHeads, len, headDim] per layer. */
export async function textKv(config: DecoderConfig, weights: WeightSource, ids: number[], session: SessionOptions): Promise<Map<string, Float32Array>> {
  const runner = await ModelRunner.create(buildModelGraph(config, weights, { pastKeyValues: true, logits: 'last' }), config, session);
  try {
    const { past } = await runner.step([ids], runner.emptyPast(1));
    const out = new Map<string, Float32Array>();
    for (let l = 0; l < config.numLayers; l++) {
      out.set(`past_key_values.${l}.key`, Float32Array.from(past.keys[l]!.data as Float32Array));
      out.set(`past_key_values.${l}.value`, Float32Array.from(past.values[l]!.data as Float32Array));
    }
    return out;
  } finally {
    await runner.release();
  }
}
