// Cut a subgraph out of a model: chosen intermediate values become graph inputs, chosen
// values become outputs, and only the nodes and initializers between them are kept. The
// compression driver uses it to run one decoder layer at a time, so only that layer's
// weights are in the ORT session.

import type { Graph, Model, Node, ValueInfo } from './ir.ts';

export interface CutOptions {
  /** Values that become graph inputs (the producing nodes are dropped). */
  inputs: string[];
  /** Values that become graph outputs. */
  outputs: string[];
  name?: string;
}

export function extractSubgraph(model: Model, o: CutOptions): Model {
  const g = model.graph;
  const info = new Map<string, ValueInfo>([...g.inputs, ...g.outputs, ...g.valueInfo].map((v) => [v.name, v]));
  for (const t of g.initializers) info.set(t.name, { name: t.name, dtype: t.dtype, shape: t.dims });
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const out of n.outputs) if (out) producer.set(out, n);
  const cut = new Set(o.inputs);
  for (const v of [...o.inputs, ...o.outputs]) if (!info.has(v) && !producer.has(v)) throw new Error(`subgraph: value '${v}' is not in the graph`);

  const keep = new Set<Node>();
  const used = new Set<string>();
  const stack = [...o.outputs];
  while (stack.length) {
    const v = stack.pop()!;
    if (used.has(v)) continue;
    used.add(v);
    if (cut.has(v)) continue;
    const n = producer.get(v);
    if (!n || keep.has(n)) continue;
    keep.add(n);
    for (const i of n.inputs) if (i) stack.push(i);
  }
  const nodes = g.nodes.filter((n) => keep.has(n));
  const valueOf = (v: string): ValueInfo => {
    const i = info.get(v);
    if (!i) throw new Error(`subgraph: no type information for '${v}'`);
    return i;
  };
  const originalInputs = g.inputs.filter((i) => used.has(i.name) && !cut.has(i.name));
  const graph: Graph = {
    name: o.name ?? g.name,
    inputs: [...originalInputs, ...o.inputs.map(valueOf)],
    outputs: o.outputs.map(valueOf),
    nodes,
    initializers: g.initializers.filter((t) => used.has(t.name)),
    valueInfo: g.valueInfo.filter((v) => used.has(v.name) && !cut.has(v.name) && !o.outputs.includes(v.name)),
  };
  return { ...model, graph };
}
