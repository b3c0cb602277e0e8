// The distributed backend on the command line:
//   recall worker --redis URL --artifacts DIR [--concurrency 1] [--ep cuda] ...
//     a headless worker taking experiment steps from the queue until SIGTERM / Ctrl-C;
//   recall run SPEC --backend URL --artifacts DIR [--attempts N]
//     the experiment's steps sent to the workers, followed live, results written to the local
//     store as local runs are (followRemoteExperiment, called by run.ts).
import { EXECUTION_PROVIDERS, type ExecutionProviderName, type ExperimentInfo, unwrap } from '../contract/index.ts';
import type { Api } from '../engine/api.ts';
import { openArtifactStore } from '../engine/distributed/artifact-store.ts';
import { type RedisTarget, describeRedis } from '../engine/distributed/connection.ts';
import { dataDirNamespace } from '../engine/distributed/remote-plan.ts';
import { RemoteExperimentRunner } from '../engine/distributed/remote-runner.ts';
import { RemoteWorker } from '../engine/distributed/remote-worker.ts';
import { readPlan } from '../engine/experiments/plan-experiment.ts';
import { databasePath, openStore } from '../engine/store/index.ts';
import { type FlagSpec, type Parsed, UsageError, optionalInt, parseFlags } from './args.ts';
import type { Output } from './output.ts';

export const WORKER_HELP = `  worker --redis URL --artifacts DIR [--concurrency 1] [--ep cpu|cuda|...] [--threads N] [--name NAME]
         [--prefix recall] [--redis-password-file FILE] [--redis-ca FILE] [--lock-ms 30000]
         [--stall-check-ms 15000] [--max-stalled 3]
                                       a headless worker running experiment steps from Redis (docs/DISTRIBUTED.md)
`;

/** Flags `recall run` takes for --backend (spread into its flag spec). */
export const BACKEND_FLAGS: FlagSpec = {
  backend: { type: 'string' }, artifacts: { type: 'string' }, attempts: { type: 'string' }, prefix: { type: 'string' },
  'redis-password-file': { type: 'string' }, 'redis-ca': { type: 'string' },
};

function redisTarget(p: Parsed, url: string | undefined, command: string): RedisTarget {
  if (!url) throw new UsageError(`${command}: give the Redis URL (redis://host:6379 or rediss://...), or set RECALL_REDIS_URL`);
  const str = (k: string) => (typeof p.flags[k] === 'string' ? (p.flags[k] as string) : undefined);
  const prefix = str('prefix');
  if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,40}$/.test(prefix)) throw new UsageError(`${command}: --prefix: letters, digits, '_' or '-'`);
  return { url, ...(str('redis-password-file') ? { passwordFile: str('redis-password-file')! } : {}), ...(str('redis-ca') ? { caFile: str('redis-ca')! } : {}), ...(prefix ? { prefix } : {}) };
}

function artifactsOf(p: Parsed, command: string) {
  const dir = typeof p.flags.artifacts === 'string' ? p.flags.artifacts : process.env.RECALL_ARTIFACTS;
  if (!dir) throw new UsageError(`${command}: give --artifacts DIR (storage every host reaches), or set RECALL_ARTIFACTS`);
  return openArtifactStore(dir);
}

