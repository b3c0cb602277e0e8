// `npm run bench -- distributed [--workers 3]`: the demo grid (dense, RTN 4-bit, GPTQ 3-bit;
// eval demo_mc 10 items; analysis) run by the local job queue, then through BullMQ on 1, 2 and
// 3 `recall worker` processes on this machine (a loopback redis-server, a temporary shared
// folder). Prints wall time ratios against one worker, and the queue's overhead per step:
// (one worker's wall time - the local queue's) / steps. Workers on one machine share its
// cores, so the ratios here are a floor for what separate GPU hosts give.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRID, runLocally, runRemotely } from '../test/distributed/coordinator-harness.ts';
import { startRedis } from '../test/distributed/redis-harness.ts';
import { startWorkers } from '../test/distributed/worker-harness.ts';
import { Queue } from 'bullmq';
import { STEP_QUEUE } from '../main/engine/distributed/connection.ts';
import { stepJobId } from '../main/engine/distributed/job-spec.ts';
import { dataDirNamespace } from '../main/engine/distributed/remote-plan.ts';
import type { RemoteHome } from '../test/distributed/coordinator-harness.ts';
import type { Bench } from './run.ts';

/** Collects cleanups as node:test's t.after would, run in reverse order. */
function scope() {
  const fns: (() => Promise<void>)[] = [];
  return { after: (fn: () => Promise<void>) => { fns.push(fn); }, close: async () => { for (const fn of fns.reverse()) await fn(); } };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, (performance.now() - t0) / 1000];
}

export const bench: Bench = {
  description: 'an experiment grid on the local queue vs 1, 2, 3 BullMQ workers (needs redis-server): wall time ratios, queue overhead per step',
  async run(args) {
    const maxWorkers = Number(args[args.indexOf('--workers') + 1] ?? 3) || 3;
    const s = scope();
    try {
      const redis = await startRedis(s);
      const warm = scope();
      const steps = (await runLocally(warm, GRID)).plan.steps.length; // warms the page cache, counts the steps
      await warm.close();
      const [, local] = await timed(async () => { const o = scope(); await runLocally(o, GRID); await o.close(); });
      console.log(`grid: ${steps} steps; local job queue (1 at a time): ${local.toFixed(1)} s`);
      const walls: number[] = [];
      for (let n = 1; n <= maxWorkers; n++) {
        const o = scope();
        const shared = mkdtempSync(join(tmpdir(), 'recall-bench-shared-'));
        await startWorkers(o, { url: redis.url, artifacts: shared, n, tag: `bench${n}` });
        let home!: RemoteHome;
        const [status, wall] = await timed(async () => { home = await runRemotely(o, GRID, { url: redis.url, artifacts: shared }); return home.runner.finished; });
        // Time inside the workers' processors (job process start, the step, storing its result).
        const queue = new Queue(STEP_QUEUE, { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'recall' });
        const jobs = await Promise.all(home.plan.steps.map((st) => queue.getJob(stepJobId(dataDirNamespace(home.dataDir), st.runId))));
        await queue.close();
        const inWorkers = jobs.reduce((a, j) => a + ((j?.finishedOn ?? 0) - (j?.processedOn ?? 0)), 0) / 1000;
        if (n === 1) console.log(`queue overhead per step (1 worker: wall time not spent in a processor, / steps): ${(((wall - inWorkers) / steps) * 1000).toFixed(0)} ms`);
        await o.close();
        rmSync(shared, { recursive: true, force: true });
        if (status !== 'done') throw new Error(`the grid on ${n} workers ended ${status}`);
        walls.push(wall);
        console.log(`${n} worker${n > 1 ? 's' : ' '}: ${wall.toFixed(1)} s  speed-up vs 1 worker ${(walls[0]! / wall).toFixed(2)}x  vs local queue ${(local / wall).toFixed(2)}x`);
      }
      console.log(`1 worker vs the local queue, per step: ${(((walls[0]! - local) / steps) * 1000).toFixed(0)} ms`);
    } finally {
      await s.close();
    }
  },
};
