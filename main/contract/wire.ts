// Messages on the loopback bridge's WebSocket and Electron's IPC call channel. Incoming messages
// are validated here before anything reaches the API.
//   client -> bridge: { type: 'call', id, method, params }
//   bridge -> client: { type: 'result', id, result: Envelope } | { type: 'event', event, payload }

import { z } from 'zod';
import type { Envelope } from './errors.ts';

/** The IPC call channel carries { method, params }; the WebSocket adds type and id. */
export const callRequestSchema = z.strictObject({
  method: z.string().min(1).max(200),
  params: z.unknown().optional(),
});
export type CallRequest = z.infer<typeof callRequestSchema>;

export const clientMessageSchema = z.strictObject({
  type: z.literal('call'),
  id: z.number().int().nonnegative(),
  method: z.string().min(1).max(200),
  params: z.unknown().optional(),
});
export type ClientMessage = z.infer<typeof clientMessageSchema>;

export type ServerMessage =
  | { type: 'result'; id: number; result: Envelope<unknown> }
  | { type: 'event'; event: string; payload: unknown };

/** The IPC event channel's payload. */
export interface EventMessage {
  event: string;
  payload: unknown;
}
