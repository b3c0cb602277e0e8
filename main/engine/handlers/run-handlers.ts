// runs.*: listing, reading, deleting, comparing, exporting and importing runs.

import { rmSync } from 'node:fs';
import { ApiError, type RunDetail } from '../../contract/index.ts';
import { compareResults } from '../eval/compare.ts';
import { exportRuns } from '../experiments/export-runs.ts';
import { importBundle } from '../experiments/import-bundle.ts';
import { parsedResultsOf } from '../jobs/eval-results.ts';
import { readJobLog, runDir } from '../jobs/run-files.ts';
import type { RunRecord, Store } from '../store/index.ts';
import type { HandlerContext, Handlers } from './types.ts';

function lineageOf(store: Store, run: RunRecord): RunDetail['lineage'] {
  const out: RunDetail['lineage'] = [];
  const seen = new Set<number>([run.id]);
  let frontier = run.parents;
  while (frontier.length) {
    const next: RunRecord['parents'] = [];
    for (const p of frontier) {
      if (seen.has(p.id)) continue;
      seen.add(p.id);
      const r = store.runs.get(p.id);
      if (!r) continue;
      out.push({ id: r.id, role: p.role, kind: r.kind, name: r.name, status: r.status });
      next.push(...r.parents);
    }
    frontier = next;
  }
  return out;
}

function detail(ctx: HandlerContext, runId: number): RunDetail {
  const { store, dataDir } = ctx.services;
  const run = store.runs.require(runId);
  return {
    ...run,
    lineage: lineageOf(store, run),
    children: store.runs.children(run.id).map((c) => c.id),
    metrics: store.metrics.list(run.id),
    records: Object.fromEntries(store.records.tasks(run.id).map((t) => [t, store.records.count(run.id, t)])),
    compressionLog: store.compressionLogs.list(run.id),
    curve: store.trainingCurves.list(run.id),
    similarityKinds: store.similarity.kinds(run.id),
    artifacts: store.artifacts.list(run.id),
    dir: runDir(dataDir, run.id),
    log: readJobLog(dataDir, run.id),
  };
}

/** The run and (recursive) its descendants, children before parents. */
function deletionOrder(store: Store, runId: number, recursive: boolean): RunRecord[] {
  const run = store.runs.require(runId);
  if (!recursive) return [run];
  const out: RunRecord[] = [];
  const visit = (r: RunRecord) => {
    for (const c of store.runs.children(r.id)) if (!out.some((x) => x.id === c.id)) visit(c);
    if (!out.some((x) => x.id === r.id)) out.push(r);
  };
  visit(run);
  return out;
}

export const runHandlers: Handlers<'runs.list' | 'runs.get' | 'runs.records' | 'runs.delete' | 'runs.export' | 'runs.import' | 'runs.compare'> = {
  'runs.list': (p, ctx) => ctx.services.store.runs.list(p),
  'runs.get': ({ runId }, ctx) => detail(ctx, runId),
  'runs.records': ({ runId, task, offset, limit }, ctx) => {
    const { store } = ctx.services;
    store.runs.require(runId);
    return store.records.list(runId, task, { ...(offset !== undefined ? { offset } : {}), ...(limit !== undefined ? { limit } : {}) }).map((r) => ({ item: r.item, payload: r.payload }));
  },
  'runs.delete': ({ runId, recursive }, ctx) => {
    const { store, queue, dataDir } = ctx.services;
    const order = deletionOrder(store, runId, recursive ?? false);
    const busy = order.find((r) => queue.activeJobFor(r.id) || ctx.services.experiments.has(r.id));
    if (busy) throw new ApiError('E_BAD_ARGUMENT', `runId: run ${busy.id} has a job queued or running; cancel it first`, { runId: busy.id });
    const deleted: number[] = [];
    for (const r of order) {
      store.runs.delete(r.id);
      rmSync(runDir(dataDir, r.id), { recursive: true, force: true });
      deleted.push(r.id);
      ctx.emit('runs.updated', { runId: r.id, kind: r.kind, status: r.status, deleted: true });
    }
    return { deleted };
  },
  'runs.export': (p, ctx) => exportRuns(ctx.services.store, ctx.services.dataDir, p),
  'runs.import': async ({ path }, ctx) => {
    const info = await importBundle(ctx.services.store, ctx.services.dataDir, path);
    for (const r of info.runs) if (!r.reused) ctx.emit('runs.updated', { runId: r.to, kind: ctx.services.store.runs.require(r.to).kind, status: ctx.services.store.runs.require(r.to).status });
    return info;
  },
  'runs.compare': ({ a, b, c, seed, resamples }, ctx) => {
    const { store } = ctx.services;
    const parsed = [a, b, ...(c !== undefined ? [c] : [])].map((id, i) => {
      const run = store.runs.require(id);
      if (run.kind !== 'eval') throw new ApiError('E_BAD_ARGUMENT', `${'abc'[i]}: run ${id} is a ${run.kind} run, not an eval run`, { runId: id });
      return parsedResultsOf(store, run);
    });
    return compareResults(parsed[0]!, parsed[1]!, parsed[2], { ...(seed !== undefined ? { seed } : {}), ...(resamples ? { resamples } : {}) }).map((r) => ({
      task: r.task, metric: r.metric, paired: r.paired, accA: r.accA, accB: r.accB, ...(r.accC !== undefined ? { accC: r.accC } : {}),
      difference: { diff: r.difference.diff, lower: r.difference.lower, upper: r.difference.upper, level: r.difference.level },
      mcnemar: r.mcnemar, flips: { ...r.flips } as unknown as Record<string, number[]>,
    }));
  },
};
