// Running an experiment's plan: every step whose parent steps are done is queued (the job queue
// runs them one at a time, or as many as its concurrency allows); a step that fails or is
// cancelled blocks its descendants and the others go on. The experiment run is 'running' while
// this goes on in the app's process, then done, or failed (resumable) naming the steps that did
// not finish. Resuming runs the same plan again: finished steps are skipped, failed and cancelled
// ones resumed from their checkpoints.

import type { JobDoneEvent, RunUpdatedEvent } from '../../contract/index.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { Store } from '../store/index.ts';
import { type ExperimentEnd, recordExperimentEnd, recordExperimentError } from './experiment-end.ts';
import type { ExperimentPlan, PlannedStep } from './plan-experiment.ts';

export interface ExperimentRunnerOptions {
  store: Store;
  queue: JobQueue;
  experimentId: number;
  plan: ExperimentPlan;
  emit: (event: 'runs.updated', payload: RunUpdatedEvent) => void;
}

type StepEnd = JobDoneEvent['status'];

export class ExperimentRunner {
  readonly finished: Promise<'done' | 'failed' | 'cancelled'>;
  private stopped = false;
  private readonly jobs = new Set<string>();

  constructor(private readonly o: ExperimentRunnerOptions) {
    const { store, experimentId } = o;
    store.runs.start(experimentId);
    o.emit('runs.updated', { runId: experimentId, kind: 'experiment', status: 'running' });
    this.finished = this.runAll();
  }

  /** Cancels the running steps; the experiment ends cancelled (resumable). */
  stop(): void {
    this.stopped = true;
    for (const jobId of this.jobs) this.o.queue.cancel(jobId);
  }

  private async runStep(step: PlannedStep): Promise<StepEnd> {
    const { store, queue } = this.o;
    const run = store.runs.get(step.runId);
    if (!run) return 'failed';
    if (run.status === 'done') return 'done';
    const active = queue.activeJobFor(run.id);
    const jobId = active ? active.info.jobId : queue.submit(run.id, { resume: run.status !== 'queued' }).jobId;
    this.jobs.add(jobId);
    const end = await queue.wait(jobId);
    this.jobs.delete(jobId);
    return end.state === 'done' ? 'done' : end.state === 'cancelled' ? 'cancelled' : 'failed';
  }

  private async runAll(): Promise<ExperimentEnd> {
    const { store, experimentId, plan } = this.o;
    const ends = new Map<string, StepEnd>();
    const running = new Map<string, Promise<void>>();
    let status: ExperimentEnd;
    try {
      for (;;) {
        for (const step of plan.steps) {
          if (this.stopped || ends.has(step.key) || running.has(step.key)) continue;
          const parentEnds = step.parents.map((k) => ends.get(k));
          if (parentEnds.some((e) => e !== undefined && e !== 'done')) { ends.set(step.key, 'cancelled'); continue; }
          if (parentEnds.some((e) => e === undefined)) continue;
          running.set(step.key, this.runStep(step).catch(() => 'failed' as const).then((e) => { ends.set(step.key, e); running.delete(step.key); }));
        }
        if (running.size === 0) break;
        await Promise.race(running.values());
      }
      status = recordExperimentEnd(store, experimentId, plan, ends, this.stopped);
    } catch (err) {
      status = recordExperimentError(store, experimentId, err);
    }
    this.o.emit('runs.updated', { runId: experimentId, kind: 'experiment', status: store.runs.get(experimentId)?.status ?? status });
    return status;
  }
}
