// Requests as lm-evaluation-harness builds them (ConfigurableTask.construct_requests and
// fewshot_context): a few-shot prefix of solved examples joined by "\n\n", then the query;
// multiple choice pairs the query with target_delimiter + each choice; WinoGrande pairs each
// option's context with target_delimiter + the rest of the sentence; LAMBADA's target already
// starts with its space, so it is used as is.
import { deriveSeed, sampleIndices, seededRng } from './random.ts';
import type { EvalDoc, Pair, TaskDef } from './types.ts';

export const FEWSHOT_DELIMITER = '\n\n';

/**
 * A solved example: doc_to_text + target_delimiter + the gold target (harness
 * ContextSampler.get_context). For WebQS Recall writes the first accepted answer where the
 * harness writes str(doc_to_target(doc)[0]) = "0" (an index, not an answer).
 */
export function shotText(task: TaskDef, doc: EvalDoc): string {
  const gold = doc.gold[0] ?? 0;
  if (doc.contexts.length > 1) return doc.contexts[gold]! + task.targetDelimiter + doc.choices[0]!;
  const target = task.kind === 'multiple_choice' ? doc.choices[gold]! : doc.choices[0]!;
  return doc.contexts[0]! + task.targetDelimiter + target;
}

/**
 * The few-shot prefix for `doc`: `shots` other documents of the same split, chosen with a
 * generator seeded by (seed, task, doc index) so a document's shots do not depend on which
 * other documents are evaluated. Returns "" for zero shots.
 */
export function fewshotPrefix(task: TaskDef, pool: readonly EvalDoc[], doc: EvalDoc, shots: number, seed: number): { prefix: string; shotIds: number[] } {
  if (shots <= 0) return { prefix: '', shotIds: [] };
  const others = pool.filter((d) => d.index !== doc.index);
  const picked = sampleIndices(others.length, shots, seededRng(deriveSeed(seed, task.name, 'fewshot', doc.index))).map((i) => others[i]!);
  return { prefix: picked.map((d) => shotText(task, d)).join(FEWSHOT_DELIMITER) + FEWSHOT_DELIMITER, shotIds: picked.map((d) => d.index) };
}

/** The log-likelihood requests of one document (none for generation tasks). */
export function buildPairs(task: TaskDef, doc: EvalDoc, prefix = ''): Pair[] {
  switch (task.kind) {
    case 'generate_until':
      return [];
    case 'loglikelihood':
      return [{ context: prefix + doc.contexts[0]!, continuation: doc.choices[0]! }];
    default:
      if (doc.contexts.length > 1) return doc.contexts.map((c) => ({ context: prefix + c, continuation: task.targetDelimiter + doc.choices[0]! }));
      return doc.choices.map((c) => ({ context: prefix + doc.contexts[0]!, continuation: task.targetDelimiter + c }));
  }
}

/** The generation prompt of a generate_until document. */
export function buildPrompt(doc: EvalDoc, prefix = ''): string {
  return prefix + doc.contexts[0]!;
}
