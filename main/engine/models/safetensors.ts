// Lazy safetensors reader (https://huggingface.co/docs/safetensors, format: 8-byte
// little-endian header length N, N bytes of JSON header, then the raw tensor bytes; each
// header entry gives dtype, shape and [begin, end) offsets relative to the byte after the
// header). Only the header is read when a file is opened; a tensor's bytes are read with
// positioned reads when it is asked for, so a 16 GB checkpoint never sits in memory twice.
// Sharded checkpoints (model.safetensors.index.json + model-0000N-of-0000M.safetensors)
// are served through the same WeightSource.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RecallError } from '../errors.ts';
import type { WeightDType, WeightInfo, WeightSource } from './types.ts';
import { WEIGHT_ITEM_SIZE, storedToFloat16, storedToFloat32 } from './weight-convert.ts';

/** Every dtype the safetensors format defines, with its element size in bytes. */
const SAFETENSORS_ITEM_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
const INTEGER_ARRAYS: Readonly<Record<string, (b: ArrayBuffer) => Int32Array | Int8Array | Uint8Array>> = {
  I32: (b) => new Int32Array(b), I8: (b) => new Int8Array(b), U8: (b) => new Uint8Array(b),
};
const SUPPORTED: Readonly<Record<string, WeightDType>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
export const SAFETENSORS_DTYPE: Readonly<Record<WeightDType, string>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

// The reference implementation refuses headers over 100 MB; so do we, before allocating.
const MAX_HEADER_BYTES = 100_000_000;
// Positioned reads are capped below 2 GiB by Node; conversions go through chunks this big.
const READ_CHUNK_BYTES = 16 << 20;

export interface SafetensorsEntry {
  name: string;
  /** dtype as written in the header (F32, BF16, I64...). */
  storedDtype: string;
  shape: number[];
  /** Absolute byte offset of the tensor in the file, and its length. */
  start: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

const fail = (code: ConstructorParameters<typeof RecallError>[0], message: string, details: Record<string, unknown>) =>
  new RecallError(code, message, details);

function readExactly(fd: number, file: string, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(into.length - done, 1 << 30), position + done);
    if (n === 0) throw fail('E_SAFETENSORS_TRUNCATED', `${file}: unexpected end of file at byte ${position + done}`, { file });
    done += n;
  }
}

function checkInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parse and validate the header of an open safetensors file. */
export function parseSafetensorsHeader(fd: number, file: string): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) {
    throw fail('E_SAFETENSORS_TRUNCATED', `${file}: file is ${fileSize} bytes, shorter than the 8-byte safetensors header length`, { file, fileSize });
  }
  const lenBytes = new Uint8Array(8);
  readExactly(fd, file, lenBytes, 0);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) {
    throw fail('E_SAFETENSORS_HEADER', `${file}: header length ${headerLen} exceeds ${MAX_HEADER_BYTES} bytes (not a safetensors file?)`, { file, headerLen });
  }
  if (8 + headerLen > fileSize) {
    throw fail('E_SAFETENSORS_TRUNCATED', `${file}: header claims ${headerLen} bytes but the file has only ${fileSize - 8} after the length`, { file, headerLen, fileSize });
  }
  const headerBytes = new Uint8Array(headerLen);
  readExactly(fd, file, headerBytes, 8);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (e) {
    throw fail('E_SAFETENSORS_HEADER', `${file}: header is not valid JSON (${(e as Error).message})`, { file });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw fail('E_SAFETENSORS_HEADER', `${file}: header is not a JSON object`, { file });
  }
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(file, name, raw, dataStart, dataSize));
  }
  checkNoOverlap(file, [...tensors.values()]);
  return { file, fileSize, tensors, metadata };
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number, dataSize: number): SafetensorsEntry {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  const where = `${file}: tensor '${name}'`;
  if (typeof e !== 'object' || e === null || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
    throw fail('E_SAFETENSORS_HEADER', `${where}: entry must have dtype, shape and data_offsets`, { file, tensor: name });
  }
  const itemSize = SAFETENSORS_ITEM_SIZE[e.dtype];
  if (itemSize === undefined) {
    throw fail('E_SAFETENSORS_DTYPE', `${where}: unknown dtype '${e.dtype}'`, { file, tensor: name, dtype: e.dtype });
  }
  if (!e.shape.every(checkInt)) {
    throw fail('E_SAFETENSORS_HEADER', `${where}: shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`, { file, tensor: name });
  }
  const [begin, end] = e.data_offsets as unknown[];
  if (e.data_offsets.length !== 2 || !checkInt(begin) || !checkInt(end) || end < begin) {
    throw fail('E_SAFETENSORS_OFFSETS', `${where}: data_offsets ${JSON.stringify(e.data_offsets)} must be [begin, end] with 0 <= begin <= end`, { file, tensor: name });
  }
  if (end > dataSize) {
    throw fail('E_SAFETENSORS_OFFSETS', `${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes)`, { file, tensor: name, begin, end, dataSize });
  }
  const shape = e.shape as number[];
  const expected = shape.reduce((a, b) => a * b, 1) * itemSize;
  if (end - begin !== expected) {
    throw fail('E_SAFETENSORS_OFFSETS', `${where}: data_offsets span ${end - begin} bytes but ${e.dtype}${JSON.stringify(shape)} needs ${expected}`, { file, tensor: name, actual: end - begin, expected });
  }
  return { name, storedDtype: e.dtype, shape, start: dataStart + begin, byteLength: end - begin };
}

