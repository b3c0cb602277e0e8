// An experiment spec expanded into runs, in lineage order:
//   for each model and seed: compress each compression (dense: none), tune each recovery on each
//   compressed model (and the dense one with recoverDense), eval every variant on the tasks,
//   analyze every variant against its base.
// Each step goes through ensureRun: a step shared by two branches (or two seeds: the dense eval
// does not depend on the seed) is one run, and a finished run with the same fingerprint is reused.
// The plan is written to <experiment run>/plan.json.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentSpec, JobKind, PlanStepInfo } from '../../contract/index.ts';
import { DEMO_TASKS_DIR } from '../analysis/inputs.ts';
import { RecallError } from '../errors.ts';
import { locateTask } from '../eval/task-data.ts';
import { BENCHMARK_TASKS, findTask } from '../eval/tasks.ts';
import { recordArtifacts, runDir } from '../jobs/run-files.ts';
import { fingerprint, type RunRecord, type Store } from '../store/index.ts';
import { ensureRun, runVersions, stepFingerprint, type StepOrigin } from './ensure-run.ts';
import { resolveModel } from './model-registry.ts';
import { analyzeStep, compressStep, evalStep, type StepInput, tuneStep } from './step-inputs.ts';

export const DEMO_TASKS = ['demo_mc', 'demo_cloze'];
/** Seed of the evaluation's item subset: the same for every variant, so results pair up. */
export const EVAL_SEED = 1234;

export interface PlannedStep {
  key: string;
  kind: JobKind;
  label: string;
  runId: number;
  origin: StepOrigin;
  parents: string[];
  /** For the method x task table (eval steps). */
  variant?: { model: string; compression: string; recovery: string; seed: number };
}

export interface ExperimentPlan {
  format: 'recall-experiment/1';
  spec: ExperimentSpec;
  tasks: string[];
  steps: PlannedStep[];
}

/** 'demo' and 'benchmarks' (those the data folders hold) expanded; unknown names refused. */
export function expandTasks(names: readonly string[], dataDirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    if (n === 'demo') out.push(...DEMO_TASKS);
    else if (n === 'benchmarks') out.push(...BENCHMARK_TASKS.filter((t) => 'paths' in locateTask(findTask(t)!, dataDirs)));
    else if (!findTask(n)) throw new RecallError('E_EVAL_TASK', `spec.tasks: unknown task '${n}'`, { task: n });
    else {
      const where = locateTask(findTask(n)!, [...dataDirs, DEMO_TASKS_DIR]);
      if ('missing' in where) throw new RecallError('E_EVAL_TASK', `spec.tasks: task ${n} is unavailable: missing ${where.missing.join(', ')}`, { task: n, missing: where.missing });
      out.push(n);
    }
  }
  return [...new Set(out)];
}

export function planFile(dataDir: string, experimentId: number): string {
  return join(runDir(dataDir, experimentId), 'plan.json');
}

export function readPlan(dataDir: string, experimentId: number): ExperimentPlan {
  try {
    return JSON.parse(readFileSync(planFile(dataDir, experimentId), 'utf8')) as ExperimentPlan;
  } catch (e) {
    throw new RecallError('E_NOT_FOUND', `experiment ${experimentId}: no readable plan.json (${(e as Error).message})`, { runId: experimentId });
  }
}

