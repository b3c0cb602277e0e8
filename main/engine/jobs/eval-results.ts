// An eval run's results rebuilt from the store (metrics + per-example records), so the
// lm-evaluation-harness JSON, the CSV and runs.compare read one source, whole even when the run
// was resumed across attempts.

import type { EvalRun, TaskResult } from '../eval/evaluate.ts';
import { parseResults, type ParsedResults, toHarnessResults } from '../eval/results.ts';
import { resolveTask } from '../eval/task-data.ts';
import type { SampleRecord } from '../eval/types.ts';
import { RecallError } from '../errors.ts';
import type { RunRecord, Store } from '../store/index.ts';
import type { EvalJobConfig } from './job-context.ts';

export function evalRunFromStore(store: Store, run: RunRecord): EvalRun {
  if (run.kind !== 'eval') throw new RecallError('E_INVALID_ARGUMENT', `run ${run.id} is a ${run.kind} run, not an eval run`, { runId: run.id });
  const config = run.config as EvalJobConfig;
  const metrics = store.metrics.list(run.id);
  const results: TaskResult[] = store.records.tasks(run.id).filter((t) => metrics.some((m) => m.task === t)).map((name) => {
    const samples = store.records.list(run.id, name).map((r) => r.payload as SampleRecord);
    return {
      task: resolveTask(name), files: [], records: samples.length, docs: samples.length, issues: [],
      itemIndices: samples.map((s) => s.doc_id), samples,
      metrics: metrics.filter((m) => m.task === name).map((m) => ({ name: m.metric, value: m.value, stderr: m.stderr ?? NaN })),
      seconds: 0,
    };
  });
  return {
    results, unavailable: [], seed: run.seed ?? 1234, shots: config.shots ?? 0, limit: config.limit ?? null,
    bootstrapIters: 1000, maxGenTokens: config.maxGenTokens ?? 256, seconds: (run.timings.eval ?? 0) / 1000,
  };
}

export function harnessJson(store: Store, run: RunRecord, model: string): Record<string, unknown> {
  return toHarnessResults(evalRunFromStore(store, run), { model, ...(run.versions.executionProvider ? { ep: run.versions.executionProvider } : {}) });
}

/** The run's items and correctness, as runs.compare's statistics take them. */
export function parsedResultsOf(store: Store, run: RunRecord): ParsedResults {
  return parseResults(harnessJson(store, run, `run ${run.id}`), `run ${run.id}`);
}
