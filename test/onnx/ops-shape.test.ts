// Op tests, shape and indexing ops: Reshape, Transpose, Concat, Slice, Gather, GatherElements,
// Where, Cast, Expand, Unsqueeze, Squeeze, Shape, Range, Equal, Less, Trilu (and the causal
// mask built from it). Copies are exact, so values must match exactly (atol 0) unless stated.
// Shape-like operands are initializers, as the builders emit them, so output shapes infer.
import { test } from 'node:test';
import { float32ToFloat16Bits, fromFloat16, toFloat16 } from '../../main/engine/onnx/dtypes.ts';
import { type HostTensor, bool, float32, hostTensor, int64 } from '../../main/engine/runtime/tensors.ts';
import { randomFloats } from '../helpers/compare.ts';
import { checkOp, checkOpRun, checkOutput, fed, init, oracle, oracleInput, runGraph } from '../helpers/op-harness.ts';
import { mapBroadcast } from '../helpers/reference.ts';

const EXACT = { atol: 0 };
const X = float32([2, 3, 4], randomFloats(24, 11, 3));
const same = (t: HostTensor, dims: number[]) => ({ dims, data: Array.from(t.data as Float32Array) });
const scalarI64 = (v: number) => int64([], [v]);

test('Reshape [2,3,4] -> [4,-1]', () =>
  checkOp({ op: 'Reshape', inputs: [['x', fed(X)], ['shape', init(int64([2], [4, -1]))]] }, [same(X, [4, 6])], EXACT));
test('Reshape with 0 (copy dim) and -1', () =>
  checkOp({ op: 'Reshape', inputs: [['x', fed(X)], ['shape', init(int64([2], [0, -1]))]] }, [same(X, [2, 12])], EXACT));

test('Transpose perm [0,2,1]', async () => {
  const c = oracle('transpose_021');
  await checkOp({ op: 'Transpose', inputs: [['x', fed(oracleInput(c, 'x'))]], attrs: { perm: [0, 2, 1] } }, [c.expected], EXACT);
});
test('Transpose without perm reverses the axes', async () => {
  const c = oracle('transpose_default');
  await checkOp({ op: 'Transpose', inputs: [['x', fed(oracleInput(c, 'x'))]] }, [c.expected], EXACT);
});

test('Concat axis 1', async () => {
  const c = oracle('concat_axis1');
  await checkOp({ op: 'Concat', inputs: [['a', fed(oracleInput(c, 'a'))], ['b', fed(oracleInput(c, 'b'))]], attrs: { axis: 1 } }, [c.expected], EXACT);
});

test('Slice with clamped ends, negative starts and steps [2,-2]', async () => {
  const c = oracle('slice_steps'); // numpy x[1:100:2, -1:-7:-2]
  await checkOp({
    op: 'Slice',
    inputs: [
      ['x', fed(oracleInput(c, 'x'))], ['starts', init(int64([2], [1, -1]))], ['ends', init(int64([2], [100, -7]))],
      ['axes', init(int64([2], [0, 1]))], ['steps', init(int64([2], [2, -2]))],
    ],
  }, [c.expected], EXACT);
});
test('Slice on the last axis only, ends past the end', () =>
  checkOp({
    op: 'Slice',
    inputs: [['x', fed(X)], ['starts', init(int64([1], [1]))], ['ends', init(int64([1], [1e9]))], ['axes', init(int64([1], [-1]))]],
  }, [{ dims: [2, 3, 3], data: Array.from(X.data).filter((_, i) => i % 4 !== 0) }], EXACT));

test('Gather axis 1 with a negative index', async () => {
  const c = oracle('gather_axis1');
  await checkOp({ op: 'Gather', inputs: [['x', fed(oracleInput(c, 'x'))], ['idx', fed(oracleInput(c, 'idx', 'int64'))]], attrs: { axis: 1 } }, [c.expected], EXACT);
});
test('GatherElements axis 1', async () => {
  const c = oracle('gather_elements_axis1');
  await checkOp({ op: 'GatherElements', inputs: [['x', fed(oracleInput(c, 'x'))], ['idx', fed(oracleInput(c, 'idx', 'int64'))]], attrs: { axis: 1 } }, [c.expected], EXACT);
});

