// The job queue of one app: runs jobs (each one run of the store) in separate processes, at most
// `concurrency` at a time, forwarding their progress, log lines and end as API events. A job
// process that dies without saying `done` (native crash, OOM, kill -9) leaves its run failed and
// resumable; a cancel is a message to the child (its AbortSignal), then SIGKILL after a grace
// period, and the run ends cancelled and resumable either way.

import { RecallError } from '../errors.ts';
import type { EventPayloads, JobInfo, JobKind } from '../../contract/index.ts';
import type { Store } from '../store/index.ts';
import type { JobChild, JobLauncher } from './launcher.ts';
import type { ChildMessage, JobRequest } from './protocol.ts';
import { appendJobLog } from './run-files.ts';

export type JobEventName = 'jobs.progress' | 'jobs.log' | 'jobs.done' | 'runs.updated';

export interface JobQueueOptions {
  store: Store;
  dataDir: string;
  launcher: JobLauncher;
  emit: <E extends JobEventName>(event: E, payload: EventPayloads[E]) => void;
  /** Jobs running at once (default 1: one model in memory at a time). */
  concurrency?: number;
  /** How long a cancelled job may take to stop before it is killed (default 1000 ms). */
  cancelGraceMs?: number;
  session?: () => { ep?: string; threads?: number };
}

interface Job {
  info: JobInfo;
  child?: JobChild;
  cancelRequested: boolean;
  killTimer?: NodeJS.Timeout;
  gotDone: boolean;
  finished: Promise<JobInfo>;
  resolve: (info: JobInfo) => void;
}

