// Gradient test harness (tinygrad's helper_test_op, for our autodiff): ONE call builds a small
// graph around one op (or a few ops), adds the scalar loss
//
//   loss = sum_i ReduceSum(out_i * R_i)          R_i: fixed random, one value per output element
//
// derives the gradient graph with buildGradientGraph, runs it in ORT, and checks the gradient of
// every differentiable input twice:
//   (a) against PyTorch 1.13 autograd (test/fixtures/autodiff/ops.json, written by
//       scripts/oracles/autodiff_ops.py), with the graph in float32;
//   (b) against central finite differences of the same graph rebuilt in float64 (forward and
//       gradient graph both in float64), or in float32 where ORT has no double kernel for the op
//       (the test says so in its name).
// Which inputs are differentiated is the fixture's choice (the inputs torch gave requires_grad).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildGradientGraph, gradName } from '../../main/engine/autodiff/backward.ts';
import { type AttrInput, GraphBuilder } from '../../main/engine/onnx/builder.ts';
import type { Model } from '../../main/engine/onnx/ir.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { type HostTensor, hostTensor, toNumbers } from '../../main/engine/runtime/tensors.ts';
import { type Diff, assertClose } from './compare.ts';

export type FloatType = 'float32' | 'float64';

/** Tolerances (stated once, used by every test). */
export const TOL = {
  /** Ours (float32 graph) vs torch (float64 on the same float32 inputs): |d| <= atol + rtol |torch|. */
  torch: { atol: 1e-5, rtol: 1e-4 },
  /** float64 graph vs float64 central differences (step 1e-5): |d| <= rel * max(1, max|fd|). */
  fd64: { rel: 1e-6, step: 1e-5 },
  /** float32 graph vs float32 central differences (step 1e-2), only for ops without double kernels. */
  fd32: { rel: 2e-3, step: 1e-2 },
} as const;

/** An int64 constant input (axes, shapes, split sizes), baked into the graph. */
export interface Int64Const { int64s: number[] }
export const int64s = (values: number[]): Int64Const => ({ int64s: values });

/** An op input: a fixture input's name, an int64 constant, or null for an omitted optional input. */
export type InputSpec = string | Int64Const | null;

export interface GradSpec {
  /** The op under test, applied to `inputs`. */
  op?: string;
  inputs?: InputSpec[];
  attrs?: Record<string, AttrInput>;
  /** The op's number of outputs (default 1). */
  outputs?: number;
  /** Which of the op's outputs feed the loss (default all); the others get no upstream gradient. */
  used?: number[];
  /** Instead of `op`: build a few ops from the fixture inputs (v: name -> value) in `dtype`; returns the loss-feeding outputs. */
  build?: (b: GraphBuilder, v: Record<string, string>, dtype: FloatType) => string[];
  /**
   * Declare every graph-input dim as a symbol (`x_0`, `x_1`, ...), as model graphs declare
   * batch and seq: rules then cannot see which axes broadcast and must decide at run time.
   */
  symbolic?: boolean;
  /** Fixture inputs baked in as initializers (weights); a differentiated one becomes a graph input, as trainers see it. */
  initializers?: string[];
  /**
   * Finite differences in float32 instead of float64, with the reason (ORT has no double
   * kernel for the op); or, in float64, a custom step (and tolerance) with the reason.
   */
  fd?: { dtype: 'float32'; reason: string } | { dtype: 'float64'; step: number; rel?: number; reason: string };
}

interface FixtureTensor { dtype?: 'float32' | 'int64' | 'bool'; dims: number[]; data: number[] }
interface FixtureCase { inputs: Record<string, FixtureTensor>; R: FixtureTensor[]; loss: number; grads: Record<string, FixtureTensor> }

let fixture: Record<string, FixtureCase> | undefined;

/** One case of test/fixtures/autodiff/ops.json (regenerate: /usr/bin/python3 scripts/oracles/autodiff_ops.py). */
export function gradOracle(name: string): FixtureCase {
  fixture ??= (JSON.parse(readFileSync(new URL('../fixtures/autodiff/ops.json', import.meta.url), 'utf8')) as { cases: Record<string, FixtureCase> }).cases;
  const c = fixture[name];
  if (!c) throw new Error(`autodiff oracle case '${name}' is not in test/fixtures/autodiff/ops.json; rerun scripts/oracles/autodiff_ops.py`);
  return c;
}

