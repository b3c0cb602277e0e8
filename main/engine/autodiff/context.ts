// What a gradient rule sees: the node, its inputs/outputs, the incoming output gradients,
// and helpers that emit standard ONNX ops (no com.microsoft gradient ops: onnxruntime-node
// does not register them).

import type { GraphBuilder } from '../onnx/builder.ts';
import { type DType, ONNX_DTYPE, float32ToFloat16Bits } from '../onnx/dtypes.ts';
import type { Node, Shape } from '../onnx/ir.ts';

export class RuleContext {
  constructor(
    readonly b: GraphBuilder,
    readonly node: Node,
    private readonly outGrads: (string | null)[],
    private readonly needs: boolean[],
  ) {}

  x(i: number): string { return this.node.inputs[i]!; }
  y(i = 0): string { return this.node.outputs[i]!; }
  /** Gradient flowing into output i (null when nothing downstream needs it). */
  g(i = 0): string | null { return this.outGrads[i] ?? null; }
  /** Gradient of output 0, which every single-output rule has. */
  get g0(): string { return this.outGrads[0]!; }
  need(i: number): boolean { return this.needs[i] ?? false; }

  attrInt(name: string, dflt: number): number {
    const a = this.node.attributes[name];
    return a?.kind === 'int' ? a.value : dflt;
  }
  attrFloat(name: string, dflt: number): number {
    const a = this.node.attributes[name];
    return a?.kind === 'float' ? a.value : dflt;
  }
  attrInts(name: string): number[] | undefined {
    const a = this.node.attributes[name];
    return a?.kind === 'ints' ? a.value : undefined;
  }

  op(opType: string, inputs: string[], attrs: Record<string, number | number[] | string> = {}): string {
    return this.b.op1(opType, inputs, attrs);
  }

  shapeOf(v: string): Shape | null { return this.b.info(v).shape; }
  rank(v: string): number {
    const s = this.shapeOf(v);
    if (s === null) throw new Error(`autodiff: rank of '${v}' (input of node '${this.node.name}') is unknown`);
    return s.length;
  }

  /** Constant int64 values of an input (axes, shapes), when it is a constant. */
  constInts(v: string): number[] | undefined {
    const t = this.b.initializerData(v);
    return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
  }

  dtypeOf(v: string): DType { return this.b.info(v).dtype; }

  /** ONNX type code of `v`'s dtype, for Cast's `to`. */
  dtypeCode(v: string): number { return ONNX_DTYPE[this.dtypeOf(v)]; }

  /**
   * A scalar constant in `like`'s dtype: ONNX binary ops do not promote, so a float32
   * constant next to a float64 or float16 value fails at session load.
   */
  scalar(value: number, like: string): string { return scalarOf(this.b, value, this.dtypeOf(like)); }

  /** Zeros of `v`'s shape and dtype (ConstantOfShape is float32 unless given a value). */
  zerosLike(v: string): string {
    const t = this.dtypeOf(v);
    const shape = this.op('Shape', [v]);
    if (t === 'float32') return this.op('ConstantOfShape', [shape]);
    const data = t === 'float64' ? new Float64Array(1) : new Uint16Array(1);
    return this.b.op1('ConstantOfShape', [shape], { value: { kind: 'tensor', value: { name: 'value', dtype: t, dims: [1], data } } });
  }

  /** Whether every peer's dim `fromEnd` axes before the end is absent, 1, or the symbol `sym`. */
  private peersAgree(peers: string[], sym: string, fromEnd: number): boolean {
    return peers.every((p) => {
      const ps = this.shapeOf(p);
      if (ps === null) return false;
      const d = ps[ps.length - fromEnd];
      return ps.length < fromEnd || d === 1 || d === sym;
    });
  }

  /**
   * Sum a gradient of a broadcast result back to the shape of the input `like`:
   * leading extra axes are summed away, and axes where `like` has size 1 but the gradient
   * does not are summed with keepdims. Decided statically when the inferred shapes allow,
   * else at run time from the two Shape()s (ReduceSum with computed axes, empty = no-op).
   *
   * `peers` are the other operands `like` was broadcast against (elementwise ops). Inference
   * merges two different symbols optimistically (broadcastShapes keeps the first), so `like`'s
   * symbol reappearing in the gradient's shape proves nothing by itself: [a0, a1] + [b1] infers
   * [a0, a1] even when a1 is 1 and b1 is 3 at run time. With peers, such an axis is taken as
   * unbroadcast statically only when every peer has the same symbol there, a 1, or no such axis;
   * otherwise it is decided at run time.
   */
  unbroadcast(grad: string, like: string, peers?: string[]): string {
    const gs = this.shapeOf(grad), ls = this.shapeOf(like);
    if (gs === null || ls === null) throw new Error(`autodiff: cannot reduce gradient of node '${this.node.name}' without ranks (${gs === null ? grad : like} has none)`);
    let g = grad;
    const extra = gs.length - ls.length;
    if (extra > 0) g = this.op('ReduceSum', [g, this.b.int64s(Array.from({ length: extra }, (_, i) => i))], { keepdims: 0 });
    const tail = gs.slice(extra);
    const staticAxes: number[] = [];
    let dynamic = false;
    tail.forEach((d, i) => {
      const l = ls[i];
      if (l === 1 && d !== 1) {
        if (d === null) dynamic = true; else staticAxes.push(i);
      } else if (l !== d && (l === null || d === null || typeof l === 'string' || typeof d === 'string')) {
        if (!(typeof l === 'string' && l === d)) dynamic = true;
      } else if (typeof l === 'string' && peers && !this.peersAgree(peers, l, gs.length - (extra + i))) {
        dynamic = true;
      }
    });
    if (!dynamic) {
      return staticAxes.length ? this.op('ReduceSum', [g, this.b.int64s(staticAxes)], { keepdims: 1 }) : g;
    }
    const shapeL = this.op('Shape', [like]);
    const shapeG = this.op('Shape', [g]);
    const one = this.b.int64s([1]);
    const mask = this.op('And', [this.op('Equal', [shapeL, one]), this.op('Not', [this.op('Equal', [shapeG, one])])]);
    const axes = this.op('Reshape', [this.op('NonZero', [mask]), this.b.int64s([-1])]);
    const out = this.op('ReduceSum', [g, axes], { keepdims: 1, noop_with_empty_axes: 1 });
    this.b.refineShape(out, ls);
    return out;
  }
}

/** A scalar constant of any float dtype (the builder's scalar() cannot encode float16). */
export function scalarOf(b: GraphBuilder, value: number, dtype: DType): string {
  if (dtype === 'float16') return b.constant('float16', [], Uint16Array.of(float32ToFloat16Bits(value)));
  return b.scalar(value, dtype);
}

export type GradRule = (c: RuleContext) => (string | null)[];
