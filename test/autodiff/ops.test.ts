// One test per gradient rule in GRADIENT_RULES (main/engine/autodiff/rules.ts), each a single
// checkGrad call (test/helpers/grad-harness.ts): loss = sum(op(inputs) * R), R fixed random.
// Every gradient is checked
//   (a) against PyTorch 1.13 autograd (float64 on the float32 inputs; scripts/oracles/autodiff_ops.py),
//       graph in float32:  |ours - torch| <= 1e-5 + 1e-4 |torch|;
//   (b) against central finite differences, forward AND gradient graph in float64, step 1e-5:
//       |ours - fd| <= 1e-6 * max(1, max|fd|);
//       ops without an ORT double kernel (Erf) do both in float32, step 1e-2:
//       |ours - fd| <= 2e-3 * max(1, max|fd|), and say so in the test name.
// Inputs sit away from kinks and poles (Relu at 0, Log/Sqrt/Div near 0). The max errors measured
// for each case are printed at the end.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { GRADIENT_RULES } from '../../main/engine/autodiff/rules.ts';
import { type GradReport, type GradSpec, checkGrad, int64s } from '../helpers/grad-harness.ts';

const reports: [string, GradReport][] = [];
async function grad(name: string, spec: GradSpec): Promise<void> {
  reports.push([name, await checkGrad(name, spec)]);
}

const covered = new Set<string>();
/** A test for `rule`; the ops a case uses are recorded so the last test can check that every rule has one. */
function ruleTest(rule: string, title: string, fn: () => Promise<void>): void {
  covered.add(rule);
  test(`${rule}: ${title}`, fn);
}

const BROADCASTS = {
  a_bcast_last: '[4] op [2,3,4]',
  b_keepdims_1: '[2,3,4] op [1,3,1]',
  b_scalar: '[2,3,4] op scalar',
  mutual: '[2,1,4] op [3,1]',
};

