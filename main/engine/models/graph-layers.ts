// Layer helpers shared by the LLaMA and OPT graph builders: weights as initializers,
// linear layers with optional bias and LoRA branch, RMSNorm / LayerNorm, the attention
// mask, rotary embeddings and the attention core with grouped-query heads.

import { type GraphBuilder } from '../onnx/builder.ts';
import { bytesOf, toFloat16 } from '../onnx/dtypes.ts';
import { Mulberry32 } from '../random.ts';
import type { WeightSource } from './types.ts';
import { FLOAT_MIN, type GraphOptions, type PackedLinear } from './graph-options.ts';

export interface LayerContext {
  b: GraphBuilder;
  weights: WeightSource;
  options: GraphOptions;
}

/** Read a weight (overrides first) as row-major float32. */
export function readWeight(ctx: LayerContext, name: string): Float32Array {
  return ctx.options.weightOverrides?.get(name) ?? ctx.weights.readFloat32(name);
}

/**
 * The weight `name` as an initializer of shape `dims`, as stored. With an external-weight sink
 * it is copied to the data file in chunks (no whole float32 copy) when the source can stream.
 */
export function storedWeight(ctx: LayerContext, name: string, dims: number[]): string {
  const { weights, options } = ctx;
  if (!options.externalWeights || options.weightOverrides?.has(name) || !weights.readFloat32Chunks) return weightInit(ctx, name, dims, readWeight(ctx, name));
  const numel = dims.reduce((a, d) => a * d, 1);
  return streamedWeightInit(ctx, name, dims, numel, (emit) => weights.readFloat32Chunks!(name, emit));
}

/** A weight initializer (float16-stored weights are cast back to float32 in the graph). */
export function weightInit(ctx: LayerContext, name: string, dims: number[], data: Float32Array): string {
  if (ctx.options.externalWeights) return streamedWeightInit(ctx, name, dims, data.length, (emit) => emit(data));
  if (ctx.options.weightDtype !== 'float16') return ctx.b.initializer(name, 'float32', dims, data);
  const stored = ctx.b.initializer(name, 'float16', dims, toFloat16(data));
  return ctx.b.op1('Cast', [stored], { to: 1 }, { name: `/weights/${name}/Cast` });
}

/**
 * A weight produced as consecutive float32 chunks. With an external-weight sink each chunk is
 * converted (float16 when asked) and written straight to the data file, so only the source
 * tensor and one chunk are in memory; otherwise the chunks are joined into an initializer.
 */
export function streamedWeightInit(ctx: LayerContext, name: string, dims: number[], numel: number, produce: (emit: (chunk: Float32Array) => void) => void): string {
  const sink = ctx.options.externalWeights;
  const half = ctx.options.weightDtype === 'float16';
  const dtype = half ? 'float16' : 'float32';
  const bytes = numel * (half ? 2 : 4);
  let stored: string;
  if (sink && sink.accepts(bytes)) {
    const at = sink.writeTensor(bytes, (write) => produce((chunk) => write(bytesOf(half ? toFloat16(chunk) : chunk))));
    stored = ctx.b.externalInitializer(name, dtype, dims, at);
  } else {
    const all = new Float32Array(numel);
    let at = 0;
    produce((chunk) => { all.set(chunk, at); at += chunk.length; });
    stored = half ? ctx.b.initializer(name, 'float16', dims, toFloat16(all)) : ctx.b.initializer(name, 'float32', dims, all);
  }
  return half ? ctx.b.op1('Cast', [stored], { to: 1 }, { name: `/weights/${name}/Cast` }) : stored;
}

export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}

/** Elements per chunk of a streamed transpose (4 MiB of float32). */
const TRANSPOSE_CHUNK = 1 << 20;

/** w [rows, cols] -> w^T [cols, rows], emitted a block of output rows at a time. */
export function transposeChunks(w: Float32Array, rows: number, cols: number, emit: (chunk: Float32Array) => void): void {
  const perChunk = Math.max(1, Math.floor(TRANSPOSE_CHUNK / Math.max(rows, 1)));
  const buf = new Float32Array(Math.min(cols, perChunk) * rows);
  for (let c0 = 0; c0 < cols; c0 += perChunk) {
    const n = Math.min(perChunk, cols - c0);
    for (let c = 0; c < n; c++) {
      const base = c * rows, col = c0 + c;
      for (let r = 0; r < rows; r++) buf[base + r] = w[r * cols + col]!;
    }
    emit(buf.subarray(0, n * rows));
  }
}

/** Kaiming-uniform(a = sqrt 5) as torch.nn.init does for Linear: bound = 1 / sqrt(fan_in). */
function kaimingUniform(n: number, fanIn: number, seed: number): Float32Array {
  const rng = new Mulberry32(seed);
  const out = new Float32Array(n);
  const bound = 1 / Math.sqrt(fanIn);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * bound;
  return out;
}

