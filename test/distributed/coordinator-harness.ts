// The coordinator side of the distributed tests: a Recall home whose experiment is created
// through the API and run by RemoteExperimentRunner on the test's Redis and shared folder, and
// the same experiment run locally (the job queue) as the reference the remote results must equal.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExperimentSpecInput } from '../../main/contract/index.ts';
import { createApi, type Api } from '../../main/engine/api.ts';
import { SharedDirStore } from '../../main/engine/distributed/artifact-store.ts';
import type { RetryPolicy } from '../../main/engine/distributed/job-spec.ts';
import { dataDirNamespace } from '../../main/engine/distributed/remote-plan.ts';
import { RemoteExperimentRunner } from '../../main/engine/distributed/remote-runner.ts';
import { type ExperimentPlan, readPlan } from '../../main/engine/experiments/plan-experiment.ts';
import { databasePath, openStore, type Store } from '../../main/engine/store/index.ts';
import { call, nextEvent } from '../jobs/job-fixtures.ts';

type After = { after: (fn: () => Promise<void>) => void };

export const DEMO_MODEL = join(import.meta.dirname, '../../native-models/demo-model');

/** dense, RTN 4-bit and GPTQ 3-bit of the demo model; eval demo_mc (10 items); analysis of 2 texts. */
export const GRID: ExperimentSpecInput = {
  name: 'grid', models: [DEMO_MODEL], calibration: { nsamples: 8, seqlen: 32 },
  compressions: [{ name: 'dense', method: 'none' }, { name: 'rtn4', method: 'rtn', bits: 4 }, { name: 'gptq3', method: 'gptq', bits: 3, groupSize: 32 }],
  tasks: ['demo_mc'], eval: { limit: 10 }, analyze: { task: 'demo_mc', limit: 2 },
};

export interface Home { api: Api; store: Store; dataDir: string; experimentId: number; plan: ExperimentPlan }

async function openHome(t: After, spec: ExperimentSpecInput): Promise<Home> {
  const home = mkdtempSync(join(tmpdir(), 'recall-dist-home-'));
  const api = createApi({ home });
  const info = await call(api.call('experiments.create', { spec }));
  const { dataDir } = await call(api.call('app.info'));
  const store = openStore(databasePath(dataDir), { skipRecovery: true });
  t.after(async () => {
    store.close();
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });
  return { api, store, dataDir, experimentId: info.runId, plan: readPlan(dataDir, info.runId) };
}

/** The experiment run here, by the local job queue. */
export async function runLocally(t: After, spec: ExperimentSpecInput): Promise<Home> {
  const h = await openHome(t, spec);
  const ended = nextEvent(h.api, 'runs.updated', (p) => p.runId === h.experimentId && ['done', 'failed', 'cancelled'].includes(p.status), 120_000);
  await call(h.api.call('experiments.run', { runId: h.experimentId }));
  const end = await ended;
  if (end.status !== 'done') throw new Error(`local reference run ended ${end.status}`);
  return h;
}

export interface RemoteHome extends Home { runner: RemoteExperimentRunner; events: [string, unknown][] }

/** The experiment created in a fresh home and sent to the workers (the runner starts at once). */
export async function runRemotely(t: After, spec: ExperimentSpecInput, o: { url: string; artifacts: string; policy?: RetryPolicy }): Promise<RemoteHome> {
  const h = await openHome(t, spec);
  const events: [string, unknown][] = [];
  const runner = new RemoteExperimentRunner({
    store: h.store, dataDir: h.dataDir, experimentId: h.experimentId, plan: h.plan, redis: { url: o.url }, artifacts: new SharedDirStore(o.artifacts),
    ns: dataDirNamespace(h.dataDir), pollMs: 200, emit: (e, p) => { events.push([e, p]); }, ...(o.policy ? { policy: o.policy } : {}),
  });
  t.after(async () => { await Promise.race([runner.stop(), new Promise((r) => setTimeout(r, 3000))]); });
  return { ...h, runner, events };
}

/** The runner's end, asserted; otherwise the failure names the experiment's error and each failed step's error. */
export async function expectEnd(h: RemoteHome, expected: 'done' | 'failed' | 'cancelled'): Promise<void> {
  const end = await h.runner.finished;
  if (end === expected) return;
  const why = [h.store.runs.get(h.experimentId)?.error ?? '', ...h.plan.steps.map((s) => h.store.runs.get(s.runId)).filter((r) => r && r.status !== 'done').map((r) => `run ${r!.id} ${r!.kind} ${r!.status}: ${r!.error ?? ''}`)];
  throw new Error(`the remote experiment ended ${end}, expected ${expected}:\n${why.join('\n')}`);
}
