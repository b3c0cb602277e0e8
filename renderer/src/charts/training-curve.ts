// Training curve of a recovery run: training loss per step as a line, evaluation loss as
// points (held-out batches at the eval interval).

import { extent, line, scaleLinear } from 'd3';
import { axisLabels, bottomAxis, leftAxis, legend, marginFor, title } from './axes.ts';
import { el, svgRoot, type SvgNode } from './svg-model.ts';
import { seriesColor, type ChartOptions } from './theme.ts';

export interface LossPoint {
  step: number;
  loss: number;
}

export interface TrainingCurveData {
  title?: string;
  train: LossPoint[];
  eval: LossPoint[];
}

export function trainingCurveChart(data: TrainingCurveData, o: ChartOptions): SvgNode {
  const { width, height, fontSize: f, unit } = o.size;
  const p = o.palette;
  const m = marginFor(f, { top: data.title ? 4 : 2.6 });
  const all = [...data.train, ...data.eval];
  const [s0 = 0, s1 = 1] = extent(all, (d) => d.step);
  const [l0 = 0, l1 = 1] = extent(all, (d) => d.loss);
  const x = scaleLinear().domain([s0, Math.max(s1, s0 + 1)]).nice(6).range([m.left, width - m.right]);
  const y = scaleLinear().domain([Math.min(l0, l1) * 0.95, Math.max(l1, l0 + 1e-3) * 1.02]).nice(5).range([height - m.bottom, m.top]);
  const trainColor = seriesColor(p, 0), evalColor = seriesColor(p, 1);
  const path = line<LossPoint>().x((d) => x(d.step)).y((d) => y(d.loss)).digits(2);
  const children: SvgNode[] = [
    ...title(data.title, m.left, f, p),
    leftAxis(y, m.left, width - m.right, f, p, 5),
    bottomAxis(x, height - m.bottom, f, p, 6),
    ...axisLabels({ x: 'Step', y: 'Loss', width, height, margin: m, fontSize: f, palette: p }),
    el('path', { class: 'train', d: path(data.train) ?? '', fill: 'none', stroke: trainColor, 'stroke-width': f * 0.13, 'stroke-linejoin': 'round' }),
    el(
      'g',
      { class: 'eval' },
      data.eval.map((d) => el('circle', { cx: x(d.step), cy: y(d.loss), r: f * 0.3, fill: evalColor, stroke: p.background ?? 'none', 'stroke-width': f * 0.06 })),
    ),
    legend(
      [
        { label: 'Train loss', color: trainColor },
        { label: 'Eval loss', color: evalColor, kind: 'dot' },
      ],
      m.left,
      data.title ? f * 2.7 : f * 1.1,
      f,
      p,
    ),
  ];
  return svgRoot(width, height, f, p.background, children, data.title ?? 'Training curve', unit);
}
