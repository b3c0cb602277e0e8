// Op tests, quantized weights: com.microsoft MatMulNBits (4 and 8 bits) and DequantizeLinear
// with int4/uint4 initializers. References dequantize in TypeScript straight from the specs
// (ORT docs/ContribOperators.md#com.microsoft.MatMulNBits; ONNX DequantizeLinear-21) and
// multiply in float64, so they share no code with the packing under test beyond pack4.
import { test } from 'node:test';
import { float32, hostTensor } from '../../main/engine/runtime/tensors.ts';
import { randomFloats } from '../helpers/compare.ts';
import { checkOp, fed, init } from '../helpers/op-harness.ts';

/** Pack 4-bit values two per byte, low nibble first (ONNX int4/uint4 and MatMulNBits layout). */
function pack4(values: number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  values.forEach((v, i) => (out[i >> 1]! |= (v & 0xf) << ((i & 1) * 4)));
  return out;
}

interface Quantized { q: number[][]; scales: number[][]; zps: number[][] }

/** Asymmetric per-block quantization of W [N, K] along K (min/max -> [0, 2^bits - 1]). */
function quantize(w: Float32Array, N: number, K: number, bits: number, block: number): Quantized {
  const levels = 2 ** bits - 1;
  const kBlocks = Math.ceil(K / block);
  const out: Quantized = { q: [], scales: [], zps: [] };
  for (let n = 0; n < N; n++) {
    const q: number[] = [], scales: number[] = [], zps: number[] = [];
    for (let b = 0; b < kBlocks; b++) {
      const vals = Array.from(w.subarray(n * K + b * block, n * K + Math.min(K, (b + 1) * block)));
      const lo = Math.min(0, ...vals), hi = Math.max(0, ...vals);
      const scale = Math.fround((hi - lo) / levels || 1);
      const zp = Math.min(levels, Math.max(0, Math.round(-lo / scale)));
      scales.push(scale);
      zps.push(zp);
      for (const v of vals) q.push(Math.min(levels, Math.max(0, Math.round(v / scale) + zp)));
    }
    out.q.push(q); out.scales.push(scales); out.zps.push(zps);
  }
  return out;
}

/** Y[m, n] = sum_k A[m, k] * (q[n][k] - zp[n][k / block]) * scale[n][k / block], in float64. */
function dequantMatmul(a: Float32Array, M: number, K: number, qz: Quantized, block: number, zpOf: (n: number, b: number) => number): number[] {
  const N = qz.q.length;
  const y: number[] = [];
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const b = Math.floor(k / block);
        acc += a[m * K + k]! * (qz.q[n]![k]! - zpOf(n, b)) * qz.scales[n]![b]!;
      }
      y.push(acc);
    }
  }
  return y;
}

/** B as [N, kBlocks, blobSize] bytes: each block's K values padded to block_size, then packed. */
function packB(qz: Quantized, K: number, bits: number, block: number): Uint8Array {
  const kBlocks = Math.ceil(K / block);
  const rows = qz.q.map((q) => {
    const padded = Array.from({ length: kBlocks * block }, (_, k) => (k < K ? q[k]! : 0));
    return bits === 4 ? pack4(padded) : Uint8Array.from(padded);
  });
  const out = new Uint8Array(rows.reduce((p, r) => p + r.length, 0));
  rows.forEach((r, n) => out.set(r, n * r.length));
  return out;
}

test('MatMulNBits bits=4, K=48 not a multiple of block_size 32, packed uint8 zero points', () => {
  const [M, K, N, bits, block] = [6, 48, 8, 4, 32];
  const kBlocks = Math.ceil(K / block);
  const a = randomFloats(M * K, 31, 1);
  const qz = quantize(randomFloats(N * K, 32, 0.5), N, K, bits, block);
  // Zero points: per row, ceil(kBlocks * 4 / 8) bytes, low nibble first.
  const zpBytes = qz.zps.flatMap((z) => Array.from(pack4(z)));
  return checkOp({
    op: 'MatMulNBits', attrs: { K, N, bits, block_size: block },
    inputs: [
      ['a', fed(float32([2, 3, K], a))],
      ['b', init(hostTensor('uint8', [N, kBlocks, (block * bits) / 8], packB(qz, K, bits, block)))],
      ['scales', init(float32([N * kBlocks], qz.scales.flat()))],
      ['zero_points', init(hostTensor('uint8', [zpBytes.length], zpBytes))],
    ],
  }, [{ dims: [2, 3, N], data: dequantMatmul(a, M, K, qz, block, (n, b) => qz.zps[n]![b]!) }], { atol: 1e-4, rtol: 1e-5 });
});

