// Op tests, arithmetic and normalization: each op runs alone through ORT and is compared to
// an independent reference (PyTorch/NumPy fixtures from scripts/oracles/onnx_ops.py, or a
// TS elementwise reference for trivial ops). float32 tolerance: atol 1e-5 unless stated.
// Shape, indexing and quantized ops are in ops-shape.test.ts and ops-quant.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { float32, int64 } from '../../main/engine/runtime/tensors.ts';
import { randomFloats } from '../helpers/compare.ts';
import { type OpCase, checkOp, checkOutput, fed, init, oracle, oracleInput, runGraph } from '../helpers/op-harness.ts';
import { mapBroadcast } from '../helpers/reference.ts';

/** Run an op on oracle inputs (all float32) and compare to the oracle's expected output. */
async function checkOracle(caseName: string, op: string, inputs: string[], attrs = {}, tol: { atol?: number; rtol?: number } = {}) {
  const c = oracle(caseName);
  await checkOp(
    { op, inputs: inputs.map((n) => [n, fed(oracleInput(c, n))]), attrs },
    [c.expected],
    { label: caseName, ...tol },
  );
}

test('harness rejects a wrong reference (so passing tests mean something)', async () => {
  const x = float32([2, 2], [1, 2, 3, 4]);
  await assert.rejects(checkOp({ op: 'Neg', inputs: [['x', fed(x)]] }, [{ dims: [2, 2], data: [-1, -2, -3, -4.001] }]), /1 of 4 elements differ/);
  await assert.rejects(checkOp({ op: 'Neg', inputs: [['x', fed(x)]] }, [{ dims: [4], data: [-1, -2, -3, -4] }]), /ORT returned dims \[2,2\]/);
});

test('MatMul 2-D', () => checkOracle('matmul_2d', 'MatMul', ['a', 'b']));
test('MatMul batched with broadcast batch dims [2,1,3,5] x [4,5,6]', () => checkOracle('matmul_batched_broadcast', 'MatMul', ['a', 'b']));
test('MatMul with a 1-D left operand', () => checkOracle('matmul_vector', 'MatMul', ['a', 'b']));
test('Gemm transB=1 alpha=0.5 beta=2 with broadcast C', () => checkOracle('gemm', 'Gemm', ['a', 'b', 'c'], { transB: 1, alpha: 0.5, beta: 2 }));

// Trivial elementwise ops against the TS broadcast reference; operands exercise broadcasting.
const A = float32([2, 3, 4], randomFloats(24, 1, 2));
const B = float32([3, 1], randomFloats(3, 2, 2));
const POS = float32([2, 3, 4], randomFloats(24, 3, 1).map((v) => v + 1.5));
const binary: [string, (a: number, b: number) => number][] = [
  ['Add', (a, b) => a + b], ['Sub', (a, b) => a - b], ['Mul', (a, b) => a * b], ['Div', (a, b) => a / b],
];
for (const [op, fn] of binary) {
  test(`${op} with broadcasting [2,3,4] . [3,1]`, () =>
    checkOp({ op, inputs: [['a', fed(A)], ['b', fed(B)]] }, [mapBroadcast([A, B], (a, b) => Math.fround(fn(a, b)))], { rtol: 1e-6 }));
}
const unary: [string, (x: number) => number, typeof A][] = [
  ['Sqrt', Math.sqrt, POS], ['Reciprocal', (x) => 1 / x, POS], ['Neg', (x) => -x, A], ['Relu', (x) => Math.max(0, x), A],
];
for (const [op, fn, x] of unary) {
  test(`${op}`, () => checkOp({ op, inputs: [['x', fed(x)]] }, [mapBroadcast([x], fn)], { rtol: 1e-6 }));
}
// Transcendental ops against PyTorch (float64 reference; ORT's float32 kernels are approximations).
for (const [op, name] of [['Exp', 'exp'], ['Log', 'log'], ['Tanh', 'tanh'], ['Erf', 'erf'], ['Sigmoid', 'sigmoid']] as const) {
  test(`${op}`, () => checkOracle(name, op, ['x'], {}, { atol: 1e-6, rtol: 1e-5 }));
}
test('Pow with broadcast exponent', () => checkOracle('pow', 'Pow', ['x', 'y'], {}, { atol: 1e-6, rtol: 1e-5 }));

