// What a host gives the renderer: two verbs, call and listen (as VS Code's IPC channels). The
// Electron preload exposes exactly this as `window.recall`; the browser bridge speaks it over a
// WebSocket (wire.ts). No zod here: the preload bundles this file.

import type { Envelope } from './errors.ts';
import type { EventName, EventPayload } from './events.ts';
import type { MethodName, Params, Result } from './methods.ts';

export interface RecallHost {
  call<M extends MethodName>(method: M, params: Params<M>): Promise<Envelope<Result<M>>>;
  /** Returns a function that stops listening. */
  listen<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** Electron IPC channel names (main/ipc and main/app/preload.ts). */
export const IPC_CALL_CHANNEL = 'recall:call';
export const IPC_EVENT_CHANNEL = 'recall:event';

/** Path of the bridge's WebSocket endpoint; the token goes in `?token=`. */
export const BRIDGE_SOCKET_PATH = '/ws';
