// Per-layer similarity to the base model: one line per model (mean over examples) with a band
// for the spread (mean ± std, or the interquartile range), x = layer, y = cosine (or CKA).

import { area, extent, line, scaleLinear } from 'd3';
import { axisLabels, bottomAxis, leftAxis, legend, marginFor, title } from './axes.ts';
import { el, svgRoot, type SvgNode } from './svg-model.ts';
import { seriesColor, type ChartOptions } from './theme.ts';

export interface LayerSeries {
  label: string;
  mean: number[];
  /** Band edges per layer (e.g. mean - std / q1); omitted for no band. */
  lo?: number[];
  hi?: number[];
}

export interface LayerSimilarityData {
  title?: string;
  /** Axis label, e.g. "Attention cosine". */
  metric: string;
  series: LayerSeries[];
}

export function layerSimilarityChart(data: LayerSimilarityData, o: ChartOptions): SvgNode {
  const { width, height, fontSize: f, unit } = o.size;
  const p = o.palette;
  const m = marginFor(f, { top: data.title ? 4 : 2.6 });
  const layers = Math.max(1, ...data.series.map((s) => s.mean.length));
  const values = data.series.flatMap((s) => [...s.mean, ...(s.lo ?? []), ...(s.hi ?? [])]).filter(Number.isFinite);
  const [lo = 0, hi = 1] = extent(values);
  const y = scaleLinear().domain([Math.min(lo, 1) - 0.02, Math.max(hi, lo + 0.05)]).nice(5).range([height - m.bottom, m.top]);
  const x = scaleLinear().domain([0, Math.max(1, layers - 1)]).range([m.left, width - m.right]);
  const children: SvgNode[] = [
    ...title(data.title, m.left, f, p),
    leftAxis(y, m.left, width - m.right, f, p, 5),
    bottomAxis(x, height - m.bottom, f, p, Math.min(layers, 12), (v) => (Number.isInteger(v) ? String(v) : '')),
    ...axisLabels({ x: 'Layer', y: data.metric, width, height, margin: m, fontSize: f, palette: p }),
  ];
  data.series.forEach((s, i) => {
    const color = seriesColor(p, i);
    const g: SvgNode[] = [];
    if (s.lo && s.hi) {
      const band = area<number>()
        .defined((_, j) => Number.isFinite(s.lo![j]!) && Number.isFinite(s.hi![j]!))
        .x((_, j) => x(j))
        .y0((_, j) => y(s.lo![j]!))
        .y1((_, j) => y(s.hi![j]!))
        .digits(2);
      g.push(el('path', { d: band(s.mean) ?? '', fill: color, 'fill-opacity': 0.16, stroke: 'none' }));
    }
    const path = line<number>().defined(Number.isFinite).x((_, j) => x(j)).y((v) => y(v)).digits(2);
    g.push(el('path', { d: path(s.mean) ?? '', fill: 'none', stroke: color, 'stroke-width': f * 0.15, 'stroke-linejoin': 'round' }));
    if (layers <= 40) {
      s.mean.forEach((v, j) => {
        if (Number.isFinite(v)) g.push(el('circle', { cx: x(j), cy: y(v), r: f * 0.2, fill: color }));
      });
    }
    children.push(el('g', { class: 'series', 'data-label': s.label }, g));
  });
  children.push(legend(data.series.map((s, i) => ({ label: s.label, color: seriesColor(p, i) })), m.left, data.title ? f * 2.7 : f * 1.1, f, p));
  return svgRoot(width, height, f, p.background, children, data.title ?? `${data.metric} by layer`, unit);
}
