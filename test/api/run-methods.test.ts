// The runs/jobs/models/experiments methods at the API's edge: bad arguments are E_BAD_ARGUMENT
// naming the field, missing things E_NOT_FOUND; models and data folders are listed as they are;
// over the bridge's WebSocket the new methods need the token, and job events reach the page.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Envelope, ServerMessage } from '../../main/contract/index.ts';
import { startBridge } from '../../main/bridge/server.ts';
import { TINY, TINY_COMPRESS, call, testApi } from '../jobs/job-fixtures.ts';

const DATASETS = fileURLToPath(new URL('../../../shared/datasets', import.meta.url));

function errorOf(result: Envelope<unknown>): { code: string; message: string } {
  assert.equal(result.ok, false, `expected an error, got ${JSON.stringify(result).slice(0, 300)}`);
  return (result as { error: { code: string; message: string } }).error;
}

const spec = { name: 'x', models: [TINY], compressions: [{ name: 'dense', method: 'none' }], tasks: ['demo_mc'] };
const badArguments: [string, string, unknown, RegExp][] = [
  ['bits that are not a number', 'compress.start', { ...TINY_COMPRESS, bits: 'three' }, /^compress\.start: bits: /],
  ['bits out of range', 'compress.start', { ...TINY_COMPRESS, bits: 9 }, /^compress\.start: bits: must be in 2\.\.8/],
  ['compress method none', 'compress.start', { ...TINY_COMPRESS, method: 'none' }, /^compress\.start: method: expected rtn, gptq, sparsegpt or magnitude/],
  ['an unknown compress field', 'compress.start', { ...TINY_COMPRESS, colour: 1 }, /unknown field 'colour'/],
  ['an unknown recovery', 'tune.start', { model: TINY, method: 'qlora' }, /^tune\.start: method: expected lora, prompt, prefix or idp/],
  ['eval without model or parent', 'eval.start', { tasks: ['demo_mc'] }, /^eval\.start: parentRunId: give exactly one of parentRunId or model/],
  ['eval without tasks', 'eval.start', { model: TINY, tasks: [] }, /^eval\.start: tasks: needs at least one task/],
  ['analyze with task and texts', 'analyze.start', { parentRunId: 1, task: 'demo_mc', texts: ['a'] }, /^analyze\.start: task: give exactly one of task or texts/],
  ['a negative run id', 'runs.get', { runId: -1 }, /^runs\.get: runId: expected a run id/],
  ['an unknown export format', 'runs.export', { runIds: [1], out: '/tmp/x', format: 'zip' }, /^runs\.export: format: expected bundle, csv or harness/],
  ['an experiment without models', 'experiments.create', { spec: { ...spec, models: [] } }, /^experiments\.create: spec\.models: needs at least one model/],
  ['duplicate compression names', 'experiments.create', { spec: { ...spec, compressions: [{ name: 'a', method: 'none' }, { name: 'a', method: 'rtn', bits: 4 }] } }, /spec\.compressions\.1\.name: duplicate name 'a'/],
  ['a bad sparsity in a spec', 'experiments.create', { spec: { ...spec, compressions: [{ name: 's', method: 'sparsegpt', sparsity: 1.5 }] } }, /spec\.compressions\.0\.sparsity: must be in \[0, 1\)/],
  ['a job id that is not a string', 'jobs.cancel', { jobId: 3 }, /^jobs\.cancel: jobId: /],
];

test('run methods: bad arguments are E_BAD_ARGUMENT naming the field', async (t) => {
  const { api } = testApi(t);
  for (const [label, method, params, message] of badArguments) {
    const e = errorOf(await api.call(method, params));
    assert.equal(e.code, 'E_BAD_ARGUMENT', label);
    assert.match(e.message, message, label);
  }
});

