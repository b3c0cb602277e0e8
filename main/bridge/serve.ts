// Browser mode's entry (`npm start` without an Electron binary runs this through tsx): the
// engine plus the loopback bridge on 127.0.0.1, a random port and token. Prints the URL, tries
// to open the system browser, and stops cleanly on Ctrl-C.
//   node --import tsx main/bridge/serve.ts [--port N] [--host H] [--home DIR] [--no-open]

import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createApi } from '../engine/api.ts';
import { startBridge } from './server.ts';
import { fromPackageRoot } from '../engine/package-root.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    home: { type: 'string' },
    'static-dir': { type: 'string', default: fromPackageRoot('dist', 'renderer') },
    'no-open': { type: 'boolean', default: false },
  },
});

const api = createApi(values.home ? { home: values.home } : {});
const bridge = await startBridge({ api, staticDir: values['static-dir'], port: Number(values.port), host: values.host });
console.log(`Recall is running in browser mode: ${bridge.url}`);
console.log('Press Ctrl-C to stop.');
if (!values['no-open'] && process.env.RECALL_NO_OPEN !== '1') openBrowser(bridge.url);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await bridge.close();
  await api.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

/** Best effort: a missing opener or a headless machine is not an error. */
function openBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]]
    : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]]
    : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // ignore: the URL is printed above
  }
}
