// The Electron IPC adapter, driven with a fake ipcMain: it refuses untrusted frames and malformed
// requests, forwards everything else to api.call unchanged, and forwards events.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { IpcMainInvokeEvent } from 'electron';
import { IPC_CALL_CHANNEL, type EventMessage } from '../../main/contract/index.ts';
import { createApi } from '../../main/engine/api.ts';
import { forwardEvents, registerIpc } from '../../main/ipc/register.ts';

type Handler = (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown;

test('ipc: one handler that checks the sender and the request, then calls the api', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'recall-ipc-'));
  const api = createApi({ home });
  t.after(async () => { await api.close(); rmSync(home, { recursive: true, force: true }); });
  const handlers = new Map<string, Handler>();
  const ipcMain = {
    handle: (channel: string, fn: Handler) => { handlers.set(channel, fn); },
    removeHandler: (channel: string) => { handlers.delete(channel); },
  };
  const frame = (url: string) => ({ senderFrame: { url } }) as unknown as IpcMainInvokeEvent;
  const stop = registerIpc({ ipcMain, api, isTrustedSender: (e) => e.senderFrame?.url.startsWith('app://recall/') ?? false });
  const invoke = handlers.get(IPC_CALL_CHANNEL)!;
  const trusted = frame('app://recall/index.html');

  assert.deepEqual(await invoke(trusted, { method: 'settings.get', params: {} }), await api.call('settings.get', {}));
  const refused = await invoke(frame('https://evil.example/'), { method: 'settings.get', params: {} });
  assert.deepEqual(refused, { ok: false, error: { code: 'E_FORBIDDEN', message: 'IPC call from an untrusted frame was refused' } });
  const malformed = (await invoke(trusted, { method: 42 })) as { ok: boolean; error: { code: string } };
  assert.equal(malformed.error.code, 'E_BAD_ARGUMENT');
  const badParam = (await invoke(trusted, { method: 'settings.set', params: { threads: 'x' } })) as { error: { message: string } };
  assert.match(badParam.error.message, /threads/);

  const sent: EventMessage[] = [];
  const off = forwardEvents(api, (m) => sent.push(m));
  await invoke(trusted, { method: 'settings.set', params: { threads: 2 } });
  off();
  assert.deepEqual(sent, [{ event: 'settings.update', payload: { dataDir: home, executionProvider: 'cpu', threads: 2 } }]);

  stop();
  assert.equal(handlers.size, 0);
});
