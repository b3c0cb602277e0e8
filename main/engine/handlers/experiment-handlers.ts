// experiments.*: a spec expanded into runs (create), run in the background (run, resume), and
// read back with its method x task table (get).

import { ApiError, type EventPayload, type ExperimentInfo } from '../../contract/index.ts';
import { createExperiment, readPlan, stepInfos, type ExperimentPlan } from '../experiments/plan-experiment.ts';
import { experimentTable } from '../experiments/results-table.ts';
import { startRemoteExperiment } from '../distributed/app-backend.ts';
import { ExperimentRunner } from '../experiments/run-experiment.ts';
import type { HandlerContext, Handlers } from './types.ts';

function info(ctx: HandlerContext, runId: number, plan: ExperimentPlan): ExperimentInfo {
  const { store } = ctx.services;
  const run = store.runs.require(runId);
  const count = (o: string) => plan.steps.filter((s) => s.origin === o).length;
  return {
    runId, name: run.name, status: run.status, steps: stepInfos(store, plan), created: count('created'), reused: count('reused'), resumed: count('resumed'),
    tasks: plan.tasks, table: experimentTable(store, plan),
  };
}

function experimentRun(ctx: HandlerContext, runId: number) {
  const run = ctx.services.store.runs.require(runId);
  if (run.kind !== 'experiment') throw new ApiError('E_BAD_ARGUMENT', `runId: run ${runId} is a ${run.kind} run, not an experiment`, { runId });
  return run;
}

function startRunner(ctx: HandlerContext, runId: number, backend: 'local' | 'remote' | undefined): ExperimentInfo {
  const { services } = ctx;
  const plan = readPlan(services.dataDir, runId);
  const { remote } = ctx.settings.get();
  if ((backend ?? (remote ? 'remote' : 'local')) === 'remote') {
    const runner = startRemoteExperiment({ store: services.store, dataDir: services.dataDir, experimentId: runId, plan, remote, emit: (e, p) => ctx.emit(e, p as EventPayload<typeof e>) });
    services.experiments.set(runId, runner);
    void runner.finished.finally(() => {
      services.endedRemoteJobs.push(...runner.jobInfos());
      services.experiments.delete(runId);
    });
    return info(ctx, runId, plan);
  }
  const runner = new ExperimentRunner({ store: services.store, queue: services.queue, experimentId: runId, plan, emit: (e, p) => ctx.emit(e, p) });
  services.experiments.set(runId, runner);
  void runner.finished.finally(() => services.experiments.delete(runId));
  return info(ctx, runId, plan);
}

export const experimentHandlers: Handlers<'experiments.create' | 'experiments.run' | 'experiments.get' | 'experiments.cancel' | 'experiments.resume'> = {
  'experiments.create': async ({ spec, force }, ctx) => {
    const { run, plan } = await createExperiment(ctx.services.store, ctx.services.dataDir, spec, { ...(force ? { force } : {}), executionProvider: ctx.settings.get().executionProvider });
    for (const s of plan.steps) if (s.origin === 'created') ctx.emit('runs.updated', { runId: s.runId, kind: s.kind, status: 'queued' });
    ctx.emit('runs.updated', { runId: run.id, kind: 'experiment', status: run.status });
    return info(ctx, run.id, plan);
  },
  'experiments.run': ({ runId, backend }, ctx) => {
    const run = experimentRun(ctx, runId);
    if (ctx.services.experiments.has(runId)) return info(ctx, runId, readPlan(ctx.services.dataDir, runId));
    if (run.status !== 'queued') throw new ApiError('E_BAD_ARGUMENT', `runId: experiment ${runId} is '${run.status}'${run.status === 'failed' || run.status === 'cancelled' ? '; use experiments.resume' : ''}`, { runId, status: run.status });
    return startRunner(ctx, runId, backend);
  },
  'experiments.resume': ({ runId, backend }, ctx) => {
    const run = experimentRun(ctx, runId);
    if (ctx.services.experiments.has(runId)) return info(ctx, runId, readPlan(ctx.services.dataDir, runId));
    if (run.status !== 'failed' && run.status !== 'cancelled') throw new ApiError('E_BAD_ARGUMENT', `runId: experiment ${runId} is '${run.status}'; only failed or cancelled experiments can be resumed`, { runId, status: run.status });
    return startRunner(ctx, runId, backend);
  },
  'experiments.cancel': async ({ runId }, ctx) => {
    experimentRun(ctx, runId);
    const runner = ctx.services.experiments.get(runId);
    if (runner) {
      await runner.stop();
      await runner.finished;
    }
    return info(ctx, runId, readPlan(ctx.services.dataDir, runId));
  },
  'experiments.get': ({ runId }, ctx) => {
    experimentRun(ctx, runId);
    return info(ctx, runId, readPlan(ctx.services.dataDir, runId));
  },
};
