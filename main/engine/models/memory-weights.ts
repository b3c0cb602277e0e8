// An in-memory WeightSource: for weights produced by Recall itself (tests, compression
// outputs, trained models) before they are written as safetensors.
import { fromFloat16, toFloat16 } from '../onnx/dtypes.ts';
import type { WeightInfo, WeightSource } from './types.ts';

export class MemoryWeights implements WeightSource {
  private readonly tensors = new Map<string, { shape: number[]; data: Float32Array }>();

  constructor(entries: Iterable<[string, { shape: number[]; data: Float32Array | Uint16Array }]> = [], readonly label = 'memory') {
    for (const [name, t] of entries) this.set(name, t.shape, t.data instanceof Uint16Array ? fromFloat16(t.data) : t.data);
  }

  set(name: string, shape: number[], data: Float32Array): void {
    const n = shape.reduce((a, d) => a * d, 1);
    if (n !== data.length) throw new Error(`${this.label}: tensor '${name}' has ${data.length} values for shape [${shape}]`);
    this.tensors.set(name, { shape: [...shape], data });
  }

  names(): string[] { return [...this.tensors.keys()]; }
  has(name: string): boolean { return this.tensors.has(name); }

  info(name: string): WeightInfo {
    const t = this.get(name);
    return { name, dtype: 'float32', shape: [...t.shape], file: this.label };
  }

  readFloat32(name: string): Float32Array { return this.get(name).data.slice(); }
  readFloat16(name: string): Uint16Array { return toFloat16(this.get(name).data); }
  close(): void { this.tensors.clear(); }

  private get(name: string) {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.label}: no tensor '${name}'`);
    return t;
  }
}
