// The handler map's types, shared by api.ts and the per-domain handler files.

import type { EventName, EventPayload, MethodName, ParsedParams, Result } from '../../contract/index.ts';
import type { SettingsStore } from '../settings/store.ts';
import type { EngineServices } from './services.ts';

/** What every handler gets besides its params. */
export interface HandlerContext {
  home: string;
  settings: SettingsStore;
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void;
  /** The run store, job queue and experiments of the current data folder. */
  services: EngineServices;
}

export type Handler<M extends MethodName> = (params: ParsedParams<M>, ctx: HandlerContext) => Promise<Result<M>> | Result<M>;
export type Handlers<K extends MethodName> = { [M in K]: Handler<M> };
