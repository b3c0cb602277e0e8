// Transport over the loopback bridge's WebSocket (main/contract/wire.ts). Calls made before the
// socket opens wait for it; when it drops, pending calls answer E_TRANSPORT and the transport
// reconnects with a growing delay. A 401 (wrong token) also shows as a closed socket.

import { fail } from '../../../main/contract/errors.ts';
import type { ClientMessage, Envelope, EventName, RecallHost, ServerMessage } from '../../../main/contract/index.ts';
import type { ConnectionStatus, Transport } from './transport.ts';

const RETRY_MS = [500, 1000, 2000, 5000, 10000];

export function createWebSocketTransport(url: string): Transport {
  let socket: WebSocket | null = null;
  let status: ConnectionStatus = 'connecting';
  let attempts = 0;
  let nextId = 1;
  const pending = new Map<number, (result: Envelope<unknown>) => void>();
  const queued: string[] = [];
  const eventListeners = new Map<string, Set<(payload: unknown) => void>>();
  const statusListeners = new Set<(s: ConnectionStatus) => void>();

  const setStatus = (s: ConnectionStatus) => {
    status = s;
    for (const l of statusListeners) l(s);
  };

  function connect(): void {
    setStatus('connecting');
    const ws = new WebSocket(url);
    socket = ws;
    ws.addEventListener('open', () => {
      attempts = 0;
      setStatus('open');
      for (const text of queued.splice(0)) ws.send(text);
    });
    ws.addEventListener('message', (e) => receive(e.data));
    ws.addEventListener('close', () => {
      socket = null;
      for (const [id, resolve] of pending) {
        resolve(fail('E_TRANSPORT', 'the connection to the Recall engine was lost'));
        pending.delete(id);
      }
      setStatus('closed');
      const delay = RETRY_MS[Math.min(attempts++, RETRY_MS.length - 1)]!;
      setTimeout(connect, delay);
    });
  }

  function receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: ServerMessage;
    try {
      msg = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    if (msg.type === 'result') {
      pending.get(msg.id)?.(msg.result);
      pending.delete(msg.id);
    } else if (msg.type === 'event') {
      for (const l of eventListeners.get(msg.event) ?? []) l(msg.payload);
    }
  }

  const call: RecallHost['call'] = (method, params) => {
    const id = nextId++;
    const text = JSON.stringify({ type: 'call', id, method, params } satisfies ClientMessage);
    return new Promise((resolve) => {
      pending.set(id, resolve as (r: Envelope<unknown>) => void);
      if (socket?.readyState === WebSocket.OPEN) socket.send(text);
      else queued.push(text);
    });
  };

  const listen: RecallHost['listen'] = (event: EventName, listener) => {
    let set = eventListeners.get(event);
    if (!set) eventListeners.set(event, (set = new Set()));
    const l = listener as (payload: unknown) => void;
    set.add(l);
    return () => { set.delete(l); };
  };

  connect();
  return {
    label: 'WebSocket bridge',
    call,
    listen,
    onStatus(listener) {
      statusListeners.add(listener);
      listener(status);
      return () => { statusListeners.delete(listener); };
    },
  };
}