function checkNoOverlap(file: string, entries: SafetensorsEntry[]): void {
  const sorted = entries.filter((e) => e.byteLength > 0).sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (cur.start < prev.start + prev.byteLength) {
      throw fail('E_SAFETENSORS_OFFSETS', `${file}: tensors '${prev.name}' and '${cur.name}' overlap in the data section`, { file, tensors: [prev.name, cur.name] });
    }
  }
}

/** Read just the header of a safetensors file (for `models inspect` and tests). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openForRead(file);
  try {
    return parseSafetensorsHeader(fd, file);
  } finally {
    closeSync(fd);
  }
}

function openForRead(file: string): number {
  if (!existsSync(file)) throw fail('E_NOT_FOUND', `${file}: file not found`, { file });
  try {
    return openSync(file, 'r');
  } catch (e) {
    throw new RecallError('E_IO', `${file}: cannot open (${(e as Error).message})`, { file }, { cause: e });
  }
}

interface OpenShard { file: string; fd: number; header: SafetensorsHeader }

/** A WeightSource over one or more safetensors files (their tensor names must not clash). */
export class SafetensorsWeights implements WeightSource {
  private readonly byName = new Map<string, { shard: OpenShard; entry: SafetensorsEntry }>();
  private readonly shards: OpenShard[] = [];
  private closed = false;
  /** What the weights were opened from (a .safetensors file or an index.json), for messages. */
  readonly origin: string;