test('Where with three-way broadcasting', () => {
  const cond = bool([2, 1, 4], [1, 0, 0, 1, 0, 1, 1, 0]);
  const y = float32([4], [10, 20, 30, 40]);
  return checkOp({ op: 'Where', inputs: [['cond', fed(cond)], ['x', fed(X)], ['y', fed(y)]] },
    [{ ...mapBroadcast([cond, X, y], (c, a, b) => (c ? a : b)), dtype: 'float32' }], EXACT);
});

test('Cast float32 -> int64 truncates toward zero', () => {
  const x = float32([6], [2.7, -2.7, 0.5, -0.5, 1e6, -3]);
  return checkOp({ op: 'Cast', inputs: [['x', fed(x)]], attrs: { to: 7 } }, [{ dims: [6], data: [2, -2, 0, 0, 1e6, -3], dtype: 'int64' }], EXACT);
});
test('Cast float32 -> float16 rounds like dtypes.float32ToFloat16Bits', async () => {
  const values = [...randomFloats(32, 5, 10), 65504, 70000, 1e-7, -0, 2049, 2051];
  const run = await checkOpRun({ op: 'Cast', inputs: [['x', fed(float32([values.length], values))]], attrs: { to: 10 } },
    [{ dims: [values.length], data: fromFloat16(toFloat16(values)), dtype: 'float16' }], { atol: 0, label: 'cast f16 values' });
  // Bit-exact against our converter (round to nearest even, overflow to inf).
  checkOutput({ ...run, outputs: [{ ...run.outputs[0]!, dtype: 'int32' }] }, 0,
    { dims: [values.length], data: values.map(float32ToFloat16Bits), dtype: 'int32' }, { dtype: 'int32', atol: 0, label: 'cast f16 bits' });
});
test('Cast bool -> float32', () =>
  checkOp({ op: 'Cast', inputs: [['b', fed(bool([3], [1, 0, 1]))]], attrs: { to: 1 } }, [{ dims: [3], data: [1, 0, 1], dtype: 'float32' }], EXACT));

test('Expand [3,1,2] to [2,3,4,2]', async () => {
  const c = oracle('expand');
  await checkOp({ op: 'Expand', inputs: [['x', fed(oracleInput(c, 'x'))], ['shape', init(int64([4], [2, 3, 4, 2]))]] }, [c.expected], EXACT);
});

test('Unsqueeze axes [0,-1]', () =>
  checkOp({ op: 'Unsqueeze', inputs: [['x', fed(X)], ['axes', init(int64([2], [0, -1]))]] }, [same(X, [1, 2, 3, 4, 1])], EXACT));
const X1 = float32([1, 3, 1, 4], randomFloats(12, 12));
test('Squeeze axes [2]', () =>
  checkOp({ op: 'Squeeze', inputs: [['x', fed(X1)], ['axes', init(int64([1], [2]))]] }, [same(X1, [1, 3, 4])], EXACT));
test('Squeeze without axes drops every 1', () => checkOp({ op: 'Squeeze', inputs: [['x', fed(X1)]] }, [same(X1, [3, 4])], EXACT));

test('Shape', () => checkOp({ op: 'Shape', inputs: [['x', fed(X)]] }, [{ dims: [3], data: [2, 3, 4], dtype: 'int64' }], EXACT));
test('Shape start=-2 slices the shape vector', () =>
  checkOp({ op: 'Shape', inputs: [['x', fed(X)]], attrs: { start: -2 } }, [{ dims: [2], data: [3, 4], dtype: 'int64' }], EXACT));

