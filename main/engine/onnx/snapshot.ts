// Text snapshot of a graph for snapshot tests: one line per node, sorted by name, with op,
// inputs, outputs and inferred shapes, so a refactor of a builder shows zero diff.

import type { Model } from './ir.ts';
import { formatShape } from './ir.ts';

export function snapshotModel(model: Model): string {
  const { graph } = model;
  const info = new Map([...graph.inputs, ...graph.outputs, ...graph.valueInfo].map((v) => [v.name, v]));
  for (const t of graph.initializers) info.set(t.name, { name: t.name, dtype: t.dtype, shape: t.dims });
  const fmt = (v: string) => {
    if (v === '') return '∅';
    const i = info.get(v);
    return i ? `${v}:${i.dtype}${formatShape(i.shape)}` : v;
  };
  const lines: string[] = [];
  lines.push(`graph ${graph.name}`);
  for (const i of graph.inputs) lines.push(`input ${fmt(i.name)}`);
  for (const o of graph.outputs) lines.push(`output ${fmt(o.name)}`);
  const inits = [...graph.initializers].sort((a, b) => a.name.localeCompare(b.name));
  for (const t of inits) lines.push(`init ${t.name}:${t.dtype}${formatShape(t.dims)}`);
  const nodes = [...graph.nodes].sort((a, b) => a.name.localeCompare(b.name));
  for (const n of nodes) {
    const attrs = Object.entries(n.attributes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, a]) => `${k}=${a.kind === 'tensor' || a.kind === 'graph' ? `<${a.kind}>` : JSON.stringify(a.value)}`);
    const op = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    lines.push(`${n.name} ${op}(${n.inputs.map(fmt).join(', ')}) -> ${n.outputs.map(fmt).join(', ')}${attrs.length ? ' {' + attrs.join(' ') + '}' : ''}`);
  }
  return lines.join('\n') + '\n';
}
