// Fresh weights for a model trained from scratch (the demo model): normal(0, std) for
// matrices as transformers' initializer_range does (0.02 by default), ones for RMSNorm.
import { Mulberry32 } from '../random.ts';
import { MemoryWeights } from './memory-weights.ts';
import { expectedTensors } from './tensor-layout.ts';
import type { DecoderConfig } from './types.ts';

/** Standard normal draws from a seeded mulberry32 stream via Box-Muller. */
function normals(n: number, seed: number, std: number): Float32Array {
  const rng = new Mulberry32(seed);
  const uniform = () => (rng.nextUint32() + 0.5) / 4294967296;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())), a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a) * std;
    if (i + 1 < n) out[i + 1] = r * Math.sin(a) * std;
  }
  return out;
}

export function initWeights(config: DecoderConfig, seed: number, std = 0.02): MemoryWeights {
  const w = new MemoryWeights([], 'initialised');
  let k = 0;
  for (const t of expectedTensors(config)) {
    if (t.optional && !(t.name === 'lm_head.weight' && !config.tieWordEmbeddings)) continue;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm\.weight$|layer_norm\.weight$/.test(t.name);
    const isBias = t.name.endsWith('.bias');
    w.set(t.name, t.shape, isNorm ? new Float32Array(n).fill(1) : isBias ? new Float32Array(n) : normals(n, seed * 7919 + k++, std));
  }
  return w;
}
