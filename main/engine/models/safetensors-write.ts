// safetensors writer: the header first (offsets are known from the shapes), then each
// tensor's bytes in turn, so a caller can produce tensors one at a time and the file is
// never assembled in memory. Used by tests and by compression outputs.
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import { SAFETENSORS_DTYPE } from './safetensors.ts';
import type { WeightDType } from './types.ts';
import { WEIGHT_ITEM_SIZE } from './weight-convert.ts';

export interface TensorToWrite {
  name: string;
  dtype: WeightDType;
  shape: number[];
  /** float32 values, or float16 / bfloat16 bits; or a function producing them when written. */
  data: Float32Array | Uint16Array | (() => Float32Array | Uint16Array);
}

function checkTensor(file: string, t: TensorToWrite, data: Float32Array | Uint16Array): void {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  const wantFloat32 = t.dtype === 'float32';
  if (wantFloat32 !== data instanceof Float32Array) {
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
    const bytes = t.shape.reduce((a, b) => a * b, 1) * WEIGHT_ITEM_SIZE[t.dtype];
    header[t.name] = { dtype: SAFETENSORS_DTYPE[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
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
