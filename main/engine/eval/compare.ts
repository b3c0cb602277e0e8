// Paired comparison of results sets scored on the same items: for every task both hold,
// the items both scored (by doc_id), the primary metric of each on those items, McNemar's
// exact test, a paired bootstrap CI of the difference, and the flip sets (with a third,
// "recovered" results set: lost by compression, regained by recovery, never known, newly wrong).
import { RecallError } from '../errors.ts';
import type { ParsedResults } from './results.ts';
import { deriveSeed } from './random.ts';
import { type FlipSets, type McNemarResult, type PairedDifference, flipSets, mcnemarPaired, pairedBootstrapDiff } from './stats.ts';

export interface TaskComparison {
  task: string;
  metric: string;
  /** Items each file scored, and the items both (all) scored, which the statistics use. */
  itemsA: number;
  itemsB: number;
  paired: number;
  accA: number;
  accB: number;
  accC?: number;
  difference: PairedDifference;
  mcnemar: McNemarResult;
  flips: FlipSets<number>;
}

export interface CompareOptions { resamples?: number; seed?: number; level?: number }

export function compareResults(a: ParsedResults, b: ParsedResults, c?: ParsedResults, o: CompareOptions = {}): TaskComparison[] {
  const shared = [...a.tasks.keys()].filter((t) => b.tasks.has(t) && (!c || c.tasks.has(t)));
  if (shared.length === 0) {
    throw new RecallError('E_EVAL_RESULTS', `${a.source} and ${b.source}${c ? ` and ${c.source}` : ''} have no task in common`);
  }
  return shared.map((task) => {
    const ta = a.tasks.get(task)!, tb = b.tasks.get(task)!, tc = c?.tasks.get(task);
    const ids = [...ta.items.keys()].filter((k) => tb.items.has(k) && (!tc || tc.items.has(k))).sort((x, y) => x - y);
    if (ids.length === 0) throw new RecallError('E_EVAL_RESULTS', `task ${task}: the results files scored no item in common (different --limit seeds?)`, { task });
    const xa = ids.map((k) => ta.items.get(k)!), xb = ids.map((k) => tb.items.get(k)!);
    const accOf = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
    const pick = (m: Map<number, boolean>) => new Map(ids.map((k) => [k, m.get(k)!]));
    return {
      task, metric: ta.metric, itemsA: ta.items.size, itemsB: tb.items.size, paired: ids.length,
      accA: accOf(xa), accB: accOf(xb), ...(tc ? { accC: accOf(ids.map((k) => tc.items.get(k)!)) } : {}),
      difference: pairedBootstrapDiff(xa, xb, { resamples: o.resamples ?? 1000, seed: deriveSeed(o.seed ?? 1234, task), level: o.level ?? 0.95 }),
      mcnemar: mcnemarPaired(xa, xb),
      flips: flipSets(pick(ta.items), pick(tb.items), tc ? pick(tc.items) : undefined),
    };
  });
}
