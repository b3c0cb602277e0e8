// analyzeModels: run the base model M0 and each other model M on the same inputs and compare
// them layer by layer (METHODS.md section 4): attention similarity over the input x input
// block (per head, averaged over heads), hidden-state cosine per input token (averaged over
// tokens), optionally linear CKA, each per example and then summarised over examples; plus a
// few full attention maps for heatmaps.
//
// All sessions stay open together and each batch goes through the base once and through
// every model once, so nothing of a batch outlives it (a 7B model's attentions are about
// 16 MB per 64-token example). Large models open memory-mapped (analysis-session.ts).

import { RecallError } from '../errors.ts';
import { loadModelFolder, type ModelFolder } from '../models/folder.ts';
import type { LoraOptions } from '../models/graph-options.ts';
import { Tokenizer } from '../models/tokenizer.ts';
import type { Past } from '../models/runner.ts';
import type { DecoderConfig } from '../models/types.ts';
import { IdpSelector, pickPrompt } from '../recover/idp-selector.ts';
import { promptPasts } from '../recover/model-adapter.ts';
import type { RecallSession } from '../runtime/session.ts';
import { type HostTensor, float32 } from '../runtime/tensors.ts';
import { type SessionChoice, analysisFetches, openAnalysisSession } from './analysis-session.ts';
import { type AdapterLayout, type PositionAdapter, adapterLayout, batchFeeds } from './batch-feeds.ts';
import { type AnalysisResult, type AttentionMap, SimilarityAccumulator } from './result.ts';
import { type AttentionBlock, type HiddenBlock, activationCosine, attentionCosinePerHead, inputRows, linearCka } from './similarity.ts';

export interface AnalysisAdapter extends PositionAdapter {
  lora?: LoraOptions;
  /**
   * An IDP prompt pool (m prompts of n rows, [m * n, embed]). Per example, IDP's selection
   * (recover/idp-selector.ts, as at inference) picks a prompt, and the example runs after that
   * prompt's cached KV as its prefix (p = n, positions n..): the result records the choice.
   */
  idp?: { numVirtualTokens: number; numPrompts: number; selLayer: number; pool: Float32Array };
}

/** IDP's choice per example (index into the pool) and the selection scores [examples][m]. */
export interface IdpAnalysis { choices: number[]; scores: number[][] }
export type ModelAnalysis = AnalysisResult['models'][number] & { idp?: IdpAnalysis };

export interface AnalyzeModelSpec {
  label: string;
  dir: string;
  adapter?: AnalysisAdapter;
  /** Replace weights by HF name (e.g. fake-quantized or perturbed ones). */
  weightOverrides?: Map<string, Float32Array>;
}

export interface AnalyzeProgress {
  examplesDone: number;
  examplesTotal: number;
}

export interface AnalyzeOptions extends SessionChoice {
  base: string;
  models: AnalyzeModelSpec[];
  /** Texts, encoded with the base model's tokenizer (its BOS framing included)... */
  texts?: string[];
  /** ...or token id sequences used as given. */
  tokenIds?: number[][];
  /** Cut longer inputs to this many tokens (otherwise a too-long input is an error). */
  maxTokens?: number;
  /** Examples per forward pass (default 8). */
  batchSize?: number;
  /** Also compute linear CKA per layer (default false). */
  cka?: boolean;
  /** Attention maps to keep: the first `examples` (default 2) at these layers and heads (default first, middle, last layer; head 0). */
  maps?: { examples?: number; layers?: number[]; heads?: number[] };
  signal?: AbortSignal;
  onProgress?: (p: AnalyzeProgress) => void;
}

interface OpenModel {
  spec: AnalyzeModelSpec;
  folder: ModelFolder;
  layout: AdapterLayout;
  session?: RecallSession;
  acc: SimilarityAccumulator;
  maps: AttentionMap[];
  /** IDP: every prompt's KV as a prefix, and the selection per example. */
  idp?: { prefixes: { keys: Float32Array[]; values: Float32Array[] }[]; choices: number[]; scores: number[][] };
}

