// Events the engine emits, named `domain.noun`, with their payload types. Adding an event is one
// entry in EventPayloads and one name in EVENT_NAMES (the `satisfies` keeps them in step).

import type { Settings } from './settings.ts';

export interface EventPayloads {
  /** The settings after a successful settings.set. */
  'settings.update': Settings;
}

export type EventName = keyof EventPayloads;
export type EventPayload<E extends EventName> = EventPayloads[E];
export type EventListener<E extends EventName> = (payload: EventPayload<E>) => void;

export const EVENT_NAMES = ['settings.update'] as const satisfies readonly EventName[];

// Compile-time check that EVENT_NAMES lists every event.
type _AllEventsListed = Exclude<EventName, (typeof EVENT_NAMES)[number]> extends never ? true : never;
export const _allEventsListed: _AllEventsListed = true;

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && (EVENT_NAMES as readonly string[]).includes(name);
}