describe('gradient rules vs PyTorch and finite differences', () => {
  after(() => {
    const rows = reports.map(([name, r]) => {
      const t = Math.max(...Object.values(r.torch).map((d) => d.maxAbs));
      const f = Math.max(...Object.values(r.fd).map((d) => d.maxAbs));
      const fdType = Object.values(r.fd)[0]?.dtype ?? '';
      return `  ${name.padEnd(28)} torch max abs ${t.toExponential(2)}   fd(${fdType}) max abs ${f.toExponential(2)}`;
    });
    console.log(`# autodiff op gradients: max errors\n${rows.join('\n')}`);
  });

  ruleTest('Identity', '[2,3,4]', () => grad('identity', { op: 'Identity', inputs: ['x'] }));

  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    for (const [tag, shapes] of Object.entries(BROADCASTS)) {
      ruleTest(op, `broadcast ${shapes}`, () => grad(`${op.toLowerCase()}_${tag}`, { op, inputs: ['a', 'b'] }));
    }
  }
  ruleTest('Mul', 'frozen [4] operand (an initializer) gets no gradient', () => grad('mul_b_frozen', { op: 'Mul', inputs: ['a', 'b'], initializers: ['b'] }));

  const unary: [string, string][] = [
    ['Neg', 'neg'], ['Sqrt', 'sqrt'], ['Reciprocal', 'reciprocal'], ['Exp', 'exp'], ['Log', 'log'], ['Tanh', 'tanh'],
    ['Sigmoid', 'sigmoid'], ['Relu', 'relu'], ['Sin', 'sin'], ['Cos', 'cos'],
  ];
  for (const [op, name] of unary) ruleTest(op, '[2,3,4]', () => grad(name, { op, inputs: ['x'] }));
  ruleTest('Erf', '[2,3,4] (finite differences in float32: ORT CPU has no double Erf kernel)', () =>
    grad('erf', { op: 'Erf', inputs: ['x'], fd: { dtype: 'float32', reason: 'ORT CPU registers Erf for float only' } }));

  ruleTest('Pow', 'constant scalar exponent 2.5', () => grad('pow_scalar_exp', { op: 'Pow', inputs: ['x', 'p'], initializers: ['p'] }));
  ruleTest('Pow', 'constant [4] exponent (2, 3, 0.5, -1.5)', () => grad('pow_vector_exp', { op: 'Pow', inputs: ['x', 'p'], initializers: ['p'] }));
  ruleTest('Pow', 'int64 exponent 3, negative bases', () => grad('pow_int_exp_negative_base', { op: 'Pow', inputs: ['x', 'p'], initializers: ['p'] }));

  ruleTest('MatMul', '2D [3,5] @ [5,4]', () => grad('matmul_2d', { op: 'MatMul', inputs: ['a', 'b'] }));
  ruleTest('MatMul', 'batched 4D [2,3,4,5] @ [2,3,5,2]', () => grad('matmul_batched_4d', { op: 'MatMul', inputs: ['a', 'b'] }));
  ruleTest('MatMul', '3D @ 2D weight initializer [2,3,5] @ [5,4] (flattened-rows path)', () =>
    grad('matmul_3d_weight', { op: 'MatMul', inputs: ['a', 'b'], initializers: ['b'] }));
  ruleTest('MatMul', '2D @ batched [3,5] @ [2,5,4] (dA summed over the batch)', () => grad('matmul_2d_batched_b', { op: 'MatMul', inputs: ['a', 'b'] }));
  ruleTest('MatMul', '5D broadcast [B,k,r,S,D] @ [B,k,1,D,T] (grouped-query attention)', () => grad('matmul_5d_broadcast', { op: 'MatMul', inputs: ['a', 'b'] }));

  for (const [op, name] of [['Softmax', 'softmax'], ['LogSoftmax', 'logsoftmax']] as const) {
    ruleTest(op, 'axis -1 of [2,3,5]', () => grad(`${name}_last`, { op, inputs: ['x'], attrs: { axis: -1 } }));
    ruleTest(op, 'middle axis 1 of [2,3,5]', () => grad(`${name}_axis1`, { op, inputs: ['x'], attrs: { axis: 1 } }));
  }

  const reductions: [string, number[] | null, number][] = [
    ['axes02_drop', [0, 2], 0], ['axis1_keep', [1], 1], ['last_drop', [-1], 0], ['all_keep', null, 1], ['all_drop', null, 0],
  ];
  for (const op of ['ReduceSum', 'ReduceMean']) {
    for (const [tag, axes, keepdims] of reductions) {
      ruleTest(op, `axes ${axes ? `[${axes}]` : 'all (no axes input)'}, keepdims ${keepdims}`, () =>
        grad(`${op.toLowerCase()}_${tag}`, { op, inputs: ['x', axes ? int64s(axes) : null].slice(0, axes ? 2 : 1), attrs: { keepdims } }));
    }
  }

  ruleTest('Reshape', '[2,3,4] -> [6,-1]', () => grad('reshape', { op: 'Reshape', inputs: ['x', int64s([6, -1])] }));
  ruleTest('Unsqueeze', '[2,3,4] axes [0,3]', () => grad('unsqueeze', { op: 'Unsqueeze', inputs: ['x', int64s([0, 3])] }));
  ruleTest('Squeeze', '[2,1,4,1] axes [1]', () => grad('squeeze_axis', { op: 'Squeeze', inputs: ['x', int64s([1])] }));
  ruleTest('Squeeze', '[2,1,4,1] no axes (all size-1 axes)', () => grad('squeeze_all', { op: 'Squeeze', inputs: ['x'] }));
  ruleTest('Expand', '[3,1] -> [2,3,4] (rank grows)', () => grad('expand_rank_up', { op: 'Expand', inputs: ['x', int64s([2, 3, 4])] }));
  ruleTest('Expand', '[1,3,1] -> [2,3,4]', () => grad('expand_same_rank', { op: 'Expand', inputs: ['x', int64s([2, 3, 4])] }));
  ruleTest('Transpose', 'perm [2,0,1]', () => grad('transpose_perm', { op: 'Transpose', inputs: ['x'], attrs: { perm: [2, 0, 1] } }));
  ruleTest('Transpose', 'default perm (reverse)', () => grad('transpose_default', { op: 'Transpose', inputs: ['x'] }));
  ruleTest('Concat', '3 inputs on axis 1, the middle one needs no gradient', () =>
    grad('concat_3_inputs', { op: 'Concat', inputs: ['a', 'b', 'c'], attrs: { axis: 1 } }));
  ruleTest('Split', '[2,6] into [2,3,1] on axis 1, middle output unused', () =>
    grad('split_middle_unused', { op: 'Split', inputs: ['x', int64s([2, 3, 1])], attrs: { axis: 1 }, outputs: 3, used: [0, 2] }));
  ruleTest('Split', '[2,6,2] into [4,2] on axis -2, last output unused', () =>
    grad('split_last_unused', { op: 'Split', inputs: ['x', int64s([4, 2])], attrs: { axis: -2 }, outputs: 2, used: [0] }));
  ruleTest('Where', 'gradient to both branches, the else branch broadcast [4]', () => grad('where', { op: 'Where', inputs: ['cond', 'a', 'b'] }));

  // x -> Cast -> Cast: in float32, float32 -> float64 -> float32 (or -> float16 -> float32); in the
  // float64 graph, float64 -> float32 (or float16) -> float64. Inputs lie on a 2^-6 grid and the
  // step is 2^-8, so the roundtrips are exact and the finite differences too.
  const roundtrip = (via: number) => (b: Parameters<NonNullable<GradSpec['build']>>[0], v: Record<string, string>, dtype: string) => {
    const mid = dtype === 'float32' && via !== 10 ? 11 : via === 10 ? 10 : 1;
    const back = dtype === 'float32' ? 1 : 11;
    return [b.op1('Cast', [b.op1('Cast', [v.x!], { to: mid })], { to: back })];
  };
  const exactStep = { dtype: 'float64', step: 2 ** -8, reason: 'inputs on a 2^-6 grid: the roundtrip is exact at x +- 2^-8' } as const;
  ruleTest('Cast', 'float32 -> float64 -> float32 (float64 graph: via float32)', () => grad('cast_f64_roundtrip', { build: roundtrip(11), fd: exactStep }));
  // The backward Cast rounds the upstream gradient to half, as torch does (the torch check is
  // exact), so against the exact derivative it is only good to half's unit roundoff, 2^-11.
  ruleTest('Cast', 'float32 -> float16 -> float32 (gradient rounded to half, as torch does; finite differences to 2^-11)', () =>
    grad('cast_f16_roundtrip', { build: roundtrip(10), fd: { ...exactStep, rel: 2 ** -11, reason: 'the gradient passes through float16' } }));

  ruleTest('Gather', 'embedding rows [5,3] with repeated ids [2,4] (scatter-add), table an initializer', () =>
    grad('gather_embedding', { op: 'Gather', inputs: ['table', 'ids'], initializers: ['table'] }));
  ruleTest('GatherElements', 'axis 1, repeated indices', () => grad('gather_elements_axis1', { op: 'GatherElements', inputs: ['x', 'idx'], attrs: { axis: 1 } }));
  ruleTest('GatherElements', 'axis 0, repeated indices', () => grad('gather_elements_axis0', { op: 'GatherElements', inputs: ['x', 'idx'], attrs: { axis: 0 } }));
  ruleTest('Gather', 'negative ids count from the end (-1 twice, -5 = row 0)', () => grad('gather_negative_ids', { op: 'Gather', inputs: ['table', 'ids'] }));
  ruleTest('GatherElements', 'negative indices on axis 1', () => grad('gather_elements_negative', { op: 'GatherElements', inputs: ['x', 'idx'], attrs: { axis: 1 } }));
  ruleTest('LayerNormalization', '[2,3,8], gradients for x, weight and bias (initializers)', () =>
    grad('layernorm', { op: 'LayerNormalization', inputs: ['x', 'w', 'b'], attrs: { axis: -1, epsilon: 1e-5 }, initializers: ['w', 'b'] }));

  test('next-token loss: LogSoftmax + GatherElements + ignore_index -100 mask, mean over valid labels', () =>
    grad('next_token_loss', {
      // The same ops as nextTokenLoss in main/engine/models/graph-io.ts.
      build: (b, v, dtype) => {
        const to = dtype === 'float32' ? 1 : 11;
        const logp = b.op1('LogSoftmax', [v.logits!], { axis: -1 });
        const valid = b.op1('Not', [b.op1('Equal', [v.labels!, b.scalar(-100, 'int64')])]);
        const safe = b.op1('Where', [valid, v.labels!, b.scalar(0, 'int64')]);
        const picked = b.op1('GatherElements', [logp, b.op1('Unsqueeze', [safe, b.int64s([-1])])], { axis: -1 });
        const lp = b.op1('Squeeze', [picked, b.int64s([-1])]);
        const weight = b.op1('Cast', [valid], { to });
        const total = b.op1('ReduceSum', [b.op1('Mul', [lp, weight])], { keepdims: 0 });
        const count = b.op1('Max', [b.op1('ReduceSum', [weight], { keepdims: 0 }), b.scalar(1, dtype)]);
        return [b.op1('Neg', [b.op1('Div', [total, count])])];
      },
    }));

  test('a value used twice (x*x + x): its three gradient contributions are summed', () =>
    grad('used_twice', { build: (b, v) => [b.op1('Add', [b.op1('Mul', [v.x!, v.x!]), v.x!])] }));

  test('every rule in GRADIENT_RULES has a test above', () => {
    assert.deepEqual(Object.keys(GRADIENT_RULES).filter((r) => !covered.has(r)), []);
  });
});