test('Range int64 0..10 step 3', () =>
  checkOp({ op: 'Range', inputs: [['s', init(scalarI64(0))], ['l', init(scalarI64(10))], ['d', init(scalarI64(3))]] },
    [{ dims: [4], data: [0, 3, 6, 9], dtype: 'int64' }], EXACT));
test('Range float32 with fed bounds (length unknown until run)', () =>
  checkOp({ op: 'Range', inputs: [['s', fed(float32([], [1]))], ['l', fed(float32([], [2]))], ['d', fed(float32([], [0.25]))]] },
    [{ dims: [4], data: [1, 1.25, 1.5, 1.75] }], { ...EXACT, shapeNotInferred: 'limits are run-time inputs' }));

const I = int64([2, 3], [1, 2, 3, 4, 5, 6]);
const J = int64([3], [3, 2, 1]);
test('Equal int64 with broadcasting', () =>
  checkOp({ op: 'Equal', inputs: [['a', fed(I)], ['b', fed(J)]] }, [{ ...mapBroadcast([I, J], (a, b) => +(a === b)), dtype: 'bool' }], EXACT));
test('Less float32 with broadcasting', () => {
  const y = float32([3, 1], [0, -1, 1]);
  return checkOp({ op: 'Less', inputs: [['a', fed(X)], ['b', fed(y)]] }, [{ ...mapBroadcast([X, y], (a, b) => +(a < b)), dtype: 'bool' }], EXACT);
});

test('Trilu lower (upper=0)', async () => {
  const c = oracle('trilu_lower');
  await checkOp({ op: 'Trilu', inputs: [['x', fed(oracleInput(c, 'x'))]], attrs: { upper: 0 } }, [c.expected], EXACT);
});
test('Trilu upper with k=1, batched', async () => {
  const c = oracle('trilu_upper_k1');
  await checkOp({ op: 'Trilu', inputs: [['x', fed(oracleInput(c, 'x'))], ['k', init(scalarI64(1))]], attrs: { upper: 1 } }, [c.expected], EXACT);
});

test('causal mask from Trilu + Where, then Softmax over masked scores', async () => {
  const [B, S] = [2, 5];
  const scores = float32([B, S, S], randomFloats(B * S * S, 21, 3));
  const run = await runGraph((b) => {
    const x = b.input('scores', 'float32', [B, S, S]);
    // keep[i][j] = j <= i: lower triangle of ones; masked positions get -inf before softmax.
    const ones = b.constant('bool', [S, S], new Uint8Array(S * S).fill(1));
    const keep = b.op1('Trilu', [ones], { upper: 0 });
    const masked = b.op1('Where', [keep, x, b.scalar(-Infinity)]);
    return [keep, b.op1('Softmax', [masked], { axis: -1 })];
  }, { scores });
  const keep = Array.from({ length: S * S }, (_, k) => +(k % S <= Math.floor(k / S)));
  checkOutput(run, 0, { dims: [S, S], data: keep, dtype: 'bool' }, { dtype: 'bool', atol: 0, label: 'mask' });
  const want: number[] = [];
  for (let r = 0; r < B * S; r++) {
    const i = r % S;
    const row = Array.from({ length: S }, (_, j) => (j <= i ? scores.data[r * S + j]! : -Infinity));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const z = e.reduce((p, v) => p + v, 0);
    want.push(...e.map((v) => v / z));
  }
  checkOutput(run, 1, { dims: [B, S, S], data: want }, { dtype: 'float32', atol: 1e-6, label: 'masked softmax' });
});

test('hostTensor int64 feeds survive the round trip through ORT (Identity)', () =>
  checkOp({ op: 'Identity', inputs: [['x', fed(hostTensor('int64', [3], [2 ** 40, -(2 ** 40), 7]))]] },
    [{ dims: [3], data: [2 ** 40, -(2 ** 40), 7], dtype: 'int64' }], EXACT));
