// One pre-norm decoder block (LLaMA layout, no rotary embeddings) built with the graph IR,
// shared by test/onnx/decoder-block.test.ts and bench/ort-block.ts. Weights are [in, out]
// so every projection is a plain MatMul (x @ W).
//
//   x ─┬─ RMSNorm ─ q/k/v proj ─ heads ─ softmax(q kᵀ/√d + causal) v ─ o_proj ─(+)─ h
//      └──────────────────────────────────────────────────────────────────────┘
//   h ─┬─ RMSNorm ─ down( silu(gate(n)) * up(n) ) ─(+)─ y
//      └─────────────────────────────────────────┘
import { GraphBuilder } from '../../main/engine/onnx/builder.ts';
import type { Dim, Model } from '../../main/engine/onnx/ir.ts';
import { randomFloats } from './compare.ts';

export interface BlockConfig {
  hidden: number;
  heads: number;
  intermediate: number;
  /** Sequence length: the causal mask is a constant [seq, seq]. */
  seq: number;
  /** Batch dimension of the input: a size or a symbolic name. */
  batch: Dim;
  eps: number;
  /** 'decomposed' = Pow/ReduceMean/Add/Sqrt/Div/Mul; 'fused' = ORT's SimplifiedLayerNormalization. */
  rmsnorm?: 'decomposed' | 'fused';
}

export const BLOCK_WEIGHT_NAMES = ['ln1', 'wq', 'wk', 'wv', 'wo', 'ln2', 'w_gate', 'w_up', 'w_down'] as const;
export type BlockWeights = Record<(typeof BLOCK_WEIGHT_NAMES)[number], Float32Array>;

export function blockWeightDims(c: BlockConfig): Record<keyof BlockWeights, number[]> {
  const [H, I] = [c.hidden, c.intermediate];
  return { ln1: [H], wq: [H, H], wk: [H, H], wv: [H, H], wo: [H, H], ln2: [H], w_gate: [H, I], w_up: [H, I], w_down: [I, H] };
}

/** Seeded weights with 1/sqrt(fan_in) scale (for benches; tests use the PyTorch fixture's). */
export function randomBlockWeights(c: BlockConfig, seed: number): BlockWeights {
  const dims = blockWeightDims(c);
  const out = {} as BlockWeights;
  BLOCK_WEIGHT_NAMES.forEach((name, i) => {
    const d = dims[name];
    const n = d.reduce((p, v) => p * v, 1);
    out[name] = d.length === 1 ? randomFloats(n, seed + i, 0.1).map((v) => 1 + v) : randomFloats(n, seed + i, 1 / Math.sqrt(d[0]!));
  });
  return out;
}

function rmsNorm(b: GraphBuilder, x: string, weight: string, c: BlockConfig): string {
  if (c.rmsnorm === 'fused') return b.op1('SimplifiedLayerNormalization', [x, weight], { axis: -1, epsilon: c.eps });
  // x / sqrt(mean(x^2, -1) + eps) * w   (Zhang & Sennrich 2019, eq. 4)
  const ms = b.op1('ReduceMean', [b.op1('Pow', [x, b.scalar(2)]), b.int64s([-1])], { keepdims: 1 });
  const rms = b.op1('Sqrt', [b.op1('Add', [ms, b.scalar(c.eps)])]);
  return b.op1('Mul', [b.op1('Div', [x, rms]), weight]);
}

/** [B, S, H] -> [B, nh, S, hd] (or [B, nh, hd, S] with `keyT`, ready for q @ kᵀ). */
function splitHeads(b: GraphBuilder, x: string, c: BlockConfig, keyT = false): string {
  const r = b.op1('Reshape', [x, b.int64s([0, 0, c.heads, c.hidden / c.heads])]);
  return b.op1('Transpose', [r], { perm: keyT ? [0, 2, 3, 1] : [0, 2, 1, 3] });
}

function attention(b: GraphBuilder, x: string, w: Record<string, string>, c: BlockConfig): string {
  return b.scope('attn', () => {
    const proj = (name: string, input: string, weight: string) => b.scope(name, () => b.op1('MatMul', [input, weight]));
    const q = splitHeads(b, proj('q_proj', x, w.wq!), c); // [B, nh, S, hd]
    const kT = splitHeads(b, proj('k_proj', x, w.wk!), c, true); // [B, nh, hd, S]
    const v = splitHeads(b, proj('v_proj', x, w.wv!), c); // [B, nh, S, hd]
    const scores = b.op1('Mul', [b.op1('MatMul', [q, kT]), b.scalar(1 / Math.sqrt(c.hidden / c.heads))]); // [B, nh, S, S]
    // Causal mask: keep[i][j] = j <= i, the lower triangle of a constant block of ones.
    const keep = b.op1('Trilu', [b.constant('bool', [c.seq, c.seq], new Uint8Array(c.seq * c.seq).fill(1))], { upper: 0 });
    const probs = b.op1('Softmax', [b.op1('Where', [keep, scores, b.scalar(-Infinity)])], { axis: -1 });
    const ctx = b.op1('Transpose', [b.op1('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }); // [B, S, nh, hd]
    const merged = b.op1('Reshape', [ctx, b.int64s([0, 0, c.hidden])]); // [B, S, H]
    return proj('o_proj', merged, w.wo!);
  });
}

function swiGlu(b: GraphBuilder, x: string, w: Record<string, string>): string {
  return b.scope('mlp', () => {
    const gate = b.scope('gate_proj', () => b.op1('MatMul', [x, w.w_gate!])); // [B, S, I]
    const up = b.scope('up_proj', () => b.op1('MatMul', [x, w.w_up!]));
    const act = b.op1('Mul', [b.op1('Mul', [gate, b.op1('Sigmoid', [gate])]), up]); // silu(gate) * up
    return b.scope('down_proj', () => b.op1('MatMul', [act, w.w_down!])); // [B, S, H]
  });
}

/** Emit the block on `x` [B, S, H] under /model/layers.{layer}; returns the output value. */
export function emitDecoderBlock(b: GraphBuilder, x: string, weights: BlockWeights, c: BlockConfig, layer = 0): string {
  if (c.hidden % c.heads !== 0) throw new Error(`hidden ${c.hidden} is not a multiple of heads ${c.heads}`);
  const dims = blockWeightDims(c);
  const prefix = `model.layers.${layer}`;
  return b.scope('model', () => b.scope(`layers.${layer}`, () => {
    const w: Record<string, string> = {};
    for (const name of BLOCK_WEIGHT_NAMES) w[name] = b.initializer(`${prefix}.${name}`, 'float32', dims[name], weights[name]);
    const h = b.op1('Add', [x, attention(b, b.scope('input_layernorm', () => rmsNorm(b, x, w.ln1!, c)), w, c)], {}, { name: 'attn_residual' });
    const m = swiGlu(b, b.scope('post_attention_layernorm', () => rmsNorm(b, h, w.ln2!, c)), w);
    return b.op1('Add', [h, m], {}, { name: 'mlp_residual' });
  }));
}

/** A model of one block: input 'x' [batch, seq, hidden] -> output 'y'. */
export function buildDecoderBlockModel(weights: BlockWeights, c: BlockConfig): Model {
  const b = new GraphBuilder('decoder_block');
  const x = b.input('x', 'float32', [c.batch, c.seq, c.hidden]);
  b.output(emitDecoderBlock(b, x, weights, c), 'y');
  return b.build();
}
