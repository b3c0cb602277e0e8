// Structural checks on a Model before it goes to ORT, with messages that name the node:
// ORT's own load errors are terse and point at protobuf indices, not at our builder's names.

import { byteLength } from './dtypes.ts';
import type { Model } from './ir.ts';
import { numel } from './ir.ts';

/** [min, max] number of inputs for ops whose arity we know. */
const ARITY: Record<string, [number, number]> = {
  MatMul: [2, 2], Gemm: [2, 3], Add: [2, 2], Sub: [2, 2], Mul: [2, 2], Div: [2, 2], Pow: [2, 2],
  Sqrt: [1, 1], Reciprocal: [1, 1], Neg: [1, 1], Exp: [1, 1], Log: [1, 1], Tanh: [1, 1], Erf: [1, 1],
  Sigmoid: [1, 1], Relu: [1, 1], Softmax: [1, 1], LogSoftmax: [1, 1], ReduceMean: [1, 2], ReduceSum: [1, 2],
  ReduceMax: [1, 2], Reshape: [2, 2], Transpose: [1, 1], Concat: [1, Infinity], Slice: [3, 5], Gather: [2, 2],
  GatherElements: [2, 2], Where: [3, 3], Cast: [1, 1], Expand: [2, 2], Unsqueeze: [2, 2], Squeeze: [1, 2],
  Shape: [1, 1], Range: [3, 3], Equal: [2, 2], Less: [2, 2], Trilu: [1, 2], LayerNormalization: [2, 3],
  SimplifiedLayerNormalization: [2, 2], Identity: [1, 1], ConstantOfShape: [1, 1],
  DequantizeLinear: [2, 3], MatMulNBits: [3, 6],
};

export class GraphValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`graph is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.slice(0, 20).join('\n  ')}`);
    this.name = 'GraphValidationError';
  }
}

export function validateModel(model: Model): void {
  const { graph, opsets } = model;
  const problems: string[] = [];
  const defined = new Map<string, string>();
  const define = (name: string, by: string) => {
    const prev = defined.get(name);
    if (prev) problems.push(`value '${name}' is defined twice: by ${prev} and by ${by}`);
    else defined.set(name, by);
  };
  for (const i of graph.inputs) define(i.name, 'a graph input');
  for (const t of graph.initializers) {
    define(t.name, 'an initializer');
    const want = byteLength(t.dtype, numel(t.dims));
    if (t.dims.some((d) => !Number.isInteger(d) || d < 0)) problems.push(`initializer '${t.name}': bad dims [${t.dims}]`);
    else if (t.external) {
      const { location, offset, length } = t.external;
      if (t.data.byteLength !== 0) problems.push(`initializer '${t.name}': has both in-memory data and an external location`);
      if (length !== want) problems.push(`initializer '${t.name}': ${length} bytes at ${location}:${offset} for ${t.dtype}[${t.dims}] (expected ${want})`);
      if (!Number.isSafeInteger(offset) || offset < 0) problems.push(`initializer '${t.name}': bad external offset ${offset}`);
    } else if (t.data.byteLength !== want) problems.push(`initializer '${t.name}': ${t.data.byteLength} bytes of data for ${t.dtype}[${t.dims}] (expected ${want})`);
  }
  const names = new Set<string>();
  for (const n of graph.nodes) {
    const where = `node '${n.name}' (${n.domain ? n.domain + '.' : ''}${n.opType})`;
    if (!n.name) problems.push(`a ${n.opType} node has no name`);
    if (names.has(n.name)) problems.push(`${where}: node name is not unique`);
    names.add(n.name);
    if (!(n.domain in opsets)) problems.push(`${where}: domain '${n.domain}' has no opset import`);
    n.inputs.forEach((i, k) => {
      if (i !== '' && !defined.has(i)) problems.push(`${where}: input ${k} '${i}' is not defined before this node`);
    });
    const arity = ARITY[n.opType];
    const given = n.inputs.length;
    if (arity && (given < arity[0] || given > arity[1])) problems.push(`${where}: ${given} inputs, expected ${arity[0]}..${arity[1]}`);
    for (const o of n.outputs) if (o !== '') define(o, where);
  }
  for (const o of graph.outputs) if (!defined.has(o.name)) problems.push(`graph output '${o.name}' is never produced`);
  if (problems.length) throw new GraphValidationError(problems);
}
