// One gradient rule per op (tinygrad's table style): given the gradients of a node's
// outputs, emit standard ONNX ops for the gradients of the inputs that need one.
// Rules return one entry per input: a value name, or null (no gradient / not needed).

import type { Dim } from '../onnx/ir.ts';
import type { GradRule, RuleContext } from './context.ts';

const SQRT_PI = Math.sqrt(Math.PI);

/** Swap the last two axes of a rank-r value. */
function swapLast(c: RuleContext, v: string): string {
  const r = c.rank(v);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return c.op('Transpose', [v], { perm });
}

/** The target shape [-1, last] that flattens v's leading axes: a constant when the last dim is known. */
function rowsShape(c: RuleContext, v: string, alt: Dim): string {
  const last = c.shapeOf(v)!.at(-1);
  const d = typeof last === 'number' ? last : typeof alt === 'number' ? alt : null;
  if (d !== null) return c.b.int64s([-1, d]);
  return c.op('Concat', [c.b.int64s([-1]), c.op('Shape', [v], { start: -1 })], { axis: 0 });
}

/**
 * MatMul: dA = g @ B^T, dB = A^T @ g, each summed back over broadcast batch axes. When B is
 * a 2-D weight and A is batched, dB is one [in, rows] x [rows, out] product over flattened
 * rows, never a [batch, in, out] intermediate.
 */
const matmul: GradRule = (c) => {
  const [a, bv, g] = [c.x(0), c.x(1), c.g0];
  const ra = c.rank(a), rb = c.rank(bv);
  if (ra < 2 || rb < 2) throw new Error(`autodiff: MatMul '${c.node.name}' with a 1-D operand is not supported`);
  const da = c.need(0) ? c.unbroadcast(c.op('MatMul', [g, swapLast(c, bv)]), a) : null;
  let db: string | null = null;
  if (c.need(1)) {
    if (rb === 2 && ra > 2) {
      // [.., K] -> [rows, K] and [.., N] -> [rows, N]; K and N are the weight's dims when a's or
      // g's last dim is a symbol, else read at run time.
      const [k, n] = c.shapeOf(bv)!;
      const a2 = c.op('Reshape', [a, rowsShape(c, a, k!)]);
      const g2 = c.op('Reshape', [g, rowsShape(c, g, n!)]);
      db = c.op('MatMul', [c.op('Transpose', [a2], { perm: [1, 0] }), g2]);
      c.b.refineShape(db, c.shapeOf(bv)!);
    } else {
      db = c.unbroadcast(c.op('MatMul', [swapLast(c, a), g]), bv);
    }
  }
  return [da, db];
};

/** Gradient `g` of a broadcasting elementwise op, reduced to input i's shape (the other inputs are its peers). */
function elementwise(c: RuleContext, g: string, i: number): string {
  return c.unbroadcast(g, c.x(i), c.node.inputs.filter((v, k) => k !== i && v !== ''));
}

/** Softmax/LogSoftmax over one axis, and reductions: keep the reduced axis for broadcasting. */
function sumKeep(c: RuleContext, v: string, axis: number): string {
  return c.op('ReduceSum', [v, c.b.int64s([axis])], { keepdims: 1 });
}

function reduceAxes(c: RuleContext): number[] | undefined {
  return c.node.inputs[1] ? c.constInts(c.x(1)) : c.attrInts('axes');
}

/** Gradient of a reduction: put the reduced axes back and broadcast to the input's shape. */
function expandReduced(c: RuleContext, g: string): string {
  const keep = c.attrInt('keepdims', 1) === 1;
  let gk = g;
  if (!keep) {
    const axes = reduceAxes(c) ?? Array.from({ length: c.rank(c.x(0)) }, (_, i) => i);
    gk = c.op('Unsqueeze', [g, c.b.int64s(axes)]);
  }
  return c.op('Expand', [gk, c.op('Shape', [c.x(0)])]);
}

const floatIn = (c: RuleContext, i: number): boolean => {
  const t = c.b.info(c.x(i)).dtype;
  return t === 'float32' || t === 'float16' || t === 'float64' || t === 'bfloat16';
};

