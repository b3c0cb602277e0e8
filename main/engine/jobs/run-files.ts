// Where a run's files live and what a run's model is. Every run owns <dataDir>/runs/<runId>/:
//   compress  model/            the compressed model folder (HF layout + compression/ packed + log)
//   tune      adapter/          the recovery adapter (PEFT layout)
//   eval      results.json      lm-evaluation-harness results with samples
//   analyze   analysis.json     per-layer summary (arrays are in the store)
//   any       job.log           the job's log lines
// Artifacts are recorded with paths relative to the run's folder.

import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RecallError } from '../errors.ts';
import type { Store } from '../store/index.ts';

export function runDir(dataDir: string, runId: number): string {
  return join(dataDir, 'runs', String(runId));
}

/** The model a run stands for: a folder, plus an adapter folder for recovered runs. */
export interface Variant {
  modelDir: string;
  adapterDir?: string;
  /** The base model's folder (the uncompressed model the lineage starts from). */
  baseDir: string;
}

/** The model of a variant run (none: the run's base model itself). */
export function resolveVariant(store: Store, dataDir: string, modelId: number, variantRunId?: number): Variant {
  const model = store.models.get(modelId);
  if (!model) throw new RecallError('E_NOT_FOUND', `model ${modelId} does not exist`, { modelId });
  const baseDir = model.sourcePath;
  if (variantRunId === undefined) return { modelDir: baseDir, baseDir };
  const run = store.runs.require(variantRunId, 'variant run');
  switch (run.kind) {
    case 'compress':
      return { modelDir: join(runDir(dataDir, run.id), 'model'), baseDir };
    case 'tune': {
      const parent = run.parents.find((p) => p.role === 'input');
      const below = resolveVariant(store, dataDir, modelId, parent?.id);
      return { modelDir: below.modelDir, adapterDir: join(runDir(dataDir, run.id), 'adapter'), baseDir };
    }
    default:
      throw new RecallError('E_INVALID_ARGUMENT', `run ${run.id} is a ${run.kind} run, not a model (expected a compress or tune run)`, { runId: run.id });
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Files under dir; hidden folders (the compressor's .recall-compress) and `skip` folders left out. */
function listFiles(dir: string, skip: readonly string[]): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith('.') || skip.includes(e.name) ? [] : listFiles(p, skip);
    return e.isFile() && !e.name.endsWith('.tmp') ? [p] : [];
  });
}

/** Records every file under `sub` of the run's folder as an artifact of `kind`, with its sha256. */
export async function recordArtifacts(store: Store, dataDir: string, runId: number, sub: string, kind: string, skip: readonly string[] = []): Promise<number> {
  const root = runDir(dataDir, runId);
  let n = 0;
  for (const file of listFiles(join(root, sub), skip)) {
    const sha256 = await sha256File(file);
    store.artifacts.record(runId, { path: relative(root, file).split('\\').join('/'), kind, bytes: statSync(file).size, sha256 });
    n++;
  }
  return n;
}

export const JOB_LOG = 'job.log';

export function appendJobLog(dataDir: string, runId: number, line: string): void {
  const dir = runDir(dataDir, runId);
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, JOB_LOG), `${new Date().toISOString()} ${line}\n`);
}

/** The last `max` lines of a run's job log. */
export function readJobLog(dataDir: string, runId: number, max = 200): string[] {
  const file = join(runDir(dataDir, runId), JOB_LOG);
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return lines.slice(-max);
}
