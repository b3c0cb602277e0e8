// Options of the model graph builders. Each option is a graph edit with predictable names,
// so analysis, recovery and autodiff can find the values they need:
//   inputs   input_ids [batch, seq] int64; position_ids [batch, prompt+seq] int64;
//            attention_mask [batch, past+prompt+seq] int64;
//            prompt_embeds [batch, prompt, embed] (softPrompt);
//            past_key_values.{i}.key|value [batch, kvHeads, past, headDim] (pastKeyValues)
//   outputs  logits [batch, prompt+seq | 1, vocab];
//            hidden_states.{i} (output of decoder layer i, before the final norm), final_hidden;
//            attentions.{i} [batch, heads, prompt+seq, past+prompt+seq];
//            present.{i}.key|value [batch, kvHeads, past+prompt+seq, headDim] (keys after RoPE)

import type { WeightSink } from '../onnx/external-weights.ts';

export interface LoraOptions {
  /** Module names as in PEFT: q_proj, k_proj, v_proj, o_proj (out_proj for OPT), gate_proj, up_proj, down_proj, fc1, fc2. */
  targets: string[];
  rank: number;
  alpha: number;
  /**
   * Weights per module path (e.g. 'model.layers.0.self_attn.q_proj'): A [rank, in], B [out, rank],
   * row-major as PEFT stores them. Modules without weights get PEFT's init: A Kaiming-uniform
   * (a = sqrt 5) from `seed`, B zeros.
   */
  weights?: Map<string, { A: Float32Array; B: Float32Array }>;
  seed?: number;
  /**
   * Training with LoRA dropout (PEFT lora_dropout): each targeted module gets an input
   * `<module>.lora_dropout_mask` [batch, seq, in] (float32, 0 or 1/(1-p), made by the caller)
   * multiplied into the LoRA branch's input only: y = W x + (alpha/r) B A (mask * x).
   * Absent (default): no such input, the graph is unchanged (inference never has it).
   */
  dropoutMask?: boolean;
}

/**
 * A linear module's weights packed for com.microsoft MatMulNBits (main/engine/compress/packing.ts
 * packMatMulNBits): y = x @ dequant(B)^T with dequant = (code - zero_point) * scale per block of
 * `blockSize` input features. B [N, nBlocks, blockSize * bits / 8], scales [N * nBlocks],
 * zeroPoints [N * ceil(nBlocks * bits / 8)]; K = in features, N = out features.
 */
export interface PackedLinear {
  K: number;
  N: number;
  bits: number;
  blockSize: number;
  b: Uint8Array;
  bDims: [number, number, number];
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

export interface GraphOptions {
  /** Element type of the stored weights. float16 halves weight memory; math stays float32. */
  weightDtype?: 'float32' | 'float16';
  exposeHiddenStates?: boolean;
  exposeAttentions?: boolean;
  /** Add a prompt_embeds input placed before the token embeddings (prompt tuning, IDP). */
  softPrompt?: boolean;
  /** Add past key/value inputs and present key/value outputs per layer (prefix, IDP, KV cache). */
  pastKeyValues?: boolean;
  lora?: LoraOptions;
  /** 'all' positions (scoring, training) or only the 'last' (generation). */
  logits?: 'all' | 'last';
  /** Also output log-softmax of the logits as `logprobs`. */
  logprobs?: boolean;
  /**
   * Add a `labels` input [batch, prompt+seq] (int64; -100 = ignored) and a scalar `loss`
   * output: the mean next-token cross-entropy over the labelled positions. Labels are
   * already aligned: labels[t] is the token expected after position t.
   */
  loss?: boolean;
  /**
   * Packed execution: HF module path (e.g. model.layers.0.self_attn.q_proj) -> MatMulNBits
   * weights; those modules run MatMulNBits instead of MatMul and their float weight is not read.
   * Node /…/<module>/MatMulNBits; initializers `<module>.nbits.{B,scales,zero_points}`.
   */
  packedLinear?: Map<string, PackedLinear>;
  /** Replace weights by name (e.g. fake-quantized ones): HF tensor name -> row-major float32 data. */
  weightOverrides?: Map<string, Float32Array>;
  /**
   * Write each weight to this external-data file as it is created and keep only its location
   * in the graph (large models; the graph must then be saved beside the file and opened
   * from disk). Not part of the graph's meaning: snapshots and cache keys ignore it.
   */
  externalWeights?: WeightSink;
}

export const FLOAT_MIN = -3.4028234663852886e38;
