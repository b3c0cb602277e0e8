// Reverse-mode differentiation of our IR. Given a forward graph, a scalar loss value and the
// trainable values (initializers or inputs), build ONE graph that outputs the loss and the
// gradient of exactly those values. Only nodes on a path from a trainable value to the loss
// get gradient ops (frozen weights get none); forward values are reused by the backward ops,
// never recomputed, unless recomputation (checkpointing) is asked for: see recompute.ts.

import { GraphBuilder } from '../onnx/builder.ts';
import { isFloat } from '../onnx/dtypes.ts';
import type { Model, Node } from '../onnx/ir.ts';
import { RuleContext, scalarOf } from './context.ts';
import { type RecomputeOptions, Recomputer, layerScopes, pruneDeadRecompute } from './recompute.ts';
import { GRADIENT_RULES, NON_DIFFERENTIABLE } from './rules.ts';

export type { RecomputeOptions } from './recompute.ts';

export interface GradientOptions {
  /** Name of the scalar loss value in the forward graph. */
  loss: string;
  /** Values to differentiate with respect to (initializer or graph input names). */
  wrt: string[];
  /** Turn trainable initializers into graph inputs, so a trainer can feed updated values (default true). */
  paramsAsInputs?: boolean;
  /** Keep the forward graph's other outputs (default false: only loss and gradients). */
  keepOutputs?: boolean;
  /**
   * Recompute the forward values of segments (checkpointing) instead of keeping them for the
   * backward pass: each segment's gradient ops read a copy of its forward nodes emitted right
   * before them, so only the segment's inputs and outputs live from the forward pass into the
   * backward one. `scopes` names the segment of a forward node (null: not checkpointed).
   */
  recompute?: RecomputeOptions;
  /** Shorthand for `recompute: { scopes: layerScopes }`: one segment per decoder layer (`/model/layers.{i}/`). */
  checkpointLayers?: boolean;
}

export const gradName = (param: string): string => `grad.${param}`;

export function buildGradientGraph(forward: Model, o: GradientOptions): Model {
  const b = GraphBuilder.fromModel(forward);
  const nodes = forward.graph.nodes;
  if (!b.has(o.loss)) throw new Error(`autodiff: loss value '${o.loss}' is not in the graph`);
  for (const p of o.wrt) {
    if (!b.has(p)) throw new Error(`autodiff: trainable value '${p}' is not in the graph`);
    if (!isFloat(b.info(p).dtype)) throw new Error(`autodiff: trainable value '${p}' is ${b.info(p).dtype}, not a float`);
  }

  // Forward pass: which values depend on a trainable value (and so may carry gradient).
  const requires = new Set(o.wrt);
  for (const n of nodes) {
    if (NON_DIFFERENTIABLE.has(n.opType)) continue;
    if (n.inputs.some((i) => requires.has(i))) for (const out of n.outputs) if (out && isFloat(b.info(out).dtype)) requires.add(out);
  }
  if (!requires.has(o.loss)) throw new Error(`autodiff: the loss '${o.loss}' does not depend on any of ${o.wrt.join(', ')}`);

  // Backward pass: which of those the loss depends on.
  const needed = new Set([o.loss]);
  const onPath: Node[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (!n.outputs.some((out) => needed.has(out))) continue;
    if (!n.inputs.some((i) => requires.has(i))) continue;
    onPath.push(n);
    for (const i of n.inputs) if (requires.has(i)) needed.add(i);
  }

  const grads = new Map<string, string[]>();
  const addGrad = (v: string, g: string) => grads.set(v, [...(grads.get(v) ?? []), g]);
  const gradOf = (v: string): string | null => {
    const parts = grads.get(v);
    if (!parts?.length) return null;
    if (parts.length === 1) return parts[0]!;
    // Sum the contributions once, then reuse the sum. Under /grad/: a top-level auto-named
    // 'Add' would collide with a forward node '/Add' (fromModel starts a fresh name counter).
    const total = b.scope('grad/accumulate', () => parts.slice(1).reduce((acc, p) => b.op1('Add', [acc, p]), parts[0]!));
    grads.set(v, [total]);
    return total;
  };

  const lossShape = b.info(o.loss).shape;
  if (lossShape === null || lossShape.length !== 0) throw new Error(`autodiff: the loss '${o.loss}' must be a scalar (shape ${JSON.stringify(lossShape)})`);
  addGrad(o.loss, scalarOf(b, 1, b.info(o.loss).dtype)); // seed dL/dL = 1 in the loss's dtype
  const scopes = o.recompute?.scopes ?? (o.checkpointLayers ? layerScopes : undefined);
  const recomputer = scopes ? new Recomputer(b, nodes, scopes) : null;
  for (const n of onPath) {
    const rule = GRADIENT_RULES[n.opType];
    if (!rule) throw new Error(`autodiff: no gradient rule for ${n.opType} (node '${n.name}')`);
    const outGrads = n.outputs.map((out) => (out ? gradOf(out) : null));
    if (outGrads.every((g) => g === null)) continue;
    const needs = n.inputs.map((i) => requires.has(i) && needed.has(i));
    // In a checkpointed segment the rule sees the node with its segment-made values renamed to
    // their recomputed copies (emitted here, before the segment's first gradient op).
    const seen = recomputer ? recomputer.nodeFor(n, outGrads.find((g) => g !== null)!) : n;
    const inGrads = b.scope(`grad${n.name}`, () => rule(new RuleContext(b, seen, outGrads, needs)));
    n.inputs.forEach((inp, k) => {
      const g = inGrads[k];
      if (g && needs[k]) addGrad(inp, g);
    });
  }

  if (!o.keepOutputs) for (const out of forward.graph.outputs) if (out.name !== o.loss) b.dropOutput(out.name);
  if (!forward.graph.outputs.some((x) => x.name === o.loss)) b.output(o.loss);
  for (const p of o.wrt) {
    const g = gradOf(p);
    if (!g) throw new Error(`autodiff: no gradient reaches '${p}'`);
    b.output(g, gradName(p));
    if (o.paramsAsInputs !== false && b.initializerData(p)) b.promoteToInput(p);
  }
  const built = b.build({ ...forward.metadata, autodiff: 'recall', loss: o.loss, ...(recomputer ? { recompute: String(recomputer.segmentCount) } : {}) });
  return recomputer ? pruneDeadRecompute(built) : built;
}
