// runs.import: a bundle written by runs.export read into this store. Models are matched by
// fingerprint (registered when unknown), runs inserted as recorded (status, times, config,
// fingerprint) with their parents remapped, a finished run this store already has (same kind and
// fingerprint) reused instead of duplicated; artifact files are written back and checked against
// their sha256. An experiment's plan.json is rewritten with the new run ids.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ImportInfo } from '../../contract/index.ts';
import { RecallError } from '../errors.ts';
import { recordArtifacts, runDir } from '../jobs/run-files.ts';
import { insertRunVerbatim, type Store } from '../store/index.ts';
import { BUNDLE_FORMAT, type Bundle, type BundleRun } from './bundle-format.ts';
import type { ExperimentPlan } from './plan-experiment.ts';

const TYPED = { float32: Float32Array, float64: Float64Array, int32: Int32Array } as const;

export function readBundle(path: string): Bundle {
  let bundle: Bundle;
  try {
    bundle = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as Bundle;
  } catch (e) {
    throw new RecallError('E_INVALID_ARGUMENT', `${path}: not a Recall export bundle (${(e as Error).message})`, { file: path }, { cause: e });
  }
  if (bundle?.format !== BUNDLE_FORMAT || !Array.isArray(bundle.runs)) throw new RecallError('E_INVALID_ARGUMENT', `${path}: format is ${JSON.stringify(bundle?.format)}, expected ${BUNDLE_FORMAT}`, { file: path });
  return bundle;
}

function writeResults(store: Store, id: number, r: BundleRun): void {
  if (r.metrics.length) store.metrics.upsert(id, r.metrics);
  const byTask = new Map<string, { item: number; payload: unknown }[]>();
  for (const rec of r.records) byTask.set(rec.task, [...(byTask.get(rec.task) ?? []), { item: rec.item, payload: rec.payload }]);
  for (const [task, recs] of byTask) store.records.insertMany(id, task, recs);
  if (r.compressionLog.length) store.compressionLogs.log(id, r.compressionLog);
  if (r.curve.length) store.trainingCurves.append(id, r.curve);
  for (const s of r.similarity) {
    const bytes = Buffer.from(s.data, 'base64');
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    store.similarity.put(id, s.kind, new TYPED[s.dtype](copy.buffer), s.shape);
  }
}

export async function importBundle(store: Store, dataDir: string, path: string): Promise<ImportInfo> {
  const bundle = readBundle(resolve(path));
  const models = new Map<string, number>();
  for (const m of bundle.models) {
    models.set(m.fingerprint, (store.models.getByFingerprint(m.fingerprint) ?? store.models.register(m)).id);
  }
  const ids = new Map<number, number>();
  const info: ImportInfo = { runs: [], artifacts: 0, missingArtifacts: [] };
  const plans: [number, BundleRun][] = [];
  for (const r of [...bundle.runs].sort((a, b) => a.id - b.id)) {
    const existing = r.status === 'done' && r.kind !== 'experiment' ? store.runs.findReusableRun(r.kind, r.fingerprint) : undefined;
    if (existing) {
      ids.set(r.id, existing.id);
      info.runs.push({ from: r.id, to: existing.id, reused: true });
      continue;
    }
    const parents = r.parents.map((p) => {
      const id = ids.get(p.id);
      if (id === undefined) throw new RecallError('E_INVALID_ARGUMENT', `${path}: run ${r.id}'s parent ${p.id} is not in the bundle`, { runId: r.id });
      return { id, role: p.role };
    });
    const modelId = r.model === null ? null : models.get(r.model) ?? null;
    const id = insertRunVerbatim(store.db, { ...r, modelId, parents });
    ids.set(r.id, id);
    info.runs.push({ from: r.id, to: id, reused: false });
    writeResults(store, id, r);
    for (const a of r.artifacts) {
      if (r.kind === 'experiment' && a.path === 'plan.json') { plans.push([id, r]); continue; }
      if (a.data === undefined) { info.missingArtifacts.push(`run ${r.id}: ${a.path}`); continue; }
      const bytes = Buffer.from(a.data, 'base64');
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== a.sha256) throw new RecallError('E_INVALID_ARGUMENT', `${path}: artifact ${a.path} of run ${r.id} does not match its sha256`, { runId: r.id, path: a.path });
      const file = join(runDir(dataDir, id), a.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, bytes);
      store.artifacts.record(id, { path: a.path, kind: a.kind, bytes: a.bytes, sha256: a.sha256 });
      info.artifacts++;
    }
  }
  for (const [id, r] of plans) {
    const a = r.artifacts.find((x) => x.path === 'plan.json')!;
    if (a.data === undefined) continue;
    const plan = JSON.parse(Buffer.from(a.data, 'base64').toString('utf8')) as ExperimentPlan;
    plan.steps = plan.steps.map((s) => ({ ...s, runId: ids.get(s.runId) ?? s.runId }));
    mkdirSync(runDir(dataDir, id), { recursive: true });
    writeFileSync(join(runDir(dataDir, id), 'plan.json'), `${JSON.stringify(plan, null, 1)}\n`);
    await recordArtifacts(store, dataDir, id, '', 'plan');
    info.artifacts++;
  }
  return info;
}
