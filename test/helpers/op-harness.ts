// Op-level test harness: build a one-op (or few-op) graph with GraphBuilder, run it through
// ORT (createSession, CPU, no graph optimizations so the op's own kernel runs), and compare
// every output to a reference: values with assertClose, and dims and dtype exactly. It also
// checks that the builder's inferred output shape equals the shape ORT returned, because
// later passes (autodiff, the model builders) trust those shapes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type AttrInput, GraphBuilder } from '../../main/engine/onnx/builder.ts';
import { type DType, float32ToFloat16Bits } from '../../main/engine/onnx/dtypes.ts';
import { type Shape, formatShape } from '../../main/engine/onnx/ir.ts';
import { type SessionOptions, createSession } from '../../main/engine/runtime/session.ts';
import { type HostTensor, hostTensor, toNumbers } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from './compare.ts';

/** An op input: fed at run time (default) or baked in as an initializer (`init: true`). */
export interface OpInput {
  tensor: HostTensor;
  init?: boolean;
}

export interface Expected {
  dims: number[];
  data: ArrayLike<number | bigint>;
  /** Defaults to the dtype of the op's first input. */
  dtype?: DType;
}

export interface OpCase {
  op: string;
  /** Named inputs in op order; null marks an omitted optional input. */
  inputs: [string, OpInput | null][];
  attrs?: Record<string, AttrInput>;
  domain?: string;
}

export interface CheckOptions {
  atol?: number;
  rtol?: number;
  label?: string;
  /** Set (with the reason) where the builder's inference is allowed to leave dims unknown. */
  shapeNotInferred?: string;
  session?: SessionOptions;
}

export interface GraphRun {
  outputs: HostTensor[];
  /** The builder's inferred shape of each output, as the graph declared it. */
  inferred: (Shape | null)[];
}

/** Debug preset: one thread and no optimizer, so ORT neither fuses nor folds the op under test. */
const OP_SESSION: SessionOptions = { optimization: 'disabled', threads: 1 };

/** Build a graph with `build` (which returns the values to fetch), run it on `feeds`. */
export async function runGraph(
  build: (b: GraphBuilder) => string[],
  feeds: Record<string, HostTensor>,
  session: SessionOptions = OP_SESSION,
): Promise<GraphRun> {
  const b = new GraphBuilder('op_test');
  const outs = build(b).map((v, i) => b.output(v, `out_${i}`));
  const model = b.build();
  const s = await createSession(model, session);
  try {
    const results = await s.run(feeds);
    return {
      outputs: outs.map((o) => results[o]!),
      inferred: outs.map((o) => model.graph.outputs.find((v) => v.name === o)!.shape),
    };
  } finally {
    await s.release();
  }
}

/** Run one op whose inputs are graph inputs or initializers; returns all its outputs. */
export async function runOp(c: OpCase, nOutputs = 1, session?: SessionOptions): Promise<GraphRun> {
  const feeds: Record<string, HostTensor> = {};
  return runGraph((b) => {
    const names = c.inputs.map(([name, inp]) => {
      if (inp === null) return '';
      if (inp.init) return b.initializer(name, inp.tensor.dtype, inp.tensor.dims, inp.tensor.data);
      feeds[name] = inp.tensor;
      return b.input(name, inp.tensor.dtype, inp.tensor.dims);
    });
    return b.op(c.op, names, c.attrs ?? {}, { outputs: nOutputs, ...(c.domain !== undefined ? { domain: c.domain } : {}) });
  }, feeds, session);
}

/** Assert one output against its reference: dtype, dims, inferred shape, then values. */
export function checkOutput(run: GraphRun, i: number, want: Expected, o: CheckOptions & { dtype: DType }): void {
  const label = o.label ?? `output ${i}`;
  const got = run.outputs[i]!;
  assert.equal(got.dtype, want.dtype ?? o.dtype, `${label}: dtype`);
  assert.deepEqual(got.dims, want.dims, `${label}: ORT returned dims [${got.dims}], reference has [${want.dims}]`);
  const inferred = run.inferred[i] ?? null;
  if (o.shapeNotInferred === undefined) {
    assert.deepEqual(inferred, got.dims, `${label}: builder inferred ${formatShape(inferred)} but ORT returned [${got.dims}]`);
  } else if (inferred !== null) {
    // Even a partial inference must not contradict ORT: same rank, and every known dim equal.
    assert.equal(inferred.length, got.dims.length, `${label}: inferred rank ${formatShape(inferred)} vs [${got.dims}]`);
    inferred.forEach((d, k) => typeof d === 'number' && assert.equal(d, got.dims[k], `${label}: inferred ${formatShape(inferred)} vs [${got.dims}]`));
  }
  assertClose(toNumbers(got), Array.from(want.data, Number), { atol: o.atol ?? 1e-5, rtol: o.rtol ?? 0, label });
}

/** Run one op and compare its outputs to `expected` (one entry per checked output). */
export async function checkOp(c: OpCase, expected: Expected[], o: CheckOptions = {}): Promise<void> {
  await checkOpRun(c, expected, o);
}

/** checkOp that also hands back the run, for extra checks on the raw outputs. */
export async function checkOpRun(c: OpCase, expected: Expected[], o: CheckOptions = {}): Promise<GraphRun> {
  const run = await runOp(c, expected.length, o.session);
  const dtype = c.inputs.find(([, v]) => v !== null)![1]!.tensor.dtype;
  expected.forEach((e, i) => checkOutput(run, i, e, { ...o, dtype, label: `${o.label ?? c.op} output ${i}` }));
  return run;
}

export const fed = (tensor: HostTensor): OpInput => ({ tensor });
export const init = (tensor: HostTensor): OpInput => ({ tensor, init: true });

// --- oracle fixtures written by scripts/oracles/onnx_ops.py ---------------------------------

interface FixtureTensor { dims: number[]; data: number[] }
export interface OracleCase { inputs: Record<string, FixtureTensor>; expected: FixtureTensor }

let fixture: Record<string, OracleCase> | undefined;

/** One case of test/fixtures/onnx/ops.json (regenerate with /usr/bin/python3 scripts/oracles/onnx_ops.py). */
export function oracle(name: string): OracleCase {
  fixture ??= (JSON.parse(readFileSync(new URL('../fixtures/onnx/ops.json', import.meta.url), 'utf8')) as { cases: Record<string, OracleCase> }).cases;
  const c = fixture[name];
  if (!c) throw new Error(`oracle case '${name}' is not in test/fixtures/onnx/ops.json; rerun scripts/oracles/onnx_ops.py`);
  return c;
}

/** A fixture input as a host tensor of `dtype` (float16: values rounded to half, which they already are). */
export function oracleInput(c: OracleCase, name: string, dtype: DType = 'float32'): HostTensor {
  const t = c.inputs[name];
  if (!t) throw new Error(`oracle case has no input '${name}'`);
  if (dtype === 'float16') return hostTensor('float16', t.dims, t.data.map(float32ToFloat16Bits));
  return hostTensor(dtype, t.dims, t.data);
}
