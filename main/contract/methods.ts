// The API's methods, named `domain.verb`: one entry each in `methods` (params schema, validated
// on entry in main) and in MethodResults (result type). The engine's handler map in
// main/engine/api.ts is typed from these, so a method added here and not handled there does not
// compile. The renderer calls the same names through its transport.
//
// Adding a method:
//   1. methods:       'runs.list': { summary: '...', params: z.strictObject({ limit: z.number() }) },
//   2. MethodResults: 'runs.list': RunSummary[];
//   3. engine handler map: 'runs.list': (params, ctx) => ...

import { z } from 'zod';
import type { ExecutionProviderName } from './execution.ts';
import { runMethods, type RunMethodResults } from './run-methods.ts';
import { settingsPatchSchema, type Settings } from './settings.ts';

const noParams = z.strictObject({});

export const methods = {
  'app.info': { summary: 'Versions, platform and folders of this Recall engine.', params: noParams },
  'runtime.providers': { summary: 'Execution providers the installed ONNX Runtime knows about.', params: noParams },
  'settings.get': { summary: 'The current settings.', params: noParams },
  'settings.set': { summary: 'Changes some settings, saves them and returns all of them.', params: settingsPatchSchema },
  // models, data, jobs, runs, experiments (run-methods.ts)
  ...runMethods,
} as const satisfies Record<string, { summary: string; params: z.ZodType }>;

export interface AppInfo {
  name: 'Recall';
  /** Recall's version (package.json). */
  version: string;
  versions: {
    node: string;
    /** onnxruntime-node's version. */
    ort: string;
    /** Set when the engine runs inside Electron. */
    electron?: string;
    chrome?: string;
  };
  platform: string;
  arch: string;
  /** Where settings.json lives (RECALL_HOME, --home, or the platform's app-data folder). */
  home: string;
  /** Where data goes (a setting; defaults to home). */
  dataDir: string;
  /** Problems met while loading settings (e.g. an unreadable settings.json that was set aside). */
  warnings: string[];
}

export interface ProviderEntry {
  /** ORT's backend name: cpu, cuda, webgpu, dml, coreml, tensorrt ... */
  name: string;
  /** Shipped inside the onnxruntime-node package (others need an extra install, e.g. CUDA). */
  bundled: boolean;
  /** Whether Recall can ask for it (it is one of EXECUTION_PROVIDERS). */
  selectable: boolean;
}

export interface ProvidersInfo {
  providers: ProviderEntry[];
  /** The provider Recall uses when the chosen one is unavailable. */
  fallback: ExecutionProviderName;
}

export interface MethodResults extends RunMethodResults {
  'app.info': AppInfo;
  'runtime.providers': ProvidersInfo;
  'settings.get': Settings;
  'settings.set': Settings;
}

export type MethodName = keyof typeof methods;
/** What a caller passes (schema input). */
export type Params<M extends MethodName> = z.input<(typeof methods)[M]['params']>;
/** What a handler receives (schema output, after validation). */
export type ParsedParams<M extends MethodName> = z.output<(typeof methods)[M]['params']>;
export type Result<M extends MethodName> = MethodResults[M];

// Compile-time check that every method has a result type and vice versa.
type _Same = [Exclude<MethodName, keyof MethodResults>, Exclude<keyof MethodResults, MethodName>] extends [never, never] ? true : never;
export const _methodsMatchResults: _Same = true;

export const METHOD_NAMES = Object.keys(methods) as MethodName[];

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}