/**
 *   x ──MatMul(W^T)──Add(bias)──┬──────────────► y
 *   └─[Mul(dropout mask)]─MatMul(A^T)─MatMul(B^T)─Mul(alpha/r)─Add─┘   (LoRA branch when targeted;
 *                                                                      the mask input only with lora.dropoutMask)
 * `module` is the HF module path, e.g. model.layers.0.self_attn.q_proj; weights are stored
 * transposed ([in, out]) as `${module}.weight.T`.
 */
export function linear(ctx: LayerContext, x: string, module: string, peftName: string, nodeScope: string, bias: boolean): string {
  const { b } = ctx;
  const info = ctx.weights.info(`${module}.weight`);
  const [out, inp] = info.shape as [number, number];
  return b.scope(nodeScope, () => {
    const packed = ctx.options.packedLinear?.get(module);
    let y = packed
      ? packedMatMul(ctx, x, module, packed, out, inp)
      : b.op1('MatMul', [x, transposedWeight(ctx, `${module}.weight`, out, inp)], {}, { name: 'MatMul' });
    if (bias) y = b.op1('Add', [y, weightInit(ctx, `${module}.bias`, [out], readWeight(ctx, `${module}.bias`))], {}, { name: 'Add' });
    const lora = ctx.options.lora;
    if (!lora || !lora.targets.includes(peftName)) return y;
    if (lora.rank <= 0) throw new Error(`LoRA rank must be positive (got ${lora.rank})`);
    const given = lora.weights?.get(module);
    const A = given?.A ?? kaimingUniform(lora.rank * inp, inp, (lora.seed ?? 0) + hashName(module));
    const B = given?.B ?? new Float32Array(out * lora.rank);
    if (A.length !== lora.rank * inp || B.length !== out * lora.rank) {
      throw new Error(`LoRA weights of ${module}: A must be [${lora.rank}, ${inp}] and B [${out}, ${lora.rank}]`);
    }
    const aT = b.initializer(`${module}.lora_A.weight.T`, 'float32', [inp, lora.rank], transpose2d(A, lora.rank, inp));
    const bT = b.initializer(`${module}.lora_B.weight.T`, 'float32', [lora.rank, out], transpose2d(B, out, lora.rank));
    const xin = lora.dropoutMask
      ? b.op1('Mul', [x, b.input(`${module}.lora_dropout_mask`, 'float32', ['batch', 'seq', inp])], {}, { name: 'lora_dropout/Mul' })
      : x;
    const down = b.op1('MatMul', [xin, aT], {}, { name: 'lora_A/MatMul' });
    const up = b.op1('MatMul', [down, bT], {}, { name: 'lora_B/MatMul' });
    const scaled = b.op1('Mul', [up, b.scalar(lora.alpha / lora.rank)], {}, { name: 'lora/Mul' });
    return b.op1('Add', [y, scaled], {}, { name: 'lora/Add' });
  });
}

/** x @ W^T as com.microsoft MatMulNBits on packed weights (GraphOptions.packedLinear). */
function packedMatMul(ctx: LayerContext, x: string, module: string, p: PackedLinear, out: number, inp: number): string {
  if (p.N !== out || p.K !== inp) throw new Error(`packed weights of ${module} are [${p.N}, ${p.K}], the model's weight is [${out}, ${inp}]`);
  const init = (suffix: string, dtype: 'uint8' | 'float32', dims: number[], data: Uint8Array | Float32Array): string => {
    const name = `${module}.nbits.${suffix}`;
    const sink = ctx.options.externalWeights;
    if (sink?.accepts(data.byteLength)) return ctx.b.externalInitializer(name, dtype, dims, sink.write(bytesOf(data)));
    return ctx.b.initializer(name, dtype, dims, data);
  };
  const inputs = [x, init('B', 'uint8', p.bDims, p.b), init('scales', 'float32', [p.scales.length], p.scales), init('zero_points', 'uint8', [p.zeroPoints.length], p.zeroPoints)];
  return ctx.b.op1('MatMulNBits', inputs, { K: p.K, N: p.N, bits: p.bits, block_size: p.blockSize }, { name: 'MatMulNBits' });
}

