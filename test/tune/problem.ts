// A real but tiny next-token model for the loop tests, with a hand-written backward pass:
// logits = E[x] @ O (E: [V, D] embedding, O: [D, V] output), loss = mean cross-entropy.
// The loop only sees the gradient interface, so this stands in for the ORT gradient graph.
// Shared by loop.test.ts and train-child.ts so a child process trains the very same run.
import { setTimeout as sleep } from 'node:timers/promises';
import { TokenDataset, type TokenBatch } from '../../main/engine/tune/data.ts';
import type { EvalResult, GradientResult, TrainOptions } from '../../main/engine/tune/loop.ts';
import type { Params } from '../../main/engine/tune/optimizer.ts';
import { randomFloats } from '../helpers/compare.ts';

export const V = 12;
export const D = 6;

/** A token stream with a learnable rule (next = 5 * prev + 1 mod V) and 15% noise. */
export function makeTokens(n: number, seed = 7): number[] {
  const noise = randomFloats(2 * n, seed);
  const out = [0];
  for (let i = 1; i < n; i++) {
    const r = (noise[2 * i]! + 1) / 2;
    out.push(r < 0.15 ? Math.floor(((noise[2 * i + 1]! + 1) / 2) * V) % V : (5 * out[i - 1]! + 1) % V);
  }
  return out;
}

export function makeDataset(seqLen = 8, tokens = 8 * 48 + 1, heldOutFraction = 1 / 6): TokenDataset {
  return TokenDataset.fromTokens(makeTokens(tokens), { seqLen, heldOutFraction });
}

export function initParams(seed = 3): Params {
  return new Map([
    ['embed', randomFloats(V * D, seed, 0.5)], // [V, D]
    ['out', randomFloats(D * V, seed + 1, 0.5)], // [D, V]
  ]);
}

export const SHAPES = new Map([['embed', [V, D]], ['out', [D, V]]]);

/** Mean cross-entropy over the batch and, when wanted, its gradients (float64 inside). */
export function lossAndGrads(params: Params, batch: TokenBatch, wantGrads: boolean): GradientResult {
  const E = params.get('embed')!, O = params.get('out')!;
  const N = batch.inputs.length;
  const dE = new Float64Array(V * D), dO = new Float64Array(D * V);
  const logits = new Float64Array(V), dl = new Float64Array(V);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const x = batch.inputs[n]!, y = batch.labels[n]!;
    let max = -Infinity;
    for (let j = 0; j < V; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += E[x * D + d]! * O[d * V + j]!;
      logits[j] = s;
      max = Math.max(max, s);
    }
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[j]! - max);
    loss += Math.log(z) + max - logits[y]!;
    if (!wantGrads) continue;
    // d(loss / N)/d(logits) = (softmax - onehot) / N
    for (let j = 0; j < V; j++) dl[j] = (Math.exp(logits[j]! - max) / z - (j === y ? 1 : 0)) / N;
    for (let d = 0; d < D; d++) {
      let back = 0;
      for (let j = 0; j < V; j++) {
        dO[d * V + j]! += E[x * D + d]! * dl[j]!;
        back += dl[j]! * O[d * V + j]!;
      }
      dE[x * D + d]! += back;
    }
  }
  const grads = new Map([['embed', Float32Array.from(dE)], ['out', Float32Array.from(dO)]]);
  return { loss: loss / N, grads, tokens: N };
}

/** Options for a run on this problem; `params` is fresh each call. */
export function problemOptions(over: Partial<TrainOptions> & { delayMs?: number } = {}): TrainOptions {
  const { delayMs = 0, ...rest } = over;
  const params = rest.params ?? initParams();
  return {
    params,
    paramShapes: SHAPES,
    data: makeDataset(),
    batchSize: 4,
    gradient: async (batch: TokenBatch): Promise<GradientResult> => {
      if (delayMs) await sleep(delayMs);
      return lossAndGrads(params, batch, true);
    },
    evaluate: async (batch: TokenBatch): Promise<EvalResult> => lossAndGrads(params, batch, false),
    optimizer: { kind: 'adamw', lr: 0.05, weightDecay: 1e-5 },
    schedule: 'linear',
    warmupSteps: 3,
    totalSteps: 24,
    gradAccumSteps: 2,
    evalEvery: 4,
    seed: 11,
    ...rest,
  };
}
