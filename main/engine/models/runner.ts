// Scoring and generation on token ids over one ORT session of a model graph built with
// past key/values (so a context's KV is computed once and reused):
// - tokenLogprobs: log p(next token) and the greedy token at every position of a sequence;
// - scoreContinuations: sum log p(continuation | context) and whether every continuation
//   token is the argmax, with contexts shared by several continuations computed once;
// - generateGreedy: greedy decoding with a KV cache and stop strings.
// A sequence may start from a KV prefix instead of an empty cache (setSequencePrefix): a soft
// prompt's cached KV, prefix-tuning KV, or the prompt IDP picks for that input (recover/).

import type { Model } from '../onnx/ir.ts';
import { type RecallSession, type SessionOptions, createSession, openSessionFile } from '../runtime/session.ts';
import { type HostTensor, float32, int64 } from '../runtime/tensors.ts';
import type { DecoderConfig } from './types.ts';

export interface ContinuationRequest { context: number[]; continuation: number[] }
export interface ContinuationScore {
  /** Sum of log-probabilities of the continuation tokens. */
  logprob: number;
  /** True when every continuation token is the argmax at its position. */
  greedy: boolean;
  tokenLogprobs: number[];
}

export interface GenerateOptions {
  maxTokens: number;
  /** Stop when the decoded continuation contains one of these (the stop string is cut). */
  stop?: string[];
  /** Stop at these token ids (default: the model's EOS ids). */
  stopTokens?: number[];
  decode?: (ids: number[]) => string;
  /** Checked between steps; throwing cancels. */
  signal?: AbortSignal;
}

export interface Generation { tokens: number[]; text?: string; stoppedBy: 'max_tokens' | 'eos' | 'stop_string' }

/** Per-layer key/value cache [batch, kvHeads, length, headDim]. */
export type Past = { keys: HostTensor[]; values: HostTensor[]; length: number };

/** The KV (batch 1) a sequence starts from, given its token ids. */
export type SequencePrefix = (ids: number[]) => Promise<Past>;

/** log-softmax of one row of logits, returning the chosen token's logprob and the argmax. */
function rowLogprob(logits: Float32Array, offset: number, vocab: number, token: number): { lp: number; argmax: number } {
  let max = -Infinity, argmax = 0;
  for (let v = 0; v < vocab; v++) {
    const x = logits[offset + v]!;
    if (x > max) { max = x; argmax = v; }
  }
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v]! - max);
  return { lp: logits[offset + token]! - max - Math.log(sum), argmax };
}

export class ModelRunner {
  private prefix: SequencePrefix | undefined;
  /** Graph built with softPrompt: every step feeds an empty prompt_embeds unless given one. */
  private readonly hasPromptInput: boolean;

  private constructor(private readonly session: RecallSession, readonly config: DecoderConfig) {
    this.hasPromptInput = session.inputNames.includes('prompt_embeds');
  }

  /** Start every sequence from this KV prefix (undefined: an empty cache). */
  setSequencePrefix(prefix: SequencePrefix | undefined): void { this.prefix = prefix; }

  private startPast(ids: number[]): Promise<Past> {
    return this.prefix ? this.prefix(ids) : Promise.resolve(this.emptyPast(1));
  }

  /**
   * The KV of a soft prompt P [n, embed] run alone at positions 0..n-1 (graph built with
   * softPrompt). A causal prompt's KV does not depend on what follows, so it is computed once.
   */
  async promptPast(embeds: Float32Array, n: number): Promise<Past> {
    if (!this.hasPromptInput) throw new Error('promptPast needs a graph built with softPrompt');
    const E = this.config.wordEmbedProjDim;
    const feeds: Record<string, HostTensor> = {
      prompt_embeds: float32([1, n, E], embeds), input_ids: int64([1, 0], []),
      position_ids: int64([1, n], Array.from({ length: n }, (_, i) => i)), attention_mask: int64([1, n], new Array<number>(n).fill(1)),
    };
    const empty = this.emptyPast(1);
    empty.keys.forEach((k, i) => { feeds[`past_key_values.${i}.key`] = k; feeds[`past_key_values.${i}.value`] = empty.values[i]!; });
    const out = await this.session.run(feeds);
    const L = this.config.numLayers;
    return { keys: Array.from({ length: L }, (_, i) => out[`present.${i}.key`]!), values: Array.from({ length: L }, (_, i) => out[`present.${i}.value`]!), length: n };
  }