/** LayerNormalization over the last axis, recomputing mean and 1/std from x. */
const layerNorm: GradRule = (c) => {
  if (c.attrInt('axis', -1) !== -1) throw new Error(`autodiff: LayerNormalization '${c.node.name}' must normalise the last axis`);
  const [x, w, g] = [c.x(0), c.x(1), c.g0];
  const eps = c.attrFloat('epsilon', 1e-5);
  const last = c.b.int64s([-1]);
  const mean = c.op('ReduceMean', [x, last], { keepdims: 1 });
  const xc = c.op('Sub', [x, mean]);
  const variance = c.op('ReduceMean', [c.op('Mul', [xc, xc]), last], { keepdims: 1 });
  const rstd = c.op('Reciprocal', [c.op('Sqrt', [c.op('Add', [variance, c.scalar(eps, x)])])]);
  const xhat = c.op('Mul', [xc, rstd]);
  const gw = c.op('Mul', [g, w]);
  let dx: string | null = null;
  if (c.need(0)) {
    const m1 = c.op('ReduceMean', [gw, last], { keepdims: 1 });
    const m2 = c.op('ReduceMean', [c.op('Mul', [gw, xhat]), last], { keepdims: 1 });
    dx = c.op('Mul', [rstd, c.op('Sub', [c.op('Sub', [gw, m1]), c.op('Mul', [xhat, m2])])]);
  }
  const dw = c.need(1) ? c.unbroadcast(c.op('Mul', [g, xhat]), w) : null;
  const db = c.node.inputs[2] && c.need(2) ? c.unbroadcast(g, c.x(2)) : null;
  return [dx, dw, db];
};

