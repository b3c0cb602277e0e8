// Worker processes for the distributed tests: `recall worker` (bin/recall.js) on this machine,
// short lock and stalled-check intervals so a killed worker's step moves on within seconds,
// stopped after the test. Also the comparison of two stores' runs, step by step.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExperimentPlan } from '../../main/engine/experiments/plan-experiment.ts';
import type { Store } from '../../main/engine/store/index.ts';

const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));

export interface TestWorker { name: string; proc: ChildProcess; output(): string; kill(signal: NodeJS.Signals): Promise<void> }

export async function startWorkers(t: { after: (fn: () => Promise<void>) => void }, o: { url: string; artifacts: string; n: number; progressDelayMs?: number; tag: string }): Promise<TestWorker[]> {
  const workers: TestWorker[] = [];
  for (let i = 1; i <= o.n; i++) {
    const name = `${o.tag}-w${i}`;
    const proc = spawn(process.execPath, [BIN, 'worker', '--redis', o.url, '--artifacts', o.artifacts, '--name', name, '--lock-ms', '3000', '--stall-check-ms', '1000', '--threads', '1'], {
      env: { ...process.env, ...(o.progressDelayMs ? { RECALL_JOB_PROGRESS_DELAY_MS: String(o.progressDelayMs) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const w: TestWorker = {
      name, proc, output: () => out,
      async kill(signal) {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        // A worker whose Redis is gone may not finish closing: SIGKILL after 5 s.
        const force = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(force);
      },
    };
    workers.push(w);
  }
  // Ready when each says it is taking jobs.
  const deadline = Date.now() + 30_000;
  while (!workers.every((w) => w.output().includes('taking jobs'))) {
    const dead = workers.find((w) => w.proc.exitCode !== null);
    if (dead) throw new Error(`worker ${dead.name} exited: ${dead.output()}`);
    if (Date.now() > deadline) throw new Error(`workers not ready in 30 s: ${workers.map((w) => w.output()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.after(async () => { await Promise.all(workers.map((w) => w.kill('SIGTERM'))); });
  return workers;
}

/** What a run computed, without what differs by when and where it ran (times, paths). */
export function runResults(store: Store, runId: number): unknown {
  const run = store.runs.require(runId);
  return {
    kind: run.kind, status: run.status, fingerprint: run.fingerprint,
    metrics: store.metrics.list(runId).map(({ runId: _r, ...m }) => m),
    records: store.records.tasks(runId).map((t) => [t, store.records.list(runId, t).map((r) => [r.item, r.payload])]),
    compressionLog: store.compressionLogs.list(runId).map(({ runId: _r, seconds: _s, ...e }) => e),
    curve: store.trainingCurves.list(runId),
    similarity: store.similarity.kinds(runId).map((k) => [k, Array.from(store.similarity.get(runId, k)!.data)]),
    // results.json (timings, model path) and the compressor's log.json (seconds per module) differ
    // between any two runs; their numbers are compared through the rows above.
    artifacts: store.artifacts.list(runId).filter((a) => a.kind !== 'results' && !a.path.endsWith('compression/log.json')).map((a) => [a.path, a.sha256]),
  };
}

/** Every step of plan B computed what the same step of plan A did. */
export function assertSameResults(a: { store: Store; plan: ExperimentPlan }, b: { store: Store; plan: ExperimentPlan }): void {
  assert.deepEqual(b.plan.steps.map((s) => s.key), a.plan.steps.map((s) => s.key));
  for (const [i, s] of a.plan.steps.entries()) {
    assert.deepEqual(runResults(b.store, b.plan.steps[i]!.runId), runResults(a.store, s.runId), `step ${s.key}`);
  }
}
