// IDP's prompt selection (METHODS.md 2, IDP): with the m prompts' cached KV laid side by side
// as one past of m*n positions and the input after them (positions n.., as it would sit after
// any one prompt), take the attention probabilities of layer selLayer from the input's tokens;
// score_i = mean over heads, input tokens and prompt i's n key positions; i* = argmax (hard
// top-1; the first on ties). Only the graph up to that layer's attention is run: the full
// graph is built with attentions exposed and cut at attentions.{selLayer}.
import { buildModelGraph } from '../models/build-graph.ts';
import type { Past } from '../models/runner.ts';
import type { DecoderConfig, WeightSource } from '../models/types.ts';
import { extractSubgraph } from '../onnx/subgraph.ts';
import { type RecallSession, type SessionOptions, createSession } from '../runtime/session.ts';
import { type HostTensor, float32, int64 } from '../runtime/tensors.ts';

/**
 * attn [B, H, T, total] with total = m*n + T (prompt keys first) -> scores [B][m]:
 * score[b][i] = mean over h, t and j in [i*n, i*n+n) of attn[b, h, t, j].
 */
export function promptScores(attn: Float32Array, dims: readonly number[], m: number, n: number): number[][] {
  const [B, H, T, total] = dims as [number, number, number, number];
  return Array.from({ length: B }, (_, b) => Array.from({ length: m }, (_, i) => {
    let s = 0;
    for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
      const row = ((b * H + h) * T + t) * total;
      for (let j = i * n; j < i * n + n; j++) s += attn[row + j]!;
    }
    return s / (H * T * n);
  }));
}

/** Hard top-1: the index of the largest score (the first one on ties). */
export function pickPrompt(scores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  return best;
}

/** Concatenate the prompts' KV (each batch 1, n positions) along the sequence axis and tile over `batch` rows. */
export function poolPast(prompts: Past[], layer: number, kind: 'keys' | 'values', batch: number): HostTensor {
  const parts = prompts.map((p) => p[kind][layer]!);
  const [, H, n, D] = parts[0]!.dims as [number, number, number, number];
  const m = parts.length;
  const one = new Float32Array(H * m * n * D);
  parts.forEach((t, i) => {
    const src = t.data as Float32Array;
    for (let h = 0; h < H; h++) one.set(src.subarray(h * n * D, (h + 1) * n * D), (h * m * n + i * n) * D);
  });
  const all = new Float32Array(one.length * batch);
  for (let b = 0; b < batch; b++) all.set(one, b * one.length);
  return float32([batch, H, m * n, D], all);
}

export class IdpSelector {
  private constructor(private readonly session: RecallSession, readonly selLayer: number) {}

  static async create(config: DecoderConfig, weights: WeightSource, selLayer: number, o: SessionOptions = {}): Promise<IdpSelector> {
    // Layers after selLayer are never needed: build only up to it, then cut at its attention.
    const shallow = { ...config, numLayers: selLayer + 1 };
    const full = buildModelGraph(shallow, weights, { pastKeyValues: true, exposeAttentions: true, logits: 'last' });
    const graph = extractSubgraph(full, { inputs: [], outputs: [`attentions.${selLayer}`], name: 'recall-idp-selector' });
    return new IdpSelector(await createSession(graph, o), selLayer);
  }

  /** Scores [B][m] of equal-length rows `ids` against the prompts' cached KV (each n positions). */
  async scores(ids: number[][], prompts: Past[]): Promise<number[][]> {
    const B = ids.length, T = ids[0]!.length, m = prompts.length, n = prompts[0]!.length;
    const feeds: Record<string, HostTensor> = {
      input_ids: int64([B, T], ids.flat()),
      position_ids: int64([B, T], Array.from({ length: B * T }, (_, k) => n + (k % T))),
      attention_mask: int64([B, m * n + T], new Array<number>(B * (m * n + T)).fill(1)),
    };
    for (const name of this.session.inputNames) {
      const match = /^past_key_values\.(\d+)\.(key|value)$/.exec(name);
      if (match) feeds[name] = poolPast(prompts, Number(match[1]), match[2] === 'key' ? 'keys' : 'values', B);
    }
    for (const name of Object.keys(feeds)) if (!this.session.inputNames.includes(name)) delete feeds[name];
    const out = await this.session.run(feeds);
    const attn = out[`attentions.${this.selLayer}`]!;
    return promptScores(attn.data as Float32Array, attn.dims, m, n);
  }

  async release(): Promise<void> { await this.session.release(); }
}