/** Max errors of one check, per differentiated input (for the test's summary). */
export interface GradReport { torch: Record<string, Diff>; fd: Record<string, Diff & { dtype: FloatType }> }

const SESSION = { optimization: 'disabled', threads: 1 } as const;

function tensorOf(t: FixtureTensor, float: FloatType): HostTensor {
  if (t.dtype === 'int64' || t.dtype === 'bool') return hostTensor(t.dtype, t.dims, t.data);
  return hostTensor(float, t.dims, t.data);
}

interface Forward { model: Model; feeds: Record<string, HostTensor>; outs: string[]; wrt: string[] }

/**
 * The forward graph in `dtype`: the op, its loss-feeding outputs as graph outputs y_i, and the
 * scalar `loss`. `weightsAsInputs` feeds differentiated initializers (for finite differences).
 */
export function buildForward(name: string, spec: GradSpec, dtype: FloatType, weightsAsInputs = false): Forward {
  const c = gradOracle(name);
  const wrt = Object.keys(c.grads);
  const b = new GraphBuilder('grad_test');
  const feeds: Record<string, HostTensor> = {};
  const v: Record<string, string> = {};
  const inits = new Set(spec.initializers ?? []);
  for (const [n, t] of Object.entries(c.inputs)) {
    const host = tensorOf(t, dtype);
    if (inits.has(n) && !(weightsAsInputs && wrt.includes(n))) v[n] = b.initializer(n, host.dtype, host.dims, host.data);
    else { v[n] = b.input(n, host.dtype, spec.symbolic ? host.dims.map((_, k) => `${n}_${k}`) : host.dims); feeds[n] = host; }
  }
  let outs: string[];
  if (spec.build) outs = spec.build(b, v, dtype);
  else {
    if (!spec.op || !spec.inputs) throw new Error(`grad case '${name}': give op and inputs, or build`);
    const args = spec.inputs.map((i) => (i === null ? '' : typeof i === 'string' ? v[i] ?? missing(name, i) : b.int64s(i.int64s)));
    const all = b.op(spec.op, args, spec.attrs ?? {}, { outputs: spec.outputs ?? 1 });
    outs = spec.used ? spec.used.map((k) => all[k]!) : all;
  }
  if (outs.length !== c.R.length) throw new Error(`grad case '${name}': ${outs.length} loss-feeding outputs, the fixture has ${c.R.length} R`);
  // loss = sum_i ReduceSum(y_i * R_i), in the graph's dtype.
  const parts = outs.map((y, i) => {
    const r = b.constant(dtype, c.R[i]!.dims, tensorOf(c.R[i]!, dtype).data);
    return b.op1('ReduceSum', [b.op1('Mul', [y, r])], { keepdims: 0 });
  });
  const loss = parts.slice(1).reduce((acc, p) => b.op1('Add', [acc, p]), parts[0]!);
  outs.forEach((y, i) => b.output(y, `y${i}`));
  b.output(loss, 'loss');
  return { model: b.build(), feeds, outs: outs.map((_, i) => `y${i}`), wrt };
}

function missing(name: string, input: string): never {
  throw new Error(`grad case '${name}': the fixture has no input '${input}'`);
}

/** Build the gradient graph of the case in `dtype` and run it: loss and grad.<input> for each differentiated input. */
export async function runGradients(name: string, spec: GradSpec, dtype: FloatType): Promise<{ loss: number; grads: Record<string, HostTensor>; model: Model }> {
  const f = buildForward(name, spec, dtype);
  const model = buildGradientGraph(f.model, { loss: 'loss', wrt: f.wrt });
  const feeds = { ...f.feeds };
  const c = gradOracle(name);
  // Differentiated initializers were promoted to graph inputs: feed them.
  for (const i of model.graph.inputs) if (!feeds[i.name]) feeds[i.name] = tensorOf(c.inputs[i.name]!, dtype);
  const s = await createSession(model, SESSION);
  try {
    const out = await s.run(feeds);
    const grads: Record<string, HostTensor> = {};
    for (const w of f.wrt) {
      const g = out[gradName(w)]!;
      const dims = c.inputs[w]!.dims;
      assert.equal(g.dtype, dtype, `${name}: grad.${w} dtype`);
      assert.deepEqual(g.dims, dims, `${name}: grad.${w} has dims [${g.dims}], the input has [${dims}]`);
      // The declared shape of grad.w: w's dims exactly; with symbolic inputs, the right rank and
      // no dim that contradicts ORT's (a symbol may have been resolved to its number).
      const inferred = model.graph.outputs.find((o) => o.name === gradName(w))!.shape;
      const what = `${name}: grad.${w} inferred shape ${JSON.stringify(inferred)}, ORT returned [${dims}]`;
      if (!spec.symbolic) assert.deepEqual(inferred, dims, what);
      else {
        assert.equal(inferred?.length, dims.length, what);
        inferred!.forEach((d, k) => assert.ok(typeof d !== 'number' || d === dims[k], what));
      }
      grads[w] = g;
    }
    return { loss: toNumbers(out.loss!)[0]!, grads, model };
  } finally {
    await s.release();
  }
}