/** Each pool prompt's KV (as a prefix) and IDP's choice for every example, on this model's weights. */
async function idpSelections(folder: ModelFolder, idp: NonNullable<AnalysisAdapter['idp']>, rows: number[][], o: SessionChoice): Promise<NonNullable<OpenModel['idp']>> {
  const session = { ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.onFallback ? { onFallback: o.onFallback } : {}) };
  const pool: Past[] = await promptPasts(folder, idp.pool, idp.numPrompts, idp.numVirtualTokens, session);
  const selector = await IdpSelector.create(folder.config, folder.weights, idp.selLayer, session);
  try {
    const scores: number[][] = [];
    for (const row of rows) scores.push((await selector.scores([row], pool))[0]!);
    const prefixes = pool.map((p) => ({ keys: p.keys.map((t) => t.data as Float32Array), values: p.values.map((t) => t.data as Float32Array) }));
    return { prefixes, choices: scores.map(pickPrompt), scores };
  } finally {
    await selector.release();
  }
}

/** Feeds of an IDP model's batch: each row's past is its chosen prompt's KV. */
function idpFeeds(batch: number[][], start: number, config: DecoderConfig, m: OpenModel): Record<string, HostTensor> {
  const { prefixes, choices } = m.idp!;
  const feeds = batchFeeds(batch, config, { prefix: prefixes[0]! }, m.layout);
  const dims = [batch.length, config.numKvHeads, m.layout.prefixLength, config.headDim];
  for (let l = 0; l < config.numLayers; l++) {
    for (const [kind, name] of [['keys', 'key'], ['values', 'value']] as const) {
      const one = prefixes[0]![kind][l]!.length;
      const data = new Float32Array(batch.length * one);
      batch.forEach((_, b) => data.set(prefixes[choices[start + b]!]![kind][l]!, b * one));
      feeds[`past_key_values.${l}.${name}`] = float32(dims, data);
    }
  }
  return feeds;
}

function checkCompatible(base: DecoderConfig, other: DecoderConfig, label: string): void {
  const keys = ['numLayers', 'numHeads', 'hiddenSize', 'vocabSize'] as const;
  const bad = keys.filter((k) => base[k] !== other[k]);
  if (bad.length) {
    const what = bad.map((k) => `${k} ${other[k]} (base ${base[k]})`).join(', ');
    throw new RecallError('E_SHAPE_MISMATCH', `model '${label}' cannot be compared with the base: ${what}`, { label, fields: bad });
  }
}

function encodeInputs(o: AnalyzeOptions, base: ModelFolder): number[][] {
  if ((o.texts === undefined) === (o.tokenIds === undefined)) throw new RecallError('E_INVALID_ARGUMENT', 'give exactly one of texts or tokenIds', { field: 'texts' });
  let rows: number[][];
  if (o.texts) {
    if (!base.tokenizerPath) throw new RecallError('E_TOKENIZER', `${base.dir}: no tokenizer.json to encode the texts`, { file: base.dir });
    const tokenizer = Tokenizer.fromFolder(base.dir);
    rows = o.texts.map((t) => tokenizer.encode(t));
  } else {
    rows = o.tokenIds!.map((r) => [...r]);
  }
  if (o.maxTokens !== undefined) rows = rows.map((r) => r.slice(0, o.maxTokens));
  rows.forEach((r, i) => {
    if (r.length === 0) throw new RecallError('E_INVALID_ARGUMENT', `example ${i}: no tokens`, { example: i });
    const bad = r.find((t) => !Number.isInteger(t) || t < 0 || t >= base.config.vocabSize);
    if (bad !== undefined) throw new RecallError('E_INVALID_ARGUMENT', `example ${i}: token id ${bad} is outside the vocabulary [0, ${base.config.vocabSize})`, { example: i });
  });
  if (rows.length === 0) throw new RecallError('E_INVALID_ARGUMENT', 'no examples to analyse', { field: 'texts' });
  return rows;
}

function checkLengths(rows: number[][], config: DecoderConfig, layout: AdapterLayout, label: string): void {
  const room = config.maxPositions - layout.prefixLength - layout.promptLength;
  const i = rows.findIndex((r) => r.length > room);
  if (i >= 0) {
    throw new RecallError('E_INVALID_ARGUMENT', `example ${i}: ${rows[i]!.length} tokens do not fit ${label}'s ${config.maxPositions} positions after ${layout.prefixLength + layout.promptLength} adapter positions (use maxTokens)`, { example: i });
  }
}

