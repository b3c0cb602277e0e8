// The renderer's one view of its host: call a method, listen to an event (main/contract's
// RecallHost), plus a connection status for the footer. Two implementations, picked once at
// start-up by chooseTransport(); no other renderer module knows whether it runs under Electron
// or in a browser.

import type { RecallHost } from '../../../main/contract/index.ts';
import { createElectronTransport } from './electron-transport.ts';
import { createWebSocketTransport } from './websocket-transport.ts';

export type ConnectionStatus = 'connecting' | 'open' | 'closed';

export interface Transport extends RecallHost {
  /** Human-readable name of the channel, e.g. "Electron IPC". */
  readonly label: string;
  /** Calls back now and on every change; returns the unsubscribe. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void;
}

export function chooseTransport(win: Window = window): Transport {
  if (win.recall) return createElectronTransport(win.recall);
  const token = new URLSearchParams(win.location.search).get('token') ?? '';
  const wsUrl = new URL('/ws', win.location.href);
  wsUrl.protocol = win.location.protocol === 'https:' ? 'wss:' : 'ws:';
  wsUrl.search = `?token=${encodeURIComponent(token)}`;
  return createWebSocketTransport(wsUrl.toString());
}
