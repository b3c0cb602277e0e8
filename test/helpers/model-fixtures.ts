// Reads the PyTorch oracle fixtures of test/fixtures/models (format in its README.md).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURE_MODELS = ['tiny-llama', 'tiny-llama3', 'tiny-qwen2', 'tiny-opt', 'tiny-opt350'] as const;

export function fixtureDir(name: string): string {
  return fileURLToPath(new URL(`../fixtures/models/${name}`, import.meta.url));
}

export interface FixtureTensor { shape: number[]; data: Float32Array | BigInt64Array }
type Entry = { dtype: string; shape: number[]; offset?: number; data?: number[] };

export class OracleFixture {
  readonly json: Record<string, unknown> & { cases: Record<string, { inputs: Record<string, unknown>; outputs: Record<string, unknown> }> };
  private readonly bin: Buffer;

  constructor(readonly name: string) {
    const dir = fixtureDir(name);
    this.json = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8'));
    this.bin = readFileSync(`${dir}/${this.json.bin as string}`);
  }

  tensor(e: unknown): FixtureTensor {
    const t = e as Entry;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype === 'int64') return { shape: t.shape, data: BigInt64Array.from(t.data!.map((v) => BigInt(v))) };
    const start = this.bin.byteOffset + t.offset!;
    return { shape: t.shape, data: new Float32Array(this.bin.buffer.slice(start, start + 4 * n)) };
  }

  floats(e: unknown): Float32Array { return this.tensor(e).data as Float32Array; }
  ints(e: unknown): number[] { return Array.from(this.tensor(e).data as BigInt64Array, Number); }
  case(name: string) { return this.json.cases[name]!; }
}

type GradEntry = { dtype: string; shape: number[]; offset?: number; data?: number[] };
export interface GradCase { inputs: Record<string, unknown>; loss: number; grads: Record<string, GradEntry> }

/** The PyTorch gradient oracle of a fixture model (grads.json + grads.bin; format in the README). */
export class GradFixture {
  readonly json: { cases: Record<string, GradCase> };
  private readonly bin: Buffer;
  constructor(name: string) {
    const dir = fixtureDir(name);
    this.json = JSON.parse(readFileSync(`${dir}/grads.json`, 'utf8'));
    this.bin = readFileSync(`${dir}/grads.bin`);
  }
  get cases(): Record<string, GradCase> { return this.json.cases; }
  floats(e: unknown): Float32Array {
    const t = e as GradEntry;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const s = this.bin.byteOffset + t.offset!;
    return new Float32Array(this.bin.buffer.slice(s, s + 4 * n));
  }
  ints(e: unknown): number[] { return (e as GradEntry).data!; }
  shape(e: unknown): number[] { return (e as GradEntry).shape; }
}
