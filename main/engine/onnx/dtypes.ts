// Element types of the graph IR, their ONNX enum values and their typed-array storage.
// A type-level map (as in ONNX Runtime JS's common package) ties each dtype to the array
// that holds its elements, so helpers stay typed end to end.

export type DType =
  | 'float32' | 'float16' | 'bfloat16' | 'float64'
  | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool'
  | 'int4' | 'uint4';

/** Typed array holding each dtype's elements (float16/bfloat16 as raw uint16 bits, 4-bit as packed bytes). */
export interface DTypeArrayMap {
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
  int4: Uint8Array;
  uint4: Uint8Array;
}
export type TypedArrayOf<T extends DType> = DTypeArrayMap[T];
export type AnyTypedArray = DTypeArrayMap[DType];

/** ONNX TensorProto.DataType values (onnx.proto). */
export const ONNX_DTYPE: Readonly<Record<DType, number>> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10,
  float64: 11, bfloat16: 16, uint4: 21, int4: 22,
};

const FROM_ONNX = new Map<number, DType>(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DType]));

export function dtypeFromOnnx(code: number, where: string): DType {
  const t = FROM_ONNX.get(code);
  if (t === undefined) throw new Error(`${where}: ONNX data type ${code} is not supported by Recall`);
  return t;
}

/** Bits per element; 4-bit types pack two elements per byte (low nibble first, as ONNX specifies). */
export const DTYPE_BITS: Readonly<Record<DType, number>> = {
  float32: 32, float16: 16, bfloat16: 16, float64: 64, int64: 64, int32: 32,
  int8: 8, uint8: 8, bool: 8, int4: 4, uint4: 4,
};

export function byteLength(dtype: DType, numel: number): number {
  return Math.ceil((numel * DTYPE_BITS[dtype]) / 8);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64';
}

/** Allocate a zeroed typed array able to hold `numel` elements of `dtype`. */
export function allocate<T extends DType>(dtype: T, numel: number): TypedArrayOf<T> {
  return viewBytes(dtype, new Uint8Array(byteLength(dtype, numel)));
}

/** View raw little-endian bytes as the dtype's typed array (copying when unaligned). */
export function viewBytes<T extends DType>(dtype: T, bytes: Uint8Array): TypedArrayOf<T> {
  const width = DTYPE_BITS[dtype] / 8;
  let src = bytes;
  if (width > 1 && bytes.byteOffset % width !== 0) src = bytes.slice();
  const { buffer, byteOffset, byteLength: n } = src;
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, n / 4) as TypedArrayOf<T>;
    case 'float16': case 'bfloat16': return new Uint16Array(buffer, byteOffset, n / 2) as TypedArrayOf<T>;
    case 'float64': return new Float64Array(buffer, byteOffset, n / 8) as TypedArrayOf<T>;
    case 'int64': return new BigInt64Array(buffer, byteOffset, n / 8) as TypedArrayOf<T>;
    case 'int32': return new Int32Array(buffer, byteOffset, n / 4) as TypedArrayOf<T>;
    case 'int8': return new Int8Array(buffer, byteOffset, n) as TypedArrayOf<T>;
    default: return new Uint8Array(buffer, byteOffset, n) as TypedArrayOf<T>;
  }
}

export function bytesOf(data: AnyTypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// IEEE half precision conversion (round to nearest even), used for float16 weights and tests.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m += 1;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m += 1;
    if (m === 0x400) { m = 0; e += 1; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function bfloat16BitsToFloat32(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

export function toFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
  return out;
}

export function fromFloat16(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16BitsToFloat32(bits[i]!);
  return out;
}
