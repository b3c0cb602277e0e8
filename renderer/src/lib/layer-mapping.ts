// From runs.similarity answers (one per analyze run) to what the Layers view draws: one line per
// analysed variant with a ± one standard deviation band, per measure; and per example with kept
// maps, the base model's attention beside each variant's on the text x text block. Pure.

import type { AttentionMapInfo, RunSimilarityInfo, SimilarityMeasure } from '../../../main/contract/index.ts';
import type { AttentionHeatmapData } from '../charts/attention-heatmap.ts';
import type { LayerSeries } from '../charts/layer-similarity.ts';
import type { LayerData, LayerPrompt } from './workbench-types.ts';

const METRICS: { measure: SimilarityMeasure; id: LayerData['metrics'][number]['id']; label: string }[] = [
  { measure: 'attention-cos', id: 'attention', label: 'Attention cosine' },
  { measure: 'activation-cos', id: 'activation', label: 'Hidden-state cosine' },
  { measure: 'cka', id: 'cka', label: 'Linear CKA' },
];

/** "analyze gptq-3bit+prompt" -> "gptq-3bit+prompt". */
export function variantLabel(runName: string): string {
  return runName.replace(/^analyze\s+/, '') || runName;
}

const num = (v: number | null | undefined): number => (v === null || v === undefined ? NaN : v);

function seriesOf(run: RunSimilarityInfo, measure: SimilarityMeasure): LayerSeries[] {
  return run.models.flatMap((m) => {
    const info = m.measures.find((x) => x.measure === measure);
    if (!info) return [];
    const mean = info.layers.mean.map(num);
    const sd = info.layers.std.map(num);
    // An analyze job compares one model, labelled 'model': the run's variant names the line.
    const label = run.models.length === 1 ? variantLabel(run.name) : `${variantLabel(run.name)} · ${m.label}`;
    return [{ label, mean, lo: mean.map((v, i) => v - sd[i]!), hi: mean.map((v, i) => Math.min(1, v + sd[i]!)) }];
  });
}

/** The text x text block of a map: a soft prompt's or prefix's rows and columns dropped. */
export function inputBlock(m: AttentionMapInfo): number[][] {
  return m.values.slice(m.inputRow).map((row) => row.slice(m.inputCol));
}

const key = (m: AttentionMapInfo) => `e${m.example}-l${m.layer}-h${m.head}`;

function heatmapsOf(runs: RunSimilarityInfo[], example: number): AttentionHeatmapData[] {
  const first = runs[0]!;
  const bases = first.maps.filter((m) => m.owner === 'base' && m.example === example).sort((a, b) => a.layer - b.layer || a.head - b.head);
  return bases.map((base) => {
    const n = base.shape[0];
    const tokens = first.tokens[example]?.length === n ? first.tokens[example]! : Array.from({ length: n }, (_, i) => `t${i}`);
    const panels = [{ label: 'Base model', values: base.values }];
    for (const run of runs) {
      for (const m of run.maps.filter((x) => x.owner !== 'base' && key(x) === key(base))) {
        const block = inputBlock(m);
        // Only runs that read the same text line up with the base map.
        if (block.length === n) panels.push({ label: variantLabel(run.name), values: block });
      }
    }
    return { title: `Layer ${base.layer} · head ${base.head}`, tokens, panels };
  });
}

export function layersFromSimilarity(runs: RunSimilarityInfo[]): Pick<LayerData, 'models' | 'metrics' | 'prompts' | 'heatmaps'> {
  const metrics = METRICS.map(({ measure, id, label }) => ({ id, label, series: runs.flatMap((r) => seriesOf(r, measure)) })).filter((m) => m.series.length > 0);
  const first = runs[0];
  const examples = first ? [...new Set(first.maps.filter((m) => m.owner === 'base').map((m) => m.example))].sort((a, b) => a - b) : [];
  const prompts: LayerPrompt[] = examples.map((e) => ({
    id: `e${e}`,
    text: (first!.texts[e] ?? `example ${e + 1}`).replace(/\s+/g, ' ').trim(),
    reason: `Example ${e + 1} of ${first!.task ?? 'the given texts'} (first ${examples.length} kept with maps)`,
  }));
  return {
    models: runs.map((r) => variantLabel(r.name)),
    metrics,
    prompts,
    heatmaps: Object.fromEntries(examples.map((e) => [`e${e}`, heatmapsOf(runs, e)])),
  };
}