export async function createExperiment(store: Store, dataDir: string, spec: ExperimentSpec, o: { force?: boolean; executionProvider?: string } = {}): Promise<{ run: RunRecord; plan: ExperimentPlan }> {
  const dataDirs = spec.dataDirs ?? [];
  const tasks = expandTasks(spec.tasks, dataDirs);
  if (tasks.length === 0) throw new RecallError('E_EVAL_TASK', 'spec.tasks: no task is available in the data folders', { field: 'tasks' });
  const models = spec.models.map((m) => resolveModel(store, m));
  const steps: PlannedStep[] = [];
  const byFingerprint = new Map<string, PlannedStep>();
  const add = (step: StepInput, key: string, parents: string[], variant?: PlannedStep['variant']): { run: RunRecord; key: string } => {
    const fp = stepFingerprint(step);
    const known = byFingerprint.get(fp);
    if (known) {
      if (variant && !known.variant) known.variant = variant;
      return { run: store.runs.require(known.runId), key: known.key };
    }
    const { run, origin } = ensureRun(store, step, o);
    const planned: PlannedStep = { key, kind: step.kind, label: step.name, runId: run.id, origin, parents, ...(variant ? { variant } : {}) };
    steps.push(planned);
    byFingerprint.set(fp, planned);
    return { run, key };
  };

  // Planning creates the steps' runs as it goes; a step that cannot be planned (bad options, a
  // missing file) rolls all of them back, so a refused spec leaves no orphan queued runs.
  const run = store.transaction(() => {
    for (const model of models) {
      for (const seed of spec.seeds) {
        const prefix = `${model.name}/seed${seed}`;
        const variants: { run?: RunRecord; key?: string; compression: string; recovery: string }[] = [];
        for (const c of spec.compressions) {
          if (c.method === 'none') { variants.push({ compression: c.name, recovery: 'none' }); continue; }
          const s = compressStep(model, c, spec.calibration ?? {}, seed);
          variants.push({ ...add(s, `${prefix}/${c.name}`, []), compression: c.name, recovery: 'none' });
        }
        for (const r of spec.recoveries.filter((x) => x.method !== 'none')) {
          for (const v of variants.filter((x) => x.recovery === 'none' && (x.run || spec.recoverDense))) {
            const s = tuneStep(model, v.run, { ...r, name: `${v.compression}+${r.name}` }, seed);
            variants.push({ ...add(s, `${prefix}/${v.compression}+${r.name}`, v.key ? [v.key] : []), compression: v.compression, recovery: r.name });
          }
        }
        for (const v of variants) {
          const label = v.recovery === 'none' ? v.compression : `${v.compression}+${v.recovery}`;
          const s = evalStep(model, v.run, tasks, spec.eval ?? {}, dataDirs, EVAL_SEED, `eval ${label}`);
          add(s, `${prefix}/${label}/eval`, v.key ? [v.key] : [], { model: model.name, compression: v.compression, recovery: v.recovery, seed });
          // IDP variants too: the analysis picks a prompt per input as IDP does (analysis/analyze.ts).
          if (spec.analyze !== false && v.run) {
            const a = spec.analyze ?? {};
            const inputs = a.texts ? { texts: a.texts } : { task: a.task ?? tasks[0]! };
            add(analyzeStep(model, v.run, { ...inputs, limit: a.limit ?? 16, maxTokens: a.maxTokens, cka: a.cka }, dataDirs, `analyze ${label}`), `${prefix}/${label}/analyze`, [v.key!]);
          }
        }
      }
    }
    return store.runs.create({
      kind: 'experiment', name: spec.name, modelId: models[0]!.id, config: { spec }, versions: runVersions(o.executionProvider),
      // Every experiment run is its own record (its steps carry the reuse); the fingerprint is unique.
      fingerprint: fingerprint({ spec, createdAt: Date.now(), nonce: Math.random() }),
    });
  });
  const plan: ExperimentPlan = { format: 'recall-experiment/1', spec, tasks, steps };
  mkdirSync(runDir(dataDir, run.id), { recursive: true });
  writeFileSync(planFile(dataDir, run.id), `${JSON.stringify(plan, null, 1)}\n`);
  await recordArtifacts(store, dataDir, run.id, '', 'plan');
  return { run, plan };
}

export function stepInfos(store: Store, plan: ExperimentPlan): PlanStepInfo[] {
  return plan.steps.map((s) => ({ key: s.key, kind: s.kind, label: s.label, runId: s.runId, status: store.runs.get(s.runId)?.status ?? 'failed', origin: s.origin, parents: s.parents }));
}
