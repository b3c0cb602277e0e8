// The data source over the engine's API (main/contract run-methods): models, tasks, runs, jobs
// (with their events), experiments, paired comparisons, and the similarity arrays of analyze
// runs (runs.similarity) for the Layers view.

import type { ExperimentInfo, RunDetail as ApiRunDetail, RunSummary as ApiRunSummary, TaskComparisonInfo } from '../../../main/contract/index.ts';
import type { AccuracyRow } from '../tables/accuracy-table.ts';
import type { Transport } from '../transport/transport.ts';
import { draftToSpec, jobFromApi, modelFromApi, runDetailFromApi, runFromApi } from './api-mapping.ts';
import type { DataSource } from './data-source.ts';
import { describeError } from './describe-error.ts';
import { flipGroups } from './flip-groups.ts';
import { layersFromSimilarity, variantLabel } from './layer-mapping.ts';
import type { AnalysisChoice, CompareData, LayerData, ModelEntry, TaskFlips } from './workbench-types.ts';

const live = <T>(value: T) => ({ value, sample: false as const });

export function createApiSource(transport: Transport): DataSource {
  const jobLogs = new Map<string, string[]>();
  transport.listen('jobs.log', (e) => {
    const lines = jobLogs.get(e.jobId) ?? [];
    lines.push(e.line);
    jobLogs.set(e.jobId, lines.slice(-200));
  });

  async function unwrap<T>(p: Promise<{ ok: true; value: T } | { ok: false; error: { message: string; code: string } }>): Promise<T> {
    const r = await p;
    if (!r.ok) throw new Error(describeError(r.error as Parameters<typeof describeError>[0]));
    return r.value;
  }

  async function modelNames(): Promise<Map<number, string>> {
    const list = await unwrap(transport.call('models.list', {}));
    return new Map(list.filter((m) => m.id !== null).map((m) => [m.id!, m.name]));
  }

  const source: DataSource = {
    async models() {
      const list = await unwrap(transport.call('models.list', {}));
      const out: ModelEntry[] = await Promise.all(
        list.map(async (m) => {
          if (!m.available) return modelFromApi(m, null);
          const info = await transport.call('models.inspect', { path: m.dir });
          return modelFromApi(m, info.ok ? info.value : null);
        }),
      );
      return live(out);
    },
    async importModel(path) {
      const r = await transport.call('models.import', { path: path.trim() });
      if (!r.ok) return { ok: false, message: describeError(r.error) };
      const info = await transport.call('models.inspect', { path: r.value.dir });
      return { ok: true, model: modelFromApi(r.value, info.ok ? info.value : null) };
    },
    async tasks() {
      const list = await unwrap(transport.call('data.tasks', {}));
      return live(list.map((t) => ({ id: t.name, label: t.name, available: t.available, hint: t.available ? t.files.join(', ') : `not found (looked in ${t.lookedFor.slice(0, 2).join(', ')})` })));
    },
    async runs() {
      const [list, names] = await Promise.all([unwrap(transport.call('runs.list', {})), modelNames()]);
      return live(list.map((r) => runFromApi(r, names)));
    },
    async run(id) {
      if (!/^\d+$/.test(id)) return live(null);
      const r = await transport.call('runs.get', { runId: Number(id) });
      if (!r.ok) {
        if (r.error.code === 'E_NOT_FOUND' || /not found|no run/i.test(r.error.message)) return live(null);
        throw new Error(describeError(r.error));
      }
      return live(runDetailFromApi(r.value, await modelNames()));
    },
    async jobs() {
      const [jobs, runs] = await Promise.all([unwrap(transport.call('jobs.list', {})), unwrap(transport.call('runs.list', {}))]);
      const names = new Map(runs.map((r) => [r.id, r.name]));
      return live(jobs.map((j) => jobFromApi(j, names.get(j.runId), jobLogs.get(j.jobId) ?? [])).reverse());
    },
    onJobs(listener) {
      const offs = [transport.listen('jobs.progress', listener), transport.listen('jobs.done', listener), transport.listen('jobs.log', listener)];
      return () => offs.forEach((off) => off());
    },
    async cancelJob(id) {
      const r = await transport.call('jobs.cancel', { jobId: id });
      return r.ok ? { ok: true } : { ok: false, message: describeError(r.error) };
    },
    async resumeJob(_id, runId) {
      if (!runId) return { ok: false, message: 'This job has no run to resume.' };
      const r = await transport.call('jobs.resume', { runId: Number(runId) });
      return r.ok ? { ok: true } : { ok: false, message: describeError(r.error) };
    },
    async compare(ids) {
      const chosen = ids.filter((i) => /^\d+$/.test(i)).map(Number);
      if (chosen.length) return live(await compareRuns(transport, chosen, unwrap));
      // Nothing selected: the newest experiment's evaluations, dense first.
      const latest = (await experiments(transport, unwrap)).find((e) => e.table.some((r) => r.status === 'done'));
      const rows = latest?.table.filter((r) => r.status === 'done') ?? [];
      const labels = new Map(rows.map((r) => [r.evalRunId, r.recovery === 'none' ? r.compression : `${r.compression} + ${r.recovery}`]));
      return live(await compareRuns(transport, rows.map((r) => r.evalRunId), unwrap, labels, latest?.name));
    },
    async layers(ids) {
      return live(await layersOf(transport, ids.filter((i) => /^\d+$/.test(i)).map(Number), unwrap));
    },
    async startExperiment(draft) {
      const created = await transport.call('experiments.create', { spec: draftToSpec(draft) });
      if (!created.ok) return { ok: false, message: describeError(created.error) };
      const run = await transport.call('experiments.run', { runId: created.value.runId });
      if (!run.ok) return { ok: false, message: describeError(run.error) };
      const v = created.value;
      return { ok: true, message: `Started experiment ${v.name}: ${v.steps.length} steps (${v.reused} reused). Follow it in Jobs.` };
    },
  };
  return source;
}

