// Running tasks: load each task's documents, take the seeded --limit subset, build each
// document's few-shot prefix, score it, and aggregate the metrics with their stderr.
import { RecallError } from '../errors.ts';
import { fewshotPrefix } from './prompts.ts';
import { deriveSeed, sampleIndices, seededRng } from './random.ts';
import { scoreDoc } from './score-doc.ts';
import type { EvalScorer } from './scorer.ts';
import { bootstrapStderr, mean, meanStderr, perplexity } from './stats.ts';
import { type LoadedTask, loadTask, unavailableMessage } from './task-data.ts';
import type { DataIssue, EvalDoc, SampleRecord, TaskDef } from './types.ts';

export interface EvalOptions {
  tasks: string[];
  /** Data folders, searched in order for each task's files. */
  dataDirs: string[];
  /** Score a seeded random subset of this many documents per task. */
  limit?: number;
  /** Few-shot examples per document (default 0). */
  shots?: number;
  /** Seed of the subset, the few-shot choice and the bootstrap (default 1234). */
  seed?: number;
  maxGenTokens?: number;
  /** Bootstrap resamples for perplexity's stderr (default 1000). */
  bootstrapIters?: number;
  /** Throw E_EVAL_TASK when a task's files are missing (default); false reports and skips it. */
  requireAll?: boolean;
  onProgress?: (task: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface TaskMetric { name: string; value: number; stderr: number }

export interface TaskResult {
  task: TaskDef;
  files: string[];
  /** Records in the data file; `docs` of them were usable. */
  records: number;
  docs: number;
  issues: DataIssue[];
  /** doc_ids scored (all, or the seeded --limit subset), ascending. */
  itemIndices: number[];
  samples: SampleRecord[];
  metrics: TaskMetric[];
  seconds: number;
}

export interface EvalRun {
  results: TaskResult[];
  unavailable: { task: string; missing: string[] }[];
  seed: number;
  shots: number;
  limit: number | null;
  bootstrapIters: number;
  maxGenTokens: number;
  seconds: number;
}

/** The documents a --limit run scores: a seeded subset, in file order. */
export function selectDocs(task: TaskDef, docs: readonly EvalDoc[], limit: number | undefined, seed: number): EvalDoc[] {
  if (limit === undefined || limit >= docs.length) return [...docs];
  const picked = sampleIndices(docs.length, limit, seededRng(deriveSeed(seed, task.name, 'limit')));
  return picked.sort((a, b) => a - b).map((i) => docs[i]!);
}

/** Aggregate per-sample metric values as the harness does: mean (stderr mean_stderr), perplexity (bootstrap stderr). */
export function aggregateMetrics(task: TaskDef, samples: readonly SampleRecord[], o: { bootstrapIters?: number; seed?: number } = {}): TaskMetric[] {
  return task.metrics.map((name) => {
    const xs = samples.map((s) => s.values[name]!);
    if (name === 'perplexity') {
      return { name, value: perplexity(xs), stderr: bootstrapStderr(xs, perplexity, o.bootstrapIters ?? 1000, deriveSeed(o.seed ?? 1234, task.name, 'bootstrap')) };
    }
    return { name, value: mean(xs), stderr: meanStderr(xs) };
  });
}

export async function evaluateLoaded(scorer: EvalScorer, loaded: LoadedTask, o: Omit<EvalOptions, 'tasks' | 'dataDirs'> = {}): Promise<TaskResult> {
  const t0 = performance.now();
  const seed = o.seed ?? 1234;
  const { task, docs } = loaded;
  const chosen = selectDocs(task, docs, o.limit, seed);
  const samples: SampleRecord[] = [];
  for (const doc of chosen) {
    if (o.signal?.aborted) throw new RecallError('E_INVALID_ARGUMENT', 'evaluation cancelled');
    const { prefix } = fewshotPrefix(task, docs, doc, o.shots ?? 0, seed);
    try {
      samples.push(await scoreDoc(task, doc, scorer, { prefix, ...(o.maxGenTokens ? { maxGenTokens: o.maxGenTokens } : {}) }));
    } catch (e) {
      if (!(e instanceof RecallError)) throw e;
      throw new RecallError(e.code, `task ${task.name}, doc ${doc.index} (${loaded.files[0]}): ${e.message}`, { ...e.details, task: task.name, doc: doc.index }, { cause: e });
    }
    o.onProgress?.(task.name, samples.length, chosen.length);
  }
  return {
    task, files: loaded.files, records: loaded.records, docs: docs.length, issues: loaded.issues,
    itemIndices: chosen.map((d) => d.index), samples,
    metrics: samples.length ? aggregateMetrics(task, samples, { ...(o.bootstrapIters ? { bootstrapIters: o.bootstrapIters } : {}), seed }) : [],
    seconds: (performance.now() - t0) / 1000,
  };
}

export async function evaluate(scorer: EvalScorer, o: EvalOptions): Promise<EvalRun> {
  const t0 = performance.now();
  const seed = o.seed ?? 1234;
  const loaded = o.tasks.map((name) => loadTask(name, o.dataDirs));
  const unavailable = loaded.flatMap((l) => (l.available ? [] : [{ task: l.task.name, missing: l.missing }]));
  if ((o.requireAll ?? true) && unavailable.length) {
    const first = loaded.find((l) => !l.available)!;
    if (!first.available) throw new RecallError('E_EVAL_TASK', unavailableMessage(first), { task: first.task.name, missing: first.missing });
  }
  const results: TaskResult[] = [];
  for (const l of loaded) {
    if (!l.available) continue;
    if (l.data.docs.length === 0) {
      throw new RecallError('E_EVAL_DATA', `task ${l.task.name}: no usable records in ${l.data.files[0]} (${l.data.issues.length} malformed)`, { task: l.task.name });
    }
    results.push(await evaluateLoaded(scorer, l.data, { ...o, seed }));
  }
  return {
    results, unavailable, seed, shots: o.shots ?? 0, limit: o.limit ?? null,
    bootstrapIters: o.bootstrapIters ?? 1000, maxGenTokens: o.maxGenTokens ?? 256, seconds: (performance.now() - t0) / 1000,
  };
}
