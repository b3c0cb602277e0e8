// Structure of the gradient graphs buildGradientGraph derives (main/engine/autodiff/backward.ts):
// frozen weights get no gradient ops, the loss must be a scalar, an op without a rule is named in
// the error, a value used twice gets its contributions summed, forward values are reused rather
// than recomputed. And proof that the op harness (test/helpers/grad-harness.ts) can fail: wrong
// rules swapped into GRADIENT_RULES, and a perturbed torch reference, are caught.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildGradientGraph, gradName } from '../../main/engine/autodiff/backward.ts';
import type { GradRule } from '../../main/engine/autodiff/context.ts';
import { GRADIENT_RULES } from '../../main/engine/autodiff/rules.ts';
import { GraphBuilder } from '../../main/engine/onnx/builder.ts';
import type { Model, Node } from '../../main/engine/onnx/ir.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { float32, toNumbers } from '../../main/engine/runtime/tensors.ts';
import { checkAgainstFiniteDifferences, checkAgainstTorch, gradOracle } from '../helpers/grad-harness.ts';
import { assertClose, randomFloats } from '../helpers/compare.ts';

const weight = (b: GraphBuilder, name: string, dims: number[], seed: number) =>
  b.initializer(name, 'float32', dims, randomFloats(dims.reduce((a, d) => a * d, 1), seed));
const gradNodes = (m: Model): Node[] => m.graph.nodes.filter((n) => n.name.startsWith('/grad/'));
const loss = (b: GraphBuilder, y: string) => b.output(b.op1('ReduceSum', [y], { keepdims: 0 }, { name: '/loss/ReduceSum' }), 'loss');

/** Every value a gradient op makes is used by a later node or is a graph output: nothing is computed and dropped. */
function assertNoDeadGradientOps(m: Model): void {
  const used = new Set([...m.graph.nodes.flatMap((n) => n.inputs), ...m.graph.outputs.map((o) => o.name)]);
  const dead = gradNodes(m).filter((n) => !n.outputs.some((o) => used.has(o)));
  assert.deepEqual(dead.map((n) => `${n.name} (${n.opType})`), [], 'gradient ops whose results nothing uses');
}

/** Run a rule test with GRADIENT_RULES[op] replaced, restoring it whatever happens. */
async function withRule(op: string, rule: GradRule, fn: () => Promise<void>): Promise<void> {
  const saved = GRADIENT_RULES[op]!;
  GRADIENT_RULES[op] = rule;
  try { await fn(); } finally { GRADIENT_RULES[op] = saved; }
}

