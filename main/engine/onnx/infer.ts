// Best-effort dtype and shape inference for the ops Recall emits. Dtypes are always
// inferred (the builder needs them); shapes are inferred where the rule is simple and
// left unknown (null dims or rank) otherwise. ORT does its own full inference at load.

import type { AnyTypedArray, DType } from './dtypes.ts';
import type { AttributeValue, Dim, Shape, ValueInfo } from './ir.ts';

export interface InferInput {
  info: ValueInfo | undefined;
  /** The constant value, when the input is a constant or initializer (used for Reshape, Slice...). */
  value: AnyTypedArray | undefined;
  /** When the input is the output of Shape(v) (whole shape), v's shape: Reshape(g, Shape(x)) has x's shape. */
  shapeOf?: Shape | null;
}

export type Attrs = Record<string, AttributeValue>;
type Out = { dtype: DType; shape: Shape | null };
type Rule = (ins: InferInput[], attrs: Attrs) => Out[];

const int = (a: Attrs, k: string, d: number): number => (a[k]?.kind === 'int' ? (a[k].value as number) : d);
const ints = (a: Attrs, k: string): number[] | undefined => (a[k]?.kind === 'ints' ? (a[k].value as number[]) : undefined);
const dt = (i: InferInput | undefined): DType => i?.info?.dtype ?? 'float32';
const sh = (i: InferInput | undefined): Shape | null => i?.info?.shape ?? null;
const constInts = (i: InferInput | undefined): number[] | undefined =>
  i?.value ? Array.from(i.value as ArrayLike<number | bigint>, (v) => Number(v)) : undefined;
const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function broadcastShapes(shapes: (Shape | null)[]): Shape | null {
  if (shapes.some((s) => s === null)) return null;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes as Shape[]) {
      const d = s[s.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (dim === 1) dim = d;
      else if (d === dim) continue;
      // A size other than 1 wins over a symbolic or unknown dim (which must then be 1 or equal
      // to it). Two symbols, or a symbol and an unknown, keep the first known one: optimistic,
      // as ONNX's own inference is, since model graphs broadcast a [.., seq, ..] against
      // values whose dim the rules could not follow but that is seq at run time.
      else if (typeof d === 'number') dim = typeof dim === 'number' ? NaN : d;
      else if (dim === null) dim = d;
    }
    if (Number.isNaN(dim)) throw new Error(`shapes ${JSON.stringify(shapes)} do not broadcast`);
    out.push(dim);
  }
  return out;
}

const same: Rule = (ins) => [{ dtype: dt(ins[0]), shape: sh(ins[0]) }];
const elementwise: Rule = (ins) => [{ dtype: dt(ins[0]), shape: broadcastShapes(ins.filter((i) => i.info).map(sh)) }];
const compare: Rule = (ins) => [{ dtype: 'bool', shape: broadcastShapes(ins.map(sh)) }];

function reduce(ins: InferInput[], attrs: Attrs, axesFromInput: boolean): Out[] {
  const s = sh(ins[0]);
  const keep = int(attrs, 'keepdims', 1) === 1;
  const axes = axesFromInput ? constInts(ins[1]) : ints(attrs, 'axes');
  if (s === null || (axesFromInput && ins[1]?.info && !axes)) return [{ dtype: dt(ins[0]), shape: null }];
  const set = new Set((axes ?? s.map((_, i) => i)).map((a) => norm(a, s.length)));
  const shape: Shape = [];
  s.forEach((d, i) => (set.has(i) ? keep && shape.push(1) : shape.push(d)));
  return [{ dtype: dt(ins[0]), shape }];
}

function matmulShape(a: Shape | null, b: Shape | null): Shape | null {
  if (a === null || b === null) return null;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]) ?? [];
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

function reshape(ins: InferInput[]): Out[] {
  if (ins[1]?.shapeOf) return [{ dtype: dt(ins[0]), shape: ins[1].shapeOf }];
  const target = constInts(ins[1]);
  const s = sh(ins[0]);
  if (!target) return [{ dtype: dt(ins[0]), shape: null }];
  const out: Dim[] = target.map((d, i) => (d === 0 ? (s?.[i] ?? null) : d === -1 ? null : d));
  const minus = target.indexOf(-1);
  if (minus >= 0 && s) out[minus] = remainingDim(s, out.filter((_, i) => i !== minus));
  return [{ dtype: dt(ins[0]), shape: out }];
}

/**
 * The size Reshape's -1 takes: the input's element count divided by the other output dims,
 * computed over numbers and symbols alike ([batch, seq, 64] -> [0, 2, 2, -1, 16] gives seq).
 */
