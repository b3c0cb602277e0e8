// Shared shapes of the models module: the normalised decoder configuration that the graph
// builders read (parsed from a Hugging Face config.json by config.ts) and the lazy weight
// source they pull tensors from (safetensors.ts).

export type ModelFamily = 'llama' | 'opt';

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { type: 'linear'; factor: number };

export interface DecoderConfig {
  family: ModelFamily;
  /** config.json model_type: llama | mistral | qwen2 | opt. */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  /** LLaMA intermediate_size; OPT ffn_dim. */
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** num_key_value_heads (GQA); equals numHeads when absent and for OPT. */
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  /** RMSNorm epsilon (LLaMA) or LayerNorm epsilon (OPT, 1e-5). */
  normEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (qwen2, or llama's attention_bias). */
  attentionBias: boolean;
  /** Bias on o_proj (llama attention_bias) — qwen2 has none. */
  outputBias: boolean;
  /** Bias on MLP projections (llama mlp_bias). */
  mlpBias: boolean;
  /** OPT: pre-LayerNorm (true) or post-LayerNorm (false, opt-350m). */
  doLayerNormBefore: boolean;
  /** OPT: word_embed_proj_dim (project_in/out exist when it differs from hiddenSize). */
  wordEmbedProjDim: number;
  /** Hidden activation: silu (LLaMA), relu (OPT), gelu... */
  activation: string;
  /** Sliding window (mistral), recorded only: windows longer than the inputs are exact. */
  slidingWindow: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** torch_dtype as written in config.json, e.g. 'float16'. */
  torchDtype: string | null;
}

export type WeightDType = 'float32' | 'float16' | 'bfloat16';

export interface WeightInfo {
  name: string;
  dtype: WeightDType;
  shape: number[];
  /** File holding the tensor (for error messages). */
  file: string;
}

/**
 * Lazy access to a model's tensors: nothing is read until asked, and each read returns a
 * fresh array the caller owns (so a builder can stream weights without a second copy).
 */
export interface WeightSource {
  names(): string[];
  has(name: string): boolean;
  info(name: string): WeightInfo;
  /** The tensor converted to float32. */
  readFloat32(name: string): Float32Array;
  /** The tensor as float16 bits (converted from f32/bf16 when stored so). */
  readFloat16(name: string): Uint16Array;
  /**
   * The tensor as float32 in consecutive row-major chunks, each valid only during `emit`
   * (so a large tensor can be copied elsewhere without a whole float32 copy). Optional:
   * callers fall back to readFloat32.
   */
  readFloat32Chunks?(name: string, emit: (chunk: Float32Array) => void): void;
  close(): void;
}
