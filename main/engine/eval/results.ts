// The results JSON in lm-evaluation-harness's layout (what simple_evaluate returns with
// log_samples), so tools that read the harness's output read Recall's:
//   results       {task: {alias, "acc,none": x, "acc_stderr,none": y, ...}}   ("N/A" for no stderr)
//   configs       {task: {task, dataset_path, <split>, output_type, doc_to_text, target_delimiter,
//                          fewshot_delimiter, num_fewshot, metric_list, generation_kwargs?, metadata}}
//   versions      {task: version};  n-shot {task: k};  higher_is_better {task: {metric: bool}}
//   n-samples     {task: {original, effective}};  config {model, model_args, limit, ...}
//   samples       {task: [{doc_id, doc, target, arguments, resps, filtered_resps, filter,
//                          metrics: [names], <metric>: value, ... , prediction, gold, correct}]}
//   recall        Recall's own record: seed, --limit item indices, data issues, unavailable tasks
// readResults parses one back (Recall's or the harness's, when it carries samples).
import { readFileSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import type { EvalRun, TaskResult } from './evaluate.ts';
import { FEWSHOT_DELIMITER } from './prompts.ts';
import { findTask, primaryMetric } from './tasks.ts';

export const RESULTS_FORMAT = 'recall-eval/1';

export interface RunMeta {
  model: string;
  ep?: string;
  sharedContext?: boolean;
}

const stderrValue = (x: number): number | 'N/A' => (Number.isFinite(x) ? x : 'N/A');

function taskConfig(r: TaskResult, run: EvalRun): Record<string, unknown> {
  const t = r.task;
  return {
    task: t.name, dataset_path: t.datasetPath, [`${t.split}_split`]: t.split,
    output_type: t.kind === 'greedy_any' ? 'multiple_choice' : t.kind,
    doc_to_text: t.template, target_delimiter: t.targetDelimiter, fewshot_delimiter: FEWSHOT_DELIMITER, num_fewshot: run.shots,
    metric_list: t.metrics.map((m) => ({ metric: m, aggregation: m === 'perplexity' ? 'perplexity' : 'mean', higher_is_better: m !== 'perplexity' })),
    ...(t.until ? { generation_kwargs: { until: t.until, do_sample: false, temperature: 0, max_gen_toks: run.maxGenTokens } } : {}),
    metadata: { version: t.version },
  };
}

export function toHarnessResults(run: EvalRun, meta: RunMeta): Record<string, unknown> {
  const byTask = <T>(f: (r: TaskResult) => T) => Object.fromEntries(run.results.map((r) => [r.task.name, f(r)]));
  return {
    results: byTask((r) => {
      const out: Record<string, unknown> = { alias: r.task.name };
      for (const m of r.metrics) {
        out[`${m.name},${r.task.filter}`] = m.value;
        out[`${m.name}_stderr,${r.task.filter}`] = stderrValue(m.stderr);
      }
      return out;
    }),
    group_subtasks: byTask(() => []),
    configs: byTask((r) => taskConfig(r, run)),
    versions: byTask((r) => r.task.version),
    'n-shot': byTask(() => run.shots),
    higher_is_better: byTask((r) => Object.fromEntries(r.task.metrics.map((m) => [m, m !== 'perplexity']))),
    'n-samples': byTask((r) => ({ original: r.docs, effective: r.samples.length })),
    config: {
      model: 'recall', model_args: `pretrained=${meta.model}`, batch_size: 1, device: meta.ep ?? null, limit: run.limit,
      bootstrap_iters: run.bootstrapIters, random_seed: run.seed, fewshot_seed: run.seed,
    },
    samples: byTask((r) => r.samples.map((s) => {
      const { values, ...rest } = s;
      return { ...rest, filter: r.task.filter, metrics: Object.keys(values), ...values };
    })),
    recall: {
      format: RESULTS_FORMAT, model: meta.model, ep: meta.ep ?? null, shared_context: meta.sharedContext ?? true,
      seed: run.seed, limit: run.limit, shots: run.shots, bootstrap_iters: run.bootstrapIters, max_gen_toks: run.maxGenTokens,
      seconds: run.seconds, unavailable: run.unavailable,
      tasks: byTask((r) => ({
        files: r.files, records: r.records, docs: r.docs, primary_metric: primaryMetric(r.task), item_indices: r.itemIndices,
        data_issues: r.issues, seconds: r.seconds,
      })),
    },
    date: Date.now() / 1000,
    total_evaluation_time_seconds: String(run.seconds),
  };
}

/** Per-task per-item correctness (doc_id -> correct) and headline metrics of a results file. */
export interface ParsedResults {
  source: string;
  tasks: Map<string, { metric: string; items: Map<number, boolean>; metrics: Record<string, unknown> }>;
}

function fail(source: string, message: string): never {
  throw new RecallError('E_EVAL_RESULTS', `${source}: ${message}`, { file: source });
}

/** A sample's correctness: Recall's `correct`, else the task's primary metric value (harness samples). */
function sampleCorrect(s: Record<string, unknown>, metric: string, source: string, task: string): boolean {
  if (typeof s.correct === 'boolean') return s.correct;
  const v = s[metric];
  if (typeof v === 'number') return v > 0;
  return fail(source, `samples.${task}: doc ${String(s.doc_id)} has neither "correct" nor a numeric "${metric}"`);
}

export function parseResults(json: unknown, source: string): ParsedResults {
  if (typeof json !== 'object' || json === null) fail(source, 'not a JSON object');
  const o = json as Record<string, unknown>;
  const results = o.results as Record<string, Record<string, unknown>> | undefined;
  if (typeof results !== 'object' || results === null) fail(source, 'no "results" object (not an lm-evaluation-harness results file)');
  const samples = (o.samples ?? {}) as Record<string, unknown>;
  const tasks: ParsedResults['tasks'] = new Map();
  for (const [name, metrics] of Object.entries(results)) {
    const list = samples[name];
    if (!Array.isArray(list)) fail(source, `no per-sample records for task ${name} ("samples.${name}"); rerun with samples logged`);
    const def = findTask(name);
    const metric = def ? primaryMetric(def) : 'acc';
    const items = new Map<number, boolean>();
    for (const s of list as Record<string, unknown>[]) {
      if (typeof s?.doc_id !== 'number') fail(source, `samples.${name}: a record has no numeric doc_id`);
      items.set(s.doc_id, sampleCorrect(s, metric, source, name));
    }
    tasks.set(name, { metric, items, metrics });
  }
  return { source, tasks };
}

export function readResults(path: string): ParsedResults {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RecallError('E_NOT_FOUND', `${path}: cannot read results file (${(e as Error).message})`, { file: path }, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(path, `not JSON (${(e as Error).message})`);
  }
  return parseResults(json, path);
}