  constructor(files: string[], origin = files[0] ?? '(no files)') {
    this.origin = origin;
    try {
      for (const file of files) {
        const fd = openForRead(file);
        const shard: OpenShard = { file, fd, header: { file, fileSize: 0, tensors: new Map(), metadata: {} } };
        this.shards.push(shard);
        shard.header = parseSafetensorsHeader(fd, file);
        for (const entry of shard.header.tensors.values()) {
          const other = this.byName.get(entry.name);
          if (other) {
            throw fail('E_SAFETENSORS_INDEX', `${file}: tensor '${entry.name}' is also stored in ${other.shard.file}`, { file, tensor: entry.name });
          }
          this.byName.set(entry.name, { shard, entry });
        }
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The raw header entry (any stored dtype), or undefined. */
  entry(name: string): SafetensorsEntry | undefined {
    return this.byName.get(name)?.entry;
  }

  /** The file holding a tensor, or undefined. */
  fileOf(name: string): string | undefined {
    return this.byName.get(name)?.shard.file;
  }

  /** Metadata of each file (`__metadata__`), by file. */
  metadata(): Map<string, Record<string, string>> {
    return new Map(this.shards.map((s) => [s.file, s.header.metadata]));
  }

  info(name: string): WeightInfo {
    const { shard, entry } = this.locate(name);
    return { name, dtype: this.weightDtype(shard.file, entry), shape: [...entry.shape], file: shard.file };
  }

  readFloat32(name: string): Float32Array {
    const { shard, entry } = this.locate(name);
    const dtype = this.weightDtype(shard.file, entry);
    const numel = entry.byteLength / WEIGHT_ITEM_SIZE[dtype];
    const out = new Float32Array(numel);
    // Same dtype: read straight into the result, no staging copy.
    if (dtype === 'float32') readExactly(shard.fd, shard.file, new Uint8Array(out.buffer), entry.start);
    else this.streamConvert(shard, entry, dtype, (chunk, count, at) => storedToFloat32(dtype, chunk, count, out, at));
    return out;
  }

  readFloat32Chunks(name: string, emit: (chunk: Float32Array) => void): void {
    const { shard, entry } = this.locate(name);
    const dtype = this.weightDtype(shard.file, entry);
    const numel = entry.byteLength / WEIGHT_ITEM_SIZE[dtype];
    const out = new Float32Array(Math.min(numel, READ_CHUNK_BYTES / 4));
    if (dtype === 'float32') {
      for (let at = 0; at < numel; at += out.length) {
        const view = out.subarray(0, Math.min(out.length, numel - at));
        readExactly(shard.fd, shard.file, new Uint8Array(view.buffer, 0, view.byteLength), entry.start + at * 4);
        emit(view);
      }
      return;
    }
    // streamConvert's chunks hold READ_CHUNK_BYTES / item <= out.length elements.
    this.streamConvert(shard, entry, dtype, (chunk, count) => {
      storedToFloat32(dtype, chunk, count, out, 0);
      emit(out.subarray(0, count));
    });
  }

  readFloat16(name: string): Uint16Array {
    const { shard, entry } = this.locate(name);
    const dtype = this.weightDtype(shard.file, entry);
    const numel = entry.byteLength / WEIGHT_ITEM_SIZE[dtype];
    const out = new Uint16Array(numel);
    if (dtype === 'float16') readExactly(shard.fd, shard.file, new Uint8Array(out.buffer), entry.start);
    else this.streamConvert(shard, entry, dtype, (chunk, count, at) => storedToFloat16(dtype, chunk, count, out, at));
    return out;
  }

  /** The stored bytes, untouched (for copying a tensor into another file). */
  readBytes(name: string): Uint8Array {
    const { shard, entry } = this.locate(name);
    const out = new Uint8Array(entry.byteLength);
    readExactly(shard.fd, shard.file, out, entry.start);
    return out;
  }

  /**
   * An I32 / I8 / U8 tensor (GPTQ qweight, qzeros, g_idx; packed codes) as its typed array,
   * little-endian as stored. Float tensors go through readFloat32 / readFloat16.
   */
  readInteger(name: string): Int32Array | Int8Array | Uint8Array {
    const { shard, entry } = this.locate(name);
    const make = INTEGER_ARRAYS[entry.storedDtype];
    if (!make) {
      throw fail('E_SAFETENSORS_DTYPE', `${shard.file}: tensor '${name}' has dtype ${entry.storedDtype}, expected an integer tensor (I32, I8 or U8)`, { file: shard.file, tensor: name, dtype: entry.storedDtype });
    }
    const bytes = new Uint8Array(entry.byteLength);
    readExactly(shard.fd, shard.file, bytes, entry.start);
    return make(bytes.buffer);
  }

  close(): void {
    for (const s of this.shards) {
      try {
        closeSync(s.fd);
      } catch {
        // already closed: close() is idempotent
      }
    }
    this.shards.length = 0;
    this.closed = true;
  }

  private locate(name: string): { shard: OpenShard; entry: SafetensorsEntry } {
    if (this.closed) throw fail('E_INVALID_ARGUMENT', `${this.origin}: weights were closed before reading '${name}'`, { file: this.origin, tensor: name });
    const hit = this.byName.get(name);
    if (!hit) {
      throw fail('E_MISSING_TENSOR', `${this.origin}: no tensor named '${name}'${suggest(name, this.names())}`, { file: this.origin, tensor: name });
    }
    return hit;
  }

  private weightDtype(file: string, entry: SafetensorsEntry): WeightDType {
    const d = SUPPORTED[entry.storedDtype];
    if (!d) {
      throw fail('E_SAFETENSORS_DTYPE', `${file}: tensor '${entry.name}' has dtype ${entry.storedDtype}; Recall reads only F32, F16 and BF16 weights`, { file, tensor: entry.name, dtype: entry.storedDtype });
    }
    return d;
  }

  private streamConvert(shard: OpenShard, entry: SafetensorsEntry, dtype: WeightDType, sink: (chunk: Uint8Array, count: number, at: number) => void): void {
    const item = WEIGHT_ITEM_SIZE[dtype];
    const chunkElems = Math.max(1, Math.floor(READ_CHUNK_BYTES / item));
    const buf = new Uint8Array(Math.min(entry.byteLength, chunkElems * item));
    const numel = entry.byteLength / item;
    for (let at = 0; at < numel; at += chunkElems) {
      const count = Math.min(chunkElems, numel - at);
      const view = buf.subarray(0, count * item);
      readExactly(shard.fd, shard.file, view, entry.start + at * item);
      sink(view, count, at);
    }
  }
}

/** Up to three known names sharing the missing name's last two dot-parts, as a hint. */
function suggest(name: string, names: string[]): string {
  const tail = name.split('.').slice(-2).join('.');
  const near = names.filter((n) => n.endsWith(tail)).slice(0, 3);
  return near.length ? ` (similar: ${near.join(', ')})` : '';
}

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** Open a single safetensors file. */
export function openSafetensors(file: string): SafetensorsWeights {
  return new SafetensorsWeights([file]);
}

/** Open a sharded checkpoint from its index.json (weight_map: tensor name -> shard file name). */
export function openSafetensorsIndex(indexFile: string): SafetensorsWeights {
  if (!existsSync(indexFile)) throw fail('E_NOT_FOUND', `${indexFile}: file not found`, { file: indexFile });
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(readFileSync(indexFile, 'utf8')) as { weight_map?: unknown };
  } catch (e) {
    throw fail('E_SAFETENSORS_INDEX', `${indexFile}: not valid JSON (${(e as Error).message})`, { file: indexFile });
  }
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0) {
    throw fail('E_SAFETENSORS_INDEX', `${indexFile}: missing or empty field 'weight_map'`, { file: indexFile, field: 'weight_map' });
  }
  const dir = dirname(indexFile);
  const shardNames = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const s of shardNames) {
    if (typeof s !== 'string' || s !== basename(s)) {
      throw fail('E_SAFETENSORS_INDEX', `${indexFile}: weight_map value ${JSON.stringify(s)} is not a file name`, { file: indexFile });
    }
    if (!existsSync(join(dir, s))) {
      throw fail('E_MISSING_SHARD', `${indexFile}: references shard '${s}', which is not in ${dir}`, { file: indexFile, shard: s });
    }
  }
  const weights = new SafetensorsWeights(shardNames.map((s) => join(dir, s as string)), indexFile);
  for (const [tensor, shard] of Object.entries(map as Record<string, string>)) {
    const where = weights.fileOf(tensor) ?? null;
    if (where !== join(dir, shard)) {
      weights.close();
      throw fail('E_SAFETENSORS_INDEX', `${indexFile}: weight_map puts '${tensor}' in ${shard}, but ${where ? `it is in ${basename(where)}` : 'no shard holds it'}`, { file: indexFile, tensor, shard });
    }
  }
  return weights;
}

/** Open the safetensors weights of a Hugging Face model folder (single file or sharded). */
export function openModelWeights(dir: string): SafetensorsWeights {
  if (existsSync(join(dir, INDEX_FILE))) return openSafetensorsIndex(join(dir, INDEX_FILE));
  if (existsSync(join(dir, SINGLE_FILE))) return openSafetensors(join(dir, SINGLE_FILE));
  const bin = existsSync(join(dir, 'pytorch_model.bin')) ? '; found pytorch_model.bin, convert it to safetensors first' : '';
  throw fail('E_NO_WEIGHTS', `${dir}: no ${SINGLE_FILE} or ${INDEX_FILE} (Recall reads safetensors weights only${bin})`, { file: dir });
}
