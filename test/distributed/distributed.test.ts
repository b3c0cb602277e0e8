// The distributed backend end to end, on this machine: a real redis-server on loopback, three
// `recall worker` processes, the demo model with tiny budgets. The grid's results must equal a
// local run's, step by step, through a worker killed with SIGKILL mid-step and through a Redis
// restart; a poison step fails after its attempts without stopping the rest; a cancel stops the
// remote jobs within seconds.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Queue } from 'bullmq';
import { STEP_QUEUE } from '../../main/engine/distributed/connection.ts';
import { stepJobId } from '../../main/engine/distributed/job-spec.ts';
import { dataDirNamespace } from '../../main/engine/distributed/remote-plan.ts';
import { runDir } from '../../main/engine/jobs/run-files.ts';
import { DEMO_MODEL, GRID, expectEnd, type Home, runLocally, runRemotely } from './coordinator-harness.ts';
import { startRedis } from './redis-harness.ts';
import { assertSameResults, startWorkers } from './worker-harness.ts';

type After = { after: (fn: () => Promise<void>) => void };

function sharedDir(t: After): string {
  const dir = mkdtempSync(join(tmpdir(), 'recall-shared-'));
  t.after(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let reference: Promise<Home> | undefined;
const closeReference: (() => Promise<void>)[] = [];
after(async () => { for (const fn of closeReference) await fn(); });
/** The grid run locally once, for every test of this file (its home outlives them all). */
const localReference = () => (reference ??= runLocally({ after: (fn) => closeReference.push(fn) }, GRID));

function stepQueue(t: After, port: number): Queue {
  const queue = new Queue(STEP_QUEUE, { connection: { host: '127.0.0.1', port }, prefix: 'recall' });
  queue.on('error', () => undefined);
  t.after(async () => { await Promise.race([queue.close(), new Promise((r) => setTimeout(r, 2000))]); });
  return queue;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a grid on three workers equals the local run, with one worker killed (SIGKILL) mid-step; the step resumes from its checkpoint elsewhere', { timeout: 120_000 }, async (t) => {
  const redis = await startRedis(t);
  const artifacts = sharedDir(t);
  const workers = await startWorkers(t, { url: redis.url, artifacts, n: 3, progressDelayMs: 40, tag: 'kill' });
  const ref = localReference();
  const remote = await runRemotely(t, GRID, { url: redis.url, artifacts });
  const queue = stepQueue(t, redis.port);
  // The GPTQ step, once past its first layers (a checkpoint exists), loses its worker.
  const gptq = remote.plan.steps.find((s) => s.key.endsWith('/gptq3'))!;
  const victim = await until('the gptq step to be half done', 60_000, async () => {
    const job = (await queue.getJobs(['active'])).find((j) => (j.data as { runId: number }).runId === gptq.runId);
    return job && typeof job.progress === 'object' && (job.progress as { fraction: number }).fraction >= 0.5 ? job.processedBy : undefined;
  });
  const killed = workers.find((w) => w.name === victim)!;
  await killed.kill('SIGKILL');
  await expectEnd(remote, 'done');
  const log = readFileSync(join(runDir(remote.dataDir, gptq.runId), 'job.log'), 'utf8');
  assert.match(log, /resuming from the run's checkpoints/, 'the second attempt resumed');
  assert.match(log, /resumed at layer [2-9]/, 'from a layer checkpoint the first attempt wrote');
  const job = await queue.getJob(stepJobId(dataDirNamespace(remote.dataDir), gptq.runId));
  assert.notEqual(job?.processedBy, victim, 'finished by another worker');
  assertSameResults(await ref, remote);
  const progress = remote.events.filter(([e]) => e === 'jobs.progress').length;
  assert.ok(progress > 0, 'progress streamed to the coordinator');
});

test('Redis restarted mid-grid (AOF): no job is lost, workers and coordinator reconnect, results equal the local run', { timeout: 120_000 }, async (t) => {
  const redis = await startRedis(t);
  const artifacts = sharedDir(t);
  await startWorkers(t, { url: redis.url, artifacts, n: 2, progressDelayMs: 20, tag: 'restart' });
  const ref = localReference();
  const remote = await runRemotely(t, GRID, { url: redis.url, artifacts });
  await until('a first finished step', 60_000, async () => (remote.events.some(([e, p]) => e === 'jobs.done' && (p as { status: string }).status === 'done') ? true : undefined));
  await redis.restart(1000);
  await expectEnd(remote, 'done');
  assertSameResults(await ref, remote);
});

test('a poison step fails after its attempts with its error stored while the rest of the grid finishes; a cancel stops remote jobs within seconds', { timeout: 120_000 }, async (t) => {
  const redis = await startRedis(t);
  const artifacts = sharedDir(t);
  await startWorkers(t, { url: redis.url, artifacts, n: 2, progressDelayMs: 100, tag: 'faults' });
  // The calibration text exists when the plan is made, and is gone when the workers look.
  const calib = join(sharedDir(t), 'calibration.txt');
  copyFileSync(join(DEMO_MODEL, '../demo/calibration.txt'), calib);
  const poison = { ...GRID, name: 'poison', calibration: { file: calib, nsamples: 8, seqlen: 32 }, compressions: [{ name: 'dense', method: 'none' as const }, { name: 'rtn4', method: 'rtn' as const, bits: 4 }] };
  const p = await runRemotely(t, poison, { url: redis.url, artifacts, policy: { attempts: 2, backoffMs: 100 } });
  unlinkSync(calib);
  assert.equal(await p.runner.finished, 'failed');
  const byKey = (k: string) => p.store.runs.require(p.plan.steps.find((s) => s.key.endsWith(k))!.runId);
  const rtn = byKey('/rtn4');
  assert.equal(rtn.status, 'failed');
  assert.match(rtn.error ?? '', /calibration\.txt.*\(after 2 attempts\)/s);
  assert.equal(byKey('/dense/eval').status, 'done', 'the rest of the grid went on');
  assert.equal(byKey('/rtn4/eval').status, 'queued', 'what needs the poison step never ran');

  const slow = { ...GRID, name: 'cancelled', compressions: [{ name: 'gptq3', method: 'gptq' as const, bits: 3, groupSize: 32 }], analyze: false as const };
  const c = await runRemotely(t, slow, { url: redis.url, artifacts });
  const queue = stepQueue(t, redis.port);
  await until('the gptq step to run', 60_000, async () => ((await queue.getJobs(['active'])).some((j) => (j.progress as { fraction?: number })?.fraction) ? true : undefined));
  const t0 = Date.now();
  await c.runner.stop();
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(await c.runner.finished, 'cancelled');
  assert.ok(seconds < 8, `cancel took ${seconds.toFixed(1)} s`);
  const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'waiting-children');
  assert.deepEqual(counts, { active: 0, waiting: 0, delayed: 0, 'waiting-children': 0 });
  const gptq = c.store.runs.require(c.plan.steps[0]!.runId);
  assert.equal(gptq.status, 'cancelled');
  assert.equal(gptq.resumable, true);
});
