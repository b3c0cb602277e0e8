// Packed layouts (main/engine/compress/packing.ts): (a) an ORT MatMulNBits node on the packed
// weights equals A @ W_fakequant^T (float64 reference, tolerance 1e-4); (b) GPTQ checkpoint
// tensors round-trip (pack -> unpack -> same codes, zeros, g_idx; dequantized weight equal to the
// fake-quant weight computed with the float16 scales the checkpoint holds), and the 3-bit stream
// matches GPTQModel's literal packing loop transcribed below.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantizeGptq, quantizeRtn } from '../../main/engine/compress/gptq.ts';
import { packGptqCheckpoint, packMatMulNBits, unpackGptqCheckpoint } from '../../main/engine/compress/packing.ts';
import { type GroupQuantized, dequantize } from '../../main/engine/compress/quantizer.ts';
import { isRecallError } from '../../main/engine/errors.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../main/engine/onnx/dtypes.ts';
import { float32, hostTensor } from '../../main/engine/runtime/tensors.ts';
import { randomFloats } from '../helpers/compare.ts';
import { checkOp, fed, init } from '../helpers/op-harness.ts';
import { loadLayer } from './fixture.ts';

const layer = loadLayer('a'); // W [96, 256]

function matmulRef(a: Float32Array, M: number, w: Float32Array, N: number, K: number): number[] {
  const y: number[] = [];
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k]! * w[n * K + k]!;
      y.push(s);
    }
  }
  return y;
}

async function checkMatMulNBits(q: GroupQuantized, label: string): Promise<void> {
  const p = packMatMulNBits(q);
  const M = 5;
  const a = randomFloats(M * p.K, 7, 1);
  await checkOp({
    op: 'MatMulNBits', domain: 'com.microsoft', attrs: { K: p.K, N: p.N, bits: p.bits, block_size: p.blockSize },
    inputs: [
      ['a', fed(float32([M, p.K], a))],
      ['b', init(hostTensor('uint8', p.bDims, p.b))],
      ['scales', init(float32([p.scales.length], p.scales))],
      ['zero_points', init(hostTensor('uint8', [p.zeroPoints.length], p.zeroPoints))],
    ],
  }, [{ dims: [M, p.N], data: matmulRef(a, M, q.weight, p.N, p.K) }], { atol: 1e-4, rtol: 1e-5, label });
}

for (const [bits, groupSize] of [[2, 32], [3, 64], [4, 32], [4, -1], [8, 64], [3, -1]] as const) {
  test(`MatMulNBits on packed GPTQ weights equals MatMul with the fake-quant weight: ${bits}-bit, group ${groupSize}`, () =>
    checkMatMulNBits(quantizeGptq(layer.w, layer.rows, layer.cols, layer.h, { bits, groupSize }), `${bits}-bit g${groupSize}`));
}

test('MatMulNBits packing refuses act-order groups that are not contiguous', () => {
  const q = quantizeGptq(layer.w, layer.rows, layer.cols, layer.h, { bits: 4, groupSize: 32, actOrder: true });
  assert.throws(() => packMatMulNBits(q), (e) => isRecallError(e, 'E_COMPRESS_EXPORT') && /contiguous groups/.test(e.message));
  const s = quantizeGptq(layer.w, layer.rows, layer.cols, layer.h, { bits: 4, groupSize: 32, actOrder: true, staticGroups: true });
  return checkMatMulNBits(s, 'act-order + static groups');
});