test('Softmax axis -1', () => checkOracle('softmax_last', 'Softmax', ['x'], { axis: -1 }, { atol: 1e-6 }));
test('Softmax axis 1 (opset 13+: normalizes over that axis only)', () => checkOracle('softmax_axis1', 'Softmax', ['x'], { axis: 1 }, { atol: 1e-6 }));
test('LogSoftmax axis -1', () => checkOracle('logsoftmax_last', 'LogSoftmax', ['x'], { axis: -1 }, { atol: 1e-5 }));

// Reductions take axes as an input since opset 18; the axes are initializers so shapes infer.
const reductions: [string, string, number[] | null, number][] = [
  ['ReduceMean', 'reduce_mean_axis1_keep', [1], 1],
  ['ReduceSum', 'reduce_sum_axes02_drop', [0, 2], 0],
  ['ReduceMax', 'reduce_max_last_keep', [-1], 1],
  ['ReduceSum', 'reduce_sum_all', null, 1],
];
for (const [op, name, axes, keepdims] of reductions) {
  test(`${op} axes ${axes ? `[${axes}]` : 'omitted (all)'} keepdims=${keepdims}`, async () => {
    const c = oracle(name);
    const inputs: OpCase['inputs'] = [['x', fed(oracleInput(c, 'x'))]];
    if (axes) inputs.push(['axes', init(int64([axes.length], axes))]);
    await checkOp({ op, inputs, attrs: { keepdims } }, [c.expected], { label: name, atol: 1e-5 });
  });
}

test('LayerNormalization over the last axis', async () => {
  const c = oracle('layernorm');
  await checkOp({
    op: 'LayerNormalization', attrs: { axis: -1, epsilon: 1e-5 },
    inputs: [['x', fed(oracleInput(c, 'x'))], ['gamma', init(oracleInput(c, 'gamma'))], ['beta', init(oracleInput(c, 'beta'))]],
  }, [c.expected], { atol: 1e-5 });
});

test('SimplifiedLayerNormalization (ORT contrib op, registered in the ai.onnx domain) equals RMSNorm', async () => {
  const c = oracle('rmsnorm');
  await checkOp({
    op: 'SimplifiedLayerNormalization', attrs: { axis: -1, epsilon: 1e-6 },
    inputs: [['x', fed(oracleInput(c, 'x'))], ['w', init(oracleInput(c, 'w'))]],
  }, [c.expected], { atol: 1e-5 });
});

test('RMSNorm decomposed: Pow, ReduceMean, Add, Sqrt, Div, Mul', async () => {
  const c = oracle('rmsnorm');
  const x = oracleInput(c, 'x');
  const run = await runGraph((b) => {
    const xi = b.input('x', 'float32', x.dims);
    const w = b.initializer('w', 'float32', [8], oracleInput(c, 'w').data as Float32Array);
    // x / sqrt(mean(x^2, -1) + eps) * w
    const sq = b.op1('Pow', [xi, b.scalar(2)]);
    const ms = b.op1('ReduceMean', [sq, b.int64s([-1])], { keepdims: 1 });
    const rms = b.op1('Sqrt', [b.op1('Add', [ms, b.scalar(1e-6)])]);
    return [b.op1('Mul', [b.op1('Div', [xi, rms]), w])];
  }, { x });
  checkOutput(run, 0, c.expected, { dtype: 'float32', label: 'rmsnorm decomposed', atol: 1e-5 });
});

// float16: inputs are half values, references are float64 on those exact values. ORT's CPU
// kernels compute in float32 (MLAS converts half in and out), so the error is the final
// rounding to half, 2^-11 relative, plus float32 accumulation; tolerance atol 1e-3, rtol 2e-3.
const F16_TOL = { atol: 1e-3, rtol: 2e-3 };
for (const [name, op, inputs, attrs] of [
  ['f16_matmul', 'MatMul', ['a', 'b'], {}],
  ['f16_add', 'Add', ['a', 'b'], {}],
  ['f16_softmax', 'Softmax', ['x'], { axis: -1 }],
] as const) {
  test(`${op} float16 (tolerance atol ${F16_TOL.atol}, rtol ${F16_TOL.rtol})`, async () => {
    const c = oracle(name);
    // checkOp also asserts the output dtype is float16, so a float32 result cannot pass.
    await checkOp(
      { op, inputs: inputs.map((n) => [n, fed(oracleInput(c, n, 'float16'))]), attrs },
      [{ ...c.expected, dtype: 'float16' }],
      { label: name, ...F16_TOL },
    );
  });
}