test('run methods: missing runs, jobs, models and folders are E_NOT_FOUND; unavailable tasks name the paths looked for', async (t) => {
  const { api } = testApi(t);
  assert.equal(errorOf(await api.call('runs.get', { runId: 999 })).code, 'E_NOT_FOUND');
  assert.equal(errorOf(await api.call('jobs.cancel', { jobId: 'job-9' })).code, 'E_NOT_FOUND');
  assert.equal(errorOf(await api.call('models.import', { path: '/nonexistent/model' })).code, 'E_NOT_FOUND');
  assert.equal(errorOf(await api.call('data.tasks', { dataDirs: ['/nonexistent/data'] })).code, 'E_NOT_FOUND');
  const e = errorOf(await api.call('eval.start', { model: TINY, tasks: ['arc_easy'] }));
  assert.equal(e.code, 'E_EVAL_TASK');
  assert.match(e.message, /arc_easy.*missing .*ARC-Easy/);
  assert.match(errorOf(await api.call('compress.start', { ...TINY_COMPRESS, calibration: undefined })).message, /calibration\.file is required/);
});

test('models and data: the demo model is listed, a folder imports once, the shared datasets hold the nine tasks', async (t) => {
  const { api } = testApi(t);
  const before = await call(api.call('models.list', {}));
  assert.ok(before.some((m) => m.source === 'demo'));
  const imported = await call(api.call('models.import', { path: TINY }));
  assert.equal(imported.architecture, 'LlamaForCausalLM');
  assert.equal((await call(api.call('models.import', { path: TINY }))).id, imported.id, 'the same folder is one model');
  assert.equal((await call(api.call('models.inspect', { path: TINY }))).layers, 2);
  const tasks = await call(api.call('data.tasks', { dataDirs: [DATASETS] }));
  assert.deepEqual(tasks.filter((x) => x.benchmark && x.available).length, 9);
  assert.ok(tasks.find((x) => x.name === 'demo_mc')!.available);
  const none = await call(api.call('data.tasks', {}));
  const arc = none.find((x) => x.name === 'arc_easy')!;
  assert.equal(arc.available, false);
  assert.ok(arc.lookedFor.length > 0);
});

test('bridge: the new methods need the token; with it a job runs and its events reach the socket', async (t) => {
  const { api, home } = testApi(t);
  const staticDir = join(home, 'renderer');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html>');
  const bridge = await startBridge({ api, staticDir });
  t.after(() => bridge.close());
  const url = `ws://127.0.0.1:${bridge.port}/ws`;
  for (const token of ['', '?token=wrong']) {
    await assert.rejects(new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}${token}`);
      ws.once('open', () => { ws.close(); resolve(undefined); });
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    }), /HTTP 401/);
  }
  const ws = new WebSocket(`${url}?token=${bridge.token}`);
  await new Promise((r) => ws.once('open', r));
  t.after(() => ws.close());
  const messages: ServerMessage[] = [];
  const waiters: { match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as ServerMessage;
    messages.push(m);
    for (const w of waiters.splice(0)) if (w.match(m)) w.resolve(m); else waiters.push(w);
  });
  const wait = (match: (m: ServerMessage) => boolean) => new Promise<ServerMessage>((resolve) => {
    const seen = messages.find(match);
    if (seen) resolve(seen); else waiters.push({ match, resolve });
  });
  let id = 0;
  const rpc = async (method: string, params: unknown) => {
    const n = ++id;
    ws.send(JSON.stringify({ type: 'call', id: n, method, params }));
    return ((await wait((m) => m.type === 'result' && m.id === n)) as { result: Envelope<unknown> }).result;
  };
  assert.deepEqual(await rpc('runs.list', {}), { ok: true, value: [] });
  assert.match(errorOf(await rpc('jobs.cancel', {})).message, /jobs\.cancel: jobId: /);
  const ticket = (await rpc('compress.start', TINY_COMPRESS)) as Envelope<{ jobId: string; runId: number }>;
  assert.ok(ticket.ok);
  const done = (await wait((m) => m.type === 'event' && m.event === 'jobs.done')) as { payload: { status: string; runId: number } };
  assert.equal(done.payload.status, 'done');
  assert.ok(messages.some((m) => m.type === 'event' && m.event === 'jobs.progress'));
  assert.ok(messages.some((m) => m.type === 'event' && m.event === 'runs.updated'));
});