describe('gradient graph structure', () => {
  test('frozen weights get no gradient ops; a frozen weight after a trainable one only passes the gradient through', () => {
    //   x -> MatMul(W0 frozen) -> Add(b0 frozen) -> Tanh -> MatMul(W1 trainable) -> Add(b1 trainable)
    //     -> MatMul(W2 frozen) -> Add(b2 frozen) -> loss
    const b = new GraphBuilder('frozen');
    const x = b.input('x', 'float32', [2, 3, 4]);
    let h = b.scope('frozen', () => b.op1('Tanh', [b.op1('Add', [b.op1('MatMul', [x, weight(b, 'W0', [4, 5], 1)]), weight(b, 'b0', [5], 2)])]));
    h = b.scope('train', () => b.op1('Add', [b.op1('MatMul', [h, weight(b, 'W1', [5, 6], 3)]), weight(b, 'b1', [6], 4)]));
    h = b.scope('head', () => b.op1('Add', [b.op1('MatMul', [h, weight(b, 'W2', [6, 2], 5)]), weight(b, 'b2', [2], 6)]));
    loss(b, h);
    const g = buildGradientGraph(b.build(), { loss: 'loss', wrt: ['W1', 'b1'] });

    const grads = gradNodes(g);
    assert.ok(grads.length > 0);
    assert.deepEqual(grads.filter((n) => n.name.startsWith('/grad/frozen/')).map((n) => n.name), [], 'no gradient ops for the frozen block');
    assert.deepEqual(grads.filter((n) => n.inputs.some((i) => ['W0', 'b0', 'b2'].includes(i))).map((n) => n.name), [], 'nothing under /grad/ reads W0, b0 or b2');
    // W2 is needed for dh = g @ W2^T (one MatMul) but its own gradient h^T @ g is never built;
    // the head's Add passes g through unchanged and builds no reduction for b2.
    assert.deepEqual(grads.filter((n) => n.name.startsWith('/grad/head/')).map((n) => n.opType).sort(), ['MatMul', 'Transpose']);
    assertNoDeadGradientOps(g);
    assert.deepEqual(g.graph.outputs.map((o) => o.name), ['loss', gradName('W1'), gradName('b1')]);
    assert.deepEqual(g.graph.inputs.map((i) => i.name).sort(), ['W1', 'b1', 'x'], 'trainables become inputs, frozen weights stay initializers');
    assert.ok(['W0', 'b0', 'W2', 'b2'].every((w) => g.graph.initializers.some((t) => t.name === w)));
  });

  test('the loss must be a scalar (clear error naming it)', () => {
    const b = new GraphBuilder('nonscalar');
    const x = b.input('x', 'float32', [2, 3]);
    b.output(b.op1('ReduceSum', [x, b.int64s([1])], { keepdims: 0 }), 'loss');
    assert.throws(() => buildGradientGraph(b.build(), { loss: 'loss', wrt: ['x'] }), /the loss 'loss' must be a scalar \(shape \[2\]\)/);
  });

  test('an op without a gradient rule gives an error naming the node', () => {
    const b = new GraphBuilder('norule');
    const x = b.input('x', 'float32', [2, 3]);
    loss(b, b.op1('Abs', [b.op1('Tanh', [x])], {}, { name: '/block/Abs' }));
    assert.throws(() => buildGradientGraph(b.build(), { loss: 'loss', wrt: ['x'] }), /no gradient rule for Abs \(node '\/block\/Abs'\)/);
  });

  test('a value used twice (x*x) gets its two gradients summed by one Add: d/dx sum(x*x) = 2x', async () => {
    const b = new GraphBuilder('twice');
    const x = b.input('x', 'float32', [2, 3]);
    loss(b, b.op1('Mul', [x, x]));
    const g = buildGradientGraph(b.build(), { loss: 'loss', wrt: ['x'] });
    const sums = g.graph.nodes.filter((n) => n.name.startsWith('/grad/accumulate/'));
    assert.deepEqual(sums.map((n) => n.opType), ['Add']);
    const mulGrads = gradNodes(g).filter((n) => n.name.startsWith('/grad/Mul/'));
    assert.deepEqual(new Set(sums[0]!.inputs), new Set(mulGrads.map((n) => n.outputs[0])), 'the Add sums the Mul rule\'s two contributions');
    const xs = randomFloats(6, 7);
    const s = await createSession(g, { optimization: 'disabled', threads: 1 });
    try {
      const out = await s.run({ x: float32([2, 3], xs) });
      assertClose(toNumbers(out[gradName('x')]!), Array.from(xs, (v) => 2 * v), { atol: 1e-6, label: 'grad.x of sum(x*x)' });
    } finally {
      await s.release();
    }
  });

  test('the backward graph reuses forward values: every forward node appears once, none is recomputed, side branches get no gradient', () => {
    const b = new GraphBuilder('reuse');
    const x = b.input('x', 'float32', [2, 3, 4]);
    const e = b.op1('Exp', [b.op1('Mul', [x, b.scalar(0.5)])]);
    const t = b.op1('Tanh', [e]);
    const s = b.op1('Softmax', [t], { axis: -1 });
    const l = b.op1('LogSoftmax', [b.op1('MatMul', [s, weight(b, 'W', [4, 4], 9)])], { axis: 1 });
    const q = b.op1('Sigmoid', [b.op1('Sqrt', [b.op1('Add', [b.op1('Mul', [l, l]), b.scalar(1)])])]);
    b.output(b.op1('Sin', [t], {}, { name: '/side/Sin' }), 'side');
    loss(b, q);
    const forward = b.build();
    const g = buildGradientGraph(forward, { loss: 'loss', wrt: ['x', 'W'], keepOutputs: true });

    const key = (n: Node) => JSON.stringify([n.opType, n.inputs, n.attributes]);
    const forwardKeys = new Set(forward.graph.nodes.map(key));
    for (const n of forward.graph.nodes) {
      const same = g.graph.nodes.filter((m) => m.name === n.name);
      assert.equal(same.length, 1, `forward node ${n.name} appears once`);
      assert.deepEqual(same[0], n, `forward node ${n.name} is unchanged`);
    }
    const recomputed = gradNodes(g).filter((n) => forwardKeys.has(key(n)));
    assert.deepEqual(recomputed.map((n) => n.name), [], 'no backward node recomputes a forward node');
    // Rules that use an output (Exp, Tanh, Softmax, LogSoftmax, Sqrt, Sigmoid) read the forward value.
    for (const op of ['Exp', 'Tanh', 'Softmax', 'LogSoftmax', 'Sqrt', 'Sigmoid']) {
      const y = forward.graph.nodes.find((n) => n.opType === op)!.outputs[0]!;
      assert.ok(gradNodes(g).some((n) => n.name.startsWith(`/grad/${op}/`) && n.inputs.includes(y)), `the ${op} rule reads ${y}`);
    }
    assert.deepEqual(gradNodes(g).filter((n) => n.name.startsWith('/grad/side/')), [], 'the side branch gets no gradient ops');
    assertNoDeadGradientOps(g);
    assert.ok(g.graph.outputs.some((o) => o.name === 'side'), 'keepOutputs keeps the side output');
  });
});

