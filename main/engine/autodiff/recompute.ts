// Recomputation (gradient checkpointing) for buildGradientGraph. The forward nodes are grouped
// into segments (by default one per decoder layer, `/model/layers.{i}/...`). The gradient rules
// of a segment's nodes do not read the segment's interior forward values: right before the
// segment's first gradient op, a copy of its forward nodes is emitted under `/recompute/...`
// (reading only the segment's inputs), and the rules read those copies. Only the values a
// segment reads from outside (the hidden state entering a layer, weights, the attention bias,
// rotary tables) and the values it hands on stay alive from the forward pass into the backward
// one, so ONNX Runtime releases a layer's activations once the forward pass is past it.
//
// Each copy starts from its segment's inputs passed through a barrier,
//   x' = Reshape(x, Concat(Shape(x), Slice(Shape(dOut), 0, 0)))
// an exact no-op (an alias in ORT's CPU Reshape) that depends on the gradient `dOut` arriving
// at the segment's output. It keeps the copy from being run before the backward pass reaches
// the segment (ORT orders nodes by their data dependencies, not by their place in the graph),
// and keeps common-subexpression elimination from merging the copy back into the forward nodes
// (a copy that read exactly the forward node's inputs would be the same computation).

import type { GraphBuilder } from '../onnx/builder.ts';
import type { Model, Node } from '../onnx/ir.ts';

export interface RecomputeOptions {
  /** The segment a forward node belongs to (any key naming it), or null when it is not recomputed. */
  scopes: (nodeName: string) => string | null;
}

const LAYER = /^\/model\/layers\.(\d+)\//;

/** One segment per decoder layer: nodes named `/model/layers.{i}/...` (graph-layers.ts, llama.ts, opt.ts). */
export const layerScopes = (nodeName: string): string | null => {
  const m = LAYER.exec(nodeName);
  return m ? `/model/layers.${m[1]}` : null;
};

export const RECOMPUTE_PREFIX = '/recompute';

/** Name of the recomputed copy of a forward node or value. */
export const recomputedName = (name: string): string => (name.startsWith('/') ? `${RECOMPUTE_PREFIX}${name}` : `${RECOMPUTE_PREFIX}/${name}`);

interface Segment {
  key: string;
  /** Forward nodes of the segment, in graph order. */
  nodes: Node[];
  /** Values the segment reads but does not make (its inputs), in first-use order. */
  inputs: string[];
  /** forward value -> recomputed copy, once emitted. */
  copies?: Map<string, string>;
}

export class Recomputer {
  private readonly segmentOf = new Map<Node, Segment>();
  private readonly segments = new Map<string, Segment>();

  constructor(private readonly b: GraphBuilder, nodes: readonly Node[], scopes: (nodeName: string) => string | null) {
    for (const n of nodes) {
      const key = scopes(n.name);
      if (key === null) continue;
      if (Object.values(n.attributes).some((a) => a.kind === 'graph')) {
        throw new Error(`autodiff: cannot recompute node '${n.name}' (${n.opType}): it has a subgraph attribute`);
      }
      let seg = this.segments.get(key);
      if (!seg) this.segments.set(key, (seg = { key, nodes: [], inputs: [] }));
      seg.nodes.push(n);
      this.segmentOf.set(n, seg);
    }
    for (const seg of this.segments.values()) {
      const made = new Set(seg.nodes.flatMap((n) => n.outputs));
      const inputs = new Set<string>();
      for (const n of seg.nodes) for (const i of n.inputs) if (i !== '' && !made.has(i)) inputs.add(i);
      seg.inputs = [...inputs];
    }
  }

  get segmentCount(): number { return this.segments.size; }

  /**
   * The node a gradient rule should see: `n` itself outside any segment, else `n` with every
   * value its segment makes renamed to the recomputed copy. The first call for a segment emits
   * the copy, behind a barrier on `dOut` (a gradient arriving at `n`'s outputs).
   */
  nodeFor(n: Node, dOut: string): Node {
    const seg = this.segmentOf.get(n);
    if (!seg) return n;
    const copies = seg.copies ?? (seg.copies = this.emit(seg, dOut));
    const rename = (v: string) => (v === '' ? v : copies.get(v) ?? v);
    return { ...n, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) };
  }

  private emit(seg: Segment, dOut: string): Map<string, string> {
    const b = this.b;
    const copies = new Map<string, string>();
    const prefix = `${recomputedName(seg.key)}/barrier`;
    let none: string | undefined; // an empty int64 [0] computed from dOut's shape
    for (const x of seg.inputs) {
      if (b.initializerData(x)) continue; // weights and constants: nothing to order or to keep apart
      none ??= b.op1('Slice', [b.op1('Shape', [dOut], {}, { name: `${prefix}/GradShape` }), b.int64s([0]), b.int64s([0])], {}, { name: `${prefix}/Empty` });
      const k = copies.size;
      const shape = b.op1('Concat', [b.op1('Shape', [x], {}, { name: `${prefix}/Shape_${k}` }), none], { axis: 0 }, { name: `${prefix}/Target_${k}` });
      const y = b.op1('Reshape', [x, shape], {}, { name: `${prefix}/Reshape_${k}` });
      b.refineShape(y, b.info(x).shape ?? []);
      copies.set(x, y);
    }
    for (const n of seg.nodes) {
      const inputs = n.inputs.map((i) => (i === '' ? i : copies.get(i) ?? i));
      const outputs = n.outputs.map((o) => (o === '' ? o : recomputedName(o)));
      b.op(n.opType, inputs, n.attributes, { name: recomputedName(n.name), domain: n.domain, outputNames: outputs });
      n.outputs.forEach((o, k) => {
        if (o === '') return;
        const shape = b.info(o).shape;
        if (shape) b.refineShape(outputs[k]!, shape);
        copies.set(o, outputs[k]!);
      });
    }
    return copies;
  }
}

/**
 * Drop recomputed nodes (and barriers) whose results no gradient op reads: a segment is copied
 * whole, but its rules need only some of its values (Add's rule reads none). Constants only the
 * dropped nodes used go too.
 */
export function pruneDeadRecompute(model: Model): Model {
  const g = model.graph;
  const used = new Set(g.outputs.map((o) => o.name));
  const keep: Node[] = [];
  const dropped: Node[] = [];
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k]!;
    if (n.name.startsWith(`${RECOMPUTE_PREFIX}/`) && !n.outputs.some((o) => used.has(o))) {
      dropped.push(n);
      continue;
    }
    keep.push(n);
    for (const i of n.inputs) used.add(i);
  }
  if (dropped.length === 0) return model;
  keep.reverse();
  const gone = new Set(dropped.flatMap((n) => n.outputs));
  const orphan = new Set(dropped.flatMap((n) => n.inputs).filter((i) => i.startsWith('/const/') && !used.has(i)));
  return {
    ...model,
    graph: {
      ...g,
      nodes: keep,
      initializers: g.initializers.filter((t) => !orphan.has(t.name)),
      valueInfo: g.valueInfo.filter((v) => !gone.has(v.name) && !orphan.has(v.name)),
    },
  };
}