  /** `model` must be built with pastKeyValues: true and logits: 'all'. */
  static async create(model: Model, config: DecoderConfig, o: SessionOptions = {}): Promise<ModelRunner> {
    const inputs = new Set(model.graph.inputs.map((i) => i.name));
    if (!inputs.has('past_key_values.0.key')) throw new Error('ModelRunner needs a graph built with pastKeyValues');
    return new ModelRunner(await createSession(model, o), config);
  }

  /** Open a graph saved on disk (e.g. with external weights), built as for create(). */
  static async openFile(path: string, config: DecoderConfig, o: SessionOptions = {}): Promise<ModelRunner> {
    const session = await openSessionFile(path, o);
    if (!session.inputNames.includes('past_key_values.0.key')) {
      await session.release();
      throw new Error(`${path}: ModelRunner needs a graph built with pastKeyValues`);
    }
    return new ModelRunner(session, config);
  }

  get ep(): string { return this.session.ep; }

  emptyPast(batch: number): Past {
    const { numLayers, numKvHeads, headDim } = this.config;
    const empty = () => float32([batch, numKvHeads, 0, headDim]);
    return { keys: Array.from({ length: numLayers }, empty), values: Array.from({ length: numLayers }, empty), length: 0 };
  }

  /**
   * Run `ids` ([batch][len], right-padded with `lengths`) after `past` (same for every row).
   * Returns logits [batch, len, vocab] and the new KV (past + these positions).
   */
  async step(ids: number[][], past: Past, lengths = ids.map((r) => r.length)): Promise<{ logits: Float32Array; past: Past }> {
    const batch = ids.length;
    const len = Math.max(...ids.map((r) => r.length));
    const flat = new Array<number>(batch * len).fill(this.config.padTokenId ?? 0);
    const mask = new Array<number>(batch * (past.length + len)).fill(0);
    const pos = new Array<number>(batch * len);
    for (let r = 0; r < batch; r++) {
      ids[r]!.forEach((t, j) => (flat[r * len + j] = t));
      for (let j = 0; j < past.length + lengths[r]!; j++) mask[r * (past.length + len) + j] = 1;
      for (let j = 0; j < len; j++) pos[r * len + j] = past.length + Math.min(j, Math.max(lengths[r]! - 1, 0));
    }
    const feeds: Record<string, HostTensor> = {
      input_ids: int64([batch, len], flat),
      position_ids: int64([batch, len], pos),
      attention_mask: int64([batch, past.length + len], mask),
    };
    if (this.hasPromptInput) feeds.prompt_embeds = float32([batch, 0, this.config.wordEmbedProjDim], []);
    past.keys.forEach((k, i) => {
      feeds[`past_key_values.${i}.key`] = k;
      feeds[`past_key_values.${i}.value`] = past.values[i]!;
    });
    const out = await this.session.run(feeds);
    const n = this.config.numLayers;
    return {
      logits: out.logits!.data as Float32Array,
      past: {
        keys: Array.from({ length: n }, (_, i) => out[`present.${i}.key`]!),
        values: Array.from({ length: n }, (_, i) => out[`present.${i}.value`]!),
        length: past.length + len,
      },
    };
  }

  /** For each position t >= 1: log p(ids[t] | ids[<t]) and the greedy token predicted at t-1. */
  async tokenLogprobs(ids: number[]): Promise<{ logprobs: number[]; greedy: number[] }> {
    const { logits } = await this.step([ids], await this.startPast(ids));
    const V = this.config.vocabSize;
    const logprobs: number[] = [], greedy: number[] = [];
    for (let t = 0; t < ids.length; t++) {
      const { lp, argmax } = rowLogprob(logits, t * V, V, ids[t + 1] ?? 0);
      if (t + 1 < ids.length) logprobs.push(lp);
      greedy.push(argmax);
    }
    return { logprobs, greedy };
  }

