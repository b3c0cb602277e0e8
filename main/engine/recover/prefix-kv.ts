// Prefix tuning's key/values (METHODS.md 2: [layers, 2, heads, n, headDim] fed as past KV) and
// its optional reparameterisation, computed here in TypeScript (not as graph ops):
//   PEFT PrefixEncoder: E = Embedding(n, d) ─Linear(d, hid)─tanh─Linear(hid, layers*2*d)─► rows [n, layers*2*d]
// with d = kv_heads * head_dim (PEFT's token_dim for prefix tuning, GQA-adjusted). The MLP's
// gradient is backpropagated here from the graph's past-KV gradients; after training the rows
// are computed once and saved (the MLP is folded away, as PEFT saves it).
import { Mulberry32 } from '../tune/data.ts';

export interface KvDims { layers: number; kvHeads: number; headDim: number; n: number }

/** PEFT row layout -> graph inputs: past_key_values.{l}.key|value [kvHeads, n, headDim]. */
export function rowsToPast(rows: Float32Array, d: KvDims): Map<string, Float32Array> {
  const { layers, kvHeads: H, headDim: D, n } = d;
  const width = layers * 2 * H * D;
  const out = new Map<string, Float32Array>();
  for (let l = 0; l < layers; l++) {
    for (const [k, kind] of [[0, 'key'], [1, 'value']] as const) {
      const t = new Float32Array(H * n * D);
      for (let h = 0; h < H; h++) for (let j = 0; j < n; j++) for (let x = 0; x < D; x++) t[(h * n + j) * D + x] = rows[j * width + ((2 * l + k) * H + h) * D + x]!;
      out.set(`past_key_values.${l}.${kind}`, t);
    }
  }
  return out;
}

/** Inverse of rowsToPast (also maps gradients of the past inputs back to row gradients). */
export function pastToRows(past: ReadonlyMap<string, Float32Array>, d: KvDims): Float32Array {
  const { layers, kvHeads: H, headDim: D, n } = d;
  const width = layers * 2 * H * D;
  const rows = new Float32Array(n * width);
  for (let l = 0; l < layers; l++) {
    for (const [k, kind] of [[0, 'key'], [1, 'value']] as const) {
      const t = past.get(`past_key_values.${l}.${kind}`)!;
      for (let h = 0; h < H; h++) for (let j = 0; j < n; j++) for (let x = 0; x < D; x++) rows[j * width + ((2 * l + k) * H + h) * D + x] = t[(h * n + j) * D + x]!;
    }
  }
  return rows;
}

/** N(0, 1) values from a seeded generator (Box-Muller), as torch's Embedding init draws them. */
export function normal(count: number, seed: number, std = 1): Float32Array {
  const rng = new Mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = Math.max(rng.next(), 1e-12), v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Uniform(-bound, bound) values (torch Linear's default init with bound 1/sqrt(fan_in)). */
function uniform(count: number, bound: number, seed: number): Float32Array {
  const rng = new Mulberry32(seed);
  return Float32Array.from({ length: count }, () => (rng.next() * 2 - 1) * bound);
}

/** Parameter names of the reparameterisation MLP (PEFT's prompt_encoder names). */
export const MLP = { embedding: 'embedding.weight', w1: 'transform.0.weight', b1: 'transform.0.bias', w2: 'transform.2.weight', b2: 'transform.2.bias' } as const;

export function initPrefixMlp(n: number, d: number, hidden: number, out: number, seed: number): Map<string, Float32Array> {
  return new Map([
    [MLP.embedding, normal(n * d, seed)],
    [MLP.w1, uniform(hidden * d, 1 / Math.sqrt(d), seed + 1)], [MLP.b1, uniform(hidden, 1 / Math.sqrt(d), seed + 2)],
    [MLP.w2, uniform(out * hidden, 1 / Math.sqrt(hidden), seed + 3)], [MLP.b2, uniform(out, 1 / Math.sqrt(hidden), seed + 4)],
  ]);
}

export interface MlpForward { rows: Float32Array; act: Float32Array }

/** rows [n, out] = tanh(E W1^T + b1) W2^T + b2; `act` (the tanh output [n, hidden]) is kept for backward. */
export function prefixMlpForward(p: ReadonlyMap<string, Float32Array>, n: number, d: number, hidden: number, out: number): MlpForward {
  const E = p.get(MLP.embedding)!, W1 = p.get(MLP.w1)!, b1 = p.get(MLP.b1)!, W2 = p.get(MLP.w2)!, b2 = p.get(MLP.b2)!;
  const act = new Float32Array(n * hidden);
  for (let j = 0; j < n; j++) for (let h = 0; h < hidden; h++) {
    let z = b1[h]!;
    for (let i = 0; i < d; i++) z += E[j * d + i]! * W1[h * d + i]!;
    act[j * hidden + h] = Math.tanh(z);
  }
  const rows = new Float32Array(n * out);
  for (let j = 0; j < n; j++) for (let o = 0; o < out; o++) {
    let y = b2[o]!;
    for (let h = 0; h < hidden; h++) y += act[j * hidden + h]! * W2[o * hidden + h]!;
    rows[j * out + o] = y;
  }
  return { rows, act };
}

/** Gradients of the MLP's parameters from dRows [n, out]. */
export function prefixMlpBackward(p: ReadonlyMap<string, Float32Array>, f: MlpForward, dRows: Float32Array, n: number, d: number, hidden: number, out: number): Map<string, Float32Array> {
  const E = p.get(MLP.embedding)!, W1 = p.get(MLP.w1)!, W2 = p.get(MLP.w2)!;
  const dW2 = new Float32Array(out * hidden), db2 = new Float32Array(out), dZ = new Float32Array(n * hidden);
  for (let j = 0; j < n; j++) for (let o = 0; o < out; o++) {
    const g = dRows[j * out + o]!;
    if (g === 0) continue;
    db2[o]! += g;
    for (let h = 0; h < hidden; h++) { dW2[o * hidden + h]! += g * f.act[j * hidden + h]!; dZ[j * hidden + h]! += g * W2[o * hidden + h]!; }
  }
  for (let k = 0; k < dZ.length; k++) dZ[k]! *= 1 - f.act[k]! * f.act[k]!; // tanh' = 1 - tanh^2
  const dW1 = new Float32Array(hidden * d), db1 = new Float32Array(hidden), dE = new Float32Array(n * d);
  for (let j = 0; j < n; j++) for (let h = 0; h < hidden; h++) {
    const g = dZ[j * hidden + h]!;
    db1[h]! += g;
    for (let i = 0; i < d; i++) { dW1[h * d + i]! += g * E[j * d + i]!; dE[j * d + i]! += g * W1[h * d + i]!; }
  }
  return new Map([[MLP.embedding, dE], [MLP.w1, dW1], [MLP.b1, db1], [MLP.w2, dW2], [MLP.b2, db2]]);
}