describe('the op harness can fail', () => {
  test('a sign error in the Cos rule fails both the torch and the finite-difference check', async () => {
    const wrong: GradRule = (c) => [c.op('Mul', [c.g0, c.op('Sin', [c.x(0)])])]; // should be -g sin x
    await withRule('Cos', wrong, async () => {
      await assert.rejects(checkAgainstTorch('cos', { op: 'Cos', inputs: ['x'] }), /cos: grad\.x vs torch: \d+ of 24 elements differ/);
      await assert.rejects(checkAgainstFiniteDifferences('cos', { op: 'Cos', inputs: ['x'] }), /cos: grad\.x \(float64\) vs finite differences/);
    });
  });

  test('LogSoftmax without the sum over its axis (g - softmax * g) is caught on the middle axis', async () => {
    const wrong: GradRule = (c) => [c.op('Sub', [c.g0, c.op('Mul', [c.op('Exp', [c.y()]), c.g0])])];
    await withRule('LogSoftmax', wrong, async () => {
      const spec = { op: 'LogSoftmax', inputs: ['x'], attrs: { axis: 1 } };
      await assert.rejects(checkAgainstTorch('logsoftmax_axis1', spec), /vs torch/);
      await assert.rejects(checkAgainstFiniteDifferences('logsoftmax_axis1', spec), /vs finite differences/);
    });
  });

  test('a 5e-5 relative error (Sqrt: g / (2.0001 y)) slips under the float32 torch tolerance but float64 finite differences catch it', async () => {
    const slightlyWrong: GradRule = (c) => [c.op('Div', [c.g0, c.op('Mul', [c.y(), c.scalar(2.0001, c.y())])])];
    await withRule('Sqrt', slightlyWrong, async () => {
      await checkAgainstTorch('sqrt', { op: 'Sqrt', inputs: ['x'] }); // within 1e-5 + 1e-4 |torch|
      await assert.rejects(checkAgainstFiniteDifferences('sqrt', { op: 'Sqrt', inputs: ['x'] }), /sqrt: grad\.x \(float64\) vs finite differences/);
    });
  });

  test('a torch reference perturbed by 1e-3 in one element is caught', async () => {
    const ref = gradOracle('matmul_5d_broadcast').grads.b!.data;
    const saved = ref[17]!;
    ref[17] = saved + 1e-3;
    try {
      await assert.rejects(checkAgainstTorch('matmul_5d_broadcast', { op: 'MatMul', inputs: ['a', 'b'] }), /grad\.b vs torch: 1 of 60 elements differ[^]*\[17\]/);
    } finally {
      ref[17] = saved;
    }
    await checkAgainstTorch('matmul_5d_broadcast', { op: 'MatMul', inputs: ['a', 'b'] });
  });
});
