// runs.similarity: an analyze run's stored similarity arrays, read back for the Layers view:
// per model, each measure's per-layer spread and (attention) per-head means, plus the attention
// maps it kept, with the texts and tokens of their examples.

import { ApiError, type RunSimilarityInfo, type SimilarityModelInfo } from '../../contract/index.ts';
import { readTaskContexts } from '../analysis/inputs.ts';
import type { AnalyzeJobConfig } from '../jobs/job-context.ts';
import { Tokenizer } from '../models/tokenizer.ts';
import type { RunRecord, Store } from '../store/index.ts';
import { MEASURES, displayToken, headSpreads, mapInfo, parseMapKind, parseStatsKind, spreadsFromStats, type MapKind } from './similarity-view.ts';
import type { Handlers } from './types.ts';

function array(store: Store, runId: number, kind: string): { shape: number[]; data: ArrayLike<number> } {
  const a = store.similarity.get(runId, kind);
  if (!a) throw new ApiError('E_NOT_FOUND', `run ${runId} has no similarity array '${kind}'`, { runId, kind });
  return a;
}

function models(store: Store, runId: number, kinds: string[]): SimilarityModelInfo[] {
  const labels = [...new Set(kinds.map(parseStatsKind).filter((k) => k !== null).map((k) => k.label))];
  return labels.map((label) => ({
    label,
    measures: MEASURES.filter((m) => kinds.includes(`${label}/${m}-stats`)).map((measure) => ({
      measure,
      layers: spreadsFromStats(array(store, runId, `${label}/${measure}-stats`)),
      ...(measure === 'attention-cos' && kinds.includes(`${label}/attention-cos`) ? { perHead: headSpreads(array(store, runId, `${label}/attention-cos`)) } : {}),
    })),
  }));
}

/** The texts the analysis read, and the tokens the base model saw (best effort: files may have moved). */
function examplesOf(store: Store, run: RunRecord, wanted: number[]): { texts: Record<number, string>; tokens: Record<number, string[]> } {
  const texts: Record<number, string> = {}, tokens: Record<number, string[]> = {};
  if (wanted.length === 0) return { texts, tokens };
  const config = run.config as Partial<AnalyzeJobConfig>;
  try {
    const all = config.texts ?? (config.task ? readTaskContexts(config.task, config.paths?.dataDirs ?? []) : []);
    for (const e of wanted) if (all[e] !== undefined) texts[e] = all[e];
  } catch {
    return { texts, tokens };
  }
  const model = run.modelId !== null ? store.models.get(run.modelId) : undefined;
  if (!model) return { texts, tokens };
  try {
    const tokenizer = Tokenizer.fromFolder(model.sourcePath);
    for (const [e, text] of Object.entries(texts)) {
      const ids = tokenizer.encode(text).slice(0, config.maxTokens ?? undefined);
      tokens[Number(e)] = ids.map((id) => displayToken(tokenizer.idToToken(id) ?? String(id)));
    }
  } catch {
    // No tokenizer at the model's folder any more: the view labels positions instead.
  }
  return { texts, tokens };
}

export function runSimilarity(store: Store, runId: number, withMaps: boolean): RunSimilarityInfo {
  const run = store.runs.require(runId);
  if (run.kind !== 'analyze') throw new ApiError('E_BAD_ARGUMENT', `runId: run ${runId} is a ${run.kind} run, not an analyze run`, { runId });
  const kinds = store.similarity.kinds(runId);
  const arrays = kinds.map((kind) => ({ kind, shape: store.similarity.get(runId, kind)!.shape }));
  const perExample = arrays.find((a) => a.kind.endsWith('/attention-cos'));
  const stats = arrays.find((a) => parseStatsKind(a.kind));
  const mapKinds = kinds.map((kind) => ({ kind, k: parseMapKind(kind) })).filter((x): x is { kind: string; k: MapKind } => x.k !== null);
  const baseSize = new Map(arrays.filter((a) => parseMapKind(a.kind)?.owner === 'base').map((a) => [parseMapKind(a.kind)!.example, a.shape[0]!]));
  const maps = withMaps ? mapKinds.map(({ kind, k }) => mapInfo(k, array(store, runId, kind), baseSize.get(k.example) ?? null)) : [];
  const config = run.config as Partial<AnalyzeJobConfig>;
  return {
    runId, name: run.name, status: run.status,
    inputRunId: run.parents.find((p) => p.role === 'input')?.id ?? null,
    task: config.task ?? null,
    examples: perExample?.shape[0] ?? 0,
    layers: stats?.shape[1] ?? perExample?.shape[1] ?? 0,
    heads: perExample?.shape[2] ?? 0,
    models: models(store, runId, kinds),
    ...examplesOf(store, run, [...new Set(mapKinds.map((m) => m.k.example))].sort((a, b) => a - b)),
    maps,
    arrays,
  };
}

export const similarityHandlers: Handlers<'runs.similarity'> = {
  'runs.similarity': ({ runId, maps }, ctx) => runSimilarity(ctx.services.store, runId, maps ?? true),
};
