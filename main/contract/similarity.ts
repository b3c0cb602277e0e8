// What runs.similarity answers: the similarity arrays an analyze run stored (the kinds of
// main/engine/analysis/result.ts similarityArrays), read back per model and measure, with the
// attention maps it kept. Plain data, no zod (the renderer imports these types).

/** The measures an analysis stores per layer (cka only when the run asked for it). */
export type SimilarityMeasure = 'attention-cos' | 'activation-cos' | 'cka';

/** One value per layer of each spread statistic over the examples (NaN-free: null where undefined). */
export interface LayerSpreadInfo {
  mean: (number | null)[];
  std: (number | null)[];
  min: (number | null)[];
  q1: (number | null)[];
  median: (number | null)[];
  q3: (number | null)[];
  max: (number | null)[];
}

export interface SimilarityMeasureInfo {
  measure: SimilarityMeasure;
  /** From `{label}/{measure}-stats` [7, layers]. */
  layers: LayerSpreadInfo;
  /** attention-cos only: mean and std over examples of `{label}/attention-cos` [examples, layers, heads], as [layers][heads]. */
  perHead?: { mean: (number | null)[][]; std: (number | null)[][] };
}

/** One compared model of the run (an analyze job stores one, labelled 'model'). */
export interface SimilarityModelInfo {
  label: string;
  measures: SimilarityMeasureInfo[];
}

/** A kept attention map, [rows][cols] query x key probabilities. */
export interface AttentionMapInfo {
  /** 'base' or a model's label. */
  owner: string;
  example: number;
  layer: number;
  head: number;
  shape: [number, number];
  /**
   * Where the input x input block starts: a soft prompt or prefix adds rows/columns before the
   * text (the base map is the text alone, so its block starts at 0, 0).
   */
  inputRow: number;
  inputCol: number;
  values: number[][];
}

export interface RunSimilarityInfo {
  runId: number;
  name: string;
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  /** The compressed or recovered run analysed against its base model. */
  inputRunId: number | null;
  /** The task the texts came from (null when texts were given). */
  task: string | null;
  examples: number;
  layers: number;
  heads: number;
  models: SimilarityModelInfo[];
  /** The texts of the examples that have attention maps, by example index. */
  texts: Record<number, string>;
  /** Their tokens as the base model saw them (BOS framing included), when the tokenizer could be read. */
  tokens: Record<number, string[]>;
  maps: AttentionMapInfo[];
  /** Every stored array of the run with its shape. */
  arrays: { kind: string; shape: number[] }[];
}
