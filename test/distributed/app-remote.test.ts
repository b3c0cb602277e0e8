// The remote backend from the app's API: the remote backend setting (validated, no password kept),
// experiments.run sending the steps to a `recall worker` process through a real redis-server on
// loopback, the steps listed by jobs.list (remote: true, the worker's name) with jobs.progress /
// jobs.done events arriving, and the results landing in the app's store. Then the built renderer,
// over the bridge in Chromium: the Jobs view shows the steps with their "remote · worker" badge
// (screenshot in test-results/app-remote-jobs.png), and Settings shows the remote backend.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { VIEWPORT, watchPage } from '../../e2e/workbench-flow.ts';
import { startBridge } from '../../main/bridge/server.ts';
import type { ExperimentSpecInput, JobDoneEvent, JobInfo, JobProgressEvent } from '../../main/contract/index.ts';
import { createApi } from '../../main/engine/api.ts';
import { databasePath, openStore } from '../../main/engine/store/index.ts';
import { buildRenderer, launchChromium } from '../helpers/browser.ts';
import { call, nextEvent } from '../jobs/job-fixtures.ts';
import { DEMO_MODEL } from './coordinator-harness.ts';
import { startRedis } from './redis-harness.ts';
import { startWorkers } from './worker-harness.ts';

const root = new URL('../..', import.meta.url).pathname;

const SPEC: ExperimentSpecInput = {
  name: 'app-remote', models: [DEMO_MODEL], calibration: { nsamples: 8, seqlen: 32 },
  compressions: [{ name: 'dense', method: 'none' }, { name: 'rtn4', method: 'rtn', bits: 4 }],
  tasks: ['demo_mc'], eval: { limit: 10 }, analyze: false,
};

function tempDir(t: { after: (fn: () => Promise<void>) => void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the app runs an experiment on a recall worker: jobs.list shows the remote steps, progress streams, results land in the store', { timeout: 90_000 }, async (t) => {
  const redis = await startRedis(t);
  const artifacts = tempDir(t, 'recall-shared-');
  const [worker] = await startWorkers(t, { url: redis.url, artifacts, n: 1, progressDelayMs: 30, tag: 'app' });
  const home = tempDir(t, 'recall-app-home-');
  const api = createApi({ home });
  t.after(() => api.close());

  // The setting: validated; a password in the URL is refused (settings.json is plain text).
  const withPassword = await api.call('settings.set', { remote: { redisUrl: 'redis://:secret@127.0.0.1:6379', artifactsDir: artifacts } });
  assert.equal(withPassword.ok, false);
  assert.match(!withPassword.ok ? withPassword.error.message : '', /remote\.redisUrl: must not hold a password/);
  const relative = await api.call('settings.set', { remote: { redisUrl: redis.url, artifactsDir: 'shared' } });
  assert.match(!relative.ok ? relative.error.message : '', /remote\.artifactsDir: must be an absolute path/);
  const settings = await call(api.call('settings.set', { remote: { redisUrl: redis.url, artifactsDir: artifacts } }));
  assert.deepEqual(settings.remote, { redisUrl: redis.url, artifactsDir: artifacts });

  const progress: JobProgressEvent[] = [];
  const done: JobDoneEvent[] = [];
  api.on('jobs.progress', (p) => progress.push(p));
  api.on('jobs.done', (p) => done.push(p));

  const created = await call(api.call('experiments.create', { spec: SPEC }));
  const ended = nextEvent(api, 'runs.updated', (p) => p.runId === created.runId && ['done', 'failed', 'cancelled'].includes(p.status), 80_000);
  await call(api.call('experiments.run', { runId: created.runId })); // the setting makes 'remote' the default

  // While it runs, the Jobs view's list holds the remote steps, one of them running on the worker.
  let seenRunning: JobInfo | undefined;
  let finished = false;
  void ended.then(() => { finished = true; }, () => { finished = true; });
  while (!finished && !seenRunning) {
    const jobs = await call(api.call('jobs.list'));
    seenRunning = jobs.find((j) => j.remote && j.state === 'running' && j.progress !== null);
    if (!seenRunning) await new Promise((r) => setTimeout(r, 50));
  }
  const end = await ended;
  assert.equal(end.status, 'done');
  assert.ok(seenRunning, 'jobs.list showed a running remote step');
  assert.equal(seenRunning.worker, worker!.name);

  const pending = created.steps.filter((s) => s.status !== 'done');
  assert.ok(pending.length >= 2, 'the experiment had steps to run');
  const jobs = await call(api.call('jobs.list'));
  const remote = jobs.filter((j) => j.remote);
  assert.deepEqual(remote.map((j) => j.runId).sort(), pending.map((s) => s.runId).sort(), 'every step is listed as a remote job');
  for (const j of remote) {
    assert.equal(j.state, 'done', `step ${j.runId}`);
    assert.equal(j.worker, worker!.name);
  }
  assert.ok(progress.length > 0 && progress.every((p) => p.remote === true), 'remote progress events');
  assert.ok(progress.some((p) => p.worker === worker!.name));
  assert.deepEqual(done.map((d) => [d.runId, d.status, d.remote, d.worker]).sort(), pending.map((s) => [s.runId, 'done', true, worker!.name]).sort());
  const remoteCancel = await api.call('jobs.cancel', { jobId: remote[0]!.jobId });
  assert.equal(remoteCancel.ok, false, 'an ended remote step is not a local job');

  // The results are in the app's store, as after a local run.
  const info = await call(api.call('experiments.get', { runId: created.runId }));
  assert.equal(info.status, 'done');
  const { dataDir } = await call(api.call('app.info'));
  const store = openStore(databasePath(dataDir), { skipRecovery: true });
  try {
    for (const s of info.steps) assert.equal(store.runs.require(s.runId).status, 'done', `run ${s.runId}`);
    const evals = info.steps.filter((s) => s.kind === 'eval');
    assert.equal(evals.length, 2);
    for (const e of evals) assert.ok(store.metrics.list(e.runId).length > 0, `eval run ${e.runId} has metrics`);
  } finally {
    store.close();
  }

  // The same jobs in the app: the Jobs view over the bridge, in Chromium.
  const bridge = await startBridge({ api, staticDir: buildRenderer() });
  t.after(() => bridge.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: VIEWPORT, colorScheme: 'light' });
  const problems = watchPage(page);
  await page.goto(`${bridge.url}#/jobs`);
  const badges = page.locator('[data-testid^="remote-"]');
  await badges.first().waitFor({ timeout: 15_000 });
  assert.equal(await badges.count(), remote.length, 'one remote badge per remote step');
  assert.equal((await badges.first().textContent())?.trim(), `remote · ${worker!.name}`);
  await page.screenshot({ path: join(root, 'test-results', 'app-remote-jobs.png'), fullPage: true });
  await page.goto(`${bridge.url}#/settings`);
  const urlField = page.getByTestId('field-redis-url');
  await urlField.waitFor({ timeout: 15_000 });
  await page.waitForFunction((want) => (document.querySelector('[data-testid="field-redis-url"]') as HTMLInputElement | null)?.value === want, redis.url, { timeout: 15_000 });
  assert.equal(await page.getByTestId('field-artifacts-dir').inputValue(), artifacts);
  assert.deepEqual(problems, []);
});
