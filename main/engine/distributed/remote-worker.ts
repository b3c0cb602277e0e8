// `recall worker`: a headless process that takes step jobs from the queue and runs each in a
// job process (job-process.ts, the same code as local jobs) against the run's store on shared
// storage, streaming progress (job.updateProgress) and log lines (job.log), and hands back where
// its results are. Release jobs (the lineage's "these may start now") are handled beside them.
//
// Faults: the job process is a child, so a crashing job is a failed attempt (BullMQ retries it
// with backoff, up to the job's attempts); a worker that dies (kill -9) stops renewing its lock
// and another worker's stalled-job check puts the job back, to resume from the checkpoints on
// shared storage. A cancel request (pub/sub) aborts the job's signal; the job ends 'cancelled'
// and is not retried.

import { hostname } from 'node:os';
import { FlowProducer, type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { ExecutionProviderName } from '../../contract/index.ts';
import { forkLauncher, type JobLauncher } from '../jobs/launcher.ts';
import type { ChildMessage } from '../jobs/protocol.ts';
import { openStore } from '../store/index.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { RELEASE_QUEUE, type RedisTarget, STEP_QUEUE, bullConnection, cancelChannel, cancelKey, redisOptions } from './connection.ts';
import { addStepNode } from './flow-submit.ts';
import { releaseJobSchema, type StepJob, stepJobSchema, type StepReturn, stepReturnSchema } from './job-spec.ts';
import { prepareScratch, scratchDbFile } from './scratch-store.ts';
import { putStepResult, readStepResult } from './step-result.ts';

export interface RemoteWorkerOptions {
  redis: RedisTarget;
  artifacts: ArtifactStore;
  /** Jobs at once (default 1: one model in memory). */
  concurrency?: number;
  /** Overrides the job's execution provider (this host's GPU). */
  ep?: ExecutionProviderName;
  threads?: number;
  /** Shown as the job's processedBy (default host:pid). */
  name?: string;
  /** How long a job's lock lasts without renewal (default 30 s): a dead worker's job waits this long. */
  lockMs?: number;
  /** Interval of the stalled-job check (default 15 s). */
  stallCheckMs?: number;
  /** Times a job may be recovered from a dead worker before it fails (default 3). */
  maxStalled?: number;
  /** How long a cancelled job process may take to stop before it is killed (default 5 s). */
  cancelGraceMs?: number;
  launcher?: JobLauncher;
  log?: (line: string) => void;
}

type ChildEnd = Extract<ChildMessage, { type: 'done' }>;

export class RemoteWorker {
  readonly name: string;
  private readonly prefix: string;
  private readonly steps: Worker;
  private readonly releases: Worker;
  private readonly flow: FlowProducer;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly launcher: JobLauncher;

  constructor(private readonly o: RemoteWorkerOptions) {
    this.name = o.name ?? `${hostname()}:${process.pid}`;
    this.prefix = o.redis.prefix ?? 'recall';
    const connection = bullConnection(o.redis);
    this.launcher = o.launcher ?? forkLauncher();
    const common = { connection, prefix: this.prefix, name: this.name, autorun: false };
    this.steps = new Worker(STEP_QUEUE, (job, _token, signal) => this.runStep(job, signal), {
      ...common, concurrency: o.concurrency ?? 1, lockDuration: o.lockMs ?? 30_000, stalledInterval: o.stallCheckMs ?? 15_000, maxStalledCount: o.maxStalled ?? 3,
    });
    this.releases = new Worker(RELEASE_QUEUE, (job) => this.release(job), { ...common, concurrency: 4 });
    this.flow = new FlowProducer({ connection, prefix: this.prefix });
    this.redis = new Redis(redisOptions(o.redis));
    this.subscriber = new Redis(redisOptions(o.redis));
    for (const w of [this.steps, this.releases]) w.on('error', (e) => this.say(`queue error: ${e.message}`));
    for (const r of [this.redis, this.subscriber]) r.on('error', () => undefined); // ioredis reconnects; BullMQ reports above
    this.steps.on('failed', (job, e) => this.say(`run ${(job?.data as StepJob | undefined)?.runId ?? '?'} attempt ${job?.attemptsMade ?? '?'} failed: ${e.message}`));
  }

  private say(line: string): void {
    (this.o.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`[${this.name}] ${line}`);
  }

  /** Connects, listens for cancel requests, and starts taking jobs. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(cancelChannel(this.prefix));
    this.subscriber.on('message', (_channel, message: string) => {
      let ids: unknown;
      try { ids = JSON.parse(message); } catch { return; }
      if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string' && this.steps.cancelJob(id, 'cancelled by the coordinator')) this.say(`cancelling ${id}`);
    });
    void this.steps.run();
    void this.releases.run();
    await Promise.all([this.steps.waitUntilReady(), this.releases.waitUntilReady()]);
    this.say(`taking jobs (concurrency ${this.o.concurrency ?? 1}, shared storage ${this.o.artifacts.location})`);
  }

  /** Stops taking jobs; running ones are cancelled (they resume elsewhere from their checkpoints). */
  async close(): Promise<void> {
    this.steps.cancelAllJobs('worker closing');
    await Promise.allSettled([this.steps.close(), this.releases.close()]);
    await Promise.allSettled([this.flow.close(), this.redis.quit(), this.subscriber.quit()]);
  }

  private async runStep(job: Job, signal?: AbortSignal): Promise<StepReturn> {
    const parsed = stepJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`refused: not a step job (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
    const spec = parsed.data;
    const base = { host: hostname(), worker: this.name, resumed: false, reused: false };
    if (signal?.aborted || (await this.redis.exists(cancelKey(this.prefix, job.id!)))) return { status: 'cancelled', ...base };
    const { artifacts } = this.o;
    await artifacts.pull(spec.ns, 'runs');
    const workspace = artifacts.workspace(spec.ns);
    const state = await prepareScratch(workspace, spec);
    const dbFile = scratchDbFile(workspace, spec.runId);
    if (state !== 'done') {
      this.say(`run ${spec.runId} (${spec.lineage[0]!.kind} ${spec.lineage[0]!.name})${state === 'resume' ? ' resuming from its checkpoints' : ''}`);
      const end = await this.runChild(job, spec, workspace, dbFile, state === 'resume', signal);
      await artifacts.publish(spec.ns, `runs/${spec.runId}`);
      if (end.status === 'cancelled') return { status: 'cancelled', ...base, resumed: state === 'resume' };
      if (end.status === 'failed') throw new Error(end.error ?? 'failed');
    }
    const store = openStore(dbFile, { skipRecovery: true });
    let result;
    try { result = readStepResult(store, spec.runId); } finally { store.close(); }
    const ref = await putStepResult(artifacts, spec.ns, result);
    this.say(`run ${spec.runId} done${state === 'done' ? ' (already finished by an earlier attempt)' : ''}`);
    return { status: 'done', result: ref, ...base, resumed: state === 'resume', reused: state === 'done' };
  }

  /** One attempt in a job process; resolves with its end (a process that dies without one failed). */
  private runChild(job: Job, spec: StepJob, dataDir: string, dbFile: string, resume: boolean, signal?: AbortSignal): Promise<ChildEnd> {
    return new Promise((resolve) => {
      const child = this.launcher.launch();
      let end: ChildEnd | undefined;
      let cancelled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        cancelled = true;
        child.send({ type: 'cancel' });
        killTimer = setTimeout(() => child.kill('SIGKILL'), this.o.cancelGraceMs ?? 5000);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.onMessage((m) => {
        if (m.type === 'progress') void job.updateProgress({ fraction: m.fraction, stage: m.stage, etaSeconds: m.etaSeconds, worker: this.name }).catch(() => undefined);
        else if (m.type === 'log') void job.log(`${m.level === 'warn' ? 'warning: ' : ''}${m.line}`).catch(() => undefined);
        else if (m.type === 'done') end = m;
      });
      child.onExit((code, sig) => {
        clearTimeout(killTimer);
        signal?.removeEventListener('abort', onAbort);
        resolve(end ?? (cancelled
          ? { type: 'done', status: 'cancelled', error: null, resumable: true }
          : { type: 'done', status: 'failed', error: `job process ended unexpectedly (${sig ? `signal ${sig}` : `exit code ${code}`})`, resumable: true }));
      });
      const ep = this.o.ep ?? spec.ep;
      const threads = this.o.threads ?? spec.threads;
      child.send({ type: 'start', job: { jobId: job.id!, runId: spec.runId, kind: spec.lineage[0]!.kind, dbFile, dataDir, resume, ...(ep ? { ep } : {}), ...(threads ? { threads } : {}) } });
      if (signal?.aborted) onAbort();
    });
  }

  /** The run a release job waits for is done: queue the steps that need it (unless cancelled). */
  private async release(job: Job): Promise<{ released: number }> {
    const parsed = releaseJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`refused: not a release job (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
    const r = parsed.data;
    const values = Object.values(await job.getChildrenValues());
    if (!values.some((v) => stepReturnSchema.safeParse(v).data?.status === 'done')) return { released: 0 };
    let released = 0;
    for (const node of r.dependents) {
      if (await this.redis.exists(cancelKey(this.prefix, `${r.ns}.r${node.step.runId}`))) continue;
      await addStepNode(this.flow, node, r.policy);
      released++;
    }
    return { released };
  }
}
