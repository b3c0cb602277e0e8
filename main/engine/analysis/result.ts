// What an analysis returns, and how per-example similarities become per-layer summaries.
// Arrays meant for storage are plain { shape, data: Float32Array } (row-major), so the run
// store can keep them as float32 blobs with their shapes (store/similarity.ts).

import { type Spread, spread } from './similarity.ts';

export interface FloatArray {
  shape: number[];
  data: Float32Array;
}

/** One Spread field per layer: mean[l], std[l], ... over examples. */
export interface LayerSpreads {
  mean: number[];
  std: number[];
  min: number[];
  q1: number[];
  median: number[];
  q3: number[];
  max: number[];
  /** Examples with a defined value, per layer. */
  count: number[];
}

export interface AttentionMap {
  example: number;
  layer: number;
  head: number;
  /**
   * The example's attention probabilities, padding removed: [rows, cols] with
   * rows = prompt + tokens, cols = prefix + prompt + tokens (base model: [tokens, tokens]).
   */
  map: FloatArray;
  /** Where the input x input block starts in `map`. */
  inputRow: number;
  inputCol: number;
}

export interface ModelSimilarity {
  label: string;
  dir: string;
  /** Soft-prompt positions n and prefix positions p that were dropped. */
  promptLength: number;
  prefixLength: number;
  /** Attention cosine averaged over heads, per layer; perHead is [L][H] (mean and std over examples). */
  attention: LayerSpreads & { perHead: { mean: number[][]; std: number[][] } };
  /** Hidden-state cosine averaged over tokens, per layer. */
  activation: LayerSpreads;
  /** Linear CKA over each example's tokens, per layer (when asked for). */
  cka?: LayerSpreads;
  perExample: {
    /** [examples, layers, heads] */
    attention: FloatArray;
    /** [examples, layers] */
    activation: FloatArray;
    /** [examples, layers] */
    cka?: FloatArray;
  };
  maps: AttentionMap[];
}

export interface AnalysisResult {
  base: { dir: string; layers: number; heads: number; hiddenSize: number };
  /** The token ids of each example as both models saw them (BOS framing included). */
  examples: number[][];
  models: ModelSimilarity[];
  /** The base model's attention maps for the same (example, layer, head) triples as each model's `maps`. */
  baseMaps: AttentionMap[];
}

/** Per-example values of one model, filled batch by batch. */
export class SimilarityAccumulator {
  readonly attention: Float32Array;
  readonly activation: Float32Array;
  readonly cka: Float32Array | undefined;

  constructor(readonly examples: number, readonly layers: number, readonly heads: number, withCka: boolean) {
    this.attention = new Float32Array(examples * layers * heads).fill(NaN);
    this.activation = new Float32Array(examples * layers).fill(NaN);
    this.cka = withCka ? new Float32Array(examples * layers).fill(NaN) : undefined;
  }

  setAttention(example: number, layer: number, perHead: Float64Array): void {
    this.attention.set(perHead, (example * this.layers + layer) * this.heads);
  }

  setActivation(example: number, layer: number, value: number): void {
    this.activation[example * this.layers + layer] = value;
  }

  setCka(example: number, layer: number, value: number): void {
    if (this.cka) this.cka[example * this.layers + layer] = value;
  }

  /** Mean over heads of example e at layer l (the per-example attention similarity). */
  headMean(example: number, layer: number): number {
    let s = 0;
    const at = (example * this.layers + layer) * this.heads;
    for (let h = 0; h < this.heads; h++) s += this.attention[at + h]!;
    return s / this.heads;
  }

  summarize(label: string, dir: string, promptLength: number, prefixLength: number, maps: AttentionMap[]): ModelSimilarity {
    const { examples: N, layers: L, heads: H } = this;
    const column = (f: (e: number) => number) => Array.from({ length: N }, (_, e) => f(e));
    const attention = layerSpreads(Array.from({ length: L }, (_, l) => spread(column((e) => this.headMean(e, l)))));
    const headSpreads = Array.from({ length: L }, (_, l) =>
      Array.from({ length: H }, (_, h) => spread(column((e) => this.attention[(e * L + l) * H + h]!))));
    const activation = layerSpreads(Array.from({ length: L }, (_, l) => spread(column((e) => this.activation[e * L + l]!))));
    const cka = this.cka;
    return {
      label, dir, promptLength, prefixLength,
      attention: { ...attention, perHead: { mean: headSpreads.map((r) => r.map((s) => s.mean)), std: headSpreads.map((r) => r.map((s) => s.std)) } },
      activation,
      ...(cka ? { cka: layerSpreads(Array.from({ length: L }, (_, l) => spread(column((e) => cka[e * L + l]!)))) } : {}),
      perExample: {
        attention: { shape: [N, L, H], data: this.attention },
        activation: { shape: [N, L], data: this.activation },
        ...(cka ? { cka: { shape: [N, L], data: cka } } : {}),
      },
      maps,
    };
  }
}

function layerSpreads(perLayer: Spread[]): LayerSpreads {
  const pick = (k: keyof Spread) => perLayer.map((s) => s[k]);
  return { mean: pick('mean'), std: pick('std'), min: pick('min'), q1: pick('q1'), median: pick('median'), q3: pick('q3'), max: pick('max'), count: pick('count') };
}

const SPREAD_ROWS = ['mean', 'std', 'min', 'q1', 'median', 'q3', 'max'] as const;

/** A LayerSpreads as one [7, L] array, rows mean, std, min, q1, median, q3, max. */
export function spreadArray(s: LayerSpreads): FloatArray {
  const L = s.mean.length;
  const data = new Float32Array(SPREAD_ROWS.length * L);
  SPREAD_ROWS.forEach((k, r) => data.set(s[k], r * L));
  return { shape: [SPREAD_ROWS.length, L], data };
}

/**
 * Every array of a result under a stable kind name, ready for the run store:
 *   `{label}/attention-cos` [examples, layers, heads], `{label}/activation-cos` [examples, layers],
 *   `{label}/cka` [examples, layers], `{label}/attention-cos-stats` (and -activation, -cka) [7, layers],
 *   `{label}/attention-map/e{E}-l{L}-h{H}` [rows, cols], `base/attention-map/e{E}-l{L}-h{H}` [T, T].
 */
export function similarityArrays(result: AnalysisResult): { kind: string; array: FloatArray }[] {
  const out: { kind: string; array: FloatArray }[] = [];
  const mapKind = (owner: string, m: AttentionMap) => `${owner}/attention-map/e${m.example}-l${m.layer}-h${m.head}`;
  for (const m of result.models) {
    out.push({ kind: `${m.label}/attention-cos`, array: m.perExample.attention });
    out.push({ kind: `${m.label}/activation-cos`, array: m.perExample.activation });
    if (m.perExample.cka) out.push({ kind: `${m.label}/cka`, array: m.perExample.cka });
    out.push({ kind: `${m.label}/attention-cos-stats`, array: spreadArray(m.attention) });
    out.push({ kind: `${m.label}/activation-cos-stats`, array: spreadArray(m.activation) });
    if (m.cka) out.push({ kind: `${m.label}/cka-stats`, array: spreadArray(m.cka) });
    for (const map of m.maps) out.push({ kind: mapKind(m.label, map), array: map.map });
  }
  for (const map of result.baseMaps) out.push({ kind: mapKind('base', map), array: map.map });
  return out;
}