/** The [out, in] weight `name` stored as `${name}.T` [in, out], streamed to the sink when there is one. */
function transposedWeight(ctx: LayerContext, name: string, out: number, inp: number): string {
  if (!ctx.options.externalWeights) return weightInit(ctx, `${name}.T`, [inp, out], transpose2d(readWeight(ctx, name), out, inp));
  // Read when the sink asks for the bytes (a sink that defers them never reads the weight).
  return streamedWeightInit(ctx, `${name}.T`, [inp, out], out * inp, (emit) => transposeChunks(readWeight(ctx, name), out, inp, emit));
}

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** RMSNorm: x * rsqrt(mean(x^2) + eps) * w, decomposed into standard ops (autodiff-friendly). */
export function rmsNorm(ctx: LayerContext, x: string, weightName: string, eps: number, nodeScope: string): string {
  const { b } = ctx;
  const dim = ctx.weights.info(weightName).shape[0]!;
  return b.scope(nodeScope, () => {
    const sq = b.op1('Mul', [x, x], {}, { name: 'Square' });
    const mean = b.op1('ReduceMean', [sq, b.int64s([-1])], { keepdims: 1 }, { name: 'ReduceMean' });
    const rms = b.op1('Sqrt', [b.op1('Add', [mean, b.scalar(eps)], {}, { name: 'AddEps' })], {}, { name: 'Sqrt' });
    const normed = b.op1('Div', [x, rms], {}, { name: 'Div' });
    return b.op1('Mul', [normed, storedWeight(ctx, weightName, [dim])], {}, { name: 'Mul' });
  });
}

/** LayerNorm with weight and bias (ONNX LayerNormalization, opset 17+). */
export function layerNorm(ctx: LayerContext, x: string, prefix: string, eps: number, nodeScope: string): string {
  const { b } = ctx;
  const dim = ctx.weights.info(`${prefix}.weight`).shape[0]!;
  return b.scope(nodeScope, () => {
    const w = weightInit(ctx, `${prefix}.weight`, [dim], readWeight(ctx, `${prefix}.weight`));
    const bias = weightInit(ctx, `${prefix}.bias`, [dim], readWeight(ctx, `${prefix}.bias`));
    return b.op1('LayerNormalization', [x, w, bias], { axis: -1, epsilon: eps }, { name: 'LayerNormalization' });
  });
}

/**
 * Additive attention bias [batch, 1, new, total] shared by all layers:
 * key j is visible from query i (at absolute index past + i) iff j <= past + i and mask[j] = 1.
 *   kpos = Range(0, total); qpos = Range(past, total)
 *   allowed = (kpos[None, :] <= qpos[:, None]) & mask[:, None, None, None, :]
 */
export function attentionBias(b: GraphBuilder, attentionMask: string, newLen: string): string {
  return b.scope('model/attn_mask', () => {
    const total = b.op1('Shape', [attentionMask], { start: 1, end: 2 }, { name: 'TotalLen' });
    const totalS = b.op1('Squeeze', [total, b.int64s([0])], {}, { name: 'TotalScalar' });
    const past = b.op1('Sub', [totalS, newLen], {}, { name: 'PastLen' });
    const kpos = b.op1('Range', [b.scalar(0, 'int64'), totalS, b.scalar(1, 'int64')], {}, { name: 'KeyPos' });
    const qpos = b.op1('Range', [past, totalS, b.scalar(1, 'int64')], {}, { name: 'QueryPos' });
    const q2 = b.op1('Unsqueeze', [qpos, b.int64s([1])], {}, { name: 'QueryCol' });
    const causal = b.op1('LessOrEqual', [kpos, q2], {}, { name: 'Causal' });
    const pad = b.op1('Cast', [attentionMask], { to: 9 }, { name: 'MaskBool' });
    const pad4 = b.op1('Unsqueeze', [pad, b.int64s([1, 2])], {}, { name: 'MaskExpand' });
    const allowed = b.op1('And', [causal, pad4], {}, { name: 'Allowed' });
    return b.op1('Where', [allowed, b.scalar(0), b.scalar(FLOAT_MIN)], {}, { name: 'Bias' });
  });
}

/** cos/sin tables [batch, 1, seq, headDim/2] from position ids and the inverse frequencies. */
export function rotaryTables(b: GraphBuilder, positionIds: string, invFreq: Float32Array): { cos: string; sin: string } {
  return b.scope('model/rotary', () => {
    const pos = b.op1('Cast', [positionIds], { to: 1 }, { name: 'PosFloat' });
    const pos3 = b.op1('Unsqueeze', [pos, b.int64s([-1])], {}, { name: 'PosCol' });
    const freq = b.constant('float32', [invFreq.length], invFreq);
    const angles = b.op1('Mul', [pos3, freq], {}, { name: 'Angles' });
    const a4 = b.op1('Unsqueeze', [angles, b.int64s([1])], {}, { name: 'AnglesHeads' });
    return { cos: b.op1('Cos', [a4], {}, { name: 'Cos' }), sin: b.op1('Sin', [a4], {}, { name: 'Sin' }) };
  });
}

