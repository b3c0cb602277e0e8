// `npm start`: build the renderer if it is missing or older than its sources, then
//   - with an Electron binary: build the Electron main and launch the app;
//   - without one (e.g. installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1): run the engine behind the
//     loopback bridge (main/bridge/serve.ts, through tsx: the engine is TypeScript) on
//     127.0.0.1 with a random port and token, print the URL and try to open the system browser.
// Ctrl-C stops it. `--browser` forces browser mode; other args go to the child
// (e.g. `npm start -- --browser --no-open --port 8123`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { buildElectron, buildRenderer, root } from './build.mjs';

const args = process.argv.slice(2).filter((a) => a !== '--');
const forceBrowser = args.includes('--browser') || process.env.RECALL_BROWSER_MODE === '1';
const extra = args.filter((a) => a !== '--browser');

function electronBinary() {
  if (forceBrowser) return null;
  try {
    const path = createRequire(import.meta.url)('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

const t0 = Date.now();
const renderer = await buildRenderer();
if (renderer.built) console.log(`built the renderer in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const electron = electronBinary();
let child;
if (electron) {
  await buildElectron();
  child = spawn(electron, [root, ...extra], { cwd: root, stdio: 'inherit' });
} else {
  console.log('No Electron binary here: starting browser mode.');
  child = spawn(process.execPath, ['--import', 'tsx', join(root, 'main/bridge/serve.ts'), ...extra], { cwd: root, stdio: 'inherit' });
}

// Ctrl-C reaches the child too (same process group); wait for it to finish cleaning up.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
