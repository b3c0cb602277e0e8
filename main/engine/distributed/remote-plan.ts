// The coordinator's view of an experiment plan for the queue: each step as a step job (the run,
// its lineage and model, checked against the job schema before it leaves), the plan's unfinished
// steps as a forest of StepNodes, the namespace of this data folder, and the staging of runs
// finished here that remote steps read (their artifacts copied to shared storage).

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionProviderName } from '../../contract/index.ts';
import { RecallError } from '../errors.ts';
import type { ExperimentPlan, PlannedStep } from '../experiments/plan-experiment.ts';
import { inputParent } from '../jobs/job-context.ts';
import { runDir } from '../jobs/run-files.ts';
import type { RunRecord, Store } from '../store/index.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { STEP_FORMAT, type StepJob, type StepNode, stepJobSchema } from './job-spec.ts';

/** This data folder's namespace on the queue and in shared storage (made once, kept in the folder). */
export function dataDirNamespace(dataDir: string): string {
  const file = join(dataDir, 'distributed-namespace');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const ns = `ns-${randomBytes(8).toString('hex')}`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${ns}\n`);
  return ns;
}

/** The run and its input ancestors, the run first. */
export function lineageOf(store: Store, runId: number): RunRecord[] {
  const out: RunRecord[] = [];
  for (let id: number | undefined = runId; id !== undefined; id = inputParent(out[out.length - 1]!)) out.push(store.runs.require(id));
  return out;
}

export function stepJobOf(store: Store, o: { ns: string; experimentId: number; ep?: ExecutionProviderName | undefined; threads?: number | undefined }, runId: number): StepJob {
  const lineage = lineageOf(store, runId);
  const run = lineage[0]!;
  const model = run.modelId === null ? undefined : store.models.get(run.modelId);
  if (!model) throw new RecallError('E_INVALID_ARGUMENT', `run ${runId} has no model to send to a worker`, { runId });
  const job = {
    format: STEP_FORMAT, ns: o.ns, experimentId: o.experimentId, runId,
    lineage: lineage.map((r) => ({ id: r.id, kind: r.kind, name: r.name, fingerprint: r.fingerprint, seed: r.seed, parents: r.parents.map((p) => ({ id: p.id, role: p.role })), config: r.config })),
    model: { fingerprint: model.fingerprint, name: model.name, architecture: model.architecture, sourcePath: model.sourcePath, info: model.info },
    ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}),
  };
  const parsed = stepJobSchema.safeParse(job);
  if (!parsed.success) throw new RecallError('E_INVALID_ARGUMENT', `run ${runId} cannot be sent to a worker: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, { runId });
  return parsed.data;
}

/** The unfinished steps under `step` (those waiting for it), as the release jobs carry them. */
export function nodeOf(plan: ExperimentPlan, step: PlannedStep, jobOf: (s: PlannedStep) => StepJob, isOpen: (s: PlannedStep) => boolean): StepNode {
  const dependents = plan.steps.filter((s) => s.parents.includes(step.key) && isOpen(s));
  return { step: jobOf(step), dependents: dependents.map((d) => nodeOf(plan, d, jobOf, isOpen)) };
}

/** Copies a locally finished run's artifacts to shared storage (skipped where they already are). */
export async function stageRun(store: Store, dataDir: string, artifacts: ArtifactStore, ns: string, runId: number): Promise<void> {
  for (const a of store.artifacts.list(runId)) {
    const file = join(runDir(dataDir, runId), a.path);
    if (!existsSync(file)) throw new RecallError('E_NOT_FOUND', `run ${runId}: artifact ${a.path} is missing from ${runDir(dataDir, runId)}; workers need it`, { runId, path: a.path });
    await artifacts.putFile(ns, `runs/${runId}/${a.path}`, file, a.sha256);
  }
}
