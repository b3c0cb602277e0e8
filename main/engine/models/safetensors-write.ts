// safetensors writer: the header first (offsets are known from the shapes), then each
// tensor's bytes in turn, so a caller can produce tensors one at a time and the file is
// never assembled in memory. Used by tests and by compression outputs. Besides the float
// weight dtypes it writes the integer tensors of packed checkpoints (GPTQ qweight/qzeros/g_idx
// are I32; codes or masks U8/I8).
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import { SAFETENSORS_DTYPE } from './safetensors.ts';
import type { WeightDType } from './types.ts';
import { WEIGHT_ITEM_SIZE } from './weight-convert.ts';

/** Integer dtypes of packed checkpoints. */
export type IntDType = 'int32' | 'int8' | 'uint8';
type TensorArray = Float32Array | Uint16Array | Int32Array | Int8Array | Uint8Array;

export interface TensorToWrite {
  name: string;
  dtype: WeightDType | IntDType;
  shape: number[];
  /**
   * float32 values, float16 / bfloat16 bits, or Int32Array / Int8Array / Uint8Array for the
   * integer dtypes; or a function producing them when written.
   */
  data: TensorArray | (() => TensorArray);
}

const INT_TENSOR: Readonly<Record<IntDType, { tag: string; size: number; array: new (n: number) => TensorArray }>> = {
  int32: { tag: 'I32', size: 4, array: Int32Array }, int8: { tag: 'I8', size: 1, array: Int8Array }, uint8: { tag: 'U8', size: 1, array: Uint8Array },
};

const isInt = (d: TensorToWrite['dtype']): d is IntDType => d in INT_TENSOR;
const itemSize = (d: TensorToWrite['dtype']): number => (isInt(d) ? INT_TENSOR[d].size : WEIGHT_ITEM_SIZE[d]);
const dtypeTag = (d: TensorToWrite['dtype']): string => (isInt(d) ? INT_TENSOR[d].tag : SAFETENSORS_DTYPE[d]);

function checkTensor(file: string, t: TensorToWrite, data: TensorArray): void {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  const want = isInt(t.dtype) ? INT_TENSOR[t.dtype].array : t.dtype === 'float32' ? Float32Array : Uint16Array;
  if (!(data instanceof want)) {
    throw new RecallError('E_INVALID_ARGUMENT', `${file}: tensor '${t.name}' is ${t.dtype} but its data is a ${data.constructor.name}`, { file, tensor: t.name });
  }
  if (data.length !== numel) {
    throw new RecallError('E_INVALID_ARGUMENT', `${file}: tensor '${t.name}' has ${data.length} elements, shape ${JSON.stringify(t.shape)} needs ${numel}`, { file, tensor: t.name });
  }
}

/** Write tensors (in the given order) and optional string metadata to a .safetensors file. */
export function writeSafetensors(file: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (seen.has(t.name)) throw new RecallError('E_INVALID_ARGUMENT', `${file}: tensor '${t.name}' given twice`, { file, tensor: t.name });
    seen.add(t.name);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * itemSize(t.dtype);
    header[t.name] = { dtype: dtypeTag(t.dtype), shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // Pad the JSON with spaces so the data starts 8-byte aligned, as the reference writer does.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  headerBytes.set(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);

  const fd = openSync(file, 'w');
  let ok = false;
  try {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    for (const t of tensors) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      checkTensor(file, t, data);
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    ok = true;
  } finally {
    closeSync(fd);
    // A half-written file would later fail as "truncated"; better that it not exist.
    if (!ok) rmSync(file, { force: true });
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
}