/** The [rows, cols] top-left corner of head `head` of example `b` in attentions [B, H, R, C]. */
function cutMap(t: HostTensor, b: number, head: number, rows: number, cols: number): Float32Array {
  const [, H, R, C] = t.dims as [number, number, number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) out.set(src.subarray(((b * H + head) * R + i) * C, ((b * H + head) * R + i) * C + cols), i * cols);
  return out;
}

function mapTargets(o: AnalyzeOptions, layers: number, heads: number): { examples: number; layers: number[]; heads: number[] } {
  const ls = o.maps?.layers ?? [...new Set([0, Math.floor(layers / 2), layers - 1])];
  const hs = o.maps?.heads ?? [0];
  const bad = ls.find((l) => !Number.isInteger(l) || l < 0 || l >= layers) ?? hs.find((h) => !Number.isInteger(h) || h < 0 || h >= heads);
  if (bad !== undefined) throw new RecallError('E_INVALID_ARGUMENT', `attention map layer/head ${bad} is outside the model (${layers} layers, ${heads} heads)`, { field: 'maps' });
  return { examples: o.maps?.examples ?? 2, layers: ls, heads: hs };
}

export async function analyzeModels(o: AnalyzeOptions): Promise<AnalysisResult> {
  if (o.models.length === 0) throw new RecallError('E_INVALID_ARGUMENT', 'no models to compare with the base', { field: 'models' });
  const batchSize = o.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RecallError('E_INVALID_ARGUMENT', `batchSize must be an integer >= 1 (got ${batchSize})`, { field: 'batchSize' });
  const baseFolder = loadModelFolder(o.base);
  const open: OpenModel[] = [];
  let baseSession: RecallSession | undefined;
  try {
    const cfg = baseFolder.config;
    const rows = encodeInputs(o, baseFolder);
    const N = rows.length, L = cfg.numLayers, H = cfg.numHeads;
    const targets = mapTargets(o, L, H);
    for (const spec of o.models) {
      const folder = loadModelFolder(spec.dir);
      const idp = spec.adapter?.idp;
      if (idp && (spec.weightOverrides || spec.adapter!.softPrompt || spec.adapter!.prefix)) {
        folder.weights.close();
        throw new RecallError('E_INVALID_ARGUMENT', `model '${spec.label}': an IDP adapter is analysed alone (no weight overrides, soft prompt or prefix with it)`, { label: spec.label });
      }
      const E = folder.config.wordEmbedProjDim, n = idp?.numVirtualTokens ?? 0;
      if (idp && idp.pool.length !== idp.numPrompts * n * E) {
        folder.weights.close();
        throw new RecallError('E_SHAPE_MISMATCH', `model '${spec.label}': IDP pool has ${idp.pool.length} values, expected ${idp.numPrompts} x ${n} x ${E}`, { label: spec.label });
      }
      // IDP: a prefix of n positions (the chosen prompt's KV).
      const layout = idp ? { promptLength: 0, prefixLength: n } : adapterLayout(folder.config, spec.adapter, spec.label);
      open.push({ spec, folder, layout, acc: new SimilarityAccumulator(N, L, H, !!o.cka), maps: [] });
      checkCompatible(cfg, folder.config, spec.label);
      checkLengths(rows, folder.config, layout, spec.label);
      if (idp) open.at(-1)!.idp = await idpSelections(folder, idp, rows, o);
    }
    checkLengths(rows, cfg, { promptLength: 0, prefixLength: 0 }, 'the base');
    baseSession = await openAnalysisSession(baseFolder, { softPrompt: false, pastKeyValues: false }, o);
    for (const m of open) {
      const a = m.spec.adapter;
      m.session = await openAnalysisSession(m.folder, {
        softPrompt: !!a?.softPrompt, pastKeyValues: !!a?.prefix || !!a?.idp,
        ...(a?.lora ? { lora: a.lora } : {}), ...(m.spec.weightOverrides ? { weightOverrides: m.spec.weightOverrides } : {}),
      }, o);
    }
    const fetches = analysisFetches(L);
    const baseMaps: AttentionMap[] = [];
    for (let start = 0; start < N; start += batchSize) {
      o.signal?.throwIfAborted();
      const batch = rows.slice(start, start + batchSize);
      const baseOut = await baseSession.run(batchFeeds(batch, cfg, undefined, { promptLength: 0, prefixLength: 0 }), fetches);
      collectMaps(baseOut, batch, start, targets, { promptLength: 0, prefixLength: 0 }, baseMaps);
      for (const m of open) {
        o.signal?.throwIfAborted();
        const feeds = m.idp ? idpFeeds(batch, start, m.folder.config, m) : batchFeeds(batch, m.folder.config, m.spec.adapter, m.layout);
        const out = await m.session!.run(feeds, fetches);
        compareBatch(out, baseOut, batch, start, m);
        collectMaps(out, batch, start, targets, m.layout, m.maps);
      }
      o.onProgress?.({ examplesDone: Math.min(N, start + batchSize), examplesTotal: N });
    }
    return {
      base: { dir: o.base, layers: L, heads: H, hiddenSize: cfg.hiddenSize },
      examples: rows,
      models: open.map((m): ModelAnalysis => ({
        ...m.acc.summarize(m.spec.label, m.spec.dir, m.layout.promptLength, m.layout.prefixLength, m.maps),
        ...(m.idp ? { idp: { choices: m.idp.choices, scores: m.idp.scores } } : {}),
      })),
      baseMaps,
    };
  } finally {
    await baseSession?.release();
    for (const m of open) {
      await m.session?.release();
      m.folder.weights.close();
    }
    baseFolder.weights.close();
  }
}