// The same cases with every graph-input dim symbolic (as batch and seq are in model graphs):
// broadcast axes are then unknown when the gradient graph is built, and rules take their
// run-time paths (Shape / NonZero / ReduceSum over computed axes in unbroadcast).
describe('gradient rules with symbolic input dims (run-time broadcast reduction)', () => {
  const cases: [string, GradSpec][] = [
    ...['add', 'sub', 'mul', 'div'].flatMap((op) => Object.keys(BROADCASTS).map((tag): [string, GradSpec] =>
      [`${op}_${tag}`, { op: op[0]!.toUpperCase() + op.slice(1), inputs: ['a', 'b'] }])),
    ['where', { op: 'Where', inputs: ['cond', 'a', 'b'] }],
    ['pow_vector_exp', { op: 'Pow', inputs: ['x', 'p'], initializers: ['p'] }],
    ['matmul_3d_weight', { op: 'MatMul', inputs: ['a', 'b'], initializers: ['b'] }],
    ['matmul_3d_weight', { op: 'MatMul', inputs: ['a', 'b'] }], // weight fed too: K and N read at run time
    ['matmul_2d_batched_b', { op: 'MatMul', inputs: ['a', 'b'] }],
    ['matmul_5d_broadcast', { op: 'MatMul', inputs: ['a', 'b'] }],
    ['expand_same_rank', { op: 'Expand', inputs: ['x', int64s([2, 3, 4])] }],
    ['concat_3_inputs', { op: 'Concat', inputs: ['a', 'b', 'c'], attrs: { axis: 1 } }],
    ['split_middle_unused', { op: 'Split', inputs: ['x', int64s([2, 3, 1])], attrs: { axis: 1 }, outputs: 3, used: [0, 2] }],
    ['reducemean_axes02_drop', { op: 'ReduceMean', inputs: ['x', int64s([0, 2])], attrs: { keepdims: 0 } }],
    ['gather_embedding', { op: 'Gather', inputs: ['table', 'ids'], initializers: ['table'] }],
    ['layernorm', { op: 'LayerNormalization', inputs: ['x', 'w', 'b'], attrs: { axis: -1, epsilon: 1e-5 }, initializers: ['w', 'b'] }],
  ];
  for (const [name, spec] of cases) {
    const weight = spec.initializers?.length ? `, ${spec.initializers.join(', ')} an initializer` : '';
    test(`${name} (symbolic dims${weight})`, () => grad(name, { ...spec, symbolic: true }));
  }
});
