// A finished step's results as they travel from a worker's store to the coordinator's: the
// rows the job kinds write (metrics, per-example records, compression log, training curve,
// similarity arrays) and the artifacts, referenced by path and sha256 in shared storage. The
// coordinator checks the shape (zod) and every artifact's hash before writing anything, then
// writes them as a local job would have, so the runs read the same to everything downstream.

import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { z } from 'zod';
import { RecallError } from '../errors.ts';
import { harnessJson } from '../jobs/eval-results.ts';
import { inputParent } from '../jobs/job-context.ts';
import { JOB_LOG, recordArtifacts, resolveVariant, runDir } from '../jobs/run-files.ts';
import type { Store } from '../store/index.ts';
import type { ArtifactStore, StoredObject } from './artifact-store.ts';

const num = z.number().nullable();
const stepResultSchema = z.strictObject({
  format: z.literal('recall-result/1'),
  runId: z.number().int().min(1),
  timings: z.record(z.string(), z.number()),
  metrics: z.array(z.strictObject({ task: z.string(), metric: z.string(), value: z.number(), stderr: num, n: num })),
  records: z.array(z.strictObject({ task: z.string(), item: z.number().int(), payload: z.unknown() })),
  compressionLog: z.array(z.strictObject({
    layer: z.number().int(), module: z.string(), rows: z.number().int(), cols: z.number().int(), bits: num, sparsity: num, damp: num, loss: num, relError: num, seconds: num,
  })),
  curve: z.array(z.strictObject({ step: z.number().int(), loss: num, lr: num, evalLoss: num, tokens: num })),
  similarity: z.array(z.strictObject({ kind: z.string(), dtype: z.enum(['float32', 'float64', 'int32']), shape: z.array(z.number().int()), data: z.string() })),
  artifacts: z.array(z.strictObject({ path: z.string().min(1), kind: z.string(), bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});
export type StepResult = z.infer<typeof stepResultSchema>;

const TYPED = { float32: Float32Array, float64: Float64Array, int32: Int32Array } as const;

/** Reads a finished run out of a worker's store. */
export function readStepResult(store: Store, runId: number): StepResult {
  const run = store.runs.require(runId);
  return {
    format: 'recall-result/1', runId, timings: run.timings,
    metrics: store.metrics.list(runId).map(({ task, metric, value, stderr, n }) => ({ task, metric, value, stderr, n })),
    records: store.records.tasks(runId).flatMap((task) => store.records.list(runId, task).map((r) => ({ task, item: r.item, payload: r.payload }))),
    compressionLog: store.compressionLogs.list(runId).map(({ runId: _r, ...e }) => e),
    curve: store.trainingCurves.list(runId),
    similarity: store.similarity.kinds(runId).map((kind) => {
      const a = store.similarity.get(runId, kind)!;
      return { kind, dtype: a.dtype, shape: a.shape, data: Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).toString('base64') };
    }),
    artifacts: store.artifacts.list(runId).map(({ path, kind, bytes, sha256 }) => ({ path, kind, bytes, sha256 })),
  };
}

export const resultKey = (runId: number) => `results/run-${runId}.json.gz`;

export async function putStepResult(artifacts: ArtifactStore, ns: string, result: StepResult): Promise<StoredObject> {
  return artifacts.putBytes(ns, resultKey(result.runId), gzipSync(JSON.stringify(result)));
}

export async function getStepResult(artifacts: ArtifactStore, ns: string, ref: StoredObject): Promise<StepResult> {
  const bytes = await artifacts.getBytes(ns, ref.key, ref.sha256);
  const parsed = stepResultSchema.safeParse(JSON.parse(gunzipSync(bytes).toString('utf8')));
  if (!parsed.success) throw new RecallError('E_INVALID_ARGUMENT', `result ${ref.key}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, { key: ref.key });
  return parsed.data;
}

/**
 * Writes a worker's result into the coordinator's run (queued, failed or cancelled) and ends it
 * done: artifacts copied from shared storage into the local run folder and checked, the eval
 * results JSON rebuilt from the store with local paths, as the eval job does at its end.
 */
export async function importStepResult(store: Store, dataDir: string, artifacts: ArtifactStore, ns: string, r: StepResult): Promise<void> {
  const run = store.runs.require(r.runId);
  if (run.status === 'done') return;
  const local = runDir(dataDir, run.id);
  const remote = `runs/${run.id}`;
  const copies = r.artifacts.filter((a) => !(run.kind === 'eval' && a.kind === 'results'));
  // Fetched and checked before the run is touched: a bad hash leaves it as it was.
  for (const a of copies) await artifacts.getFile(ns, `${remote}/${a.path}`, join(local, a.path), a.sha256);
  mkdirSync(local, { recursive: true });
  const log = join(artifacts.workspace(ns), remote, JOB_LOG);
  if (existsSync(log)) copyFileSync(log, join(local, JOB_LOG));
  store.runs.start(run.id);
  if (r.metrics.length) store.metrics.upsert(run.id, r.metrics);
  const byTask = new Map<string, { item: number; payload: unknown }[]>();
  for (const x of r.records) byTask.set(x.task, [...(byTask.get(x.task) ?? []), { item: x.item, payload: x.payload }]);
  for (const [task, recs] of byTask) store.records.insertMany(run.id, task, recs);
  if (r.compressionLog.length) store.compressionLogs.log(run.id, r.compressionLog);
  if (r.curve.length) store.trainingCurves.append(run.id, r.curve);
  for (const s of r.similarity) {
    const bytes = Buffer.from(s.data, 'base64');
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    store.similarity.put(run.id, s.kind, new TYPED[s.dtype](copy.buffer), s.shape);
  }
  for (const a of copies) store.artifacts.record(run.id, a);
  if (Object.keys(r.timings).length) store.runs.addTimings(run.id, r.timings);
  if (run.kind === 'eval' && run.modelId !== null) {
    const modelDir = resolveVariant(store, dataDir, run.modelId, inputParent(run)).modelDir;
    mkdirSync(join(local, 'results'), { recursive: true });
    writeFileSync(join(local, 'results', 'results.json'), `${JSON.stringify(harnessJson(store, store.runs.require(run.id), modelDir), null, 1)}\n`);
    await recordArtifacts(store, dataDir, run.id, 'results', 'results');
  }
  store.runs.finish(run.id);
}
