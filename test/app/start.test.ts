// `npm start` in browser mode: prints the URL, serves the page with the token, and stops on
// SIGINT (forwarded to the bridge process) with exit status 0.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

test('start: browser mode prints a working URL and stops on Ctrl-C', { timeout: 30_000 }, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'recall-start-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['scripts/start.mjs', '--browser', '--no-open'], {
    cwd: root,
    env: { ...process.env, RECALL_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /Recall is running in browser mode: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(output);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`start exited (${code}) before printing the URL:\n${output}`)));
  });
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<div id="app">/);
  assert.equal((await fetch(new URL('/', url))).status, 401, 'the token is required');

  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  assert.equal(await exit, 0, output);
});