type Unwrap = <T>(p: Promise<{ ok: true; value: T } | { ok: false; error: { message: string; code: string } }>) => Promise<T>;

/** Experiments, newest first, with their steps and method x task tables. */
async function experiments(transport: Transport, unwrap: Unwrap, limit = 20): Promise<ExperimentInfo[]> {
  const runs: ApiRunSummary[] = await unwrap(transport.call('runs.list', { kind: 'experiment', limit }));
  const infos = await Promise.all(runs.map(async (r) => {
    const got = await transport.call('experiments.get', { runId: r.id });
    return got.ok ? got.value : null;
  }));
  return infos.filter((i): i is ExperimentInfo => i !== null);
}

/**
 * The finished analyses, grouped by experiment, and the similarity of the chosen ones (by
 * default every analysis of the experiment that made the newest one).
 */
async function layersOf(transport: Transport, ids: number[], unwrap: Unwrap): Promise<LayerData> {
  const [runs, exps] = await Promise.all([unwrap(transport.call('runs.list', { kind: 'analyze', status: 'done' })), experiments(transport, unwrap)]);
  const groupOf = new Map<number, string>();
  for (const e of [...exps].reverse()) for (const s of e.steps) if (s.kind === 'analyze') groupOf.set(s.runId, `${e.name} (experiment ${e.runId})`);
  const analyses: AnalysisChoice[] = [...runs].sort((a, b) => a.id - b.id).map((r) => ({ id: String(r.id), label: variantLabel(r.name), group: groupOf.get(r.id) ?? 'Separate analyses' }));
  let chosen = ids.filter((id) => runs.some((r) => r.id === id));
  if (chosen.length === 0 && runs[0]) {
    const group = groupOf.get(runs[0].id);
    chosen = group ? runs.filter((r) => groupOf.get(r.id) === group).map((r) => r.id).sort((a, b) => a - b) : [runs[0].id];
  }
  const similarity = await Promise.all(chosen.map((runId) => unwrap(transport.call('runs.similarity', { runId }))));
  return { ...layersFromSimilarity(similarity), analyses, selected: chosen.map(String) };
}

