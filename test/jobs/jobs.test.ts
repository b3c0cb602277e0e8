// Jobs in their own processes: a cancel ends the job in under a second and a resume of the
// cancelled compression continues at the next layer, with the weights of an uninterrupted run;
// kill -9 of the job process leaves the run failed and resumable, the database sound and every
// finished module's log row in place.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkIntegrity, openDatabase } from '../../main/engine/store/index.ts';
import { sha256File } from '../../main/engine/jobs/run-files.ts';
import { TINY_COMPRESS, call, nextEvent, testApi } from './job-fixtures.ts';

test('cancel: the job ends within a second; resume continues at layer 2 and writes the weights of an uninterrupted run', async (t) => {
  const { api, home } = testApi(t, { progressDelayMs: 150 });
  const ticket = await call(api.call('compress.start', TINY_COMPRESS));
  assert.equal(ticket.reused, false);
  await nextEvent(api, 'jobs.progress', (p) => p.runId === ticket.runId && p.stage.startsWith('layer 2/2'));
  const done = nextEvent(api, 'jobs.done', (p) => p.jobId === ticket.jobId);
  const t0 = performance.now();
  await call(api.call('jobs.cancel', { jobId: ticket.jobId }));
  const end = await done;
  const latency = performance.now() - t0;
  console.log(`# cancel latency ${latency.toFixed(0)} ms`);
  assert.ok(latency < 1000, `cancel took ${latency.toFixed(0)} ms`);
  assert.equal(end.status, 'cancelled');
  assert.equal(end.resumable, true);
  const cancelled = await call(api.call('runs.get', { runId: ticket.runId }));
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.resumable, true);
  const layer0 = cancelled.compressionLog.filter((m) => m.layer === 0);
  assert.equal(layer0.length, 7, 'layer 1 of 2 (7 modules) was finished before the cancel');
  assert.ok(cancelled.compressionLog.every((m) => m.layer === 0), 'nothing of layer 2 was committed');

  const resumed = await call(api.call('jobs.resume', { runId: ticket.runId }));
  const resumedEnd = await nextEvent(api, 'jobs.done', (p) => p.jobId === resumed.jobId);
  assert.equal(resumedEnd.status, 'done', resumedEnd.error ?? '');
  const after = await call(api.call('runs.get', { runId: ticket.runId }));
  assert.equal(after.status, 'done');
  assert.ok(after.log.some((l) => /resumed at layer 2 /.test(l)), `log: ${after.log.join('\n')}`);
  assert.deepEqual(after.compressionLog.filter((m) => m.layer === 0), layer0, 'layer 1 was not recomputed');
  assert.equal(after.compressionLog.length, 14);
  for (const a of after.artifacts) assert.equal(await sha256File(join(after.dir, a.path)), a.sha256, a.path);

  // The same compression uninterrupted (forced: otherwise the finished run would be reused).
  const again = await call(api.call('compress.start', TINY_COMPRESS));
  assert.deepEqual([again.reused, again.runId], [true, ticket.runId], 'same inputs and config: the finished run is reused');
  const whole = await call(api.call('compress.start', { ...TINY_COMPRESS, force: true }));
  assert.equal((await nextEvent(api, 'jobs.done', (p) => p.jobId === whole.jobId)).status, 'done');
  const wholeRun = await call(api.call('runs.get', { runId: whole.runId }));
  const weights = (r: typeof after) => r.artifacts.find((a) => a.path === 'model/model.safetensors')!.sha256;
  assert.equal(weights(after), weights(wholeRun), 'resumed weights differ from an uninterrupted run');
  assert.ok(readFileSync(join(home, 'runs', String(ticket.runId), 'job.log'), 'utf8').includes('cancelled'));
});

test('kill -9 of the job process: run failed and resumable, integrity_check ok, finished modules kept, resume completes', async (t) => {
  const { api, home } = testApi(t, { progressDelayMs: 150 });
  const ticket = await call(api.call('compress.start', TINY_COMPRESS));
  await nextEvent(api, 'jobs.progress', (p) => p.runId === ticket.runId && p.stage.startsWith('layer 2/2'));
  const job = (await call(api.call('jobs.list', {}))).find((j) => j.jobId === ticket.jobId)!;
  assert.ok(job.pid && job.pid !== process.pid);
  const done = nextEvent(api, 'jobs.done', (p) => p.jobId === ticket.jobId);
  process.kill(job.pid, 'SIGKILL');
  const end = await done;
  assert.equal(end.status, 'failed');
  assert.equal(end.resumable, true);
  assert.match(end.error ?? '', /ended unexpectedly \(signal SIGKILL\)/);
  const run = await call(api.call('runs.get', { runId: ticket.runId }));
  assert.deepEqual([run.status, run.resumable], ['failed', true]);
  assert.equal(run.compressionLog.filter((m) => m.layer === 0).length, 7, 'the finished layer\'s rows survive');

  const db = openDatabase(join(home, 'recall.db'), { readonly: true });
  try {
    assert.deepEqual(checkIntegrity(db), []);
  } finally {
    db.close();
  }
  const resumed = await call(api.call('jobs.resume', { runId: ticket.runId }));
  assert.equal((await nextEvent(api, 'jobs.done', (p) => p.jobId === resumed.jobId)).status, 'done');
  const after = await call(api.call('runs.get', { runId: ticket.runId }));
  assert.equal(after.status, 'done');
  assert.ok(after.log.some((l) => /resumed at layer 2 /.test(l)));
});

test('a run left running by a crashed app is failed and resumable when the next app opens the store', async (t) => {
  const first = testApi(t, { progressDelayMs: 150 });
  const ticket = await call(first.api.call('compress.start', TINY_COMPRESS));
  await nextEvent(first.api, 'jobs.progress', (p) => p.runId === ticket.runId);
  const pid = (await call(first.api.call('jobs.list', {})))[0]!.pid!;
  // The app and its job die together (as on a power cut): nothing records the end of the run.
  process.kill(pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  const second = testApi(t, { home: first.home });
  const runs = await call(second.api.call('runs.list', {}));
  const run = runs.find((r) => r.id === ticket.runId)!;
  assert.equal(run.resumable, true);
  assert.equal(run.status, 'failed');
});
