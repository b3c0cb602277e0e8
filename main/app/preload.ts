// The Electron preload (sandboxed, context-isolated): exposes exactly `window.recall = { call,
// listen }` and nothing of Node or Electron. Bundled to dist-electron/app/preload.cjs; imports
// only zod-free contract files.

import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { fail } from '../contract/errors.ts';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type RecallHost } from '../contract/host.ts';
import type { EventMessage } from '../contract/wire.ts';

const host: RecallHost = {
  call: (method, params) =>
    ipcRenderer
      .invoke(IPC_CALL_CHANNEL, { method, params })
      .catch((err: unknown) => fail('E_TRANSPORT', `IPC call '${method}' failed: ${String(err)}`)),
  listen: (event, listener) => {
    const handler = (_e: IpcRendererEvent, message: EventMessage) => {
      if (message.event === event) listener(message.payload as never);
    };
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => { ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler); };
  },
};

contextBridge.exposeInMainWorld('recall', host);
