// compress.start, tune.start, eval.start, analyze.start and jobs.*: each start builds the step's
// run (reusing a finished one with the same fingerprint unless forced) and queues its job.

import type { JobTicket } from '../../contract/index.ts';
import { ApiError } from '../../contract/index.ts';
import { ensureRun } from '../experiments/ensure-run.ts';
import { resolveModel } from '../experiments/model-registry.ts';
import { analyzeStep, compressStep, evalStep, type StepInput, tuneStep } from '../experiments/step-inputs.ts';
import type { RunRecord } from '../store/index.ts';
import type { HandlerContext, Handlers } from './types.ts';

/** Ensures the step's run and queues it (a reused finished run needs no job). */
export function startStep(ctx: HandlerContext, step: StepInput, force = false): JobTicket {
  const { store, queue } = ctx.services;
  const { run, origin } = ensureRun(store, step, { force, executionProvider: ctx.settings.get().executionProvider });
  if (origin === 'reused') return { jobId: '', runId: run.id, reused: true };
  if (origin === 'created') ctx.emit('runs.updated', { runId: run.id, kind: run.kind, status: run.status });
  const active = queue.activeJobFor(run.id);
  if (active) return { jobId: active.info.jobId, runId: run.id, reused: false };
  const job = queue.submit(run.id, { resume: run.status !== 'queued' });
  return { jobId: job.jobId, runId: run.id, reused: false };
}

/** The run a start method builds on: its model, and the run itself when it is a variant. */
function parentOf(ctx: HandlerContext, runId: number, kinds: readonly string[], field: string): RunRecord {
  const run = ctx.services.store.runs.require(runId);
  if (!kinds.includes(run.kind)) throw new ApiError('E_BAD_ARGUMENT', `${field}: run ${runId} is a ${run.kind} run (expected ${kinds.join(' or ')})`, { runId });
  if (run.modelId === null) throw new ApiError('E_BAD_ARGUMENT', `${field}: run ${runId} has no model`, { runId });
  return run;
}

const dirs = (d: string[] | undefined) => d ?? [];

export const jobHandlers: Handlers<'compress.start' | 'tune.start' | 'eval.start' | 'analyze.start' | 'jobs.list' | 'jobs.cancel' | 'jobs.resume'> = {
  'compress.start': (p, ctx) => {
    const model = resolveModel(ctx.services.store, p.model);
    const { model: _m, calibration, seed, name, force, ...compression } = p;
    return startStep(ctx, compressStep(model, { ...compression, ...(name ? { name } : {}) }, calibration, seed ?? 0), force);
  },
  'tune.start': (p, ctx) => {
    const { store } = ctx.services;
    const parent = p.parentRunId !== undefined ? parentOf(ctx, p.parentRunId, ['compress'], 'parentRunId') : undefined;
    const model = parent ? store.models.get(parent.modelId!)! : resolveModel(store, p.model!);
    const { parentRunId: _p, model: _m, seed, force, ...recovery } = p;
    return startStep(ctx, tuneStep(model, parent, recovery, seed ?? 0), force);
  },
  'eval.start': (p, ctx) => {
    const { store } = ctx.services;
    const parent = p.parentRunId !== undefined ? parentOf(ctx, p.parentRunId, ['compress', 'tune'], 'parentRunId') : undefined;
    const model = parent ? store.models.get(parent.modelId!)! : resolveModel(store, p.model!);
    return startStep(ctx, evalStep(model, parent, p.tasks, p, dirs(p.dataDirs), p.seed ?? 1234, p.name), p.force);
  },
  'analyze.start': (p, ctx) => {
    const parent = parentOf(ctx, p.parentRunId, ['compress', 'tune'], 'parentRunId');
    const model = ctx.services.store.models.get(parent.modelId!)!;
    return startStep(ctx, analyzeStep(model, parent, p, dirs(p.dataDirs), p.name), p.force);
  },
  'jobs.list': (_p, ctx) => {
    const { services } = ctx;
    // The local queue's jobs, then the steps of remote experiments (ended ones of this session first).
    const remote = [...services.endedRemoteJobs, ...[...services.experiments.values()].flatMap((e) => e.jobInfos?.() ?? [])];
    return [...services.queue.list(), ...remote];
  },
  'jobs.cancel': ({ jobId }, ctx) => {
    for (const [runId, e] of ctx.services.experiments) {
      if (e.hasJob?.(jobId)) throw new ApiError('E_BAD_ARGUMENT', `jobId: ${jobId} is a step of experiment ${runId} running on remote workers; cancel the experiment (experiments.cancel)`, { jobId, experimentId: runId });
    }
    return ctx.services.queue.cancel(jobId);
  },
  'jobs.resume': ({ runId }, ctx) => {
    const { store, queue } = ctx.services;
    const run = store.runs.require(runId);
    if (run.kind === 'experiment') throw new ApiError('E_BAD_ARGUMENT', `runId: run ${runId} is an experiment; use experiments.resume`, { runId });
    const active = queue.activeJobFor(runId);
    if (active) return { jobId: active.info.jobId, runId, reused: false };
    if (run.status !== 'failed' && run.status !== 'cancelled') {
      throw new ApiError('E_BAD_ARGUMENT', `runId: run ${runId} is '${run.status}'; only failed or cancelled runs can be resumed`, { runId, status: run.status });
    }
    return { jobId: queue.submit(runId, { resume: true }).jobId, runId, reused: false };
  },
};
