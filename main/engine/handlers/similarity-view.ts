// From the analyze run's stored arrays (main/engine/analysis/result.ts similarityArrays) to the
// runs.similarity answer. Pure: typed arrays and shapes in, plain JSON-safe values out (NaN,
// the store's "undefined for this example", becomes null).

import type { AttentionMapInfo, LayerSpreadInfo, SimilarityMeasure } from '../../contract/index.ts';

export interface StoredArray {
  shape: number[];
  data: ArrayLike<number>;
}

/** The rows of a `-stats` array [7, L], in spreadArray's order. */
const SPREAD_ROWS = ['mean', 'std', 'min', 'q1', 'median', 'q3', 'max'] as const;

export const MEASURES: readonly SimilarityMeasure[] = ['attention-cos', 'activation-cos', 'cka'];

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** A `{label}/{measure}-stats` array [7, L] as one list per statistic. */
export function spreadsFromStats(a: StoredArray): LayerSpreadInfo {
  const [rows, L] = a.shape as [number, number];
  if (a.shape.length !== 2 || rows !== SPREAD_ROWS.length) throw new Error(`expected a [7, layers] stats array, got [${a.shape.join(', ')}]`);
  const row = (r: number) => Array.from({ length: L }, (_, l) => finite(a.data[r * L + l]!));
  return { mean: row(0), std: row(1), min: row(2), q1: row(3), median: row(4), q3: row(5), max: row(6) };
}

/** Mean and (population) std over examples of `{label}/attention-cos` [N, L, H], as [L][H]; undefined values skipped. */
export function headSpreads(a: StoredArray): { mean: (number | null)[][]; std: (number | null)[][] } {
  const [N, L, H] = a.shape as [number, number, number];
  if (a.shape.length !== 3) throw new Error(`expected an [examples, layers, heads] array, got [${a.shape.join(', ')}]`);
  const mean: (number | null)[][] = [], std: (number | null)[][] = [];
  for (let l = 0; l < L; l++) {
    const m: (number | null)[] = [], s: (number | null)[] = [];
    for (let h = 0; h < H; h++) {
      let n = 0, sum = 0, sq = 0;
      for (let e = 0; e < N; e++) {
        const v = a.data[(e * L + l) * H + h]!;
        if (!Number.isFinite(v)) continue;
        n++;
        sum += v;
        sq += v * v;
      }
      const mu = n ? sum / n : NaN;
      m.push(finite(mu));
      s.push(n ? Math.sqrt(Math.max(0, sq / n - mu * mu)) : null);
    }
    mean.push(m);
    std.push(s);
  }
  return { mean, std };
}

export interface MapKind {
  owner: string;
  example: number;
  layer: number;
  head: number;
}

/** `{owner}/attention-map/e{E}-l{L}-h{H}` to its parts; null for any other kind. */
export function parseMapKind(kind: string): MapKind | null {
  const m = /^(.+)\/attention-map\/e(\d+)-l(\d+)-h(\d+)$/.exec(kind);
  return m ? { owner: m[1]!, example: Number(m[2]), layer: Number(m[3]), head: Number(m[4]) } : null;
}

/** `{label}/{measure}-stats` to its parts; null for any other kind. */
export function parseStatsKind(kind: string): { label: string; measure: SimilarityMeasure } | null {
  const m = /^(.+)\/(attention-cos|activation-cos|cka)-stats$/.exec(kind);
  return m ? { label: m[1]!, measure: m[2] as SimilarityMeasure } : null;
}

/**
 * A stored map [rows, cols] as rows of numbers. A soft prompt or prefix puts its positions
 * before the text, so the text x text block is the bottom-right corner of the size of the base
 * model's map of the same example ([T, T]); without that base map it starts at 0, 0.
 */
export function mapInfo(k: MapKind, a: StoredArray, baseTokens: number | null): AttentionMapInfo {
  const [rows, cols] = a.shape as [number, number];
  const values = Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => finite(a.data[r * cols + c]!) ?? 0));
  const t = k.owner === 'base' || baseTokens === null ? null : baseTokens;
  return { ...k, shape: [rows, cols], inputRow: t === null ? 0 : Math.max(0, rows - t), inputCol: t === null ? 0 : Math.max(0, cols - t), values };
}

/** A byte-level BPE / SentencePiece piece as readable text ('Ġthe' -> 'the', 'Ċ' -> '\n'). */
export function displayToken(piece: string): string {
  const s = piece.replace(/^[Ġ▁]/, '').replace(/Ċ/g, '\\n').replace(/ĉ/g, '\\t');
  return s === '' ? '␣' : s;
}
