// The workbench's views end to end in Chromium through the bridge, on a fresh RECALL_HOME:
// first the engine's own (empty) data, with empty states that say what to do; then the sample
// study they offer: every view at 1280x800 and 1920x1080 in both themes (screenshots in
// test-results/), keyboard navigation, a run opened from the Runs table, a chart exported as SVG
// (parsed as XML), PNG (signature, size, DPI) and PDF (rendered back with pdftoppm), and a table
// as CSV; then an experiment with recovery options built in New experiment on the engine's data,
// its spec and tune steps read back through the API (screenshots new-options-*), and cancelled.
// Running real jobs is left to the engine's tests (minutes on CPU).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { watchPage } from '../../e2e/workbench-flow.ts';
import { startBridge } from '../../main/bridge/server.ts';
import { createApi } from '../../main/engine/api.ts';
import { pngDpi, pngSize } from '../../renderer/src/export/png.ts';
import { buildRenderer, launchChromium } from '../helpers/browser.ts';

const root = new URL('../..', import.meta.url).pathname;
const SHOTS = join(root, 'test-results');
const VIEWS = [
  { nav: 'models', title: 'Models' },
  { nav: 'new', title: 'New experiment' },
  { nav: 'jobs', title: 'Jobs' },
  { nav: 'runs', title: 'Runs' },
  { nav: 'compare', title: 'Compare' },
  { nav: 'layers', title: 'Layers' },
  { nav: 'settings', title: 'Settings' },
];

async function shoot(page: Page, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `workbench-${name}-${scheme}.png`), fullPage: false });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function download(page: Page, click: () => Promise<void>, dir: string): Promise<{ path: string; name: string }> {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(dir, d.suggestedFilename());
  await d.saveAs(path);
  return { path, name: d.suggestedFilename() };
}

