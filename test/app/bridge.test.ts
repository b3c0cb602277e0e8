// The loopback bridge: token on the page and on the socket, loopback-only by default, the CSP on
// the page, and a call / event round trip over the WebSocket.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import type { ServerMessage } from '../../main/contract/index.ts';
import { startBridge, type Bridge } from '../../main/bridge/server.ts';
import { isLoopbackHost } from '../../main/bridge/loopback.ts';
import { resolveStaticPath } from '../../main/bridge/static-files.ts';
import { createApi, type Api } from '../../main/engine/api.ts';

async function setUp(t: TestContext): Promise<{ api: Api; bridge: Bridge; home: string }> {
  const home = mkdtempSync(join(tmpdir(), 'recall-bridge-'));
  const staticDir = join(home, 'renderer');
  mkdirSync(join(staticDir, 'assets'), { recursive: true });
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Recall</title>');
  writeFileSync(join(staticDir, 'assets', 'app.js'), 'export {};');
  writeFileSync(join(home, 'secret.txt'), 'not for the web');
  const api = createApi({ home });
  const bridge = await startBridge({ api, staticDir });
  t.after(async () => {
    await bridge.close();
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });
  return { api, bridge, home };
}

/** Resolves with the socket once open, or rejects with the handshake's HTTP status. */
function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket, match: (m: ServerMessage) => boolean): Promise<ServerMessage> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse(data.toString()) as ServerMessage;
      if (match(msg)) {
        ws.off('message', onMessage);
        resolve(msg);
      }
    };
    ws.on('message', onMessage);
  });
}

test('bridge: the page needs the token (401 without or with a wrong one) and carries a strict CSP', async (t) => {
  const { bridge } = await setUp(t);
  assert.equal((await fetch(`${bridge.origin}/`)).status, 401);
  assert.equal((await fetch(`${bridge.origin}/?token=wrong`)).status, 401);
  assert.equal((await fetch(`${bridge.origin}/assets/app.js`)).status, 401);
  const page = await fetch(bridge.url);
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'no inline scripts');
  assert.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${bridge.port}`));
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  // The page's cookie admits its assets (which are requested without ?token=).
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  assert.equal((await fetch(`${bridge.origin}/assets/app.js`, { headers: { cookie } })).status, 200);
  assert.equal((await fetch(`${bridge.origin}/assets/app.js`, { headers: { cookie: `${cookie.split('=')[0]}=wrong` } })).status, 401);
});

test('bridge: a request addressed to a non-loopback Host is refused (DNS rebinding)', async (t) => {
  const { bridge } = await setUp(t);
  const { request } = await import('node:http');
  const status = await new Promise<number>((resolve, reject) => {
    request(`${bridge.url}`, { headers: { host: `evil.example:${bridge.port}` } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end();
  });
  assert.equal(status, 403);
});

test('bridge: the static server does not leave its folder', async (t) => {
  const { bridge } = await setUp(t);
  for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt']) {
    const res = await fetch(`${bridge.origin}${path}?token=${bridge.token}`);
    assert.notEqual(res.status, 200, path);
  }
  assert.equal(resolveStaticPath('/srv/r', '/../x'), null);
  assert.equal(resolveStaticPath('/srv/r', '/%2e%2e/x'), null);
  assert.equal(resolveStaticPath('/srv/r', '/'), '/srv/r/index.html');
});

test('bridge: the WebSocket refuses a missing or wrong token, and a foreign Origin', async (t) => {
  const { bridge } = await setUp(t);
  const wsBase = `ws://127.0.0.1:${bridge.port}/ws`;
  await assert.rejects(connect(wsBase), /HTTP 401/);
  await assert.rejects(connect(`${wsBase}?token=wrong`), /HTTP 401/);
  await assert.rejects(connect(`${wsBase}?token=${bridge.token}`, { origin: 'http://evil.example' }), /HTTP 401/);
  const ws = await connect(`${wsBase}?token=${bridge.token}`, { origin: bridge.origin });
  ws.close();
});

test('bridge: refuses to listen on a non-loopback host unless allowRemote', async () => {
  const api = createApi({ home: mkdtempSync(join(tmpdir(), 'recall-bridge-')) });
  await assert.rejects(startBridge({ api, staticDir: tmpdir(), host: '0.0.0.0' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_BAD_ARGUMENT');
    assert.match(err.message, /non-loopback host '0\.0\.0\.0'.*allowRemote/);
    return true;
  });
  await api.close();
  assert.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('::1') && isLoopbackHost('localhost') && isLoopbackHost('127.1.2.3'));
  assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('192.168.1.2') && !isLoopbackHost('127.example.com'));
});

test('bridge: a call round trip and an event over the WebSocket', async (t) => {
  const { bridge, home } = await setUp(t);
  const ws = await connect(`ws://127.0.0.1:${bridge.port}/ws?token=${bridge.token}`);
  t.after(() => ws.close());

  const info = nextMessage(ws, (m) => m.type === 'result' && m.id === 1);
  ws.send(JSON.stringify({ type: 'call', id: 1, method: 'app.info', params: {} }));
  const infoMsg = await info;
  assert.ok(infoMsg.type === 'result' && infoMsg.result.ok);
  assert.equal((infoMsg.result.value as { home: string }).home, home);

  const event = nextMessage(ws, (m) => m.type === 'event');
  const set = nextMessage(ws, (m) => m.type === 'result' && m.id === 2);
  ws.send(JSON.stringify({ type: 'call', id: 2, method: 'settings.set', params: { threads: 6 } }));
  const setMsg = await set;
  assert.ok(setMsg.type === 'result' && setMsg.result.ok);
  assert.deepEqual(await event, { type: 'event', event: 'settings.update', payload: { dataDir: home, executionProvider: 'cpu', threads: 6 } });

  const bad = nextMessage(ws, (m) => m.type === 'result' && m.id === 3);
  ws.send(JSON.stringify({ type: 'call', id: 3, method: 'settings.set', params: { threads: -1 } }));
  const badMsg = await bad;
  assert.ok(badMsg.type === 'result' && !badMsg.result.ok);
  assert.equal(badMsg.result.error.code, 'E_BAD_ARGUMENT');
  assert.match(badMsg.result.error.message, /threads/);

  const malformed = nextMessage(ws, (m) => m.type === 'result' && m.id === 4);
  ws.send(JSON.stringify({ type: 'cal', id: 4 }));
  const malformedMsg = await malformed;
  assert.ok(malformedMsg.type === 'result' && !malformedMsg.result.ok && malformedMsg.result.error.code === 'E_BAD_ARGUMENT');

  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send('not json');
  assert.equal(await closed, 1008, 'a message without an id closes the socket');
});