export async function workerCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    ...BACKEND_FLAGS, redis: { type: 'string' }, concurrency: { type: 'string' }, ep: { type: 'string' }, threads: { type: 'string' }, name: { type: 'string' },
    'lock-ms': { type: 'string' }, 'stall-check-ms': { type: 'string' }, 'max-stalled': { type: 'string' },
  }, 'worker');
  const ep = p.flags.ep;
  if (ep !== undefined && !(EXECUTION_PROVIDERS as readonly unknown[]).includes(ep)) throw new UsageError(`worker: --ep must be one of ${EXECUTION_PROVIDERS.join(', ')}`);
  const int = (k: string, min: number) => optionalInt(p, k, 'worker', min);
  const [concurrency, threads, lockMs, stallCheckMs, maxStalled] = [int('concurrency', 1), int('threads', 1), int('lock-ms', 1000), int('stall-check-ms', 500), int('max-stalled', 1)];
  const url = typeof p.flags.redis === 'string' ? p.flags.redis : process.env.RECALL_REDIS_URL;
  const target = redisTarget(p, url, 'worker');
  const worker = new RemoteWorker({
    redis: target, artifacts: artifactsOf(p, 'worker'),
    ...(concurrency ? { concurrency } : {}), ...(ep ? { ep: ep as ExecutionProviderName } : {}), ...(threads ? { threads } : {}),
    ...(typeof p.flags.name === 'string' ? { name: p.flags.name } : {}), ...(lockMs ? { lockMs } : {}), ...(stallCheckMs ? { stallCheckMs } : {}), ...(maxStalled ? { maxStalled } : {}),
    log: (line) => out.line(line),
  });
  out.line(`recall worker ${worker.name}: connecting to ${describeRedis(url!)}`);
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await worker.start();
  await stopped;
  out.line(`recall worker ${worker.name}: stopping (running steps are handed back and resume elsewhere)`);
  // Closing waits for Redis; a worker whose Redis is gone must still go.
  setTimeout(() => process.exit(0), 10_000).unref();
  await worker.close();
  return 0;
}

const fmtTime = (s: number | null) => (s === null ? '' : s >= 60 ? `ETA ${(s / 60).toFixed(1)} min` : `ETA ${s.toFixed(0)} s`);

/** Runs a created experiment on the workers behind --backend, with a live display. */
export async function followRemoteExperiment(api: Api, info: ExperimentInfo, out: Output, p: Parsed, o: { quiet?: boolean } = {}): Promise<ExperimentInfo> {
  const target = redisTarget(p, p.flags.backend as string, 'run');
  const artifacts = artifactsOf(p, 'run');
  const attempts = optionalInt(p, 'attempts', 'run', 1);
  const { dataDir } = unwrap(await api.call('app.info'));
  const store = openStore(databasePath(dataDir), { skipRecovery: true });
  const tty = process.stderr.isTTY && !o.quiet;
  const total = info.steps.length;
  const labels = new Map(info.steps.map((s) => [s.runId, `${s.kind} ${s.label}`]));
  let finished = info.steps.filter((s) => s.status === 'done').length;
  const status = (line: string) => { if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`); };
  if (!o.quiet) out.line(`experiment ${info.runId} '${info.name}': ${total} steps (${info.reused} reused, ${info.resumed} to resume, ${info.created} new) on ${describeRedis(target.url)}`);
  const runner = new RemoteExperimentRunner({
    store, dataDir, experimentId: info.runId, plan: readPlan(dataDir, info.runId), redis: target, artifacts, ns: dataDirNamespace(dataDir),
    ...(attempts ? { policy: { attempts, backoffMs: 1000 } } : {}),
    emit: (event, payload) => {
      if (event === 'jobs.progress') {
        const q = payload as ExperimentInfo['steps'][number] & { fraction: number; stage: string; etaSeconds: number | null };
        status(`[${finished}/${total}] ${labels.get(q.runId) ?? `run ${q.runId}`}  ${q.stage}  ${(100 * q.fraction).toFixed(0)}%  ${fmtTime(q.etaSeconds)}`);
      } else if (event === 'jobs.done') {
        const d = payload as { runId: number; status: string; error: string | null };
        if (d.status === 'done') finished++;
        status('');
        const mark = d.status === 'done' ? 'done' : d.status === 'cancelled' ? 'cancelled' : `FAILED: ${d.error}`;
        if (!o.quiet) out.line(`[${finished}/${total}] run ${d.runId} ${labels.get(d.runId) ?? ''}: ${mark}`);
      }
    },
  });
  const onSigint = () => {
    out.warn('cancelling the experiment on the workers (finished steps are kept; run the same command again to continue)');
    void runner.stop();
  };
  process.once('SIGINT', onSigint);
  try {
    await runner.finished;
  } finally {
    process.off('SIGINT', onSigint);
    store.close();
  }
  return unwrap(await api.call('experiments.get', { runId: info.runId }));
}