test('workbench: every view, keyboard navigation, a run, and SVG/PNG/PDF/CSV exports', { timeout: 90_000 }, async (t) => {
  const staticDir = buildRenderer();
  mkdirSync(SHOTS, { recursive: true });

  const home = mkdtempSync(join(tmpdir(), 'recall-workbench-'));
  const downloads = join(home, 'downloads');
  mkdirSync(downloads);
  const api = createApi({ home });
  const bridge = await startBridge({ api, staticDir });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await bridge.close();
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', acceptDownloads: true });
  const problems = watchPage(page);
  await page.goto(bridge.url);
  await page.getByTestId('connection').filter({ hasText: 'Connected' }).waitFor({ timeout: 15_000 });

  // The engine's data on a fresh home: no runs, no jobs; each view says what to do.
  const title = page.getByTestId('view-title');
  for (const v of VIEWS.filter((x) => ['runs', 'jobs', 'compare', 'models', 'new'].includes(x.nav))) {
    await page.getByTestId(`nav-${v.nav}`).click();
    await title.filter({ hasText: v.title }).waitFor();
    if (v.nav === 'models') await page.getByTestId('model-list').or(page.getByTestId('empty-state')).first().waitFor();
    else if (v.nav === 'new') await page.getByTestId('exp-summary').waitFor();
    else await page.getByTestId('empty-state').waitFor();
    assert.equal(await page.getByTestId('sample-banner').count(), 0, `${v.nav} shows the engine's data`);
    await shoot(page, `${v.nav}-fresh`);
  }
  await page.getByTestId('nav-runs').click();
  await page.getByTestId('empty-state').filter({ hasText: 'No runs yet' }).waitFor();
  await page.getByTestId('explore-sample').click();
  await page.getByTestId('sample-banner').waitFor();

  // Every view of the sample study, photographed at both sizes and in both themes.
  for (const size of [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }]) {
    await page.setViewportSize(size);
    for (const v of VIEWS) {
      await page.getByTestId(`nav-${v.nav}`).click();
      await title.filter({ hasText: v.title }).waitFor();
      if (v.nav === 'layers') await page.getByTestId('chart-attention-heatmap').locator('svg').waitFor();
      if (v.nav === 'settings') await page.getByTestId('ort-version').waitFor({ timeout: 15_000 });
      await shoot(page, `${v.nav}-${size.width}`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  // Keyboard: a digit switches view, "/" focuses the runs filter, arrows and Enter open a run.
  await page.locator('body').click({ position: { x: 5, y: 400 } });
  await page.keyboard.press('3');
  await title.filter({ hasText: 'Jobs' }).waitFor();
  await page.keyboard.press('/');
  await title.filter({ hasText: 'Runs' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'runs-filter');
  await page.keyboard.type('3-bit');
  const rows = page.locator('[data-testid^="run-row-"]');
  assert.ok((await rows.count()) >= 3 && (await rows.count()) < 7, 'the filter narrows the runs');
  await page.getByTestId('runs-filter').fill('');
  await page.getByTestId('sort-average').click();
  await page.getByTestId('run-row-run-gptq3').focus();
  await page.keyboard.press(' ');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press(' ');
  assert.match(await page.locator('.count').innerText(), /2 selected/);
  await page.getByTestId('run-row-run-gptq3').focus();
  await page.keyboard.press('Enter');
  await title.filter({ hasText: 'GPTQ 3-bit g128' }).waitFor();
  const chart = page.getByTestId('chart-compression-log');
  await chart.locator('svg').waitFor();
  await shoot(page, 'run-1280');
  await page.setViewportSize({ width: 1920, height: 1080 });
  await shoot(page, 'run-1920');
  await page.setViewportSize({ width: 1280, height: 800 });

  // SVG: well-formed XML with the chart's bars.
  await page.getByTestId('export-format-compression-log').selectOption('svg');
  const svg = await download(page, () => page.getByTestId('export-compression-log').click(), downloads);
  assert.match(svg.name, /^compression-log-column\.svg$/);
  const svgText = readFileSync(svg.path, 'utf8');
  const parsed = await page.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    return { error: doc.querySelector('parsererror')?.textContent ?? null, root: doc.documentElement.nodeName, width: doc.documentElement.getAttribute('width'), rects: doc.querySelectorAll('rect').length };
  }, svgText);
  assert.deepEqual({ error: parsed.error, root: parsed.root, width: parsed.width }, { error: null, root: 'svg', width: '252pt' });
  assert.ok(parsed.rects > 56, `the exported chart has its 56 bars (${parsed.rects} rects)`);

  // PNG at 150 dpi, 3.5 x 2.5 in: 525 x 375 px, with the DPI recorded.
  await page.getByTestId('export-format-compression-log').selectOption('png');
  await page.getByTestId('export-dpi-compression-log').selectOption('150');
  const png = await download(page, () => page.getByTestId('export-compression-log').click(), downloads);
  const pngBytes = new Uint8Array(readFileSync(png.path));
  assert.deepEqual(pngSize(pngBytes), { width: 525, height: 375 });
  assert.equal(pngDpi(pngBytes), 150);

  // PDF, full width (7 x 3 in), rendered back by poppler.
  await page.getByTestId('export-format-compression-log').selectOption('pdf');
  await page.getByTestId('export-size-compression-log').selectOption('wide');
  const pdf = await download(page, () => page.getByTestId('export-compression-log').click(), downloads);
  assert.equal(readFileSync(pdf.path).subarray(0, 5).toString(), '%PDF-');
  const r = spawnSync('pdftoppm', ['-r', '72', '-singlefile', pdf.path, join(downloads, 'page')], { encoding: 'utf8' });
  assert.ok(!r.error, 'pdftoppm is missing: apt-get install poppler-utils (CI installs it)');
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(downloads, 'page.ppm')).subarray(0, 20).toString('latin1'), /^P6\s+504\s+216\s/);

  // Compare: the paper table as CSV, and the flips of a recovery.
  await page.getByTestId('nav-compare').click();
  await page.getByTestId('accuracy-table').waitFor();
  const csv = await download(page, () => page.getByTestId('table-export-accuracy-csv').click(), downloads);
  const lines = readFileSync(csv.path, 'utf8').trim().split(/\r\n/);
  assert.match(lines[0]!, /^Method,ARC-e,ARC-e stderr,/);
  assert.ok(lines.some((l) => l.startsWith('Dense,')));
  assert.match(await page.getByTestId('flips').innerText(), /Recovered/);

  // Unknown run: an error state that says what to do.
  await page.goto(`${bridge.url.split('#')[0]}#/run/nope`);
  await page.getByTestId('empty-state').filter({ hasText: 'nope' }).waitFor();

  // New experiment on the engine's data: recovery options set in the form, checked beside their
  // fields, reach the experiment's spec (defaults left out) and the engine's tune steps.
  await page.getByTestId('nav-new').click();
  await title.filter({ hasText: 'New experiment' }).waitFor();
  if (await page.getByTestId('leave-sample').isVisible()) await page.getByTestId('leave-sample').click();
  await page.getByTestId('sample-banner').waitFor({ state: 'detached' });
  await page.locator('[data-testid="exp-model"] option[value="demo"]').waitFor({ state: 'attached', timeout: 15_000 });
  await page.getByTestId('exp-model').selectOption('demo');
  await page.getByTestId('exp-name').fill('options-check');
  await page.getByTestId('compression-1-remove').click();
  await page.getByTestId('exp-nsamples').fill('8');
  await page.getByTestId('exp-seqlen').fill('32');
  const start = page.getByTestId('exp-start');
  // LoRA: a dropout of 1 is refused beside the field and blocks the start; 0.1 is taken.
  await page.getByTestId('recovery-0-dropout').fill('1');
  assert.equal(await page.getByTestId('recovery-0-dropout-error').innerText(), 'dropout must be in [0, 1)');
  assert.ok(await start.isDisabled(), 'an invalid option disables Start');
  assert.match(await page.getByTestId('exp-problems').innerText(), /dropout must be in \[0, 1\)/);
  await page.getByTestId('recovery-0-dropout').fill('0.1');
  await page.getByTestId('recovery-0-alpha').fill('16');
  await page.getByTestId('recovery-0-targets').fill('q_proj,k_proj,v_proj');
  assert.equal(await page.getByTestId('recovery-0-dropout-error').count(), 0);
  // Prompt tuning from a text; prefix tuning reparameterised (text init then off); IDP and LoRA at their defaults.
  await page.getByTestId('add-recovery').click();
  await page.getByTestId('recovery-1-tokens').fill('4');
  await page.getByTestId('recovery-1-init').selectOption('text');
  await page.getByTestId('recovery-1-init-text').fill('Question: answer');
  await page.getByTestId('add-recovery').click();
  await page.getByTestId('recovery-2-method').selectOption('prefix');
  await page.getByTestId('recovery-2-reparam').check();
  assert.ok(await page.locator('[data-testid="recovery-2-init"] option[value="text"]').isDisabled(), 'text init is off with reparam');
  await page.getByTestId('recovery-2-reparam-hint').waitFor();
  await page.getByTestId('add-recovery').click();
  await page.getByTestId('recovery-3-method').selectOption('idp');
  await page.getByTestId('recovery-3-prompts').fill('2');
  await page.getByTestId('add-recovery').click();
  await page.getByTestId('recovery-4-method').selectOption('lora');
  const descs = await page.locator('[data-testid$="-desc"]').allInnerTexts();
  assert.deepEqual(descs, [
    'LoRA r=8 alpha=16 dropout=0.1 on q_proj+k_proj+v_proj, 400 steps', 'Prompt tuning 4 tok init "Question: answer", 400 steps',
    'Prefix tuning 20 tok reparam, 400 steps', 'IDP 2 prompts, 400 steps', 'LoRA r=8, 400 steps',
  ]);
  await page.getByTestId('exp-analyze').uncheck();
  assert.equal(await page.getByTestId('exp-problems').count(), 0, 'the draft has no problems');
  for (const size of [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }]) {
    await page.setViewportSize(size);
    await page.getByTestId('recovery-2').evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await shoot(page, `new-options-${size.width}`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await start.click();
  await page.getByTestId('exp-summary').getByRole('status').filter({ hasText: /Started experiment options-check/ }).waitFor({ timeout: 15_000 });

  const call = async <T,>(method: string, params: unknown): Promise<T> => {
    const r = await api.call(method as 'runs.get', params as { runId: number });
    assert.ok(r.ok, `${method}: ${JSON.stringify(r)}`);
    return r.value as T;
  };
  const experiment = (await call<{ id: number; name: string }[]>('runs.list', { kind: 'experiment' })).find((r) => r.name === 'options-check')!;
  assert.ok(experiment, 'the experiment is in the store');
  const spec = (await call<{ config: { spec: { recoveries: { method: string; options?: unknown }[] } } }>('runs.get', { runId: experiment.id })).config.spec;
  assert.deepEqual(spec.recoveries.map((r) => [r.method, r.options]), [
    ['none', undefined],
    ['lora', { rank: 8, alpha: 16, dropout: 0.1, targets: ['q_proj', 'k_proj', 'v_proj'] }],
    ['prompt', { virtualTokens: 4, init: 'text:Question: answer' }],
    ['prefix', { virtualTokens: 20, reparam: true }],
    ['idp', { prompts: 2 }],
    ['lora', { rank: 8 }],
  ]);
  // The tune steps hold the filled-in method specs the jobs train with.
  const info = await call<{ steps: { kind: string; runId: number }[] }>('experiments.get', { runId: experiment.id });
  const tuneSpecs = await Promise.all(info.steps.filter((st) => st.kind === 'tune').map(async (st) => (await call<{ config: { spec: unknown } }>('runs.get', { runId: st.runId })).config.spec));
  assert.deepEqual(tuneSpecs, [
    { method: 'lora', rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj'], dropout: 0.1 },
    { method: 'prompt', virtualTokens: 4, init: { kind: 'text', text: 'Question: answer' } },
    { method: 'prefix', virtualTokens: 20, reparam: true },
    { method: 'idp', virtualTokens: 25, prompts: 2, selLayer: 0, training: 'joint-hard', init: { kind: 'random' } },
    { method: 'lora', rank: 8, alpha: 8, targets: ['q_proj', 'v_proj'] },
  ]);
  await call('experiments.cancel', { runId: experiment.id });

  assert.deepEqual(problems, [], 'no console errors or CSP violations');
});