/** Per-example similarities of one batch of model outputs against the base's. */
function compareBatch(out: Record<string, HostTensor>, baseOut: Record<string, HostTensor>, batch: number[][], start: number, m: OpenModel): void {
  const { promptLength: n, prefixLength: p } = m.layout;
  for (let l = 0; l < m.acc.layers; l++) {
    const att = out[`attentions.${l}`]!, baseAtt = baseOut[`attentions.${l}`]!;
    const hid = out[`hidden_states.${l}`]!, baseHid = baseOut[`hidden_states.${l}`]!;
    batch.forEach((row, b) => {
      const length = row.length;
      const mA: AttentionBlock = { data: att.data as Float32Array, dims: att.dims as [number, number, number, number], example: b, rowOffset: n, colOffset: p + n, length };
      const bA: AttentionBlock = { data: baseAtt.data as Float32Array, dims: baseAtt.dims as [number, number, number, number], example: b, rowOffset: 0, colOffset: 0, length };
      m.acc.setAttention(start + b, l, attentionCosinePerHead(mA, bA));
      const mH: HiddenBlock = { data: hid.data as Float32Array, dims: hid.dims as [number, number, number], example: b, rowOffset: n, length };
      const bH: HiddenBlock = { data: baseHid.data as Float32Array, dims: baseHid.dims as [number, number, number], example: b, rowOffset: 0, length };
      m.acc.setActivation(start + b, l, activationCosine(mH, bH));
      if (m.acc.cka) {
        const d = hid.dims[2]!;
        m.acc.setCka(start + b, l, linearCka(inputRows(mH), inputRows(bH), length, d, baseHid.dims[2]!));
      }
    });
  }
}

function collectMaps(
  out: Record<string, HostTensor>, batch: number[][], start: number,
  targets: { examples: number; layers: number[]; heads: number[] }, layout: AdapterLayout, into: AttentionMap[],
): void {
  const { promptLength: n, prefixLength: p } = layout;
  batch.forEach((row, b) => {
    const example = start + b;
    if (example >= targets.examples) return;
    const rows = n + row.length, cols = p + n + row.length;
    for (const layer of targets.layers) {
      for (const head of targets.heads) {
        const map = cutMap(out[`attentions.${layer}`]!, b, head, rows, cols);
        into.push({ example, layer, head, map: { shape: [rows, cols], data: map }, inputRow: n, inputCol: p + n });
      }
    }
  });
}
