// Experiments: a spec expands into runs with lineage, shared steps made once (one compression
// for all recoveries on it, one dense eval for all seeds), finished runs reused by the next
// experiment; an experiment runs to a method x task table; its export bundle imports losslessly
// into another home (same rows, same artifact sha256); runs.compare pairs two eval runs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ExperimentSpecInput } from '../../main/contract/index.ts';
import type { Api } from '../../main/engine/api.ts';
import { CALIB, TINY, call, nextEvent, testApi } from '../jobs/job-fixtures.ts';

const tiny = { nsamples: 8, seqlen: 32 };
const train = { data: CALIB, steps: 2, batchSize: 2, seqLen: 32 };

test('dedup: a compression shared by its recoveries is made once, the dense eval once for all seeds; the same spec again creates nothing', async (t) => {
  const { api } = testApi(t);
  const spec: ExperimentSpecInput = {
    name: 'dedup', models: [TINY], seeds: [0, 1], calibration: { file: CALIB, ...tiny },
    compressions: [{ name: 'dense', method: 'none' }, { name: 'rtn4', method: 'rtn', bits: 4 }, { name: 'gptq3', method: 'gptq', bits: 3, groupSize: 32 }],
    recoveries: [{ name: 'none', method: 'none' }, { name: 'lora', method: 'lora', ...train }, { name: 'prompt', method: 'prompt', ...train, options: { virtualTokens: 4 } }],
    tasks: ['demo_mc'], eval: { limit: 4 }, analyze: { limit: 2 },
  };
  const first = await call(api.call('experiments.create', { spec }));
  const count = async (kind: 'compress' | 'tune' | 'eval' | 'analyze') => (await call(api.call('runs.list', { kind }))).length;
  // per seed: 2 compressions, 2 x 2 recoveries, 6 evals + 6 analyses; the dense eval is shared.
  assert.deepEqual([await count('compress'), await count('tune'), await count('eval'), await count('analyze')], [4, 8, 13, 12]);
  assert.equal(first.created, 37);
  assert.equal(first.steps.length, 37);
  const tunes = await call(api.call('runs.list', { kind: 'tune' }));
  for (const c of await call(api.call('runs.list', { kind: 'compress' }))) {
    assert.equal(tunes.filter((r) => r.parents.some((p) => p.id === c.id)).length, 2, `run ${c.id} feeds both recoveries`);
  }
  const again = await call(api.call('experiments.create', { spec }));
  assert.deepEqual([again.created, again.resumed], [0, 37], 'unfinished runs are continued, not duplicated');
  assert.equal(await count('compress'), 4);
  const forced = await call(api.call('experiments.create', { spec, force: true }));
  assert.equal(forced.created, 37, 'force makes new runs');
});

async function runExperiment(api: Api, runId: number): Promise<void> {
  const ended = nextEvent(api, 'runs.updated', (p) => p.runId === runId && ['done', 'failed', 'cancelled'].includes(p.status), 120_000);
  await call(api.call('experiments.run', { runId }));
  const end = await ended;
  if (end.status !== 'done') {
    const failed = (await call(api.call('runs.list', { status: 'failed' }))).map((r) => `${r.id} ${r.name}: ${r.error}`);
    assert.fail(`experiment ${end.status}: ${failed.join('; ')}`);
  }
}

