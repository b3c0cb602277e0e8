// Loader for test/fixtures/compress/ (written by scripts/oracles/compress_fixtures.py) and the
// layer output error the oracle tests compare: tr((W - Q) H (W - Q)^T) = (2/N) ||W X^T - Q X^T||^2.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const DIR = new URL('../fixtures/compress/', import.meta.url);

export interface FixtureCase {
  name: string;
  method: 'rtn' | 'gptq' | 'sparsegpt' | 'magnitude';
  bits?: number;
  groupSize?: number;
  sym?: boolean;
  mse?: boolean;
  actOrder?: boolean;
  staticGroups?: boolean;
  sparsity?: number;
  n?: number;
  m?: number;
  quant?: { bits: number; groupSize?: number; sym?: boolean };
}

export interface Manifest {
  layers: Record<string, { rows: number; cols: number; dead: number[] }>;
  cases: FixtureCase[];
  results: Record<string, { loss: number; error: number }>;
  linalg: { n: number; offset: number; damp: number };
}

export const manifest = JSON.parse(readFileSync(new URL('manifest.json', DIR), 'utf8')) as Manifest;

function bytes(name: string): Uint8Array {
  const b = gunzipSync(readFileSync(new URL(name, DIR)));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export const readU8 = (name: string): Uint8Array => bytes(name).slice();
export const readF32 = (name: string): Float32Array => new Float32Array(bytes(name).slice().buffer);
export const readF64 = (name: string): Float64Array => new Float64Array(bytes(name).slice().buffer);

export interface FixtureLayer { key: string; rows: number; cols: number; w: Float32Array; h: Float64Array }

export function loadLayer(key: string): FixtureLayer {
  const { rows, cols } = manifest.layers[key]!;
  return { key, rows, cols, w: readF32(`${key}.W.f32.gz`), h: Float64Array.from(readF32(`${key}.H.f32.gz`)) };
}

/** tr((W - Q) H (W - Q)^T) in float64. */
export function outputError(w: Float32Array, q: Float32Array, h: Float64Array, rows: number, cols: number): number {
  let total = 0;
  const d = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) d[c] = w[r * cols + c]! - q[r * cols + c]!;
    for (let i = 0; i < cols; i++) {
      if (d[i] === 0) continue;
      let s = 0;
      for (let j = 0; j < cols; j++) s += h[i * cols + j]! * d[j]!;
      total += d[i]! * s;
    }
  }
  return total;
}

/** Number of positions where a and b differ. */
export function countMismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
