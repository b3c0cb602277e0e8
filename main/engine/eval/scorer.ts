// What evaluation asks of a model: log-likelihoods of (context, continuation) pairs and
// greedy generation. modelScorer adapts a LanguageModel, with the harness's truncation to the
// model's context window (HFLM._loglikelihood_tokens keeps the last max_length + 1 tokens of
// context + continuation; generate_until keeps the last max_length - max_gen_toks of the
// prompt). With shareContext (default) the choices of a document are scored over one context
// pass (ModelRunner.scoreContinuations); without it every pair is one full-sequence forward,
// as the harness's HF backend does.
import { RecallError } from '../errors.ts';
import type { LanguageModel } from '../models/language-model.ts';
import type { Pair } from './types.ts';

export interface PairScore {
  /** Sum of log p(continuation tokens | context). */
  logprob: number;
  /** Every continuation token is the argmax. */
  greedy: boolean;
  /** Number of continuation tokens. */
  tokens: number;
}

export interface EvalScorer {
  scorePairs(pairs: Pair[]): Promise<PairScore[]>;
  generate(prompt: string, o: { maxTokens: number; until: string[] }): Promise<string>;
}

export interface ModelScorerOptions {
  /** Score the choices of a document over one shared context pass (default true). */
  shareContext?: boolean;
  /** Context window in tokens (default: the model's max_position_embeddings). */
  maxLength?: number;
}

/** Left-truncate a context so that context + continuation - 1 positions fit in maxLength. */
export function truncateForScoring(context: number[], continuation: number[], maxLength: number): number[] {
  const keep = maxLength + 1 - continuation.length;
  if (keep < 1) {
    throw new RecallError('E_INVALID_ARGUMENT', `a continuation of ${continuation.length} tokens does not fit the model's context of ${maxLength} tokens`);
  }
  return context.length > keep ? context.slice(context.length - keep) : context;
}

export function modelScorer(lm: LanguageModel, o: ModelScorerOptions = {}): EvalScorer {
  const maxLength = o.maxLength ?? lm.config.maxPositions;
  const shareContext = o.shareContext ?? true;
  const encode = (pairs: Pair[]) => pairs.map((p) => {
    const e = lm.tokenizer.encodePair(p.context, p.continuation);
    if (e.continuation.length === 0) {
      throw new RecallError('E_INVALID_ARGUMENT', `continuation ${JSON.stringify(p.continuation)} encodes to no tokens after context ${JSON.stringify(p.context.slice(-40))}`);
    }
    return { context: truncateForScoring(e.context, e.continuation, maxLength), continuation: e.continuation };
  });
  return {
    async scorePairs(pairs) {
      const requests = encode(pairs);
      if (shareContext) {
        const scores = await lm.runner.scoreContinuations(requests);
        return scores.map((s, i) => ({ logprob: s.logprob, greedy: s.greedy, tokens: requests[i]!.continuation.length }));
      }
      const out: PairScore[] = [];
      for (const r of requests) {
        // A full forward also feeds the last token, so at the window's edge one more context
        // token goes (the shared path feeds context + continuation[:-1], as the harness).
        const context = truncateForScoring(r.context, r.continuation, maxLength - 1);
        const whole = await lm.logprobsOfIds([...context, ...r.continuation]);
        const n = context.length;
        let logprob = 0;
        let greedy = true;
        r.continuation.forEach((tok, j) => {
          logprob += whole.logprobs[n + j]!;
          if (whole.greedy[n + j - 1] !== tok) greedy = false;
        });
        out.push({ logprob, greedy, tokens: r.continuation.length });
      }
      return out;
    },
    async generate(prompt, g) {
      const maxTokens = Math.max(1, Math.min(g.maxTokens, Math.floor(maxLength / 2)));
      const ids = lm.encode(prompt);
      const kept = ids.slice(Math.max(0, ids.length - (maxLength - maxTokens)));
      const r = await lm.runner.generateGreedy(kept, {
        maxTokens, stop: g.until, decode: (t) => lm.tokenizer.decode(t, { skipSpecialTokens: true }),
      });
      return r.text ?? lm.tokenizer.decode(r.tokens, { skipSpecialTokens: true });
    },
  };
}
