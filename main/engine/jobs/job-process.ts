// The job process's entry (forked by launcher.ts): waits for `start`, runs one run of the store
// and exits. It owns the run while it runs (runs.start records this process's pid, so crash
// recovery can tell a live job from a dead one), writes every result itself in transactions,
// and answers `cancel` by aborting the job's signal. Whatever ends the run ends it in the store
// first, then says `done`.

import { hostname } from 'node:os';
import type { ExecutionProvider } from '../runtime/providers.ts';
import { openStore, type Store } from '../store/index.ts';
import type { JobContext, JobKindRunner } from './job-context.ts';
import { analyzeJob } from './kinds/analyze-job.ts';
import { compressJob } from './kinds/compress-job.ts';
import { evalJob } from './kinds/eval-job.ts';
import { tuneJob } from './kinds/tune-job.ts';
import type { ChildMessage, JobRequest, ParentMessage } from './protocol.ts';
import { appendJobLog, runDir } from './run-files.ts';

const KINDS: Record<JobRequest['kind'], JobKindRunner> = { compress: compressJob, tune: tuneJob, eval: evalJob, analyze: analyzeJob };
/** Progress messages are throttled to this interval (the last one of a stage always goes). */
const PROGRESS_INTERVAL_MS = 100;
/** Test hook: every progress report sleeps this long, so tests can act in the middle of a tiny job. */
const PROGRESS_DELAY_MS = Number(process.env.RECALL_JOB_PROGRESS_DELAY_MS ?? 0);
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const send = (m: ChildMessage): Promise<void> => new Promise((resolve) => {
  if (!process.send || !process.connected) return resolve();
  process.send(m, undefined, undefined, () => resolve());
});

async function runJob(job: JobRequest, controller: AbortController): Promise<ChildMessage & { type: 'done' }> {
  let store: Store | undefined;
  const kind = KINDS[job.kind];
  try {
    store = openStore(job.dbFile, { skipRecovery: true });
    const run = store.runs.start(job.runId, { pid: process.pid, host: hostname() });
    void send({ type: 'started', pid: process.pid });
    let lastProgress = 0;
    const ctx: JobContext = {
      store, run, dataDir: job.dataDir, dir: runDir(job.dataDir, run.id), resume: job.resume, signal: controller.signal,
      session: { ...(job.ep ? { ep: job.ep as ExecutionProvider } : {}), ...(job.threads ? { threads: job.threads } : {}) },
      progress(fraction, stage, etaSeconds = null) {
        if (PROGRESS_DELAY_MS > 0) sleepSync(PROGRESS_DELAY_MS);
        const now = Date.now();
        if (now - lastProgress < PROGRESS_INTERVAL_MS && fraction < 1) return;
        lastProgress = now;
        void send({ type: 'progress', fraction: Math.max(0, Math.min(1, fraction)), stage, etaSeconds: etaSeconds !== null && Number.isFinite(etaSeconds) ? etaSeconds : null });
      },
      log(line, level = 'info') {
        appendJobLog(job.dataDir, run.id, `${level === 'warn' ? 'warning: ' : ''}${line}`);
        void send({ type: 'log', level, line });
      },
    };
    if (job.resume) ctx.log('resuming from the run\'s checkpoints');
    const outcome = await kind.run(ctx);
    if (outcome === 'cancelled') {
      store.runs.cancel(run.id, { resumable: true });
      appendJobLog(job.dataDir, run.id, 'cancelled');
      return { type: 'done', status: 'cancelled', error: null, resumable: true };
    }
    store.runs.finish(run.id);
    return { type: 'done', status: 'done', error: null, resumable: false };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const message = `${typeof code === 'string' && code.startsWith('E_') ? `[${code}] ` : ''}${(err as Error).message ?? String(err)}`;
    if (process.env.RECALL_DEBUG) console.error(err);
    try {
      if (store?.runs.get(job.runId)?.status === 'running') {
        store.runs.fail(job.runId, message, { resumable: kind.resumable });
        appendJobLog(job.dataDir, job.runId, `failed: ${message}`);
      }
    } catch {
      // the parent marks the run when it sees no done (or a done for a run still running)
    }
    return { type: 'done', status: 'failed', error: message, resumable: kind.resumable };
  } finally {
    store?.close();
  }
}

const controller = new AbortController();
let started = false;
process.on('message', (raw) => {
  const m = raw as ParentMessage;
  if (m.type === 'cancel') controller.abort();
  else if (m.type === 'start' && !started) {
    started = true;
    void runJob(m.job, controller).then(async (done) => {
      await send(done);
      process.exit(0);
    });
  }
});
// The app went away: nobody can cancel or observe this job; stop it at the next check.
process.on('disconnect', () => controller.abort());