  /** Score continuations; requests with the same context share one context pass. */
  async scoreContinuations(requests: ContinuationRequest[]): Promise<ContinuationScore[]> {
    const groups = new Map<string, number[]>();
    requests.forEach((r, i) => {
      if (r.context.length === 0) throw new Error(`request ${i}: empty context (prepend BOS)`);
      if (r.continuation.length === 0) throw new Error(`request ${i}: empty continuation`);
      const key = r.context.join(',');
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const results = new Array<ContinuationScore>(requests.length);
    const V = this.config.vocabSize;
    for (const members of groups.values()) {
      const context = requests[members[0]!]!.context;
      const ctx = await this.step([context], await this.startPast(context));
      const lastRow = (context.length - 1) * V;
      const conts = members.map((i) => requests[i]!.continuation);
      // Feed each continuation minus its last token after the shared context KV.
      const feedsIds = conts.map((c) => c.slice(0, -1));
      let contLogits: Float32Array | undefined;
      let stride = 0;
      if (feedsIds.some((c) => c.length > 0)) {
        const past = tilePast(ctx.past, members.length);
        const lengths = feedsIds.map((c) => c.length);
        const padded = feedsIds.map((c) => (c.length ? c : [0]));
        stride = Math.max(...padded.map((c) => c.length));
        contLogits = (await this.step(padded, past, lengths)).logits;
      }
      members.forEach((reqIndex, m) => {
        const cont = conts[m]!;
        const tokenLogprobs: number[] = [];
        let greedy = true;
        cont.forEach((tok, j) => {
          const { lp, argmax } = j === 0
            ? rowLogprob(ctx.logits, lastRow, V, tok)
            : rowLogprob(contLogits!, (m * stride + j - 1) * V, V, tok);
          tokenLogprobs.push(lp);
          if (argmax !== tok) greedy = false;
        });
        results[reqIndex] = { logprob: tokenLogprobs.reduce((a, b) => a + b, 0), greedy, tokenLogprobs };
      });
    }
    return results;
  }

  /** Greedy decoding with the KV cache. */
  async generateGreedy(prompt: number[], o: GenerateOptions): Promise<Generation> {
    const V = this.config.vocabSize;
    const stopTokens = new Set(o.stopTokens ?? this.config.eosTokenIds);
    let { logits, past } = await this.step([prompt], await this.startPast(prompt));
    let row = (prompt.length - 1) * V;
    const tokens: number[] = [];
    for (let i = 0; i < o.maxTokens; i++) {
      if (o.signal?.aborted) throw new Error('generation cancelled');
      const { argmax } = rowLogprob(logits, row, V, 0);
      if (stopTokens.has(argmax)) return this.finish(tokens, o, 'eos');
      tokens.push(argmax);
      if (o.stop?.length && o.decode) {
        const text = o.decode(tokens);
        const hit = o.stop.map((s) => text.indexOf(s)).filter((k) => k >= 0);
        if (hit.length) return { tokens, text: text.slice(0, Math.min(...hit)), stoppedBy: 'stop_string' };
      }
      if (i + 1 === o.maxTokens) break;
      ({ logits, past } = await this.step([[argmax]], past));
      row = 0;
    }
    return this.finish(tokens, o, 'max_tokens');
  }

  private finish(tokens: number[], o: GenerateOptions, stoppedBy: Generation['stoppedBy']): Generation {
    return { tokens, ...(o.decode ? { text: o.decode(tokens) } : {}), stoppedBy };
  }

  async release(): Promise<void> { await this.session.release(); }
}

/** Repeat a batch-1 KV cache `n` times along the batch axis. */
function tilePast(p: Past, n: number): Past {
  const tile = (t: HostTensor): HostTensor => {
    const src = t.data as Float32Array;
    const out = new Float32Array(src.length * n);
    for (let i = 0; i < n; i++) out.set(src, i * src.length);
    return { dtype: 'float32', dims: [n, ...t.dims.slice(1)], data: out };
  };
  return { keys: p.keys.map(tile), values: p.values.map(tile), length: p.length };
}
