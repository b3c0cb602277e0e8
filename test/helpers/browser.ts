// The browser tests' shared set-up: the renderer built (scripts/build.mjs renderer) and Debian's
// Chromium launched headless through playwright-core. Chromium is required (CI installs it):
// without it a browser test fails with how to install it rather than skips.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];

/** Build the renderer (a no-op when it is up to date); returns the folder the bridge serves. */
export function buildRenderer(): string {
  const build = spawnSync(process.execPath, ['scripts/build.mjs', 'renderer'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(build.status, 0, `renderer build failed:\n${build.stdout}\n${build.stderr}`);
  return join(ROOT, 'dist/renderer');
}

/** Chromium, headless, with the flags this machine needs. */
export function launchChromium(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: install it (apt-get install chromium) to run the browser tests; CI installs it.`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
