// The workbench flow both e2e projects run (test/app/browser.test.ts through the bridge in
// Chromium, e2e/electron.test.ts in the Electron window): the Engine panel shows the ORT version
// and the cpu provider (Settings view), a bad setting is refused naming its field, a good one is saved, and the
// page is photographed in light and dark. The page must not log errors or CSP violations.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

export const VIEWPORT = { width: 1280, height: 800 };

/** Starts collecting console errors, page errors and CSP violations; call before page.goto. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

export interface FlowOptions {
  /** Folder to put in the Data folder field (absolute; created by the engine). */
  newDataDir: string;
  threads: number;
  screenshotDir: string;
  /** File name prefix, e.g. 'browser' -> browser-light.png. */
  prefix: string;
}

export async function runWorkbenchFlow(page: Page, opts: FlowOptions): Promise<{ screenshots: string[] }> {
  await page.getByRole('heading', { name: 'Recall', exact: true }).waitFor();
  // The engine panel and the settings form live in the Settings view.
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('view-title').filter({ hasText: 'Settings' }).waitFor();
  const ort = page.getByTestId('ort-version');
  await ort.waitFor({ timeout: 15_000 });
  assert.match((await ort.textContent())?.trim() ?? '', /^\d+\.\d+\.\d+/, 'Engine panel shows the ONNX Runtime version');
  await page.getByTestId('provider-cpu').waitFor();
  assert.match(await page.getByTestId('provider-cpu').innerText(), /bundled/);
  assert.match(await page.getByTestId('connection').innerText(), /Connected/);

  // A bad value goes to the engine and comes back as E_BAD_ARGUMENT naming the field.
  const status = page.getByTestId('settings-status');
  await page.getByTestId('field-threads').fill('');
  await page.getByTestId('save-settings').click();
  await status.filter({ hasText: 'E_BAD_ARGUMENT' }).waitFor();
  assert.match(await status.innerText(), /threads/);
  mkdirSync(opts.screenshotDir, { recursive: true });
  await page.screenshot({ path: join(opts.screenshotDir, `${opts.prefix}-invalid.png`) });

  await page.getByTestId('field-data-dir').fill(opts.newDataDir);
  await page.getByTestId('field-execution-provider').selectOption('cpu');
  await page.getByTestId('field-threads').fill(String(opts.threads));
  await page.getByTestId('save-settings').click();
  await status.filter({ hasText: 'Saved' }).waitFor();
  await page.getByTestId('data-dir').filter({ hasText: opts.newDataDir }).waitFor();

  // The toggle overrides the system theme; 'system' hands it back.
  await page.getByTestId('theme-dark').click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await page.getByTestId('theme-system').click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);

  const screenshots: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const file = join(opts.screenshotDir, `${opts.prefix}-${scheme}.png`);
    await page.screenshot({ path: file });
    screenshots.push(file);
  }
  return { screenshots };
}
