// Running an experiment's plan on remote workers: the unfinished steps go to the queue as flows
// (flow-submit.ts), and this loop follows them until every step has ended. Each finished step's
// results are written into the local store (step-result.ts), so the runs, lineage, metrics and
// records read as if the steps had run here. The loop is also the safety net: a step whose
// input is done but whose job is not in Redis (lost with Redis' last second, or removed) is
// queued again; a job already finished by an earlier submission is imported, not re-run.
// Ends like the local runner: done, failed (resumable, naming the steps) or cancelled.

import { FlowProducer, type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { ExecutionProviderName, JobDoneEvent, JobInfo, JobProgressEvent, RunUpdatedEvent } from '../../contract/index.ts';
import type { ExperimentPlan, PlannedStep } from '../experiments/plan-experiment.ts';
import { type ExperimentEnd, recordExperimentEnd, recordExperimentError } from '../experiments/experiment-end.ts';
import { appendJobLog } from '../jobs/run-files.ts';
import type { Store } from '../store/index.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { RELEASE_QUEUE, type RedisTarget, STEP_QUEUE, bullConnection, cancelChannel, cancelKey, redisOptions } from './connection.ts';
import { addStepNode } from './flow-submit.ts';
import { releaseJobId, type RetryPolicy, type StepJob, stepJobId, stepReturnSchema } from './job-spec.ts';
import { lineageOf, nodeOf, stageRun, stepJobOf } from './remote-plan.ts';
import { getStepResult, importStepResult } from './step-result.ts';

type StepEnd = JobDoneEvent['status'];
export type RemoteEvent = { 'jobs.progress': JobProgressEvent; 'jobs.done': JobDoneEvent; 'runs.updated': RunUpdatedEvent };

export interface RemoteRunnerOptions {
  store: Store;
  dataDir: string;
  experimentId: number;
  plan: ExperimentPlan;
  redis: RedisTarget;
  artifacts: ArtifactStore;
  ns: string;
  policy?: RetryPolicy;
  ep?: ExecutionProviderName;
  threads?: number;
  emit: <E extends keyof RemoteEvent>(event: E, payload: RemoteEvent[E]) => void;
  /** How often the loop looks at the jobs (default 500 ms; QueueEvents wakes it sooner). */
  pollMs?: number;
  /** How long a job may be missing from Redis before it is queued again (default 2 s). */
  lostAfterMs?: number;
}

/** After queueing a step, how long it may stay unseen before it is queued again. */
const RESUBMIT_GRACE_MS = 5000;

export class RemoteExperimentRunner {
  readonly finished: Promise<'done' | 'failed' | 'cancelled'>;
  private stopped = false;
  private readonly ends = new Map<string, StepEnd>();
  private readonly staged = new Set<number>();
  private readonly missingSince = new Map<string, number>();
  private readonly doneAtStart = new Set<string>();
  private readonly jobs = new Map<number, StepJob>();
  /** The plan's steps as the API's job list shows them (remote: true), by run id. */
  private readonly infos = new Map<number, JobInfo>();
  private readonly queue: Queue;
  private readonly releases: Queue;
  private readonly flow: FlowProducer;
  private readonly events: QueueEvents;
  private readonly redis: Redis;
  private readonly prefix: string;
  private wake: () => void = () => undefined;

  constructor(private readonly o: RemoteRunnerOptions) {
    const connection = bullConnection(o.redis);
    this.prefix = o.redis.prefix ?? 'recall';
    const common = { connection, prefix: this.prefix };
    this.queue = new Queue(STEP_QUEUE, common);
    this.releases = new Queue(RELEASE_QUEUE, common);
    this.flow = new FlowProducer(common);
    this.events = new QueueEvents(STEP_QUEUE, common);
    this.redis = new Redis(redisOptions(o.redis));
    this.redis.on('error', () => undefined); // reconnects by itself; the loop retries
    for (const c of [this.queue, this.releases, this.flow, this.events]) (c as { on(e: 'error', l: (e: Error) => void): unknown }).on('error', () => undefined);
    this.events.on('progress', ({ jobId, data }) => this.onProgress(jobId, data));
    this.events.on('completed', () => this.wake());
    this.events.on('failed', () => this.wake());
    const now = Date.now();
    for (const s of o.plan.steps) {
      if (o.store.runs.get(s.runId)?.status === 'done') continue;
      this.infos.set(s.runId, {
        jobId: stepJobId(o.ns, s.runId), runId: s.runId, kind: s.kind, state: 'queued', resume: o.store.runs.get(s.runId)?.status !== 'queued',
        pid: null, queuedAt: now, startedAt: null, finishedAt: null, progress: null, error: null, remote: true, worker: null,
      });
    }
    o.store.runs.start(o.experimentId);
    o.emit('runs.updated', { runId: o.experimentId, kind: 'experiment', status: 'running' });
    this.finished = this.runAll().finally(() => this.close());
  }

  /** Cancels the experiment: queued jobs removed, running ones told to stop (they end within seconds). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const open = this.o.plan.steps.filter((s) => !this.ends.has(s.key)).map((s) => stepJobId(this.o.ns, s.runId));
    if (open.length) {
      const tx = this.redis.multi();
      for (const id of open) tx.set(cancelKey(this.prefix, id), '1', 'EX', 24 * 3600);
      await tx.exec();
      await this.redis.publish(cancelChannel(this.prefix), JSON.stringify(open));
    }
    this.wake();
    await this.finished.catch(() => undefined);
  }

  /** The experiment's unfinished steps (at its start) as jobs: queued, running on a worker, or ended. */
  jobInfos(): JobInfo[] {
    return [...this.infos.values()].map((j) => ({ ...j, ...(j.progress ? { progress: { ...j.progress } } : {}) }));
  }

  /** Whether a job id names one of this experiment's steps. */
  hasJob(jobId: string): boolean {
    return [...this.infos.values()].some((j) => j.jobId === jobId);
  }

  private onProgress(jobId: string, data: unknown): void {
    const step = this.o.plan.steps.find((s) => stepJobId(this.o.ns, s.runId) === jobId);
    const p = data as { fraction?: unknown; stage?: unknown; etaSeconds?: unknown; worker?: unknown };
    if (!step || typeof p?.fraction !== 'number') return;
    const worker = typeof p.worker === 'string' ? p.worker : null;
    const progress = { fraction: p.fraction, stage: `${typeof p.stage === 'string' ? p.stage : ''}${worker ? ` @${worker}` : ''}`, etaSeconds: typeof p.etaSeconds === 'number' ? p.etaSeconds : null };
    const info = this.infos.get(step.runId);
    if (info && !this.ends.has(step.key)) Object.assign(info, { state: 'running', startedAt: info.startedAt ?? Date.now(), progress, worker: worker ?? info.worker });
    this.o.emit('jobs.progress', { jobId, runId: step.runId, kind: step.kind, ...progress, remote: true, worker: worker ?? info?.worker ?? null });
  }

  private jobOf(step: PlannedStep): StepJob {
    let job = this.jobs.get(step.runId);
    if (!job) this.jobs.set(step.runId, (job = stepJobOf(this.o.store, { ns: this.o.ns, experimentId: this.o.experimentId, ep: this.o.ep, threads: this.o.threads }, step.runId)));
    return job;
  }

  /** Queues the step (and, through release jobs, what waits for it), its inputs staged first. */
  private async submit(step: PlannedStep): Promise<void> {
    const { store, dataDir, artifacts, ns } = this.o;
    for (const r of lineageOf(store, step.runId).slice(1)) {
      if (this.staged.has(r.id)) continue;
      await stageRun(store, dataDir, artifacts, ns, r.id);
      this.staged.add(r.id);
    }
    const node = nodeOf(this.o.plan, step, (s) => this.jobOf(s), (s) => !this.ends.has(s.key));
    await addStepNode(this.flow, node, this.o.policy ?? { attempts: 3, backoffMs: 1000 });
  }

  private endStep(step: PlannedStep, status: StepEnd, error: string | null = null): void {
    this.ends.set(step.key, status);
    if (status === 'done') this.staged.add(step.runId);
    const { store } = this.o;
    const run = store.runs.get(step.runId);
    const jobId = stepJobId(this.o.ns, step.runId);
    try {
      if (status === 'failed' && run && run.status !== 'done') {
        if (run.status !== 'running') store.runs.start(run.id);
        store.runs.fail(run.id, error ?? 'failed', { resumable: true });
        appendJobLog(this.o.dataDir, run.id, `failed: ${error}`);
      } else if (status === 'cancelled' && run?.status === 'queued' && this.stopped) {
        store.runs.cancel(run.id, { resumable: true });
      }
    } catch (err) {
      console.error(`recall: could not record the end of run ${step.runId}:`, err);
    }
    const info = this.infos.get(step.runId);
    if (info) Object.assign(info, { state: status, finishedAt: Date.now(), error, ...(status === 'done' && info.progress ? { progress: { ...info.progress, fraction: 1 } } : {}) });
    this.o.emit('jobs.done', { jobId, runId: step.runId, kind: step.kind, status, error, resumable: status !== 'done', remote: true, worker: info?.worker ?? null });
    this.o.emit('runs.updated', { runId: step.runId, kind: step.kind, status: store.runs.get(step.runId)?.status ?? status });
  }

  /** A step job that has completed: its result imported (done) or its cancel recorded. */
  private async completed(step: PlannedStep, job: Job): Promise<void> {
    const info = this.infos.get(step.runId);
    if (info && !info.worker && job.processedBy) info.worker = job.processedBy;
    const ret = stepReturnSchema.safeParse(job.returnvalue);
    if (!ret.success) return this.endStep(step, 'failed', `worker returned an unreadable result for run ${step.runId}`);
    if (ret.data.status === 'cancelled') {
      if (this.stopped) return this.endStep(step, 'cancelled');
      // Cancelled by another coordinator's request: queue it again.
      await this.removeJobs(step);
      return;
    }
    try {
      const result = await getStepResult(this.o.artifacts, this.o.ns, ret.data.result!);
      await importStepResult(this.o.store, this.o.dataDir, this.o.artifacts, this.o.ns, result);
      this.endStep(step, 'done');
    } catch (err) {
      this.endStep(step, 'failed', `importing the worker's result failed: ${(err as Error).message}`);
    }
  }

  private async removeJobs(step: PlannedStep): Promise<void> {
    for (const [q, id] of [[this.releases, releaseJobId(this.o.ns, step.runId)], [this.queue, stepJobId(this.o.ns, step.runId)]] as const) {
      const j = await q.getJob(id);
      if (j && !(await j.isActive())) await j.remove().catch(() => undefined);
    }
  }

  /**
   * A step's job and its state. The state is read first and the job after it: a job read first
   * may complete before its state is read, and then reads 'completed' without its return value.
   */
  private async lookUp(step: PlannedStep): Promise<{ state: Awaited<ReturnType<Queue['getJobState']>>; job: Job | undefined }> {
    const id = stepJobId(this.o.ns, step.runId);
    const state = await this.queue.getJobState(id);
    const job = state === 'unknown' ? undefined : await this.queue.getJob(id);
    return job ? { state, job } : { state: 'unknown', job: undefined };
  }

  /** Before the first submit: earlier submissions' jobs are imported (finished) or cleared (failed, cancelled). */
  private async adoptEarlierJobs(open: PlannedStep[]): Promise<void> {
    const ids = open.map((s) => stepJobId(this.o.ns, s.runId));
    if (ids.length) await this.redis.del(...ids.map((id) => cancelKey(this.prefix, id)));
    for (const step of open) {
      const { state, job } = await this.lookUp(step);
      if (!job) continue;
      if (state === 'completed' && stepReturnSchema.safeParse(job.returnvalue).data?.status === 'done') await this.completed(step, job);
      else if (state === 'completed' || state === 'failed') await this.removeJobs(step);
    }
  }

  /** One look at every open step. */
  private async reconcile(open: PlannedStep[]): Promise<void> {
    for (const step of open) {
      const parents = step.parents.map((k) => this.ends.get(k));
      if (parents.some((e) => e !== undefined && e !== 'done')) { this.endStep(step, 'cancelled'); continue; }
      const { state, job } = await this.lookUp(step);
      if (state === 'completed') await this.completed(step, job!);
      else if (state === 'failed') this.endStep(step, 'failed', `${job!.failedReason} (after ${job!.attemptsMade} attempt${job!.attemptsMade === 1 ? '' : 's'})`);
      else if (this.stopped) {
        if (state === 'active') continue; // told to stop; it completes 'cancelled'
        if (job) await this.removeJobs(step);
        this.endStep(step, 'cancelled');
      } else if (state === 'unknown' && parents.every((e) => e === 'done')) {
        // A step whose inputs were done before this loop began is queued now; one whose input
        // finished since is queued by that input's release job, unless it stays missing.
        const now = Date.now();
        const since = this.missingSince.get(step.key);
        if (since === undefined) this.missingSince.set(step.key, now);
        if (step.parents.every((k) => this.doneAtStart.has(k)) ? since === undefined || now - since >= RESUBMIT_GRACE_MS : since !== undefined && now - since >= (this.o.lostAfterMs ?? 2000)) {
          this.missingSince.set(step.key, now + RESUBMIT_GRACE_MS);
          await this.submit(step);
        }
      } else {
        this.missingSince.delete(step.key);
      }
    }
  }

  private async runAll(): Promise<ExperimentEnd> {
    const { store, experimentId, plan } = this.o;
    let status: ExperimentEnd;
    try {
      for (const s of plan.steps) if (store.runs.get(s.runId)?.status === 'done') { this.ends.set(s.key, 'done'); this.doneAtStart.add(s.key); }
      await this.adoptEarlierJobs(plan.steps.filter((s) => !this.ends.has(s.key)));
      for (;;) {
        const open = plan.steps.filter((s) => !this.ends.has(s.key));
        if (open.length === 0) break;
        await this.reconcile(open);
        if (plan.steps.every((s) => this.ends.has(s.key))) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.o.pollMs ?? 500);
          this.wake = () => { clearTimeout(t); resolve(); };
        });
      }
      status = recordExperimentEnd(store, experimentId, plan, this.ends, this.stopped);
    } catch (err) {
      status = recordExperimentError(store, experimentId, err);
    }
    this.o.emit('runs.updated', { runId: experimentId, kind: 'experiment', status: store.runs.get(experimentId)?.status ?? status });
    return status;
  }

  private async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.flow.close(), this.queue.close(), this.releases.close(), this.redis.quit()]);
  }
}
