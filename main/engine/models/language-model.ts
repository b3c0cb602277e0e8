// A loaded language model: folder (config + lazy weights) + tokenizer + a runner over a graph
// built with past key/values. The one object the CLI, evaluation and the API use to score
// and generate text.

import { RecallError } from '../errors.ts';
import type { ExecutionProvider } from '../runtime/providers.ts';
import { buildModelGraph } from './build-graph.ts';
import { loadModelFolder, type ModelFolder } from './folder.ts';
import { DEFAULT_EXTERNAL_THRESHOLD, cachedModelGraph, graphWeightBytes } from './graph-cache.ts';
import type { GraphOptions } from './graph-options.ts';
import { type ContinuationScore, type Generation, ModelRunner } from './runner.ts';
import type { DecoderConfig } from './types.ts';
import { Tokenizer } from './tokenizer.ts';

/**
 * A recovery adapter applied at load (main/engine/recover/model-adapter.ts makes them from
 * adapter folders): LoRA weights as graph edits, or a KV prefix each sequence starts from.
 */
export interface ModelAdapter {
  /** Check the adapter fits the base (throws naming the field) and return its graph edits. */
  prepare(folder: ModelFolder): Promise<GraphOptions> | GraphOptions;
  /** Once the runner exists (e.g. compute a prompt's KV and install it as the sequence prefix). */
  attach?(runner: ModelRunner, config: DecoderConfig): Promise<void>;
  release?(): Promise<void>;
}

export interface LoadOptions {
  /** A recovery adapter (LoRA, prompt, prefix, IDP) on top of the base. */
  adapter?: ModelAdapter;
  ep?: ExecutionProvider;
  threads?: number;
  weightDtype?: 'float32' | 'float16';
  /** Extra graph edits (LoRA, weight overrides...). */
  graph?: GraphOptions;
  onFallback?: (message: string) => void;
  /**
   * Models whose graph weights reach this many bytes (default 256 MiB) are built with their
   * weights written to an external-data file in `cacheDir`, opened by ORT from disk
   * (memory-mapped), and reused by later loads. Infinity keeps every model in memory.
   */
  externalThreshold?: number;
  /** Folder of cached large-model graphs (default: recall-graph-cache in the OS temp dir). */
  cacheDir?: string;
}

/** How the model's graph reached ORT: built in memory, or a cached file with external weights. */
export type GraphSource = { kind: 'memory' } | { kind: 'file'; path: string; reused: boolean };

export interface TokenLogprobs {
  tokens: string[];
  ids: number[];
  /** log p(ids[t] | ids[<t]); null for the first token, which has no context. */
  logprobs: (number | null)[];
  /** The greedy (argmax) next token after each position. */
  greedy: number[];
}

export class LanguageModel {
  private constructor(
    readonly folder: ModelFolder, readonly tokenizer: Tokenizer, readonly runner: ModelRunner, readonly graphSource: GraphSource,
    readonly adapter?: ModelAdapter,
  ) {}

  static async load(dir: string, o: LoadOptions = {}): Promise<LanguageModel> {
    const folder = loadModelFolder(dir);
    try {
      if (!folder.tokenizerPath) throw new RecallError('E_TOKENIZER', `${dir}: no tokenizer.json in the model folder`, { file: dir });
      const tokenizer = Tokenizer.fromFolder(dir);
      const adapterGraph = o.adapter ? await o.adapter.prepare(folder) : {};
      const graphOptions: GraphOptions = {
        ...o.graph, ...adapterGraph, pastKeyValues: true, logits: 'all', ...(o.weightDtype ? { weightDtype: o.weightDtype } : {}),
      };
      const session = {
        ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.onFallback ? { onFallback: o.onFallback } : {}),
      };
      const threshold = o.externalThreshold ?? DEFAULT_EXTERNAL_THRESHOLD;
      let runner: ModelRunner, source: GraphSource;
      if (graphWeightBytes(folder, graphOptions.weightDtype) < threshold) {
        runner = await ModelRunner.create(buildModelGraph(folder.config, folder.weights, graphOptions), folder.config, session);
        source = { kind: 'memory' };
      } else {
        const cached = cachedModelGraph(folder, graphOptions, o.cacheDir);
        // Without pre-packing, MatMul reads the memory-mapped weights in place: one copy of each.
        runner = await ModelRunner.openFile(cached.path, folder.config, { ...session, disablePrepacking: true });
        source = { kind: 'file', path: cached.path, reused: cached.reused };
      }
      try {
        await o.adapter?.attach?.(runner, folder.config);
      } catch (e) {
        await runner.release();
        await o.adapter?.release?.();
        throw e;
      }
      return new LanguageModel(folder, tokenizer, runner, source, o.adapter);
    } finally {
      folder.weights.close();
    }
  }

  get config() { return this.folder.config; }
  get ep(): string { return this.runner.ep; }

  encode(text: string, addSpecialTokens = true): number[] {
    return this.tokenizer.encode(text, { addSpecialTokens });
  }

  async logprobsOfIds(ids: number[]): Promise<TokenLogprobs> {
    if (ids.length === 0) throw new RecallError('E_INVALID_ARGUMENT', 'no tokens to score');
    if (ids.length > this.config.maxPositions) {
      throw new RecallError('E_INVALID_ARGUMENT', `${ids.length} tokens is longer than the model's context (${this.config.maxPositions})`, { tokens: ids.length });
    }
    const bad = ids.find((t) => !Number.isInteger(t) || t < 0 || t >= this.config.vocabSize);
    if (bad !== undefined) throw new RecallError('E_INVALID_ARGUMENT', `token id ${bad} is outside the vocabulary [0, ${this.config.vocabSize})`);
    const r = await this.runner.tokenLogprobs(ids);
    return {
      ids,
      tokens: ids.map((t) => this.tokenizer.idToToken(t) ?? `<${t}>`),
      logprobs: [null, ...r.logprobs],
      greedy: r.greedy,
    };
  }

  async logprobsOfText(text: string): Promise<TokenLogprobs> {
    return this.logprobsOfIds(this.encode(text));
  }

  /** Score (context, continuation) string pairs as lm-evaluation-harness does. */
  async scorePairs(pairs: { context: string; continuation: string }[]): Promise<ContinuationScore[]> {
    return this.runner.scoreContinuations(pairs.map((p) => this.tokenizer.encodePair(p.context, p.continuation)));
  }

  /** Perplexity of a text: exp of the mean negative log-likelihood of its tokens after the first. */
  async perplexity(text: string): Promise<number> {
    const { logprobs } = await this.logprobsOfText(text);
    const lps = logprobs.filter((x): x is number => x !== null);
    return Math.exp(-lps.reduce((a, b) => a + b, 0) / lps.length);
  }

  async generate(prompt: string, o: { maxTokens: number; stop?: string[]; signal?: AbortSignal }): Promise<Generation & { text: string }> {
    const ids = this.encode(prompt);
    const g = await this.runner.generateGreedy(ids, {
      maxTokens: o.maxTokens, ...(o.stop ? { stop: o.stop } : {}), ...(o.signal ? { signal: o.signal } : {}),
      decode: (t) => this.tokenizer.decode(t, { skipSpecialTokens: true }),
    });
    return { ...g, text: g.text ?? this.tokenizer.decode(g.tokens, { skipSpecialTokens: true }) };
  }

  async release(): Promise<void> {
    await this.runner.release();
    await this.adapter?.release?.();
  }
}