function roundTrip(q: GroupQuantized, format: 'gptq' | 'gptq_v2'): void {
  const t = packGptqCheckpoint(q, format);
  assert.deepEqual(t.qweightDims, [(q.cols * q.bits) / 32, q.rows]);
  assert.deepEqual(t.scalesDims, [t.qzerosDims[0], q.rows]);
  const u = unpackGptqCheckpoint(t);
  assert.deepEqual(u.codes, q.codes, 'codes');
  assert.deepEqual(u.zeros, q.zeros, 'zeros');
  assert.deepEqual(u.gIdx, q.gIdx, 'g_idx');
  const half = Float32Array.from(q.scales, (s) => float16BitsToFloat32(float32ToFloat16Bits(s)));
  assert.deepEqual(u.scales, half, 'scales are the float16 roundings');
  const deq = dequantize(u.codes, u.scales, u.zeros, u.gIdx, u.rows, u.cols);
  assert.deepEqual(deq, dequantize(q.codes, half, q.zeros, q.gIdx, q.rows, q.cols), 'dequantized = fake-quant with float16 scales');
  // With the float32 scales, unpacked codes give the fake-quant weight bit for bit.
  assert.deepEqual(dequantize(u.codes, q.scales, u.zeros, u.gIdx, u.rows, u.cols), q.weight, 'dequantized = fake-quant weight');
}

for (const bits of [2, 3, 4, 8]) {
  test(`GPTQ checkpoint round trip, ${bits}-bit, act-order group 32 (g_idx permuted), sym and asym`, () => {
    const q = quantizeGptq(layer.w, layer.rows, layer.cols, layer.h, { bits, groupSize: 32, actOrder: true, sym: true });
    roundTrip(q, 'gptq');
    roundTrip(quantizeGptq(layer.w, layer.rows, layer.cols, layer.h, { bits, groupSize: -1 }), 'gptq_v2');
  });
}

test("GPTQ checkpoint 'gptq' (v1) format refuses a zero point of 0; 'gptq_v2' keeps it", () => {
  const w = Float32Array.from(layer.w, Math.abs); // every group >= 0: asymmetric zero point 0
  const q = quantizeRtn(w, layer.rows, layer.cols, { bits: 4, groupSize: 64 });
  assert.throws(() => packGptqCheckpoint(q, 'gptq'), (e) => isRecallError(e, 'E_COMPRESS_EXPORT') && /gptq_v2/.test(e.message));
  roundTrip(q, 'gptq_v2');
});

test('GPTQ checkpoint 3-bit qweight equals GPTQModel\'s packing loop', () => {
  // gptqmodel/nn_modules/qlinear pack(), bits == 3, transcribed for one output column.
  const K = 64;
  const intweight = Array.from({ length: K }, (_, i) => (i * 5 + 3) % 8);
  const expect = new Uint32Array(6);
  let i = 0, row = 0;
  while (row < 6) {
    for (let j = i; j < i + 10; j++) expect[row]! |= intweight[j]! << (3 * (j - i));
    i += 10; expect[row]! |= intweight[i]! << 30; row++;
    expect[row]! |= (intweight[i]! >> 2) & 1; i++;
    for (let j = i; j < i + 10; j++) expect[row]! |= intweight[j]! << (3 * (j - i) + 1);
    i += 10; expect[row]! |= intweight[i]! << 31; row++;
    expect[row]! |= (intweight[i]! >> 1) & 0x3; i++;
    for (let j = i; j < i + 10; j++) expect[row]! |= intweight[j]! << (3 * (j - i) + 2);
    i += 10; row++;
  }
  const q: GroupQuantized = {
    rows: 32, cols: K, bits: 3, groupSize: -1, weight: new Float32Array(32 * K), codes: new Uint8Array(32 * K),
    scales: new Float32Array(32).fill(1), zeros: new Uint8Array(32).fill(4), gIdx: new Int32Array(K),
  };
  for (let c = 0; c < K; c++) q.codes[5 * K + c] = intweight[c]!; // output row 5
  const t = packGptqCheckpoint(q);
  const got = Array.from({ length: 6 }, (_, w) => t.qweight[w * 32 + 5]! >>> 0);
  assert.deepEqual(got, Array.from(expect));
});

test('GPTQ checkpoint refuses shapes that do not fill whole int32 words', () => {
  const q = quantizeRtn(randomFloats(40 * 64, 3), 40, 64, { bits: 3 });
  assert.throws(() => packGptqCheckpoint(q), (e) => isRecallError(e, 'E_COMPRESS_EXPORT') && /multiples of 32/.test(e.message));
});