test('MatMulNBits bits=8, block_size 16, default zero point 128', () => {
  const [M, K, N, bits, block] = [4, 64, 5, 8, 16];
  const kBlocks = K / block;
  const a = randomFloats(M * K, 41, 1);
  // Symmetric: force every zero point to the default 2^(bits-1) by quantizing around it.
  const qz = quantize(randomFloats(N * K, 42, 0.5), N, K, bits, block);
  const w = qz.q.map((q, n) => q.map((v, k) => (v - qz.zps[n]![Math.floor(k / block)]!) + 128));
  const sym: Quantized = { q: w.map((q) => q.map((v) => Math.min(255, Math.max(0, v)))), scales: qz.scales, zps: qz.zps.map((z) => z.map(() => 128)) };
  return checkOp({
    op: 'MatMulNBits', attrs: { K, N, bits, block_size: block },
    inputs: [
      ['a', fed(float32([M, K], a))],
      ['b', init(hostTensor('uint8', [N, kBlocks, block], packB(sym, K, bits, block)))],
      ['scales', init(float32([N * kBlocks], sym.scales.flat()))],
    ],
  }, [{ dims: [M, N], data: dequantMatmul(a, M, K, sym, block, () => 128) }], { atol: 1e-4, rtol: 1e-5 });
});

test('DequantizeLinear int4 initializer, odd length 7, scalar zero point -1', () => {
  const q = [-8, -3, 0, 1, 5, 7, -1];
  return checkOp({
    op: 'DequantizeLinear',
    inputs: [
      ['x', init(hostTensor('int4', [7], pack4(q)))],
      ['scale', init(float32([], [0.25]))],
      ['zp', init(hostTensor('int4', [], pack4([-1])))],
    ],
  }, [{ dims: [7], data: q.map((v) => (v + 1) * 0.25), dtype: 'float32' }], { atol: 0 });
});

test('DequantizeLinear uint4 initializer, per-axis (axis 0) scales and zero points', () => {
  const [R, C] = [3, 5];
  const q = Array.from({ length: R * C }, (_, i) => (i * 7) % 16);
  const scales = [0.5, 0.125, 2], zps = [8, 0, 15];
  return checkOp({
    op: 'DequantizeLinear', attrs: { axis: 0 },
    inputs: [
      ['x', init(hostTensor('uint4', [R, C], pack4(q)))],
      ['scale', init(float32([R], scales))],
      ['zp', init(hostTensor('uint4', [R], pack4(zps)))],
    ],
  }, [{ dims: [R, C], data: q.map((v, i) => (v - zps[Math.floor(i / C)]!) * scales[Math.floor(i / C)]!), dtype: 'float32' }], { atol: 0 });
});

test('DequantizeLinear int4 blocked (block_size 4 along axis 1), no zero point', () => {
  const [R, C, bs] = [2, 8, 4];
  const q = Array.from({ length: R * C }, (_, i) => ((i * 5) % 16) - 8);
  const scales = [0.5, 1.5, -0.25, 3];
  return checkOp({
    op: 'DequantizeLinear', attrs: { axis: 1, block_size: bs },
    inputs: [['x', init(hostTensor('int4', [R, C], pack4(q)))], ['scale', init(float32([R, C / bs], scales))]],
  }, [{ dims: [R, C], data: q.map((v, i) => v * scales[Math.floor(i / C) * (C / bs) + Math.floor((i % C) / bs)]!), dtype: 'float32' }], { atol: 0 });
});
