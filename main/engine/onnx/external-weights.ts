// External-weight sink: while a large model's graph is built, each weight is written to the
// external-data file the moment it is created, and the IR keeps only its location. The JS
// heap then never holds more than the tensor being converted, and ORT, opening the model
// from the file, memory-maps the weights instead of copying them (its CPU loader maps a
// tensor whose file offset is a multiple of the page size; hence the 4096-byte alignment).
//
//   builder ──weightInit──► sink.writeTensor(chunks...) ──► model.onnx.data  [aligned blocks]
//                     └──► TensorData { data: empty, external: { location, offset, length } }

import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ExternalLocation } from './ir.ts';

export interface ExternalWeightSinkOptions {
  /** Data file name, relative to the model file that will reference it (default model.onnx.data). */
  fileName?: string;
  /** Offset alignment in bytes (default 4096, the page size, so ORT can memory-map each tensor). */
  align?: number;
  /** Tensors smaller than this stay in memory as ordinary initializers (default 1024). */
  minBytes?: number;
}

/** What graph builders write weights through (GraphOptions.externalWeights). */
export interface WeightSink {
  /** Whether a tensor of this many bytes goes to the sink (smaller ones stay in the graph). */
  accepts(byteLength: number): boolean;
  /** Store one tensor of `length` bytes, produced by `produce` as consecutive chunks; returns where it lies. */
  writeTensor(length: number, produce: (emit: (chunk: Uint8Array) => void) => void): ExternalLocation;
  /** Store one tensor's bytes whole. */
  write(bytes: Uint8Array): ExternalLocation;
}

export class ExternalWeightSink implements WeightSink {
  readonly fileName: string;
  readonly path: string;
  readonly align: number;
  readonly minBytes: number;
  private fd: number | null;
  private end = 0;
  /** Tensor bytes written (without alignment padding). */
  bytesWritten = 0;
  tensorsWritten = 0;

  /** Create (truncate) `dir/fileName`; `dir` must be where the model file will be saved. */
  constructor(readonly dir: string, o: ExternalWeightSinkOptions = {}) {
    this.fileName = o.fileName ?? 'model.onnx.data';
    this.align = o.align ?? 4096;
    this.minBytes = o.minBytes ?? 1024;
    if (!Number.isInteger(this.align) || this.align <= 0) throw new Error(`external weights: align must be a positive integer (got ${this.align})`);
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, this.fileName);
    this.fd = openSync(this.path, 'w');
  }

  /** Whether a tensor of this many bytes goes to the file. */
  accepts(byteLength: number): boolean {
    return byteLength >= this.minBytes;
  }

  /** Total size of the data file so far. */
  get fileBytes(): number { return this.end; }

  /**
   * Write one tensor of `length` bytes, produced by `produce` as consecutive chunks (so a
   * caller can convert or transpose a block at a time). Returns where it lies.
   */
  writeTensor(length: number, produce: (emit: (chunk: Uint8Array) => void) => void): ExternalLocation {
    const fd = this.openFd();
    const offset = Math.ceil(this.end / this.align) * this.align;
    let at = offset;
    produce((chunk) => {
      if (at + chunk.byteLength > offset + length) throw new Error(`external weights: tensor at offset ${offset} got more than its ${length} bytes`);
      let done = 0;
      while (done < chunk.byteLength) done += writeSync(fd, chunk, done, Math.min(chunk.byteLength - done, 1 << 30), at + done);
      at += chunk.byteLength;
    });
    if (at !== offset + length) throw new Error(`external weights: tensor at offset ${offset} got ${at - offset} bytes, expected ${length}`);
    this.end = offset + length;
    this.bytesWritten += length;
    this.tensorsWritten++;
    return { location: this.fileName, offset, length };
  }

  /** Write one tensor's bytes whole. */
  write(bytes: Uint8Array): ExternalLocation {
    return this.writeTensor(bytes.byteLength, (emit) => emit(bytes));
  }

  /** Close the file (its length is the end of the last tensor). Idempotent. */
  close(): void {
    if (this.fd === null) return;
    ftruncateSync(this.fd, this.end);
    closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`external weights: ${this.path} was closed`);
    return this.fd;
  }
}