/** Rotate x [batch, heads, seq, headDim] by RoPE (HF's rotate_half convention on the two halves). */
export function applyRotary(b: GraphBuilder, x: string, rot: { cos: string; sin: string }, headDim: number, name: string): string {
  return b.scope(name, () => {
    const half = headDim / 2;
    const [x1, x2] = b.op('Split', [x, b.int64s([half, half])], { axis: -1 }, { name: 'Split', outputs: 2 }) as [string, string];
    const r1 = b.op1('Sub', [b.op1('Mul', [x1, rot.cos], {}, { name: 'x1cos' }), b.op1('Mul', [x2, rot.sin], {}, { name: 'x2sin' })], {}, { name: 'r1' });
    const r2 = b.op1('Add', [b.op1('Mul', [x2, rot.cos], {}, { name: 'x2cos' }), b.op1('Mul', [x1, rot.sin], {}, { name: 'x1sin' })], {}, { name: 'r2' });
    return b.op1('Concat', [r1, r2], { axis: -1 }, { name: 'Concat' });
  });
}

/** [batch, seq, heads*headDim] -> [batch, heads, seq, headDim] */
export function splitHeads(b: GraphBuilder, x: string, heads: number, headDim: number, name: string): string {
  const r = b.op1('Reshape', [x, b.int64s([0, 0, heads, headDim])], {}, { name: `${name}/Reshape` });
  return b.op1('Transpose', [r], { perm: [0, 2, 1, 3] }, { name: `${name}/Transpose` });
}

export interface AttentionCore {
  /** Attention output [batch, seq, heads*headDim] before o_proj. */
  context: string;
  /** Probabilities [batch, heads, seq, total]. */
  probs: string;
}

/**
 * Scaled dot-product attention with grouped-query heads, without materialising repeated K/V:
 *   q [B,H,S,D] -> [B,kvH,rep,S,D];  k,v [B,kvH,T,D] -> [B,kvH,1,T,D]
 *   scores = q @ k^T * scale + bias[B,1,1,S,T]  -> softmax -> @ v  -> [B,S,H*D]
 * Query head h reads kv head floor(h / rep), as HF's repeat_kv does.
 */
export function attentionCore(
  b: GraphBuilder, q: string, k: string, v: string, bias: string,
  heads: number, kvHeads: number, headDim: number, scale: number | null,
): AttentionCore {
  const rep = heads / kvHeads;
  const q5 = b.op1('Reshape', [q, b.int64s([0, kvHeads, rep, -1, headDim])], {}, { name: 'q/Group' });
  const k5 = b.op1('Unsqueeze', [k, b.int64s([2])], {}, { name: 'k/Group' });
  const v5 = b.op1('Unsqueeze', [v, b.int64s([2])], {}, { name: 'v/Group' });
  const kT = b.op1('Transpose', [k5], { perm: [0, 1, 2, 4, 3] }, { name: 'k/Transpose' });
  let scores = b.op1('MatMul', [q5, kT], {}, { name: 'QK/MatMul' });
  if (scale !== null) scores = b.op1('Mul', [scores, b.scalar(scale)], {}, { name: 'QK/Scale' });
  const bias5 = b.op1('Unsqueeze', [bias, b.int64s([1])], {}, { name: 'Bias/Unsqueeze' });
  const masked = b.op1('Add', [scores, bias5], {}, { name: 'QK/AddBias' });
  const probs5 = b.op1('Softmax', [masked], { axis: -1 }, { name: 'Softmax' });
  const ctx5 = b.op1('MatMul', [probs5, v5], {}, { name: 'PV/MatMul' });
  const ctxT = b.op1('Transpose', [ctx5], { perm: [0, 3, 1, 2, 4] }, { name: 'PV/Transpose' });
  const context = b.op1('Reshape', [ctxT, b.int64s([0, 0, heads * headDim])], {}, { name: 'PV/Reshape' });
  const totalLen = b.op1('Shape', [probs5], { start: 4, end: 5 }, { name: 'probs/TotalLen' });
  const probsShape = b.op1('Concat', [b.int64s([0, heads, -1]), totalLen], { axis: 0 }, { name: 'probs/Shape' });
  const probs = b.op1('Reshape', [probs5, probsShape], {}, { name: 'probs/Reshape' });
  return { context, probs };
}

/** Concatenate past key/values (when the graph has them) and expose present ones. */
export function withPast(b: GraphBuilder, layer: number, k: string, v: string, past: boolean, kvHeads: number, headDim: number): { k: string; v: string } {
  if (!past) return { k, v };
  const pk = b.input(`past_key_values.${layer}.key`, 'float32', ['batch', kvHeads, 'past', headDim]);
  const pv = b.input(`past_key_values.${layer}.value`, 'float32', ['batch', kvHeads, 'past', headDim]);
  const k2 = b.op1('Concat', [pk, k], { axis: 2 }, { name: 'k/ConcatPast' });
  const v2 = b.op1('Concat', [pv, v], { axis: 2 }, { name: 'v/ConcatPast' });
  return { k: k2, v: v2 };
}
