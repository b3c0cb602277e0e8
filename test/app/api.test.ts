// createApi(): params validated on entry (E_BAD_ARGUMENT naming the field), unknown methods and
// closed APIs answered with stable codes, settings kept in memory and in <home>/settings.json.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Envelope, Settings } from '../../main/contract/index.ts';
import { createApi, type Api } from '../../main/engine/api.ts';
import { platformDataHome, resolveHome } from '../../main/engine/settings/home.ts';

function withApi(t: { after: (fn: () => Promise<void> | void) => void }): { api: Api; home: string } {
  const home = mkdtempSync(join(tmpdir(), 'recall-api-'));
  const api = createApi({ home });
  t.after(async () => {
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });
  return { api, home };
}

function errorOf(result: Envelope<unknown>): { code: string; message: string } {
  assert.equal(result.ok, false, `expected an error, got ${JSON.stringify(result)}`);
  return (result as { error: { code: string; message: string } }).error;
}

const badArguments: [string, string, unknown, RegExp][] = [
  ['a string for threads', 'settings.set', { threads: 'four' }, /^settings\.set: threads: expected a whole number$/],
  ['a fraction for threads', 'settings.set', { threads: 1.5 }, /threads: expected a whole number/],
  ['too many threads', 'settings.set', { threads: 5000 }, /threads: must be at most 1024/],
  ['an unknown provider', 'settings.set', { executionProvider: 'tpu' }, /executionProvider: expected one of cpu, cuda/],
  ['a relative data folder', 'settings.set', { dataDir: 'data' }, /dataDir: must be an absolute path/],
  ['an unknown field', 'settings.set', { colour: 'red' }, /unknown field 'colour'/],
  ['params that are not an object', 'settings.set', 42, /settings\.set: params: .*expected object/],
  ['params to a method that takes none', 'app.info', { verbose: true }, /app\.info: unknown field 'verbose'/],
];

for (const [label, method, params, message] of badArguments) {
  test(`api: ${label} is E_BAD_ARGUMENT naming the field`, async (t) => {
    const { api } = withApi(t);
    const error = errorOf(await api.call(method, params));
    assert.equal(error.code, 'E_BAD_ARGUMENT');
    assert.match(error.message, message);
  });
}

test('api: an unknown method is E_UNKNOWN_METHOD, including prototype names', async (t) => {
  const { api } = withApi(t);
  for (const method of ['models.frobnicate', 'constructor', '__proto__', 'toString']) {
    const error = errorOf(await api.call(method, {}));
    assert.equal(error.code, 'E_UNKNOWN_METHOD', method);
    assert.match(error.message, new RegExp(`unknown method '${method}'`));
  }
});

test('api: app.info reports versions, platform and folders', async (t) => {
  const { api, home } = withApi(t);
  const result = await api.call('app.info');
  assert.ok(result.ok);
  assert.equal(result.value.name, 'Recall');
  assert.match(result.value.version, /^\d+\.\d+\.\d+/);
  assert.match(result.value.versions.ort, /^\d+\.\d+\.\d+/);
  assert.equal(result.value.versions.node, process.versions.node);
  assert.equal(result.value.platform, process.platform);
  assert.equal(result.value.home, home);
  assert.equal(result.value.dataDir, home);
});

test('api: runtime.providers lists cpu as bundled and selectable', async (t) => {
  const { api } = withApi(t);
  const result = await api.call('runtime.providers', {});
  assert.ok(result.ok);
  assert.deepEqual(result.value.providers.find((p) => p.name === 'cpu'), { name: 'cpu', bundled: true, selectable: true });
  assert.equal(result.value.fallback, 'cpu');
});

test('api: settings.set merges, saves to settings.json, emits settings.update; a new api reads it back', async (t) => {
  const { api, home } = withApi(t);
  const seen: Settings[] = [];
  const off = api.on('settings.update', (s) => seen.push(s));
  const dataDir = join(home, 'nested', 'data');
  const result = await api.call('settings.set', { dataDir, threads: 2 });
  assert.deepEqual(result, { ok: true, value: { dataDir, executionProvider: 'cpu', threads: 2 } });
  assert.deepEqual(seen, [result.ok && result.value]);
  assert.deepEqual(readdirSync(dataDir), [], 'the data folder was created');
  const onDisk = JSON.parse(readFileSync(join(home, 'settings.json'), 'utf8'));
  assert.deepEqual(onDisk, { version: 1, settings: { dataDir, executionProvider: 'cpu', threads: 2 } });

  off();
  await api.call('settings.set', { executionProvider: 'cuda' });
  assert.equal(seen.length, 1, 'unsubscribed listeners hear nothing');

  const again = createApi({ home });
  assert.deepEqual(await again.call('settings.get'), { ok: true, value: { dataDir, executionProvider: 'cuda', threads: 2 } });
  await again.close();
});

test('api: a failed settings.set changes nothing', async (t) => {
  const { api, home } = withApi(t);
  await api.call('settings.set', { threads: 0, executionProvider: 'cpu' });
  await api.call('settings.set', { threads: 8, executionProvider: 'nope' } as never);
  assert.deepEqual(await api.call('settings.get'), { ok: true, value: { dataDir: home, executionProvider: 'cpu', threads: 0 } });
});

test('api: an unreadable settings.json is set aside with a warning and defaults are used', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'recall-api-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  writeFileSync(join(home, 'settings.json'), '{ not json');
  const api = createApi({ home });
  const info = await api.call('app.info');
  await api.close();
  assert.ok(info.ok);
  assert.equal(info.value.warnings.length, 1);
  assert.match(info.value.warnings[0]!, /settings\.json was unreadable/);
  assert.ok(readdirSync(home).some((f) => f.startsWith('settings.json.bad-')), 'the bad file is kept');
});

test('api: calls after close() answer E_CLOSED', async (t) => {
  const { api } = withApi(t);
  await api.close();
  assert.equal(errorOf(await api.call('settings.get')).code, 'E_CLOSED');
});

test('api: home comes from the option, then RECALL_HOME, then the platform folder', () => {
  assert.equal(resolveHome('/x/y', { RECALL_HOME: '/z' }), '/x/y');
  assert.equal(resolveHome(undefined, { RECALL_HOME: '/z' }), '/z');
  assert.equal(resolveHome(undefined, {}), platformDataHome(process.platform, {}));
  assert.match(platformDataHome('linux', { XDG_DATA_HOME: '/xdg' }), /^\/xdg\/recall$/);
  assert.match(platformDataHome('linux', {}), /\.local\/share\/recall$/);
  assert.match(platformDataHome('darwin', {}), /Library\/Application Support\/Recall$/);
  assert.match(platformDataHome('win32', { APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }), /Recall$/);
});
