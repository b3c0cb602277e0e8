// Element conversions between the stored weight dtypes (f32, f16, bf16) and the two forms a
// WeightSource hands out (float32 values, float16 bits). They work on a chunk at a time so
// the reader can stream a tensor through a small buffer instead of holding the stored bytes
// and the converted copy side by side.
import { float32ToFloat16Bits } from '../onnx/dtypes.ts';
import type { WeightDType } from './types.ts';

/** Bytes per element of each stored dtype. */
export const WEIGHT_ITEM_SIZE: Readonly<Record<WeightDType, number>> = { float32: 4, float16: 2, bfloat16: 2 };

// float16 -> float32 through a 64K-entry table: exact (every half is representable in
// single precision) and far faster than recomputing 2^e per element for 10^8-element tensors.
let halfTable: Float32Array | null = null;
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  halfTable = t;
  return t;
}

/**
 * Convert `count` stored elements in `src` (little-endian bytes, starting at byte 0) into
 * float32 values written to `out` starting at element `at`.
 */
export function storedToFloat32(dtype: WeightDType, src: Uint8Array, count: number, out: Float32Array, at: number): void {
  const aligned = src.byteOffset % 4 === 0 ? src : src.slice(0, count * WEIGHT_ITEM_SIZE[dtype]);
  if (dtype === 'float32') {
    out.set(new Float32Array(aligned.buffer, aligned.byteOffset, count), at);
  } else if (dtype === 'float16') {
    const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
    const table = halfToFloatTable();
    for (let i = 0; i < count; i++) out[at + i] = table[bits[i]!]!;
  } else {
    // bfloat16 is the top half of a float32: shift the bits into place.
    const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
    const out32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < count; i++) out32[at + i] = bits[i]! << 16;
  }
}

/** As storedToFloat32, but into float16 bits (round to nearest even from f32 and bf16). */
export function storedToFloat16(dtype: WeightDType, src: Uint8Array, count: number, out: Uint16Array, at: number): void {
  const aligned = src.byteOffset % 4 === 0 ? src : src.slice(0, count * WEIGHT_ITEM_SIZE[dtype]);
  if (dtype === 'float16') {
    out.set(new Uint16Array(aligned.buffer, aligned.byteOffset, count), at);
  } else if (dtype === 'float32') {
    const vals = new Float32Array(aligned.buffer, aligned.byteOffset, count);
    for (let i = 0; i < count; i++) out[at + i] = float32ToFloat16Bits(vals[i]!);
  } else {
    const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < count; i++) {
      u[0] = bits[i]! << 16;
      out[at + i] = float32ToFloat16Bits(f[0]!);
    }
  }
}
