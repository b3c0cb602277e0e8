// Attention maps side by side: the base model and the compressed (or recovered) model for the
// same example, layer and head, on one colour scale, with a colour bar. Rows attend to
// columns (query x key); the causal upper triangle is simply zero.

import { interpolateRgbBasis, scaleBand, scaleSequential } from 'd3';
import { approxTextWidth, marginFor, title } from './axes.ts';
import { el, svgRoot, text, type SvgNode } from './svg-model.ts';
import type { ChartOptions } from './theme.ts';

export interface HeatmapPanel {
  label: string;
  /** [rows][cols] attention probabilities. */
  values: number[][];
}

export interface AttentionHeatmapData {
  title?: string;
  /** Token strings for rows and columns (the same tokens for a plain prompt). */
  tokens: string[];
  panels: HeatmapPanel[];
}

export function attentionHeatmapChart(data: AttentionHeatmapData, o: ChartOptions): SvgNode {
  const { width, height, fontSize: f, unit } = o.size;
  const p = o.palette;
  const n = data.tokens.length;
  const tick = f * 0.75;
  const labelWidth = Math.min(f * 6, Math.max(...data.tokens.map((t) => approxTextWidth(t, tick)), f)) + f * 0.6;
  const m = marginFor(f, { top: data.title ? 4.4 : 2.8, left: 0, bottom: 0.8, right: 0 });
  const barWidth = f * 4.2;
  const gap = f * 1.5;
  const panels = data.panels.length;
  const side = Math.max(10, Math.min(height - m.top - m.bottom - labelWidth, (width - barWidth - labelWidth * panels - gap * panels) / panels));
  const color = scaleSequential(interpolateRgbBasis([...p.ramp])).domain([0, 1]);
  // Centre the panels and the colour bar in the width.
  const used = panels * (side + labelWidth + gap) + barWidth;
  const left = Math.max(0, (width - used) / 2);
  const children: SvgNode[] = [...title(data.title, f * 0.2, f, p)];
  data.panels.forEach((panel, pi) => {
    const x0 = left + labelWidth + pi * (side + labelWidth + gap);
    const y0 = m.top;
    const band = scaleBand<number>().domain([...Array(n).keys()]).range([0, side]);
    const cells: SvgNode[] = [];
    panel.values.forEach((row, r) =>
      row.forEach((v, c) => {
        const attrs = { x: band(c)!, y: band(r)!, width: band.bandwidth() + 0.05, height: band.bandwidth() + 0.05, fill: color(Math.max(0, Math.min(1, v))) };
        cells.push({ tag: 'rect', attrs, children: [{ tag: 'title', attrs: {}, text: `${data.tokens[r]} → ${data.tokens[c]}: ${v.toFixed(3)}` }] });
      }),
    );
    const labels: SvgNode[] = [];
    const showEvery = Math.max(1, Math.ceil((tick * 1.1) / band.bandwidth()));
    data.tokens.forEach((t, i) => {
      if (i % showEvery) return;
      const mid = band(i)! + band.bandwidth() / 2;
      labels.push(text({ x: -f * 0.3, y: mid + tick * 0.33, 'text-anchor': 'end', fill: p.muted, 'font-size': tick }, t));
      labels.push(text({ x: 0, y: 0, transform: `translate(${mid + tick * 0.33},${side + f * 0.3}) rotate(90)`, fill: p.muted, 'font-size': tick }, t));
    });
    children.push(
      el('g', { class: 'panel', transform: `translate(${x0},${y0})` }, [
        text({ x: side / 2, y: -f * 0.6, 'text-anchor': 'middle', fill: p.text, 'font-size': f }, panel.label),
        el('g', { class: 'cells' }, cells),
        el('rect', { x: 0, y: 0, width: side, height: side, fill: 'none', stroke: p.axis, 'stroke-width': 0.5 }),
        ...labels,
      ]),
    );
  });
  // Colour bar: 20 steps from 0 to 1.
  const bx = left + labelWidth + panels * (side + labelWidth + gap) - labelWidth + f * 0.2;
  const steps = 20, bh = side / steps;
  const bar: SvgNode[] = [...Array(steps).keys()].map((i) =>
    el('rect', { x: 0, y: side - (i + 1) * bh, width: f * 0.9, height: bh + 0.05, fill: color((i + 0.5) / steps) }),
  );
  for (const v of [0, 0.5, 1]) bar.push(text({ x: f * 1.3, y: side - v * side + f * 0.3, fill: p.muted, 'font-size': tick }, v.toFixed(1)));
  children.push(el('g', { class: 'colorbar', transform: `translate(${bx},${m.top})` }, bar));
  return svgRoot(width, height, f, p.background, children, data.title ?? 'Attention maps', unit);
}
