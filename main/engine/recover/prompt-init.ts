// Initial soft prompts (METHODS.md 2, prompt tuning): random N(0, 1); the embeddings of an
// init text, repeated or cut to n tokens (as PEFT's TEXT init); or the first n vocabulary rows.
import { RecallError } from '../errors.ts';
import type { Tokenizer } from '../models/tokenizer.ts';
import type { DecoderConfig, WeightSource } from '../models/types.ts';
import type { PromptInit } from './adapter.ts';
import { normal } from './prefix-kv.ts';

export function embeddingName(config: DecoderConfig): string {
  return config.family === 'opt' ? 'model.decoder.embed_tokens.weight' : 'model.embed_tokens.weight';
}

/** Parse the CLI/API spelling: 'random', 'vocab' or 'text:<words>'. */
export function parsePromptInit(s: string): PromptInit {
  if (s === 'random' || s === 'vocab') return { kind: s };
  if (s.startsWith('text:') && s.length > 5) return { kind: 'text', text: s.slice(5) };
  throw new RecallError('E_INVALID_ARGUMENT', `--init must be random, vocab or text:<init text> (got '${s}')`, { field: 'init', value: s });
}

/** An init text's token ids (no special tokens), repeated then cut to n (PEFT's TEXT init; prefix-init.ts too). */
export function initTextTokens(text: string, n: number, tokenizer: Tokenizer): number[] {
  const tokens = tokenizer.encode(text, { addSpecialTokens: false });
  if (tokens.length === 0) throw new RecallError('E_INVALID_ARGUMENT', `--init text '${text}' has no tokens`, { field: 'init' });
  return Array.from({ length: n }, (_, i) => tokens[i % tokens.length]!); // repeated, then cut to n
}

/** P [n, tokenDim] for one prompt; `seed` draws the random init. */
export function initialPrompt(init: PromptInit, n: number, config: DecoderConfig, weights: WeightSource, tokenizer: Tokenizer, seed: number): Float32Array {
  const E = config.wordEmbedProjDim;
  if (init.kind === 'random') return normal(n * E, seed);
  let ids: number[];
  if (init.kind === 'vocab') {
    if (n > config.vocabSize) throw new RecallError('E_INVALID_ARGUMENT', `--init vocab needs ${n} vocabulary rows; the vocabulary has ${config.vocabSize}`, { field: 'init' });
    ids = Array.from({ length: n }, (_, i) => i);
  } else {
    ids = initTextTokens(init.text, n, tokenizer);
  }
  const table = weights.readFloat32(embeddingName(config));
  const out = new Float32Array(n * E);
  ids.forEach((id, j) => out.set(table.subarray(id * E, id * E + E), j * E));
  return out;
}