test('an experiment runs to a method x task table, is reused the next time, and its bundle imports losslessly', async (t) => {
  const { api } = testApi(t);
  const spec: ExperimentSpecInput = {
    name: 'small', models: [TINY], calibration: { file: CALIB, ...tiny },
    compressions: [{ name: 'dense', method: 'none' }, { name: 'rtn4', method: 'rtn', bits: 4 }],
    recoveries: [{ name: 'none', method: 'none' }, { name: 'lora', method: 'lora', ...train }],
    tasks: ['demo_mc'], eval: { limit: 4 }, analyze: { limit: 2 },
  };
  const exp = await call(api.call('experiments.create', { spec }));
  assert.equal(exp.created, 7); // compress, tune, 3 evals, 2 analyses
  await runExperiment(api, exp.runId);
  const got = await call(api.call('experiments.get', { runId: exp.runId }));
  assert.equal(got.status, 'done');
  assert.deepEqual(got.table.map((r) => `${r.compression}+${r.recovery}`), ['dense+none', 'rtn4+none', 'rtn4+lora']);
  for (const row of got.table) assert.ok(Number.isFinite(row.values.demo_mc?.value), JSON.stringify(row));
  const tune = (await call(api.call('runs.list', { kind: 'tune' })))[0]!;
  assert.ok((await call(api.call('runs.get', { runId: tune.id }))).curve.length >= 2, 'training curve stored');
  const analyze = (await call(api.call('runs.list', { kind: 'analyze' })))[0]!;
  assert.ok((await call(api.call('runs.get', { runId: analyze.id }))).similarityKinds.includes('model/attention-cos'));

  const reuse = await call(api.call('experiments.create', { spec }));
  assert.deepEqual([reuse.created, reuse.reused], [0, exp.steps.length], 'every finished step is reused');

  const [dense, rtn] = got.table;
  const cmp = await call(api.call('runs.compare', { a: dense!.evalRunId, b: rtn!.evalRunId }));
  assert.equal(cmp[0]!.task, 'demo_mc');
  assert.equal(cmp[0]!.paired, 4);

  const out = mkdtempSync(join(tmpdir(), 'recall-export-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const bundle = await call(api.call('runs.export', { runIds: [exp.runId], out: join(out, 'small.recall.gz') }));
  assert.equal(bundle.runs, exp.steps.length + 1);
  const csv = await call(api.call('runs.export', { runIds: [dense!.evalRunId], out: join(out, 'm.csv'), format: 'csv' }));
  assert.match(readFileSync(csv.path, 'utf8'), /^run_id,run_name,kind,status,parent_id,task,metric,value,stderr,n\n\d+,eval dense,eval,done,,demo_mc,acc,/);
  const harness = await call(api.call('runs.export', { runIds: [rtn!.evalRunId], out: join(out, 'h.json'), format: 'harness' }));
  const hj = JSON.parse(readFileSync(harness.path, 'utf8')) as { results: Record<string, Record<string, unknown>>; samples: Record<string, unknown[]> };
  assert.equal(typeof hj.results.demo_mc!['acc,none'], 'number');
  assert.equal(hj.samples.demo_mc!.length, 4);

  const other = testApi(t);
  const imported = await call(other.api.call('runs.import', { path: bundle.path }));
  assert.deepEqual(imported.missingArtifacts, []);
  assert.equal(imported.runs.length, exp.steps.length + 1);
  for (const { from, to } of imported.runs) {
    const [a, b] = [await call(api.call('runs.get', { runId: from })), await call(other.api.call('runs.get', { runId: to }))];
    const strip = (d: typeof a) => ({
      kind: d.kind, name: d.name, status: d.status, config: d.config, fingerprint: d.fingerprint, seed: d.seed, createdAt: d.createdAt, finishedAt: d.finishedAt,
      timings: d.timings, metrics: d.metrics.map(({ runId: _r, ...m }) => m), records: d.records, log: d.compressionLog.map(({ runId: _r, ...m }) => m), curve: d.curve,
      similarityKinds: d.similarityKinds, artifacts: d.artifacts.filter((x) => x.path !== 'plan.json').map((x) => [x.path, x.kind, x.bytes, x.sha256]),
      parents: d.parents.map((p) => [imported.runs.find((r) => r.from === p.id)?.to, p.role]),
    });
    assert.deepEqual(strip(b), { ...strip(a), parents: a.parents.map((p) => [imported.runs.find((r) => r.from === p.id)?.to, p.role]) }, `run ${from} -> ${to}`);
    for (const x of b.artifacts) assert.ok(existsSync(join(b.dir, x.path)), x.path);
  }
  const importedExp = imported.runs.find((r) => r.from === exp.runId)!.to;
  const table = (await call(other.api.call('experiments.get', { runId: importedExp }))).table;
  assert.deepEqual(table.map((r) => r.values), got.table.map((r) => r.values), 'the imported experiment reads the same table');

  // Deleting the compressed run takes what was derived from it.
  const compress = (await call(api.call('runs.list', { kind: 'compress' })))[0]!;
  const refused = await api.call('runs.delete', { runId: compress.id });
  assert.equal(!refused.ok && refused.error.code, 'E_RUN_IN_USE');
  const del = await call(api.call('runs.delete', { runId: compress.id, recursive: true }));
  assert.equal(del.deleted.length, 6); // compress, tune, 2 evals, 2 analyses
  assert.equal(existsSync((await call(api.call('runs.get', { runId: dense!.evalRunId }))).dir), true);
});