export const GRADIENT_RULES: Record<string, GradRule> = {
  Identity: (c) => [c.g0],
  Add: (c) => [c.need(0) ? elementwise(c, c.g0, 0) : null, c.need(1) ? elementwise(c, c.g0, 1) : null],
  Sub: (c) => [c.need(0) ? elementwise(c, c.g0, 0) : null, c.need(1) ? elementwise(c, c.op('Neg', [c.g0]), 1) : null],
  Mul: (c) => [
    c.need(0) ? elementwise(c, c.op('Mul', [c.g0, c.x(1)]), 0) : null,
    c.need(1) ? elementwise(c, c.op('Mul', [c.g0, c.x(0)]), 1) : null,
  ],
  Div: (c) => [
    c.need(0) ? elementwise(c, c.op('Div', [c.g0, c.x(1)]), 0) : null,
    c.need(1) ? elementwise(c, c.op('Neg', [c.op('Div', [c.op('Mul', [c.g0, c.y()]), c.x(1)])]), 1) : null,
  ],
  Neg: (c) => [c.op('Neg', [c.g0])],
  Sqrt: (c) => [c.op('Div', [c.g0, c.op('Mul', [c.y(), c.scalar(2, c.y())])])],
  Reciprocal: (c) => [c.op('Neg', [c.op('Mul', [c.g0, c.op('Mul', [c.y(), c.y()])])])],
  Exp: (c) => [c.op('Mul', [c.g0, c.y()])],
  Log: (c) => [c.op('Div', [c.g0, c.x(0)])],
  Tanh: (c) => [c.op('Mul', [c.g0, c.op('Sub', [c.scalar(1, c.y()), c.op('Mul', [c.y(), c.y()])])])],
  Sigmoid: (c) => [c.op('Mul', [c.g0, c.op('Mul', [c.y(), c.op('Sub', [c.scalar(1, c.y()), c.y()])])])],
  Relu: (c) => [c.op('Where', [c.op('Greater', [c.x(0), c.scalar(0, c.x(0))]), c.g0, c.scalar(0, c.g0)])],
  Erf: (c) => [c.op('Mul', [c.g0, c.op('Mul', [c.scalar(2 / SQRT_PI, c.x(0)), c.op('Exp', [c.op('Neg', [c.op('Mul', [c.x(0), c.x(0)])])])])])],
  Sin: (c) => [c.op('Mul', [c.g0, c.op('Cos', [c.x(0)])])],
  Cos: (c) => [c.op('Neg', [c.op('Mul', [c.g0, c.op('Sin', [c.x(0)])])])],
  Pow: (c) => {
    if (c.need(1)) throw new Error(`autodiff: Pow '${c.node.name}': gradient w.r.t. the exponent is not supported`);
    // An integer exponent is legal ONNX; the derivative p * x^(p-1) needs it in x's dtype.
    const p = c.dtypeOf(c.x(1)) === c.dtypeOf(c.x(0)) ? c.x(1) : c.op('Cast', [c.x(1)], { to: c.dtypeCode(c.x(0)) });
    const dx = c.op('Mul', [c.g0, c.op('Mul', [p, c.op('Pow', [c.x(0), c.op('Sub', [p, c.scalar(1, p)])])])]);
    return [elementwise(c, dx, 0), null];
  },
  MatMul: matmul,
  Softmax: (c) => {
    const axis = c.attrInt('axis', -1);
    const gy = c.op('Mul', [c.g0, c.y()]);
    return [c.op('Sub', [gy, c.op('Mul', [c.y(), sumKeep(c, gy, axis)])])];
  },
  LogSoftmax: (c) => {
    const axis = c.attrInt('axis', -1);
    return [c.op('Sub', [c.g0, c.op('Mul', [c.op('Exp', [c.y()]), sumKeep(c, c.g0, axis)])])];
  },
  ReduceSum: (c) => [expandReduced(c, c.g0), null],
  ReduceMean: (c) => {
    const to = c.dtypeCode(c.x(0));
    const count = c.op('Div', [c.op('Cast', [c.op('Size', [c.x(0)])], { to }), c.op('Cast', [c.op('Size', [c.y()])], { to })]);
    return [c.op('Div', [expandReduced(c, c.g0), count]), null];
  },
  Reshape: (c) => [c.op('Reshape', [c.g0, c.op('Shape', [c.x(0)])]), null],
  Unsqueeze: (c) => [c.op('Reshape', [c.g0, c.op('Shape', [c.x(0)])]), null],
  Squeeze: (c) => [c.op('Reshape', [c.g0, c.op('Shape', [c.x(0)])]), null],
  Expand: (c) => [c.unbroadcast(c.g0, c.x(0)), null],
  Transpose: (c) => {
    const r = c.rank(c.x(0));
    const perm = c.attrInts('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [c.op('Transpose', [c.g0], { perm: inverse })];
  },
  Concat: (c) => {
    const axis = c.attrInt('axis', 0);
    const dims = c.node.inputs.map((v) => {
      const shape = c.shapeOf(v);
      return shape ? shape[axis < 0 ? axis + shape.length : axis] : null;
    });
    // Split sizes: constants when the inferred dims allow (keeps shapes known), else Shape()s.
    const sizes = dims.every((d) => typeof d === 'number')
      ? c.b.int64s(dims as number[])
      : c.op('Concat', c.node.inputs.map((v) => {
        const a = axis < 0 ? axis + c.rank(v) : axis;
        return c.op('Shape', [v], { start: a, end: a + 1 });
      }), { axis: 0 });
    const split = c.b.op('Split', [c.g0, sizes], { axis }, { outputs: dims.length });
    // Each piece has exactly its input's shape, whatever inference could see.
    split.forEach((s, i) => { const shape = c.shapeOf(c.x(i)); if (shape) c.b.refineShape(s, shape); });
    return split.map((s, i) => (c.need(i) ? s : null));
  },
  Split: (c) => {
    const axis = c.attrInt('axis', 0);
    const parts = c.node.outputs.map((o, i) => c.g(i) ?? c.zerosLike(o));
    return [c.op('Concat', parts, { axis }), null];
  },
  Where: (c) => {
    const zero = c.scalar(0, c.g0);
    return [
      null,
      c.need(1) ? elementwise(c, c.op('Where', [c.x(0), c.g0, zero]), 1) : null,
      c.need(2) ? elementwise(c, c.op('Where', [c.x(0), zero, c.g0]), 2) : null,
    ];
  },
  Cast: (c) => [floatIn(c, 0) ? c.op('Cast', [c.g0], { to: { float32: 1, float16: 10, float64: 11, bfloat16: 16 }[c.b.info(c.x(0)).dtype as 'float32'] }) : null],
  /** Embedding lookup: scatter-add the rows' gradients into a zero matrix. */
  Gather: (c) => {
    if (c.attrInt('axis', 0) !== 0) throw new Error(`autodiff: Gather '${c.node.name}' on axis != 0 is not supported`);
    const idx = c.op('Unsqueeze', [c.x(1), c.b.int64s([-1])]);
    return [c.op('ScatterND', [c.zerosLike(c.x(0)), idx, c.g0], { reduction: 'add' }), null];
  },
  GatherElements: (c) => [c.op('ScatterElements', [c.zerosLike(c.x(0)), c.x(1), c.g0], { axis: c.attrInt('axis', 0), reduction: 'add' }), null],
  LayerNormalization: layerNorm,
};

/** Ops whose outputs never carry gradient (integer/boolean results or shape computations). */
export const NON_DIFFERENTIABLE = new Set([
  'Shape', 'Size', 'Range', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Not',
  'ConstantOfShape', 'NonZero', 'ArgMax',
]);