/** (a) float32 gradient graph vs PyTorch autograd. */
export async function checkAgainstTorch(name: string, spec: GradSpec): Promise<Record<string, Diff>> {
  const c = gradOracle(name);
  const { loss, grads } = await runGradients(name, spec, 'float32');
  assertClose([loss], [c.loss], { ...TOL.torch, label: `${name}: loss vs torch` });
  const out: Record<string, Diff> = {};
  for (const [w, g] of Object.entries(grads)) {
    out[w] = assertClose(toNumbers(g), c.grads[w]!.data, { ...TOL.torch, label: `${name}: grad.${w} vs torch` });
  }
  return out;
}

/**
 * (b) Gradient graph vs central finite differences of the forward graph, both in the same dtype:
 * fd_j = (L(x + h e_j) - L(x - h e_j)) / 2h, with L = sum_i y_i . R_i summed in float64 here (so
 * only the op's own rounding enters, not the loss reduction's).
 */
export async function checkAgainstFiniteDifferences(name: string, spec: GradSpec): Promise<Record<string, Diff & { dtype: FloatType }>> {
  const dtype: FloatType = spec.fd?.dtype ?? 'float64';
  const tol = dtype === 'float64' ? TOL.fd64 : TOL.fd32;
  const step = spec.fd?.dtype === 'float64' ? spec.fd.step : tol.step;
  const rel = spec.fd?.dtype === 'float64' ? spec.fd.rel ?? tol.rel : tol.rel;
  const c = gradOracle(name);
  const { grads } = await runGradients(name, spec, dtype);
  const f = buildForward(name, spec, dtype, true);
  const R = c.R.map((r) => r.data);
  const s = await createSession(f.model, SESSION);
  const out: Record<string, Diff & { dtype: FloatType }> = {};
  try {
    const lossAt = async (feeds: Record<string, HostTensor>): Promise<number> => {
      const res = await s.run(feeds, f.outs);
      let l = 0;
      f.outs.forEach((y, i) => toNumbers(res[y]!).forEach((v, k) => (l += v * R[i]![k]!)));
      return l;
    };
    for (const w of f.wrt) {
      const base = f.feeds[w]!;
      const fd = new Float64Array(base.data.length);
      for (let j = 0; j < fd.length; j++) {
        const shifted = (delta: number): HostTensor => {
          const t = hostTensor(base.dtype, base.dims, base.data as Float64Array);
          (t.data as Float64Array)[j] = (base.data as Float64Array)[j]! + delta;
          return t;
        };
        const plus = await lossAt({ ...f.feeds, [w]: shifted(step) });
        const minus = await lossAt({ ...f.feeds, [w]: shifted(-step) });
        fd[j] = (plus - minus) / (2 * step);
      }
      const scale = Math.max(1, ...Array.from(fd, Math.abs));
      const d = assertClose(toNumbers(grads[w]!), fd, { atol: rel * scale, rtol: 0, label: `${name}: grad.${w} (${dtype}) vs finite differences` });
      out[w] = { ...d, dtype };
    }
  } finally {
    await s.release();
  }
  return out;
}

/** The one call per op: gradients vs torch, then vs finite differences. */
export async function checkGrad(name: string, spec: GradSpec): Promise<GradReport> {
  return { torch: await checkAgainstTorch(name, spec), fd: await checkAgainstFiniteDifferences(name, spec) };
}