export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private running = 0;
  private counter = 0;
  private closed = false;

  constructor(private readonly o: JobQueueOptions) {}

  /** Queues a job for a queued, failed or cancelled run (resume: continue from its checkpoints). */
  submit(runId: number, options: { resume?: boolean } = {}): JobInfo {
    if (this.closed) throw new RecallError('E_INVALID_ARGUMENT', 'the job queue is closed');
    const active = this.activeJobFor(runId);
    if (active) return { ...active.info };
    const run = this.o.store.runs.require(runId);
    if (run.kind === 'experiment') throw new RecallError('E_INVALID_ARGUMENT', `run ${runId} is an experiment; run it with experiments.run`, { runId });
    if (run.status === 'done' || run.status === 'running') {
      throw new RecallError('E_RUN_TRANSITION', `run ${runId} is '${run.status}' and cannot be ${options.resume ? 'resumed' : 'started'}`, { runId, status: run.status });
    }
    let resolve!: (info: JobInfo) => void;
    const finished = new Promise<JobInfo>((r) => (resolve = r));
    const job: Job = {
      info: {
        jobId: `job-${++this.counter}`, runId, kind: run.kind as JobKind, state: 'queued', resume: options.resume ?? run.status !== 'queued', pid: null,
        queuedAt: Date.now(), startedAt: null, finishedAt: null, progress: null, error: null,
      },
      cancelRequested: false, gotDone: false, finished, resolve,
    };
    this.jobs.set(job.info.jobId, job);
    this.waiting.push(job);
    this.pump();
    return { ...job.info };
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({ ...j.info }));
  }

  get(jobId: string): JobInfo {
    return { ...this.require(jobId).info };
  }

  /** Resolves when the job has ended (done, failed or cancelled). */
  wait(jobId: string): Promise<JobInfo> {
    return this.require(jobId).finished;
  }

  activeJobFor(runId: number): Job | undefined {
    return [...this.jobs.values()].find((j) => j.info.runId === runId && (j.info.state === 'queued' || j.info.state === 'running'));
  }

  cancel(jobId: string): JobInfo {
    const job = this.require(jobId);
    if (job.info.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(job), 1);
      const run = this.o.store.runs.get(job.info.runId);
      if (run?.status === 'queued') this.o.store.runs.cancel(run.id, { resumable: true });
      this.end(job, 'cancelled', null, true);
    } else if (job.info.state === 'running' && !job.cancelRequested) {
      job.cancelRequested = true;
      job.child?.send({ type: 'cancel' });
      job.killTimer = setTimeout(() => job.child?.kill('SIGKILL'), this.o.cancelGraceMs ?? 1000);
    }
    return { ...job.info };
  }

  /** Cancels everything and waits for the job processes to end. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.jobs.values()].filter((j) => j.info.state === 'queued' || j.info.state === 'running');
    for (const j of all) this.cancel(j.info.jobId);
    await Promise.all(all.map((j) => j.finished));
  }

  private require(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw new RecallError('E_NOT_FOUND', `job '${jobId}' does not exist`, { jobId });
    return job;
  }

  private pump(): void {
    while (this.running < (this.o.concurrency ?? 1) && this.waiting.length) this.start(this.waiting.shift()!);
  }

  private start(job: Job): void {
    this.running++;
    const { info } = job;
    info.state = 'running';
    info.startedAt = Date.now();
    const child = this.o.launcher.launch();
    job.child = child;
    info.pid = child.pid;
    child.onMessage((m) => this.onMessage(job, m));
    child.onExit((code, signal) => this.onExit(job, code, signal));
    const request: JobRequest = {
      jobId: info.jobId, runId: info.runId, kind: info.kind, dbFile: this.o.store.file, dataDir: this.o.dataDir, resume: info.resume,
      ...this.o.session?.(),
    };
    child.send({ type: 'start', job: request });
  }

  private onMessage(job: Job, m: ChildMessage): void {
    const { jobId, runId, kind } = job.info;
    switch (m.type) {
      case 'started':
        job.info.pid = m.pid;
        this.o.emit('runs.updated', { runId, kind, status: 'running' });
        return;
      case 'progress':
        job.info.progress = { fraction: m.fraction, stage: m.stage, etaSeconds: m.etaSeconds };
        this.o.emit('jobs.progress', { jobId, runId, kind, ...job.info.progress });
        return;
      case 'log':
        this.o.emit('jobs.log', { jobId, runId, level: m.level, line: m.line });
        return;
      case 'done':
        job.gotDone = true;
        this.end(job, m.status, m.error, m.resumable);
    }
  }

  private onExit(job: Job, code: number | null, signal: string | null): void {
    clearTimeout(job.killTimer);
    this.running--;
    job.info.pid = null;
    if (!job.gotDone) this.recoverDeadJob(job, code, signal);
    this.pump();
  }

  /** The child died without `done`: end its run here, as crash recovery would on the next start. */
  private recoverDeadJob(job: Job, code: number | null, signal: string | null): void {
    const { runs } = this.o.store;
    const { runId } = job.info;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    let status: 'done' | 'failed' | 'cancelled' = job.cancelRequested ? 'cancelled' : 'failed';
    const error = job.cancelRequested ? null : `job process ended unexpectedly (${how})`;
    try {
      const run = runs.get(runId);
      if (run?.status === 'queued') runs.start(runId);
      if (run && (run.status === 'running' || run.status === 'queued')) {
        if (status === 'cancelled') runs.cancel(runId, { resumable: true });
        else runs.fail(runId, error!, { resumable: true });
      } else if (run?.status === 'done') {
        status = 'done'; // it finished, then died before saying so
        return this.end(job, status, null, false);
      }
      appendJobLog(this.o.dataDir, runId, job.cancelRequested ? `cancelled (job process killed after the grace period, ${how})` : `failed: ${error}`);
    } catch (err) {
      console.error(`recall: could not record the end of run ${runId}:`, err);
    }
    this.end(job, status, error, true);
  }

  private end(job: Job, status: 'done' | 'failed' | 'cancelled', error: string | null, resumable: boolean): void {
    if (job.info.state !== 'queued' && job.info.state !== 'running') return;
    const { jobId, runId, kind } = job.info;
    job.info.state = status;
    job.info.error = error;
    job.info.finishedAt = Date.now();
    this.o.emit('jobs.done', { jobId, runId, kind, status, error, resumable: status !== 'done' && resumable });
    this.o.emit('runs.updated', { runId, kind, status: this.o.store.runs.get(runId)?.status ?? status });
    job.resolve({ ...job.info });
  }
}
