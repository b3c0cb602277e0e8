// runs.export: runs with their whole lineage (and an experiment's steps) as a bundle, their
// metrics as CSV, or eval runs as lm-evaluation-harness results JSON.

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import pkg from '../../../package.json' with { type: 'json' };
import type { ExportInfo } from '../../contract/index.ts';
import { RecallError } from '../errors.ts';
import { harnessJson } from '../jobs/eval-results.ts';
import { inputParent } from '../jobs/job-context.ts';
import { resolveVariant, runDir } from '../jobs/run-files.ts';
import type { RunRecord, Store } from '../store/index.ts';
import { BUNDLE_FORMAT, type Bundle, type BundleRun } from './bundle-format.ts';
import { readPlan } from './plan-experiment.ts';

const DEFAULT_MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;

/** The runs asked for, their ancestors, and an experiment's steps (with theirs), oldest first. */
export function collectRuns(store: Store, dataDir: string, runIds: readonly number[]): RunRecord[] {
  const found = new Map<number, RunRecord>();
  const visit = (id: number) => {
    if (found.has(id)) return;
    const run = store.runs.require(id);
    found.set(id, run);
    for (const p of run.parents) visit(p.id);
    if (run.kind === 'experiment' && existsSync(join(runDir(dataDir, id), 'plan.json'))) for (const s of readPlan(dataDir, id).steps) visit(s.runId);
  };
  runIds.forEach(visit);
  return [...found.values()].sort((a, b) => a.id - b.id);
}

function bundleRun(store: Store, dataDir: string, run: RunRecord, maxBytes: number): BundleRun {
  const model = run.modelId === null ? null : store.models.get(run.modelId)?.fingerprint ?? null;
  return {
    id: run.id, kind: run.kind, name: run.name, status: run.status === 'running' ? 'failed' : run.status, model, config: run.config, fingerprint: run.fingerprint,
    seed: run.seed, versions: run.versions, createdAt: run.createdAt, startedAt: run.startedAt, finishedAt: run.finishedAt, timings: run.timings,
    error: run.status === 'running' ? 'exported while running' : run.error, resumable: run.status === 'running' ? true : run.resumable, parents: run.parents,
    metrics: store.metrics.list(run.id).map(({ runId: _r, ...m }) => m),
    records: store.records.tasks(run.id).flatMap((t) => store.records.list(run.id, t).map((r) => ({ task: t, item: r.item, payload: r.payload }))),
    compressionLog: store.compressionLogs.list(run.id).map(({ runId: _r, ...e }) => e),
    curve: store.trainingCurves.list(run.id),
    similarity: store.similarity.kinds(run.id).map((kind) => {
      const a = store.similarity.get(run.id, kind)!;
      return { kind, dtype: a.dtype, shape: a.shape, data: Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).toString('base64') };
    }),
    artifacts: store.artifacts.list(run.id).map((a) => {
      const file = join(runDir(dataDir, run.id), a.path);
      const small = a.bytes <= maxBytes && existsSync(file) && statSync(file).size === a.bytes;
      return { path: a.path, kind: a.kind, bytes: a.bytes, sha256: a.sha256, ...(small ? { data: readFileSync(file).toString('base64') } : {}) };
    }),
  };
}

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function exportRuns(store: Store, dataDir: string, p: { runIds: number[]; out: string; format: 'bundle' | 'csv' | 'harness'; maxArtifactBytes?: number | undefined }): ExportInfo {
  const out = resolve(p.out);
  const runs = collectRuns(store, dataDir, p.runIds);
  let bytes: Buffer;
  if (p.format === 'bundle') {
    const usedModels = new Set(runs.map((r) => r.modelId).filter((x): x is number => x !== null));
    const bundle: Bundle = {
      format: BUNDLE_FORMAT, recall: pkg.version, createdAt: Date.now(),
      models: [...usedModels].map((id) => store.models.get(id)!).map((m) => ({ fingerprint: m.fingerprint, name: m.name, architecture: m.architecture, sourcePath: m.sourcePath, info: m.info })),
      runs: runs.map((r) => bundleRun(store, dataDir, r, p.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES)),
    };
    bytes = gzipSync(JSON.stringify(bundle));
  } else if (p.format === 'csv') {
    const rows = [['run_id', 'run_name', 'kind', 'status', 'parent_id', 'task', 'metric', 'value', 'stderr', 'n']];
    for (const r of runs) for (const m of store.metrics.list(r.id)) rows.push([r.id, r.name, r.kind, r.status, inputParent(r) ?? '', m.task, m.metric, m.value, m.stderr, m.n].map(csvCell));
    bytes = Buffer.from(`${rows.map((r) => r.join(',')).join('\n')}\n`);
  } else {
    const evals = p.runIds.map((id) => store.runs.require(id));
    const bad = evals.find((r) => r.kind !== 'eval');
    if (bad) throw new RecallError('E_INVALID_ARGUMENT', `runIds: run ${bad.id} is a ${bad.kind} run; the harness format holds eval runs`, { runId: bad.id });
    const json = (r: RunRecord) => harnessJson(store, r, r.modelId === null ? `run ${r.id}` : resolveVariant(store, dataDir, r.modelId, inputParent(r)).modelDir);
    const value = evals.length === 1 ? json(evals[0]!) : Object.fromEntries(evals.map((r) => [String(r.id), json(r)]));
    bytes = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
  }
  try {
    writeFileSync(out, bytes);
  } catch (e) {
    throw new RecallError('E_IO', `cannot write ${out}: ${(e as Error).message}`, { file: out }, { cause: e });
  }
  return { path: out, bytes: bytes.length, runs: runs.length, format: p.format };
}
