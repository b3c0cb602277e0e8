// Host tensors: plain { dtype, dims, data } values that cross the engine's boundaries, and
// conversion to and from ORT tensors.

import { type AnyTypedArray, type DType, type TypedArrayOf, allocate } from '../onnx/dtypes.ts';
import { numel } from '../onnx/ir.ts';
import { ort } from './ort.ts';

export interface HostTensor<T extends DType = DType> {
  dtype: T;
  dims: number[];
  data: TypedArrayOf<T>;
}

const ORT_TYPE: Partial<Record<DType, string>> = {
  float32: 'float32', float16: 'float16', float64: 'float64', int64: 'int64', int32: 'int32',
  int8: 'int8', uint8: 'uint8', bool: 'bool', int4: 'int4', uint4: 'uint4',
};

export function hostTensor<T extends DType>(dtype: T, dims: number[], data?: TypedArrayOf<T> | ArrayLike<number>): HostTensor<T> {
  const n = numel(dims);
  const out = allocate(dtype, n);
  if (data !== undefined) {
    if (data.length !== out.length) throw new Error(`tensor of ${dtype}[${dims}] needs ${out.length} elements, got ${data.length}`);
    if (out instanceof BigInt64Array) for (let i = 0; i < n; i++) out[i] = BigInt((data as ArrayLike<number | bigint>)[i]!);
    else (out as Exclude<AnyTypedArray, BigInt64Array>).set(data as ArrayLike<number>);
  }
  return { dtype, dims: [...dims], data: out };
}

export const float32 = (dims: number[], data?: ArrayLike<number>) => hostTensor('float32', dims, data);
export const int64 = (dims: number[], data?: ArrayLike<number>) => hostTensor('int64', dims, data);
export const int32 = (dims: number[], data?: ArrayLike<number>) => hostTensor('int32', dims, data);
export const uint8 = (dims: number[], data?: ArrayLike<number>) => hostTensor('uint8', dims, data);
export const bool = (dims: number[], data?: ArrayLike<number>) => hostTensor('bool', dims, data);
export const float16 = (dims: number[], bits?: ArrayLike<number>) => hostTensor('float16', dims, bits);

export function toOrt(t: HostTensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new Error(`ONNX Runtime JS has no tensor type for ${t.dtype}`);
  return new ort.Tensor(type as 'float32', t.data as Float32Array, t.dims);
}

const FROM_ORT: Record<string, DType> = {
  float32: 'float32', float16: 'float16', float64: 'float64', int64: 'int64', int32: 'int32',
  int8: 'int8', uint8: 'uint8', bool: 'bool',
};

export function fromOrt(t: ort.Tensor, name = 'output'): HostTensor {
  const dtype = FROM_ORT[t.type];
  if (!dtype) throw new Error(`${name}: ORT tensor type ${t.type} is not supported`);
  let data = t.data as AnyTypedArray;
  // ORT JS may hand float16 out as Float16Array where the platform has it; keep raw bits.
  if (dtype === 'float16' && !(data instanceof Uint16Array)) data = new Uint16Array((data as unknown as { buffer: ArrayBuffer }).buffer);
  if (dtype === 'bool' && !(data instanceof Uint8Array)) data = Uint8Array.from(data as unknown as ArrayLike<number>);
  return { dtype, dims: [...t.dims], data } as HostTensor;
}

/** Element values as JS numbers (float16 decoded), for comparisons and display. */
export function toNumbers(t: HostTensor): Float64Array {
  if (t.dtype === 'float16') {
    return Float64Array.from(t.data as Uint16Array, (b) => float16Decode(b));
  }
  return Float64Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

function float16Decode(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
