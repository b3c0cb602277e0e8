// Electron IPC adapter: one ipcMain handler for calls and one push channel for events. It checks
// the sender and the message's shape, then hands the call to api.call; no logic lives here.
// Electron is injected (ipcMain, a send function) so tests can drive it without Electron.

import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import {
  EVENT_NAMES, IPC_CALL_CHANNEL, callRequestSchema, fail, type Envelope, type EventMessage,
} from '../contract/index.ts';
import type { Api } from '../engine/api.ts';

export interface IpcOptions {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  api: Api;
  /** Whether a call's sender frame is our renderer (e.g. its URL is app://recall/...). */
  isTrustedSender: (event: IpcMainInvokeEvent) => boolean;
}

/** Registers the call handler; returns the function that removes it. */
export function registerIpc({ ipcMain, api, isTrustedSender }: IpcOptions): () => void {
  ipcMain.handle(IPC_CALL_CHANNEL, async (event, request: unknown): Promise<Envelope<unknown>> => {
    if (!isTrustedSender(event)) return fail('E_FORBIDDEN', 'IPC call from an untrusted frame was refused');
    const parsed = callRequestSchema.safeParse(request);
    if (!parsed.success) {
      return fail('E_BAD_ARGUMENT', `malformed IPC call: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    return api.call(parsed.data.method, parsed.data.params);
  });
  return () => ipcMain.removeHandler(IPC_CALL_CHANNEL);
}

/** Pushes every engine event through `send` (to each window's webContents); returns the unsubscribe. */
export function forwardEvents(api: Api, send: (message: EventMessage) => void): () => void {
  const offs = EVENT_NAMES.map((event) => api.on(event, (payload) => send({ event, payload })));
  return () => { for (const off of offs) off(); };
}