function remainingDim(input: Shape, others: Shape): Dim {
  if (input.some((d) => d === null) || others.some((d) => d === null)) return null;
  let num = 1;
  const syms = new Map<string, number>();
  for (const d of input) {
    if (typeof d === 'number') num *= d;
    else syms.set(d as string, (syms.get(d as string) ?? 0) + 1);
  }
  for (const d of others) {
    if (typeof d === 'number') num /= d;
    else {
      const c = syms.get(d as string) ?? 0;
      if (c === 0) return null;
      syms.set(d as string, c - 1);
    }
  }
  const left = [...syms.entries()].filter(([, c]) => c > 0);
  if (left.length === 0) return Number.isInteger(num) ? num : null;
  if (left.length === 1 && left[0]![1] === 1 && num === 1) return left[0]![0];
  return null;
}

function slice(ins: InferInput[]): Out[] {
  const s = sh(ins[0]);
  const [starts, ends, axesIn, steps] = [constInts(ins[1]), constInts(ins[2]), constInts(ins[3]), constInts(ins[4])];
  const axesUnknown = ins[3]?.info !== undefined && !axesIn;
  if (s === null || !starts || !ends || axesUnknown || (ins[4]?.info && !steps)) return [{ dtype: dt(ins[0]), shape: s ? s.map(() => null) : null }];
  const out = [...s];
  const axes = axesIn ?? starts.map((_, i) => i);
  axes.forEach((ax, k) => {
    const a = norm(ax, s.length);
    const d = s[a];
    if (typeof d !== 'number') { out[a] = null; return; }
    out[a] = sliceLength(d, starts[k]!, ends[k]!, steps?.[k] ?? 1);
  });
  return [{ dtype: dt(ins[0]), shape: out }];
}

/** Elements a Slice keeps along one axis: the clamping rules of the ONNX Slice spec, any step sign. */
function sliceLength(dim: number, start: number, end: number, step: number): number {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
  const [s, e] = step > 0 ? [clamp(start, 0, dim), clamp(end, 0, dim)] : [clamp(start, 0, dim - 1), clamp(end, -1, dim - 1)];
  return Math.max(0, Math.ceil((e - s) / step));
}

