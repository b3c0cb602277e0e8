// The compression log: relative output error ||(W - Q)X||² / ||WX||² of every compressed
// module, by layer, grouped by module (q/k/v/o, gate/up/down...). Grouped bars while they fit,
// dots when there are too many layers for bars to read. Skipped (dense) modules are left out.

import { max, scaleBand, scaleLinear } from 'd3';
import { axisLabels, bandAxis, leftAxis, legend, marginFor, title } from './axes.ts';
import { el, svgRoot, type SvgNode } from './svg-model.ts';
import { seriesColor, type ChartOptions } from './theme.ts';

export interface CompressionLogEntry {
  layer: number;
  /** Short module name, e.g. "q_proj". */
  module: string;
  relError: number;
  skipped?: boolean;
}

export interface CompressionLogData {
  title?: string;
  entries: CompressionLogEntry[];
  /** 'auto' picks bars up to 160 marks, dots beyond. */
  mark?: 'bars' | 'dots' | 'auto';
}

export function compressionLogChart(data: CompressionLogData, o: ChartOptions): SvgNode {
  const { width, height, fontSize: f, unit } = o.size;
  const p = o.palette;
  const m = marginFor(f, { top: data.title ? 4 : 2.6 });
  const entries = data.entries.filter((e) => !e.skipped && Number.isFinite(e.relError));
  const layers = [...new Set(entries.map((e) => e.layer))].sort((a, b) => a - b).map(String);
  // Module order as the log lists them (a module skipped in layer 0 keeps its place).
  const modules = [...new Set(data.entries.map((e) => e.module))].filter((mod) => entries.some((e) => e.module === mod));
  const mark = data.mark && data.mark !== 'auto' ? data.mark : entries.length > 160 ? 'dots' : 'bars';
  const x = scaleBand<string>().domain(layers).range([m.left, width - m.right]).paddingInner(0.2).paddingOuter(0.1);
  const sub = scaleBand<string>().domain(modules).range([0, x.bandwidth()]).padding(mark === 'bars' ? 0.08 : 0);
  const y = scaleLinear().domain([0, (max(entries, (e) => e.relError) ?? 1) * 1.05 || 1]).nice(5).range([height - m.bottom, m.top]);
  const colorOf = new Map(modules.map((mod, i) => [mod, seriesColor(p, i)]));
  const every = Math.max(1, Math.ceil((layers.length * f * 1.6) / Math.max(1, width - m.left - m.right)));
  const marks = entries.map((e) => {
    const x0 = x(String(e.layer))! + sub(e.module)!;
    const label = `layer ${e.layer} ${e.module}: ${e.relError.toPrecision(3)}`;
    const node =
      mark === 'bars'
        ? el('rect', { x: x0, y: y(e.relError), width: Math.max(0.5, sub.bandwidth()), height: y(0) - y(e.relError), fill: colorOf.get(e.module) })
        : el('circle', { cx: x0 + sub.bandwidth() / 2, cy: y(e.relError), r: f * 0.25, fill: colorOf.get(e.module) });
    return { ...node, children: [{ tag: 'title' as const, attrs: {}, text: label }] };
  });
  const children: SvgNode[] = [
    ...title(data.title, m.left, f, p),
    leftAxis(y, m.left, width - m.right, f, p, 5, y.tickFormat(5, '~g')),
    bandAxis(x, height - m.bottom, f, p, every),
    ...axisLabels({ x: 'Layer', y: 'Relative output error', width, height, margin: m, fontSize: f, palette: p }),
    el('g', { class: `marks marks-${mark}` }, marks),
    legend(modules.map((mod) => ({ label: mod, color: colorOf.get(mod)!, kind: 'square' as const })), m.left, data.title ? f * 2.7 : f * 1.1, f, p),
  ];
  return svgRoot(width, height, f, p.background, children, data.title ?? 'Compression error by layer and module', unit);
}
