// One WebSocket client of the bridge: each `call` message goes to api.call and its envelope comes
// back as a `result` with the same id; engine events are pushed as `event` messages. The adapter
// only checks the message's shape; the API validates the params.

import type { WebSocket } from 'ws';
import { EVENT_NAMES, clientMessageSchema, fail, type ServerMessage } from '../contract/index.ts';
import type { Api } from '../engine/api.ts';

/** Sends every engine event to the sockets in `clients`; returns the unsubscribe. */
export function broadcastEvents(api: Api, clients: Set<WebSocket>): () => void {
  const offs = EVENT_NAMES.map((event) =>
    api.on(event, (payload) => {
      const text = JSON.stringify({ type: 'event', event, payload } satisfies ServerMessage);
      for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(text);
    }),
  );
  return () => { for (const off of offs) off(); };
}

export function serveSocket(api: Api, ws: WebSocket): void {
  const send = (msg: ServerMessage): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  ws.on('message', (data, isBinary) => {
    let json: unknown;
    try {
      json = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      json = undefined;
    }
    const msg = clientMessageSchema.safeParse(json);
    if (!msg.success) {
      const id = (json as { id?: unknown } | undefined)?.id;
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0) {
        send({ type: 'result', id, result: fail('E_BAD_ARGUMENT', `malformed call message: ${msg.error.issues[0]?.message ?? 'invalid'}`) });
      } else {
        ws.close(1008, 'malformed message');
      }
      return;
    }
    const { id, method, params } = msg.data;
    api.call(method, params).then(
      (result) => send({ type: 'result', id, result }),
      (err: unknown) => send({ type: 'result', id, result: fail('E_INTERNAL', `internal error: ${String(err)}`) }),
    );
  });
}
