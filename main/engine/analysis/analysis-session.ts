// One ORT session per analysed model, over a graph that exposes every layer's output hidden
// states and attention probabilities (graph-options.ts), with the adapter's inputs. Small
// models are built in memory; large ones through the cached external-weight graph folder
// (memory-mapped by ORT, as LanguageModel.load does).

import { buildModelGraph } from '../models/build-graph.ts';
import type { ModelFolder } from '../models/folder.ts';
import { DEFAULT_EXTERNAL_THRESHOLD, cachedModelGraph, graphWeightBytes } from '../models/graph-cache.ts';
import type { GraphOptions, LoraOptions } from '../models/graph-options.ts';
import type { ExecutionProvider } from '../runtime/providers.ts';
import { type RecallSession, createSession, openSessionFile } from '../runtime/session.ts';

export interface SessionChoice {
  ep?: ExecutionProvider;
  threads?: number;
  weightDtype?: 'float32' | 'float16';
  onFallback?: (message: string) => void;
  /** Graph weight bytes from which the graph goes through the on-disk cache (default 256 MiB). */
  externalThreshold?: number;
  cacheDir?: string;
}

export interface AnalysisGraphEdits {
  softPrompt: boolean;
  pastKeyValues: boolean;
  lora?: LoraOptions;
  weightOverrides?: Map<string, Float32Array>;
}

export function analysisGraphOptions(edits: AnalysisGraphEdits, weightDtype?: 'float32' | 'float16'): GraphOptions {
  return {
    exposeHiddenStates: true, exposeAttentions: true, logits: 'last',
    ...(edits.softPrompt ? { softPrompt: true } : {}), ...(edits.pastKeyValues ? { pastKeyValues: true } : {}),
    ...(edits.lora ? { lora: edits.lora } : {}), ...(edits.weightOverrides ? { weightOverrides: edits.weightOverrides } : {}),
    ...(weightDtype ? { weightDtype } : {}),
  };
}

/** The names to fetch: hidden_states.{l} and attentions.{l} of every layer. */
export function analysisFetches(layers: number): string[] {
  return Array.from({ length: layers }, (_, l) => [`hidden_states.${l}`, `attentions.${l}`]).flat();
}

export async function openAnalysisSession(folder: ModelFolder, edits: AnalysisGraphEdits, o: SessionChoice): Promise<RecallSession> {
  const options = analysisGraphOptions(edits, o.weightDtype);
  const session = { ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.onFallback ? { onFallback: o.onFallback } : {}) };
  if (graphWeightBytes(folder, options.weightDtype) < (o.externalThreshold ?? DEFAULT_EXTERNAL_THRESHOLD)) {
    return createSession(buildModelGraph(folder.config, folder.weights, options), session);
  }
  const cached = cachedModelGraph(folder, options, o.cacheDir);
  return openSessionFile(cached.path, { ...session, disablePrepacking: true });
}