const isRecovered = (d: ApiRunDetail) => d.lineage.some((l) => l.kind === 'tune');

/** The compressed model's eval among `evals` that a recovered eval's model was trained from. */
function compressedOf(d: ApiRunDetail, evals: ApiRunDetail[]): ApiRunDetail | undefined {
  const compress = d.lineage.find((l) => l.kind === 'compress');
  return compress ? evals.find((e) => e !== d && !isRecovered(e) && e.lineage.some((l) => l.kind === 'compress' && l.id === compress.id)) : undefined;
}

/**
 * The first run is the reference. Compressed rows get paired tests and flips against it;
 * recovered rows get their tests against their compressed model (when it is compared too) and
 * three-way flips (lost by compression, brought back by the recovery...).
 */
async function compareRuns(transport: Transport, ids: number[], unwrap: Unwrap, labels = new Map<number, string>(), caption?: string): Promise<CompareData> {
  const details: ApiRunDetail[] = await Promise.all(ids.map((id) => unwrap(transport.call('runs.get', { runId: id }))));
  const evals = details.filter((d) => d.metrics.length > 0);
  const tasks = [...new Set(evals.flatMap((d) => d.metrics.map((m) => m.task)))].sort();
  const ref = evals[0];
  const comparisons = new Map<number, TaskComparisonInfo[]>();
  const flipSource = new Map<number, TaskComparisonInfo[]>();
  const compare = async (a: number, b: number, c?: number) => {
    const r = await transport.call('runs.compare', { a, b, ...(c !== undefined ? { c } : {}) });
    return r.ok ? r.value : null;
  };
  if (ref?.kind === 'eval') {
    await Promise.all(
      evals.slice(1).map(async (d) => {
        if (d.kind !== 'eval') return;
        const base = isRecovered(d) ? compressedOf(d, evals) : undefined;
        const [tests, three] = await Promise.all([compare(base?.id ?? ref.id, d.id), base ? compare(ref.id, base.id, d.id) : null]);
        if (tests) comparisons.set(d.id, tests);
        if (three ?? tests) flipSource.set(d.id, (three ?? tests)!);
      }),
    );
  }
  const primary = (d: ApiRunDetail, task: string) => d.metrics.find((m) => m.task === task && m.metric === 'acc') ?? d.metrics.find((m) => m.task === task);
  const rows: AccuracyRow[] = evals.map((d, i) => ({
    label: labels.get(d.id) ?? d.name,
    kind: i === 0 ? 'dense' : isRecovered(d) ? 'recovered' : 'compressed',
    runId: String(d.id),
    cells: Object.fromEntries(
      tasks.map((t) => {
        const m = primary(d, t);
        const c = comparisons.get(d.id)?.find((x) => x.task === t);
        return [t, m ? { acc: m.value, stderr: m.stderr, ...(c ? { p: c.mcnemar.p, delta: c.accB - c.accA } : {}) } : { acc: null }];
      }),
    ),
  }));
  const flips: Record<string, TaskFlips[]> = {};
  for (const d of evals.slice(1)) {
    const cmp = flipSource.get(d.id);
    // flips also carries `items` (how many were paired): only its lists are flip sets.
    if (cmp) flips[labels.get(d.id) ?? d.name] = cmp.map((c) => ({ task: c.task, groups: flipGroups(Object.fromEntries(Object.entries(c.flips).filter((e): e is [string, number[]] => Array.isArray(e[1])).map(([k, v]) => [k, v.map((docId) => ({ docId }))]))) }));
  }
  return { table: { caption: `Accuracy (%) ± standard error${caption ? ` · experiment ${caption}` : ''}`, tasks: tasks.map((t) => ({ id: t, label: t })), rows }, flips };
}
