// The Electron project: the same workbench flow as test/app/browser.test.ts, in the real window
// (preload + IPC instead of the WebSocket bridge), through playwright's _electron. Skipped, with
// the reason in its name, when this machine has no Electron binary.
// Run: npm run test:e2e (builds the renderer and the Electron main first).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { _electron } from 'playwright-core';
import { createApi } from '../main/engine/api.ts';
import { electronBinary } from './electron-binary.ts';
import { VIEWPORT, runWorkbenchFlow, watchPage } from './workbench-flow.ts';

const root = new URL('..', import.meta.url).pathname;
const binary = electronBinary();

if (!binary) {
  test('electron: skipped: no Electron binary on this machine', { skip: true }, () => {});
} else {
  test('electron: the workbench shows the engine and saves settings over IPC', { timeout: 90_000 }, async (t) => {
    const build = spawnSync(process.execPath, ['scripts/build.mjs', 'all'], { cwd: root, encoding: 'utf8' });
    assert.equal(build.status, 0, `build failed:\n${build.stdout}\n${build.stderr}`);
    const home = mkdtempSync(join(tmpdir(), 'recall-electron-'));
    const app = await _electron.launch({
      executablePath: binary,
      // The repo root: package.json "main" names dist-electron/app/main.js, and app.getAppPath()
      // is then the root, where dist/renderer lives.
      args: [root, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      env: { ...process.env, RECALL_HOME: home },
    });
    t.after(async () => {
      await app.close().catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    });
    const page = await app.firstWindow();
    const problems = watchPage(page);
    await page.setViewportSize(VIEWPORT);
    assert.equal(await page.evaluate(() => typeof (window as { require?: unknown }).require), 'undefined', 'no Node in the renderer');
    assert.deepEqual(await page.evaluate(() => Object.keys((window as { recall?: object }).recall ?? {}).sort()), ['call', 'listen']);

    const newDataDir = join(home, 'data-from-form');
    await runWorkbenchFlow(page, { newDataDir, threads: 3, screenshotDir: join(root, 'test-results'), prefix: 'electron' });
    await app.close();

    const api = createApi({ home });
    assert.deepEqual(await api.call('settings.get', {}), { ok: true, value: { dataDir: newDataDir, executionProvider: 'cpu', threads: 3 } });
    await api.close();
    assert.deepEqual(problems, []);
  });
}
