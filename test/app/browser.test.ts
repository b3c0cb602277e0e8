// Browser mode end to end: the built renderer, served by the bridge on a temporary RECALL_HOME,
// driven in Debian's Chromium through playwright-core. Runs the shared flow of
// e2e/workbench-flow.ts and checks its effect through the API and on disk.
// Chromium is required (CI installs it): without it this test fails rather than skips.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { VIEWPORT, runWorkbenchFlow, watchPage } from '../../e2e/workbench-flow.ts';
import { startBridge } from '../../main/bridge/server.ts';
import { createApi } from '../../main/engine/api.ts';
import { buildRenderer, launchChromium } from '../helpers/browser.ts';

const root = new URL('../..', import.meta.url).pathname;

test('browser: the workbench shows the engine and saves settings over the bridge', { timeout: 60_000 }, async (t) => {
  const staticDir = buildRenderer();

  const home = mkdtempSync(join(tmpdir(), 'recall-browser-'));
  const api = createApi({ home });
  const bridge = await startBridge({ api, staticDir });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await bridge.close();
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });

  const page = await browser.newPage({ viewport: VIEWPORT, colorScheme: 'light' });
  const problems = watchPage(page);
  const response = await page.goto(bridge.url);
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'self'/);

  const newDataDir = join(home, 'data-from-form');
  await runWorkbenchFlow(page, { newDataDir, threads: 3, screenshotDir: join(root, 'test-results'), prefix: 'browser' });

  const live = await api.call('settings.get', {});
  assert.deepEqual(live, { ok: true, value: { dataDir: newDataDir, executionProvider: 'cpu', threads: 3 } });
  assert.ok(existsSync(newDataDir), 'settings.set created the data folder');
  const fresh = createApi({ home });
  assert.deepEqual(await fresh.call('settings.get', {}), live, 'a new engine on the same home reads the saved settings');
  await fresh.close();
  // The deliberate bad save is answered, not logged; anything else (CSP violations included) fails.
  assert.deepEqual(problems, []);
});
