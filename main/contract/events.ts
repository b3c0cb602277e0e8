// Events the engine emits, named `domain.noun`, with their payload types. Adding an event is one
// entry in EventPayloads and one name in EVENT_NAMES (the `satisfies` keeps them in step).

import type { JobDoneEvent, JobLogEvent, JobProgressEvent, RunUpdatedEvent } from './runs.ts';
import type { Settings } from './settings.ts';

export interface EventPayloads {
  /** The settings after a successful settings.set. */
  'settings.update': Settings;
  /** A job's fraction done, stage and ETA (a few per second at most). */
  'jobs.progress': JobProgressEvent;
  /** One log line of a job (a compressed module, a training step...). */
  'jobs.log': JobLogEvent;
  /** A job ended: done, failed or cancelled (resumable when checkpoints exist). */
  'jobs.done': JobDoneEvent;
  /** A run changed status (created, started, finished, deleted...). */
  'runs.updated': RunUpdatedEvent;
}

export type EventName = keyof EventPayloads;
export type EventPayload<E extends EventName> = EventPayloads[E];
export type EventListener<E extends EventName> = (payload: EventPayload<E>) => void;

export const EVENT_NAMES = ['settings.update', 'jobs.progress', 'jobs.log', 'jobs.done', 'runs.updated'] as const satisfies readonly EventName[];

// Compile-time check that EVENT_NAMES lists every event.
type _AllEventsListed = Exclude<EventName, (typeof EVENT_NAMES)[number]> extends never ? true : never;
export const _allEventsListed: _AllEventsListed = true;

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && (EVENT_NAMES as readonly string[]).includes(name);
}
