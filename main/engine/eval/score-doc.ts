// Scoring one document as lm-evaluation-harness's ConfigurableTask.process_results does:
// - multiple choice: acc = argmax LL is gold; acc_norm = argmax of LL / len(choice) in
//   characters (code points, as Python's len);
// - greedy_any (WebQS): exact_match = some gold choice's continuation is all-greedy;
// - loglikelihood (LAMBADA): acc = the target is greedy; the sample's perplexity value is its
//   LL (aggregated later as exp(-mean LL));
// - generate_until (TriviaQA): the generation, leading whitespace removed, equals an alias
//   ignoring case and punctuation.
import { matchesAnyAlias } from './harness-text.ts';
import { buildPairs, buildPrompt } from './prompts.ts';
import type { EvalScorer } from './scorer.ts';
import { primaryMetric } from './tasks.ts';
import type { EvalDoc, SampleRecord, TaskDef } from './types.ts';

/** Index of the first maximum (numpy.argmax). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

export interface ScoreOptions {
  /** Few-shot prefix put before every context. */
  prefix?: string;
  /** generate_until: most new tokens (the harness's max_gen_toks, default 256). */
  maxGenTokens?: number;
}

export async function scoreDoc(task: TaskDef, doc: EvalDoc, scorer: EvalScorer, o: ScoreOptions = {}): Promise<SampleRecord> {
  const prefix = o.prefix ?? '';
  const base = { doc_id: doc.index, doc: doc.doc, gold: doc.gold };
  if (task.kind === 'generate_until') {
    const prompt = buildPrompt(doc, prefix);
    const until = task.until ?? [];
    const maxGenToks = o.maxGenTokens ?? 256;
    const text = await scorer.generate(prompt, { maxTokens: maxGenToks, until });
    const answer = text.trimStart();
    const em = matchesAnyAlias(answer, doc.choices) ? 1 : 0;
    return {
      ...base, target: doc.choices, arguments: [[prompt, { until, max_gen_toks: maxGenToks, do_sample: false }]],
      resps: [[text]], filtered_resps: [answer], values: { exact_match: em }, prediction: answer, correct: em === 1,
    };
  }
  const pairs = buildPairs(task, doc, prefix);
  const scores = await scorer.scorePairs(pairs);
  const lls = scores.map((s) => s.logprob);
  const common = {
    ...base, arguments: pairs.map((p) => [p.context, p.continuation]),
    resps: scores.map((s) => [[s.logprob, s.greedy]]), filtered_resps: scores.map((s) => [s.logprob, s.greedy]),
    choice_loglikelihoods: lls,
  };
  const values: Record<string, number> = {};
  let prediction: number;
  let target: string | string[];
  if (task.kind === 'loglikelihood') {
    values.perplexity = lls[0]!;
    values.acc = scores[0]!.greedy ? 1 : 0;
    prediction = scores[0]!.greedy ? 0 : -1;
    target = doc.choices[0]!;
  } else if (task.kind === 'greedy_any') {
    values.exact_match = doc.gold.some((g) => scores[g]!.greedy) ? 1 : 0;
    prediction = argmax(lls);
    target = doc.choices;
  } else {
    prediction = argmax(lls);
    values.acc = doc.gold.includes(prediction) ? 1 : 0;
    if (task.metrics.includes('acc_norm')) {
      const norm = lls.map((ll, i) => ll / [...doc.choices[i]!].length);
      values.acc_norm = doc.gold.includes(argmax(norm)) ? 1 : 0;
    }
    target = doc.contexts.length > 1 ? doc.choices[0]! : doc.choices[doc.gold[0]!]!;
  }
  return { ...common, target, values, prediction, correct: values[primaryMetric(task)] === 1 };
}
