// The engine's stateful parts behind the API: the run store of the data folder (opened on first
// use, crash recovery included), the job queue and the experiments in flight. When the data
// folder setting changes, the next call opens the new folder's store (refused while jobs run).

import { join } from 'node:path';
import type { EventName, EventPayload, JobInfo } from '../../contract/index.ts';
import { RecallError } from '../errors.ts';
import { forkLauncher, type JobLauncher } from '../jobs/launcher.ts';
import { JobQueue } from '../jobs/queue.ts';
import type { SettingsStore } from '../settings/store.ts';
import { databasePath, openStore, type Store } from '../store/index.ts';

export interface JobsOptions {
  launcher?: JobLauncher;
  concurrency?: number;
  cancelGraceMs?: number;
}

/** An experiment running in this process: on the local job queue, or on remote workers. */
export interface RunningExperiment {
  readonly finished: Promise<'done' | 'failed' | 'cancelled'>;
  stop(): unknown;
  /** Remote experiments: their steps as jobs (jobs.list shows them next to the local queue's). */
  jobInfos?(): JobInfo[];
  hasJob?(jobId: string): boolean;
}

export class EngineServices {
  private current: { dataDir: string; store: Store; queue: JobQueue } | undefined;
  /** Experiments running in this process, by experiment run id. */
  readonly experiments = new Map<number, RunningExperiment>();
  /** Remote experiments that ended in this session: their steps stay in jobs.list. */
  readonly endedRemoteJobs: JobInfo[] = [];

  constructor(
    private readonly settings: SettingsStore,
    private readonly emit: <E extends EventName>(event: E, payload: EventPayload<E>) => void,
    private readonly jobs: JobsOptions = {},
  ) {}

  get dataDir(): string {
    return this.open().dataDir;
  }

  get store(): Store {
    return this.open().store;
  }

  get queue(): JobQueue {
    return this.open().queue;
  }

  runsDir(): string {
    return join(this.dataDir, 'runs');
  }

  private open(): { dataDir: string; store: Store; queue: JobQueue } {
    const dataDir = this.settings.get().dataDir;
    if (this.current?.dataDir === dataDir) return this.current;
    if (this.current) {
      const busy = this.current.queue.list().some((j) => j.state === 'queued' || j.state === 'running');
      if (busy) throw new RecallError('E_RUN_IN_USE', `the data folder changed to ${dataDir} while jobs run in ${this.current.dataDir}; cancel them first`, { dataDir });
      this.current.store.close();
    }
    const store = openStore(databasePath(dataDir));
    const settings = this.settings;
    const queue = new JobQueue({
      store, dataDir, launcher: this.jobs.launcher ?? forkLauncher(), emit: this.emit,
      ...(this.jobs.concurrency ? { concurrency: this.jobs.concurrency } : {}),
      ...(this.jobs.cancelGraceMs !== undefined ? { cancelGraceMs: this.jobs.cancelGraceMs } : {}),
      session: () => {
        const s = settings.get();
        return { ep: s.executionProvider, ...(s.threads ? { threads: s.threads } : {}) };
      },
    });
    this.current = { dataDir, store, queue };
    return this.current;
  }

  /** Cancels running jobs and experiments, waits for them, closes the store. */
  async close(): Promise<void> {
    for (const e of this.experiments.values()) void e.stop();
    if (!this.current) return;
    await this.current.queue.close();
    await Promise.all([...this.experiments.values()].map((e) => e.finished.catch(() => undefined)));
    this.current.store.close();
    this.current = undefined;
  }
}
