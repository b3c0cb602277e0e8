// createApi(): the only door into the engine. IPC, the loopback bridge, the CLI and tests wrap
// the object it returns; no logic lives in an adapter. Every call is validated on entry against
// the method's schema in main/contract, dispatched through one typed handler map, and answered
// with one envelope: { ok: true, value } | { ok: false, error: { code, message, details? } }.

import { arch, platform } from 'node:os';
import { z } from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import {
  EXECUTION_PROVIDERS, METHOD_NAMES, ApiError, fail, failFromError, isMethodName, methods, ok,
  type Envelope, type EventListener, type EventName, type EventPayload, type MethodName, type Params,
  type ParsedParams, type Result,
} from '../contract/index.ts';
import { experimentHandlers } from './handlers/experiment-handlers.ts';
import { jobHandlers } from './handlers/job-handlers.ts';
import { modelHandlers } from './handlers/model-handlers.ts';
import { runHandlers } from './handlers/run-handlers.ts';
import { EngineServices, type JobsOptions } from './handlers/services.ts';
import { similarityHandlers } from './handlers/similarity-handlers.ts';
import type { Handler, HandlerContext, Handlers } from './handlers/types.ts';
import { availableProviders } from './runtime/providers.ts';
import { ort } from './runtime/ort.ts';
import { resolveHome } from './settings/home.ts';
import { SettingsStore } from './settings/store.ts';

export interface ApiOptions {
  /** Settings folder; default RECALL_HOME, else the platform's app-data folder. */
  home?: string;
  /** How jobs run (tests pass a launcher, a concurrency, a cancel grace period). */
  jobs?: JobsOptions;
}

export interface Api {
  call<M extends MethodName>(method: M, params?: Params<M>): Promise<Envelope<Result<M>>>;
  /** Untyped entry for adapters (IPC, WebSocket) that receive method names off the wire. */
  call(method: string, params?: unknown): Promise<Envelope<unknown>>;
  on<E extends EventName>(event: E, listener: EventListener<E>): () => void;
  /** Waits for pending writes, drops listeners; later calls answer E_CLOSED. */
  close(): Promise<void>;
}

type CoreMethod = 'app.info' | 'runtime.providers' | 'settings.get' | 'settings.set';

const coreHandlers: Handlers<CoreMethod> = {
  'app.info': (_params, ctx) => ({
    name: 'Recall',
    version: pkg.version,
    versions: {
      node: process.versions.node,
      ort: ort.env.versions.node ?? ort.env.versions.common,
      ...(process.versions.electron ? { electron: process.versions.electron } : {}),
      ...(process.versions.chrome ? { chrome: process.versions.chrome } : {}),
    },
    platform: platform(),
    arch: arch(),
    home: ctx.home,
    dataDir: ctx.settings.get().dataDir,
    warnings: [...ctx.settings.warnings],
  }),
  'runtime.providers': () => ({
    providers: availableProviders().map((p) => ({
      ...p,
      selectable: (EXECUTION_PROVIDERS as readonly string[]).includes(p.name),
    })),
    fallback: 'cpu',
  }),
  'settings.get': (_params, ctx) => ctx.settings.get(),
  'settings.set': async (params, ctx) => {
    const settings = await ctx.settings.set(params);
    ctx.emit('settings.update', settings);
    return settings;
  },
};

// One entry per method of main/contract/methods.ts (split by domain under handlers/); a missing
// entry does not compile.
const handlers: Handlers<MethodName> = { ...coreHandlers, ...modelHandlers, ...jobHandlers, ...runHandlers, ...similarityHandlers, ...experimentHandlers };

export function createApi(options: ApiOptions = {}): Api {
  const home = resolveHome(options.home);
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  let closed = false;

  const emit = <E extends EventName>(event: E, payload: EventPayload<E>): void => {
    for (const listener of listeners.get(event) ?? []) {
      try {
        listener(payload);
      } catch (err) {
        console.error(`recall: a listener of '${event}' threw:`, err);
      }
    }
  };
  // Opened lazily-but-eagerly: createApi stays synchronous, every call awaits the load.
  const ready: Promise<HandlerContext> = SettingsStore.open(home).then((settings) => ({
    home, settings, emit, services: new EngineServices(settings, emit, options.jobs),
  }));
  ready.catch(() => undefined); // reported by the first call

  async function call(method: string, params?: unknown): Promise<Envelope<unknown>> {
    if (closed) return fail('E_CLOSED', `cannot call '${method}': the API is closed`);
    if (!isMethodName(method)) {
      return fail('E_UNKNOWN_METHOD', `unknown method '${method}'`, { known: METHOD_NAMES });
    }
    const parsed = methods[method].params.safeParse(params ?? {});
    if (!parsed.success) return badArgument(method, parsed.error);
    try {
      const ctx = await ready;
      const handler = handlers[method] as Handler<MethodName>;
      return ok(await handler(parsed.data as ParsedParams<MethodName>, ctx));
    } catch (err) {
      if (err instanceof z.ZodError) return badArgument(method, err);
      return failFromError(err);
    }
  }

  return {
    call: call as Api['call'],
    on(event, listener) {
      if (closed) throw new ApiError('E_CLOSED', `cannot listen to '${event}': the API is closed`);
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const l = listener as (payload: unknown) => void;
      set.add(l);
      return () => { set.delete(l); };
    },
    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      const ctx = await ready.catch(() => undefined);
      await ctx?.services.close().catch((err: unknown) => console.error('recall: closing the job queue failed:', err));
      await ctx?.settings.flush().catch(() => undefined);
    },
  };
}

/** E_BAD_ARGUMENT whose message names the first offending field, e.g. "settings.set: threads: must be at most 1024". */
function badArgument(method: string, error: z.ZodError): Envelope<never> {
  const issues = error.issues.map((i) => ({ path: i.path.map(String).join('.'), code: i.code, message: i.message }));
  const first = error.issues[0]!;
  const where = first.path.length ? first.path.map(String).join('.') : 'params';
  const what = first.code === 'unrecognized_keys'
    ? `unknown field${first.keys.length > 1 ? 's' : ''} ${first.keys.map((k) => `'${k}'`).join(', ')}`
    : `${where}: ${first.message}`;
  return fail('E_BAD_ARGUMENT', `${method}: ${what}`, { issues });
}
