// The bundled Electron main process (dist-electron/app/main.js), run under plain Node against a
// recording stand-in for the `electron` module (fixtures/fake-electron.mjs). Checks the window's
// security settings, the app:// protocol with its CSP, the IPC handler, navigation and permission
// blocking, and that the ESM bundle with external dependencies loads at all. The real window is
// e2e/electron.test.ts's job, where an Electron binary exists.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

test('electron main: secure window, app:// renderer with CSP, IPC to the engine, blocked navigation', { timeout: 30_000 }, (t) => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs', 'electron'], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, `electron build failed:\n${build.stdout}\n${build.stderr}`);
  const appPath = mkdtempSync(join(tmpdir(), 'recall-electron-main-'));
  t.after(() => rmSync(appPath, { recursive: true, force: true }));
  mkdirSync(join(appPath, 'dist', 'renderer'), { recursive: true });
  writeFileSync(join(appPath, 'dist', 'renderer', 'index.html'), '<!doctype html><title>Recall</title>');
  writeFileSync(join(appPath, 'package.json'), '{"secret": true}');

  const run = spawnSync(
    process.execPath,
    [join(root, 'test/app/fixtures/drive-electron-main.mjs'), join(root, 'dist-electron/app/main.js')],
    { cwd: root, encoding: 'utf8', env: { ...process.env, FAKE_APP_PATH: appPath, RECALL_HOME: join(appPath, 'home') } },
  );
  assert.equal(run.status, 0, `driver failed:\n${run.stdout}\n${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split('\n').at(-1)!);

  assert.equal(r.sandbox, true);
  assert.equal(r.lock, true, 'single instance lock');
  assert.equal(r.schemes[0].scheme, 'app');
  const wp = r.webPreferences;
  assert.deepEqual([wp.contextIsolation, wp.sandbox, wp.nodeIntegration], [true, true, false]);
  assert.ok(existsSync(wp.preload) && wp.preload.endsWith('preload.cjs'), `preload ${wp.preload}`);
  assert.equal(r.url, 'app://recall/index.html');

  assert.equal(r.page.status, 200);
  assert.equal(r.page.type, 'text/html; charset=utf-8');
  assert.match(r.page.csp, /default-src 'self'; script-src 'self'/);
  assert.match(r.page.body, /<title>Recall<\/title>/);
  assert.equal(r.escapeStatus, 404, 'the protocol does not serve files outside dist/renderer');

  assert.equal(r.info.ok, true);
  assert.equal(r.info.value.home, join(appPath, 'home'), 'RECALL_HOME reaches the engine');
  assert.equal(r.forbidden.error.code, 'E_FORBIDDEN');
  assert.deepEqual(r.eventsSent, [{ channel: 'recall:event', message: { event: 'settings.update', payload: { dataDir: join(appPath, 'home'), executionProvider: 'cpu', threads: 2 } } }]);

  assert.equal(r.navigateAwayPrevented, true);
  assert.equal(r.navigateInsideAllowed, true);
  assert.equal(r.redirectAwayPrevented, true);
  assert.equal(r.webviewPrevented, true);
  assert.deepEqual(r.windowOpen, { action: 'deny' });
  assert.equal(r.permission, false);
});
