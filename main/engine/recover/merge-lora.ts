// Merge a LoRA adapter into the dense weights of its base, on request: W' = W + (alpha / r) B A
// (METHODS.md 2). Only meaningful for a dense base: merging into 3-bit or sparse weights
// would undo the compression, which is why Recall runs LoRA unmerged by default.
import type { ModelFolder } from '../models/folder.ts';
import { writeModelFolder } from '../tune/train-model.ts';
import type { LoraAdapter } from './adapter.ts';

/** W [out, in] + scale * B [out, r] @ A [r, in], as a new array. */
export function mergedWeight(W: Float32Array, A: Float32Array, B: Float32Array, rank: number, scale: number): Float32Array {
  const inp = A.length / rank, out = B.length / rank;
  const merged = Float32Array.from(W);
  for (let o = 0; o < out; o++) for (let k = 0; k < rank; k++) {
    const b = scale * B[o * rank + k]!;
    if (b === 0) continue;
    for (let i = 0; i < inp; i++) merged[o * inp + i]! += b * A[k * inp + i]!;
  }
  return merged;
}

/** Write `source`'s folder with every LoRA target merged (all weights float32) to `out`. */
export function mergeLora(folder: ModelFolder, a: LoraAdapter, source: string, out: string): void {
  const scale = a.alpha / a.rank;
  const tensors = folder.weights.names().map((name) => {
    const info = folder.weights.info(name);
    let data = folder.weights.readFloat32(name);
    const w = name.endsWith('.weight') ? a.weights.get(name.slice(0, -'.weight'.length)) : undefined;
    if (w) data = mergedWeight(data, w.A, w.B, a.rank, scale);
    return { name, shape: info.shape, data };
  });
  writeModelFolder(source, out, tensors);
}
