// A new user's first study, end to end, in Chromium through `recall serve` on an empty
// RECALL_HOME, touching only the page (no API calls): build a tiny experiment in New experiment
// (demo model; dense + GPTQ 3-bit g32 on 32 x 64 calibration tokens; prompt tuning 4 tokens x
// 5 steps from a text init; demo_mc on 20 items; each variant analysed on 4 items), run it, watch Jobs show
// progress and an ETA, then read the paper table in Compare and the per-layer similarity and
// attention maps in Layers, export the similarity chart as SVG (parsed as XML, its lines there)
// and PNG (signature and size), and cancel a second experiment's compression from Jobs.
// Screenshots (1280x800, light and dark) go to test-results/demo-*.png.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { VIEWPORT, watchPage } from '../../e2e/workbench-flow.ts';
import { pngSize } from '../../renderer/src/export/png.ts';
import { buildRenderer, launchChromium } from '../helpers/browser.ts';

const root = new URL('../..', import.meta.url).pathname;
const SHOTS = join(root, 'test-results');
/** compress, tune, 3 evals (dense, GPTQ, GPTQ + prompt), 2 analyses. */
const JOBS = 7;

/** `recall serve --home HOME` in a child process; resolves with the URL it prints. */
function serve(home: string): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [join(root, 'bin/recall.js'), 'serve', '--home', home], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`recall serve printed no URL in 30 s:\n${out}`)), 30_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /serving on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, child, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`recall serve exited (${code}):\n${out}`)));
  });
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `demo-${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function download(page: Page, click: () => Promise<void>, dir: string): Promise<{ path: string; name: string }> {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(dir, d.suggestedFilename());
  await d.saveAs(path);
  return { path, name: d.suggestedFilename() };
}

/** The number of job cards whose status badge reads `status`. */
function countJobs(page: Page, status: string): Promise<number> {
  return page.locator('[data-testid="job-list"] .badge').filter({ hasText: new RegExp(`^${status}$`) }).count();
}

async function openView(page: Page, nav: string, title: string): Promise<void> {
  await page.getByTestId(`nav-${nav}`).click();
  await page.getByTestId('view-title').filter({ hasText: title }).waitFor();
}

/** Only demo_mc among the task checkboxes. */
async function chooseOnlyDemoMc(page: Page): Promise<void> {
  const boxes = page.locator('[data-testid^="task-"]');
  for (let i = 0; i < (await boxes.count()); i++) {
    const box = boxes.nth(i);
    if (await box.isDisabled()) continue;
    const want = (await box.getAttribute('data-testid')) === 'task-demo_mc';
    if ((await box.isChecked()) !== want) await box.click();
  }
}

test('demo flow: from an empty data folder to an exported figure, all in the page', { timeout: 180_000 }, async (t) => {
  const t0 = Date.now();
  buildRenderer();
  mkdirSync(SHOTS, { recursive: true });

  const home = mkdtempSync(join(tmpdir(), 'recall-demo-flow-'));
  const downloads = mkdtempSync(join(tmpdir(), 'recall-demo-downloads-'));
  const server = await serve(home);
  const browser = await launchChromium();
  let failed = true;
  t.after(async () => {
    // On a failure, the page as it was goes to test-results/demo-failure.png.
    if (failed) await Promise.all(browser.contexts().flatMap((c) => c.pages()).map((p) => p.screenshot({ path: join(SHOTS, 'demo-failure.png') }).catch(() => undefined)));
    await browser.close();
    if (server.child.exitCode === null) {
      const exited = new Promise((r) => server.child.once('exit', r));
      server.child.kill('SIGTERM');
      await exited;
    }
    rmSync(home, { recursive: true, force: true });
    rmSync(downloads, { recursive: true, force: true });
  });
  assert.deepEqual(readdirSync(home).filter((f) => f.endsWith('.db') || f === 'runs'), [], 'the data folder starts empty');

  const page = await browser.newPage({ viewport: VIEWPORT, colorScheme: 'light', acceptDownloads: true });
  const problems = watchPage(page);
  await page.goto(server.url);
  await page.getByTestId('connection').filter({ hasText: 'Connected' }).waitFor({ timeout: 15_000 });

  // 1. New experiment, built through the form.
  await openView(page, 'new', 'New experiment');
  await page.locator('[data-testid="exp-model"] option[value="demo"]').waitFor({ state: 'attached', timeout: 15_000 });
  await page.getByTestId('exp-model').selectOption('demo');
  await page.getByTestId('exp-name').fill('first-demo');
  await page.getByTestId('compression-0-remove').click(); // GPTQ 4-bit: keep only the 3-bit one
  await page.getByTestId('compression-0-method').selectOption('gptq');
  await page.getByTestId('compression-0-bits').selectOption('3');
  await page.getByTestId('compression-0-group').selectOption('32');
  await page.getByTestId('exp-nsamples').fill('32');
  await page.getByTestId('exp-seqlen').fill('64');
  await page.getByTestId('recovery-0-method').selectOption('prompt');
  await page.getByTestId('recovery-0-tokens').fill('4');
  await page.getByTestId('recovery-0-steps').fill('5');
  await page.getByTestId('recovery-0-init').selectOption('text'); // starts from the embeddings of a text
  await page.getByTestId('recovery-0-init-text').fill('Question: answer');
  await page.locator('[data-testid="task-demo_mc"]').waitFor();
  await chooseOnlyDemoMc(page);
  await page.getByTestId('exp-limit').fill('20');
  await page.getByTestId('exp-analyze').check();
  await page.getByTestId('exp-analyze-limit').fill('4');
  const summary = page.getByTestId('exp-summary');
  assert.match(await summary.innerText(), /3\s+models\s·\s3\s+evaluations\s·\s2\s+analyses/);
  assert.equal(await page.getByTestId('exp-problems').count(), 0, 'the draft has no problems');
  await shoot(page, 'new');
  await page.getByTestId('exp-start').click();
  await summary.getByRole('status').filter({ hasText: /Started experiment first-demo: 7 steps/ }).waitFor({ timeout: 15_000 });

  // 2. Jobs: a running job with its progress bar, stage and ETA; then all of them done.
  await openView(page, 'jobs', 'Jobs');
  const running = page.locator('[data-testid="job-list"] > li').filter({ has: page.locator('.badge', { hasText: /^running$/ }) }).first();
  await running.waitFor({ timeout: 30_000 });
  await running.locator('progress').waitFor();
  await running.locator('.meta').filter({ hasText: /ETA: (\d+s|\d+m \d+s|—)/ }).waitFor();
  await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid="job-list"] .meta')).some((m) => /ETA: \d/.test(m.textContent ?? '')), null, { timeout: 30_000 });
  await shoot(page, 'jobs-running');
  await page.waitForFunction((n) => {
    const badges = Array.from(document.querySelectorAll('[data-testid="job-list"] .badge')).map((b) => b.textContent?.trim());
    return badges.filter((b) => b === 'done').length >= n || badges.includes('failed');
  }, JOBS, { timeout: 150_000, polling: 500 });
  assert.equal(await countJobs(page, 'failed'), 0, `no job failed:\n${await page.getByTestId('job-list').innerText()}`);
  assert.equal(await countJobs(page, 'done'), JOBS);
  await shoot(page, 'jobs-done');

  // 3. Compare: the newest experiment's paper table, dense and GPTQ 3-bit rows with numbers.
  await openView(page, 'compare', 'Compare');
  const table = page.getByTestId('accuracy-table');
  await table.waitFor();
  assert.equal(await page.getByTestId('sample-banner').count(), 0, 'Compare shows the engine data');
  const rowText = async (label: RegExp) => (await table.locator('tbody tr').filter({ hasText: label }).first().innerText()).replace(/\s+/g, ' ');
  assert.match(await rowText(/^\s*dense/), /\d+\.\d/, 'the dense row has an accuracy');
  assert.match(await rowText(/gptq-3-bit-g32(?!\+)/), /\d+\.\d/, 'the GPTQ 3-bit row has an accuracy');
  assert.equal(await table.locator('tbody tr').count(), 3, 'dense, GPTQ 3-bit and GPTQ 3-bit + prompt tuning');
  await shoot(page, 'compare');

  // 4. Layers: the experiment's two analyses, one line each, and base vs variant attention.
  await openView(page, 'layers', 'Layers');
  const sim = page.getByTestId('chart-layer-similarity');
  await sim.locator('svg').waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId('sample-banner').count(), 0, 'Layers shows the engine data');
  assert.equal(await sim.locator('g.series').count(), 2, 'one line per analysed variant');
  assert.equal(await page.locator('[data-testid="analysis-picker"] input:checked').count(), 2);
  const heat = page.getByTestId('chart-attention-heatmap');
  await heat.locator('svg').waitFor();
  assert.equal(await heat.locator('g.panel').count(), 3, 'base, GPTQ 3-bit and GPTQ 3-bit + prompt side by side');
  assert.match(await heat.locator('svg').innerHTML(), /Question/, 'the heatmap is labelled with the prompt tokens');
  await shoot(page, 'layers');
  await heat.scrollIntoViewIfNeeded();
  await shoot(page, 'layers-maps');
  await page.getByTestId('metric-activation').click();
  await sim.locator('g.series').nth(1).waitFor();
  await page.getByTestId('metric-attention').click();

  // 5. The similarity chart exported: SVG parsed back as XML with its lines; PNG at 150 dpi.
  await page.getByTestId('export-format-layer-similarity').selectOption('svg');
  const svg = await download(page, () => page.getByTestId('export-layer-similarity').click(), downloads);
  assert.match(svg.name, /\.svg$/);
  const parsed = await page.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const series = Array.from(doc.querySelectorAll('g.series'));
    return { error: doc.querySelector('parsererror')?.textContent ?? null, root: doc.documentElement.nodeName, series: series.length, lines: series.filter((g) => g.querySelector('path[fill="none"]')?.getAttribute('d')?.startsWith('M')).length };
  }, readFileSync(svg.path, 'utf8'));
  assert.deepEqual(parsed, { error: null, root: 'svg', series: 2, lines: 2 });
  await page.getByTestId('export-format-layer-similarity').selectOption('png');
  await page.getByTestId('export-dpi-layer-similarity').selectOption('150');
  const png = await download(page, () => page.getByTestId('export-layer-similarity').click(), downloads);
  const bytes = new Uint8Array(readFileSync(png.path));
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  assert.deepEqual(pngSize(bytes), { width: 525, height: 375 }, 'a one-column figure (3.5 x 2.5 in) at 150 dpi');

  // 6. A second experiment, cancelled from Jobs while it compresses.
  await openView(page, 'new', 'New experiment');
  await page.getByTestId('exp-model').selectOption('demo');
  await page.getByTestId('exp-name').fill('cancel-me');
  await page.getByTestId('compression-0-remove').click();
  await page.getByTestId('compression-0-bits').selectOption('4');
  await page.getByTestId('exp-nsamples').fill('128');
  await page.getByTestId('exp-seqlen').fill('128');
  await page.getByTestId('recovery-0-remove').click();
  await chooseOnlyDemoMc(page);
  await page.getByTestId('exp-limit').fill('20');
  await page.getByTestId('exp-analyze').uncheck();
  await page.getByTestId('exp-start').click();
  await summary.getByRole('status').filter({ hasText: /Started experiment cancel-me/ }).waitFor({ timeout: 15_000 });
  await openView(page, 'jobs', 'Jobs');
  const compressing = page.locator('[data-testid="job-list"] > li').filter({ has: page.locator('.kind', { hasText: /^compress$/ }) }).filter({ has: page.locator('.badge', { hasText: /^(running|queued)$/ }) }).first();
  await compressing.waitFor({ timeout: 30_000 });
  const jobId = (await compressing.getAttribute('data-testid'))!.replace(/^job-/, '');
  const cancelledAt = Date.now();
  await page.getByTestId(`cancel-${jobId}`).click();
  await page.getByTestId(`job-${jobId}`).locator('.badge', { hasText: /^cancelled$/ }).waitFor({ timeout: 10_000 });
  const cancelSeconds = (Date.now() - cancelledAt) / 1000;
  assert.ok(cancelSeconds < 10, `cancelled in ${cancelSeconds.toFixed(1)} s`);
  await page.getByTestId(`resume-${jobId}`).waitFor();
  await shoot(page, 'jobs-cancelled');

  assert.deepEqual(problems, [], 'no console errors or CSP violations');
  failed = false;
  t.diagnostic(`demo flow in ${((Date.now() - t0) / 1000).toFixed(1)} s; cancel took ${cancelSeconds.toFixed(1)} s`);
});