function unsqueeze(ins: InferInput[]): Out[] {
  const s = sh(ins[0]);
  const axes = constInts(ins[1]);
  if (s === null || !axes) return [{ dtype: dt(ins[0]), shape: null }];
  const rank = s.length + axes.length;
  const set = new Set(axes.map((a) => norm(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : s[j++]!);
  return [{ dtype: dt(ins[0]), shape: out }];
}

function squeeze(ins: InferInput[]): Out[] {
  const s = sh(ins[0]);
  const axes = constInts(ins[1]);
  if (s === null) return [{ dtype: dt(ins[0]), shape: null }];
  const set = new Set((axes ?? s.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => norm(a, s.length)));
  return [{ dtype: dt(ins[0]), shape: s.filter((_, i) => !set.has(i)) }];
}

function gather(ins: InferInput[], attrs: Attrs): Out[] {
  const s = sh(ins[0]);
  const idx = sh(ins[1]);
  if (s === null || idx === null) return [{ dtype: dt(ins[0]), shape: null }];
  const axis = norm(int(attrs, 'axis', 0), s.length);
  return [{ dtype: dt(ins[0]), shape: [...s.slice(0, axis), ...idx, ...s.slice(axis + 1)] }];
}

function concat(ins: InferInput[], attrs: Attrs): Out[] {
  const shapes = ins.map(sh);
  if (shapes.some((s) => s === null)) return [{ dtype: dt(ins[0]), shape: null }];
  const first = shapes[0]!;
  const axis = norm(int(attrs, 'axis', 0), first.length);
  const out = [...first];
  let total: Dim = 0;
  for (const s of shapes as Shape[]) {
    const d = s[axis]!;
    total = typeof total === 'number' && typeof d === 'number' ? total + d : null;
  }
  out[axis] = total;
  return [{ dtype: dt(ins[0]), shape: out }];
}

function cast(ins: InferInput[], attrs: Attrs): Out[] {
  const to = int(attrs, 'to', 1);
  const map: Record<number, DType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16', 21: 'uint4', 22: 'int4' };
  return [{ dtype: map[to] ?? 'float32', shape: sh(ins[0]) }];
}

const RULES: Record<string, Rule> = {
  Identity: same, Neg: same, Sqrt: same, Reciprocal: same, Exp: same, Log: same, Tanh: same,
  Erf: same, Sigmoid: same, Relu: same, Abs: same, Sin: same, Cos: same, Softmax: same,
  LogSoftmax: same, Trilu: same, Clip: same, Not: same, Gelu: same, Dropout: same,
  Add: elementwise, Sub: elementwise, Mul: elementwise, Div: elementwise, Pow: (ins) => [{ dtype: dt(ins[0]), shape: broadcastShapes([sh(ins[0]), sh(ins[1])]) }],
  Max: elementwise, Min: elementwise,
  Equal: compare, Less: compare, Greater: compare, LessOrEqual: compare, GreaterOrEqual: compare, And: compare, Or: compare,
  Where: (ins) => [{ dtype: dt(ins[1]), shape: broadcastShapes(ins.map(sh)) }],
  MatMul: (ins) => [{ dtype: dt(ins[0]), shape: matmulShape(sh(ins[0]), sh(ins[1])) }],
  Gemm: (ins, a) => {
    const [x, w] = [sh(ins[0]), sh(ins[1])];
    const m = x ? x[int(a, 'transA', 0) ? 1 : 0]! : null;
    const n = w ? w[int(a, 'transB', 0) ? 0 : 1]! : null;
    return [{ dtype: dt(ins[0]), shape: [m, n] }];
  },
  ReduceMean: (i, a) => reduce(i, a, true), ReduceSum: (i, a) => reduce(i, a, true),
  ReduceMax: (i, a) => reduce(i, a, true), ReduceSumSquare: (i, a) => reduce(i, a, true),
  Reshape: reshape, Slice: slice, Unsqueeze: unsqueeze, Squeeze: squeeze, Gather: gather, Concat: concat, Cast: cast,
  Transpose: (ins, a) => {
    const s = sh(ins[0]);
    const perm = ints(a, 'perm') ?? s?.map((_, i, arr) => arr.length - 1 - i);
    return [{ dtype: dt(ins[0]), shape: s && perm ? perm.map((p) => s[p]!) : null }];
  },
  GatherElements: (ins) => [{ dtype: dt(ins[0]), shape: sh(ins[1]) }],
  ScatterElements: same, ScatterND: same,
  Expand: (ins) => {
    if (ins[1]?.shapeOf) return [{ dtype: dt(ins[0]), shape: broadcastShapes([sh(ins[0]), ins[1].shapeOf]) }];
    const target = constInts(ins[1]);
    return [{ dtype: dt(ins[0]), shape: target ? broadcastShapes([sh(ins[0]), target]) : null }];
  },
  Tile: (ins) => {
    const s = sh(ins[0]);
    const reps = constInts(ins[1]);
    return [{ dtype: dt(ins[0]), shape: s && reps ? s.map((d, i) => (typeof d === 'number' ? d * reps[i]! : null)) : null }];
  },
  Shape: (ins, a) => {
    // Opset 15 start/end attributes slice the shape vector (negative values count from the end).
    const rank = sh(ins[0])?.length;
    if (rank === undefined) return [{ dtype: 'int64', shape: [null] }];
    const at = (k: string, d: number) => Math.min(Math.max(norm(int(a, k, d), rank), 0), rank);
    return [{ dtype: 'int64', shape: [Math.max(0, at('end', rank) - at('start', 0))] }];
  },
  Size: () => [{ dtype: 'int64', shape: [] }],
  NonZero: (ins) => [{ dtype: 'int64', shape: [sh(ins[0])?.length ?? null, null] }],
  Range: (ins) => {
    const [s, l, d] = [constInts(ins[0]), constInts(ins[1]), constInts(ins[2])];
    const n = s && l && d ? Math.max(Math.ceil((l[0]! - s[0]!) / d[0]!), 0) : null;
    return [{ dtype: dt(ins[0]), shape: [n] }];
  },
  ConstantOfShape: (ins, a) => {
    const target = ins[0]?.shapeOf ?? constInts(ins[0]);
    const t = a.value?.kind === 'tensor' ? a.value.value.dtype : 'float32';
    return [{ dtype: t, shape: target ?? null }];
  },
  LayerNormalization: (ins) => [{ dtype: dt(ins[0]), shape: sh(ins[0]) }, { dtype: 'float32', shape: null }, { dtype: 'float32', shape: null }],
  SimplifiedLayerNormalization: (ins) => [{ dtype: dt(ins[0]), shape: sh(ins[0]) }, { dtype: 'float32', shape: null }],
  Split: (ins, a) => {
    const s = sh(ins[0]);
    const sizes = constInts(ins[1]);
    const axis = int(a, 'axis', 0);
    return (sizes ?? []).map((n) => {
      if (!s) return { dtype: dt(ins[0]), shape: null };
      const out = [...s];
      out[norm(axis, s.length)] = n;
      return { dtype: dt(ins[0]), shape: out };
    });
  },
  DequantizeLinear: (ins) => [{ dtype: dt(ins[1]), shape: sh(ins[0]) }],
  MatMulNBits: (ins, a) => {
    const s = sh(ins[0]);
    return [{ dtype: dt(ins[0]), shape: s ? [...s.slice(0, -1), int(a, 'N', 0)] : null }];
  },
  SoftmaxCrossEntropyLoss: (ins, a) => {
    const reduction = a.reduction?.kind === 'string' ? a.reduction.value : 'mean';
    return [{ dtype: dt(ins[0]), shape: reduction === 'none' ? sh(ins[1]) : [] }, { dtype: dt(ins[0]), shape: sh(ins[0]) }];
  },
};

export function inferOutputs(opType: string, ins: InferInput[], attrs: Attrs, nOutputs: number): Out[] {
  const rule = RULES[opType];
  const outs = rule ? rule(ins, attrs) : [];
  return Array.from({ length: nOutputs }, (_, i) => outs[i] ?? { dtype: dt(ins[0]), shape: null });
}
