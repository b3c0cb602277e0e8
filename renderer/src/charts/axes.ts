// Axes, grid lines and legends shared by the charts, built as SVG model nodes. Sizes scale
// with the chart's font size so a 3.5 in figure and a screen chart keep their proportions.

import type { ScaleBand, ScaleLinear, ScaleLogarithmic } from 'd3';
import { el, text, type SvgNode } from './svg-model.ts';
import type { ChartPalette } from './theme.ts';

export interface Margin {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** Margins in units of the font size, so they scale with it. */
export function marginFor(fontSize: number, o: Partial<Margin> = {}): Margin {
  return { top: fontSize * (o.top ?? 2.4), right: fontSize * (o.right ?? 1.2), bottom: fontSize * (o.bottom ?? 3.2), left: fontSize * (o.left ?? 4.2) };
}

type NumberScale = ScaleLinear<number, number> | ScaleLogarithmic<number, number>;

export function leftAxis(y: NumberScale, x0: number, x1: number, fontSize: number, p: ChartPalette, ticks = 5, format?: (v: number) => string): SvgNode {
  const fmt = format ?? y.tickFormat(ticks);
  const nodes: SvgNode[] = [];
  for (const t of y.ticks(ticks)) {
    const yy = y(t);
    nodes.push(el('line', { x1: x0, x2: x1, y1: yy, y2: yy, stroke: p.grid, 'stroke-width': 0.5 }));
    nodes.push(text({ x: x0 - fontSize * 0.4, y: yy + fontSize * 0.33, 'text-anchor': 'end', fill: p.muted, 'font-size': fontSize * 0.85 }, fmt(t)));
  }
  return el('g', { class: 'axis axis-y' }, nodes);
}

export function bottomAxis(x: NumberScale, y0: number, fontSize: number, p: ChartPalette, ticks = 8, format?: (v: number) => string): SvgNode {
  const fmt = format ?? x.tickFormat(ticks);
  const [r0, r1] = x.range() as [number, number];
  const nodes: SvgNode[] = [el('line', { x1: r0, x2: r1, y1: y0, y2: y0, stroke: p.axis, 'stroke-width': 0.75 })];
  for (const t of x.ticks(ticks)) {
    const xx = x(t);
    nodes.push(el('line', { x1: xx, x2: xx, y1: y0, y2: y0 + fontSize * 0.35, stroke: p.axis, 'stroke-width': 0.75 }));
    nodes.push(text({ x: xx, y: y0 + fontSize * 1.3, 'text-anchor': 'middle', fill: p.muted, 'font-size': fontSize * 0.85 }, fmt(t)));
  }
  return el('g', { class: 'axis axis-x' }, nodes);
}

export function bandAxis(x: ScaleBand<string>, y0: number, fontSize: number, p: ChartPalette, every = 1): SvgNode {
  const [r0, r1] = x.range() as [number, number];
  const nodes: SvgNode[] = [el('line', { x1: r0, x2: r1, y1: y0, y2: y0, stroke: p.axis, 'stroke-width': 0.75 })];
  x.domain().forEach((d, i) => {
    if (i % every !== 0) return;
    const xx = x(d)! + x.bandwidth() / 2;
    nodes.push(text({ x: xx, y: y0 + fontSize * 1.3, 'text-anchor': 'middle', fill: p.muted, 'font-size': fontSize * 0.85 }, d));
  });
  return el('g', { class: 'axis axis-x' }, nodes);
}

export function axisLabels(o: { x?: string; y?: string; width: number; height: number; margin: Margin; fontSize: number; palette: ChartPalette }): SvgNode[] {
  const { margin: m, fontSize: f, palette: p } = o;
  const out: SvgNode[] = [];
  if (o.x) out.push(text({ x: m.left + (o.width - m.left - m.right) / 2, y: o.height - f * 0.6, 'text-anchor': 'middle', fill: p.text, 'font-size': f }, o.x));
  if (o.y) {
    const cx = f * 1.1, cy = m.top + (o.height - m.top - m.bottom) / 2;
    out.push(text({ x: 0, y: 0, transform: `translate(${cx},${cy}) rotate(-90)`, 'text-anchor': 'middle', fill: p.text, 'font-size': f }, o.y));
  }
  return out;
}

/** A horizontal legend along the top edge, left to right from x. */
export function legend(items: { label: string; color: string; kind?: 'line' | 'dot' | 'square' }[], x: number, y: number, fontSize: number, p: ChartPalette): SvgNode {
  const nodes: SvgNode[] = [];
  let cx = x;
  for (const it of items) {
    const sw = fontSize * 1.2;
    if (it.kind === 'dot') nodes.push(el('circle', { cx: cx + sw / 2, cy: y, r: fontSize * 0.3, fill: it.color }));
    else if (it.kind === 'square') nodes.push(el('rect', { x: cx + sw / 2 - fontSize * 0.35, y: y - fontSize * 0.35, width: fontSize * 0.7, height: fontSize * 0.7, fill: it.color }));
    else nodes.push(el('line', { x1: cx, x2: cx + sw, y1: y, y2: y, stroke: it.color, 'stroke-width': fontSize * 0.18 }));
    nodes.push(text({ x: cx + sw + fontSize * 0.35, y: y + fontSize * 0.33, fill: p.text, 'font-size': fontSize * 0.85 }, it.label));
    cx += sw + fontSize * 0.35 + approxTextWidth(it.label, fontSize * 0.85) + fontSize * 1.1;
  }
  return el('g', { class: 'legend' }, nodes);
}

/** Width of a Helvetica string (average advance 0.55 em); layout only, the PDF measures exactly. */
export function approxTextWidth(s: string, fontSize: number): number {
  return s.length * fontSize * 0.55;
}

export function title(s: string | undefined, x: number, fontSize: number, p: ChartPalette): SvgNode[] {
  return s ? [text({ x, y: fontSize * 1.2, fill: p.text, 'font-size': fontSize * 1.05, 'font-weight': 'bold' }, s)] : [];
}
