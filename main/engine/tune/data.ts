// Next-token training data: a stream of token ids cut into sequences of T + 1 tokens
// (inputs = the first T, labels = the last T, i.e. the inputs shifted by one). Sequence i
// starts at token i * T, so consecutive sequences share one token and every token after the
// first is a label exactly once. The last `heldOutFraction` of the sequences is held out for
// evaluation (a contiguous tail, so no training text leaks into it beyond that shared token).
// Training batches come from a seeded sampler: one shuffle per epoch, full batches only,
// and a state {epoch, cursor, rngState} that restores the exact batch order on resume.
import { existsSync, readFileSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import { Mulberry32 } from '../random.ts';

export { Mulberry32 };

export type Split = 'train' | 'heldOut';

/** B sequences of T tokens, row-major [B, T]. */
export interface TokenBatch {
  inputs: Int32Array; // [B, T]
  labels: Int32Array; // [B, T]
  batchSize: number;
  seqLen: number;
  /** Which sequences of the split (for tests and logs). */
  sequences: number[];
  /** The sampler's epoch for a training batch (keys per-epoch randomness such as dropout masks); absent for held-out batches. */
  epoch?: number;
}

export interface TokenDatasetOptions {
  /** T: tokens of input per sequence. */
  seqLen: number;
  /** Fraction of the sequences held out for evaluation, in [0, 1); default 0. */
  heldOutFraction?: number;
  /** Names the data in messages (a file path). */
  source?: string;
}

export class TokenDataset {
  readonly seqLen: number;
  readonly source: string;
  /** Number of sequences in each split. */
  readonly trainSize: number;
  readonly heldOutSize: number;
  private readonly tokens: Int32Array;

  private constructor(tokens: Int32Array, o: TokenDatasetOptions) {
    this.tokens = tokens;
    this.seqLen = o.seqLen;
    this.source = o.source ?? 'tokens';
    const total = Math.floor((tokens.length - 1) / o.seqLen);
    const frac = o.heldOutFraction ?? 0;
    this.heldOutSize = frac > 0 ? Math.max(1, Math.round(total * frac)) : 0;
    this.trainSize = total - this.heldOutSize;
    if (this.trainSize < 1) {
      throw new RecallError('E_INVALID_ARGUMENT', `${this.source}: ${tokens.length} tokens make ${total} sequences of ${o.seqLen}+1, too few to train on (held out: ${this.heldOutSize})`, { file: this.source, tokens: tokens.length, seqLen: o.seqLen });
    }
  }

  static fromTokens(tokens: ArrayLike<number>, o: TokenDatasetOptions): TokenDataset {
    const source = o.source ?? 'tokens';
    if (!Number.isSafeInteger(o.seqLen) || o.seqLen < 1) throw new RecallError('E_INVALID_ARGUMENT', `${source}: seqLen must be an integer >= 1, got ${o.seqLen}`, { field: 'seqLen', value: o.seqLen });
    const frac = o.heldOutFraction ?? 0;
    if (!(frac >= 0 && frac < 1)) throw new RecallError('E_INVALID_ARGUMENT', `${source}: heldOutFraction must be in [0, 1), got ${frac}`, { field: 'heldOutFraction', value: frac });
    const ids = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) {
        throw new RecallError('E_INVALID_ARGUMENT', `${source}: token ${i} is ${t}, not a token id`, { file: source, index: i, value: t });
      }
      ids[i] = t;
    }
    return new TokenDataset(ids, { ...o, source });
  }

  /** Read a UTF-8 text file and tokenize it whole. */
  static fromTextFile(file: string, tokenize: (text: string) => ArrayLike<number>, o: Omit<TokenDatasetOptions, 'source'>): TokenDataset {
    if (!existsSync(file)) throw new RecallError('E_NOT_FOUND', `${file}: file not found`, { file });
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new RecallError('E_IO', `${file}: cannot read (${(e as Error).message})`, { file }, { cause: e });
    }
    return TokenDataset.fromTokens(tokenize(text), { ...o, source: file });
  }

  /**
   * FNV-1a over the token ids and the split sizes: a resumed run checks it so that it does not
   * continue on different data (the batch order would then mean nothing).
   */
  fingerprint(): string {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.tokens.length; i++) h = Math.imul(h ^ this.tokens[i]!, 0x01000193);
    return `${this.tokens.length}:${this.trainSize}:${this.heldOutSize}:${(h >>> 0).toString(16)}`;
  }

  size(split: Split): number {
    return split === 'train' ? this.trainSize : this.heldOutSize;
  }

  /** A batch of the given sequences of a split. */
  batch(split: Split, sequences: number[]): TokenBatch {
    const T = this.seqLen;
    const offset = split === 'train' ? 0 : this.trainSize;
    const inputs = new Int32Array(sequences.length * T);
    const labels = new Int32Array(sequences.length * T);
    sequences.forEach((s, row) => {
      if (!(s >= 0 && s < this.size(split))) throw new RecallError('E_INVALID_ARGUMENT', `${this.source}: no ${split} sequence ${s}`, { split, index: s });
      const start = (offset + s) * T;
      inputs.set(this.tokens.subarray(start, start + T), row * T);
      labels.set(this.tokens.subarray(start + 1, start + T + 1), row * T);
    });
    return { inputs, labels, batchSize: sequences.length, seqLen: T, sequences };
  }

  /** The held-out split in order, in batches of up to batchSize (the last may be smaller). */
  *heldOutBatches(batchSize: number, maxBatches = Infinity): Generator<TokenBatch> {
    for (let s = 0, n = 0; s < this.heldOutSize && n < maxBatches; s += batchSize, n++) {
      const seqs = Array.from({ length: Math.min(batchSize, this.heldOutSize - s) }, (_, k) => s + k);
      yield this.batch('heldOut', seqs);
    }
  }
}

/** Where a sampler is: the epoch, the next position in its order, and the RNG state its shuffle started from. */
export interface SamplerState {
  epoch: number;
  cursor: number;
  rngState: number;
}

/** Shuffled full batches of the training split, epoch after epoch. */
export class BatchSampler {
  private readonly rng: Mulberry32;
  private order: Uint32Array = new Uint32Array(0);
  private epoch = -1;
  private cursor = 0;
  private epochStartState = 0;

  constructor(
    readonly dataset: TokenDataset,
    readonly batchSize: number,
    seed: number,
  ) {
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > dataset.trainSize) {
      throw new RecallError('E_INVALID_ARGUMENT', `${dataset.source}: batch size ${batchSize} must be between 1 and the ${dataset.trainSize} training sequences`, { field: 'batchSize', value: batchSize });
    }
    this.rng = new Mulberry32(seed);
    this.startEpoch(0);
  }

  next(): TokenBatch {
    // Full batches only (drop_last): every step sees B sequences, so losses stay comparable.
    if (this.cursor + this.batchSize > this.order.length) this.startEpoch(this.epoch + 1);
    const seqs = Array.from(this.order.subarray(this.cursor, this.cursor + this.batchSize));
    this.cursor += this.batchSize;
    return { ...this.dataset.batch('train', seqs), epoch: this.epoch };
  }

  state(): SamplerState {
    return { epoch: this.epoch, cursor: this.cursor, rngState: this.epochStartState };
  }

  restore(s: SamplerState): void {
    if (!Number.isSafeInteger(s.epoch) || s.epoch < 0 || !Number.isSafeInteger(s.cursor) || s.cursor < 0 || s.cursor > this.dataset.trainSize) {
      throw new RecallError('E_INVALID_ARGUMENT', `${this.dataset.source}: sampler state ${JSON.stringify(s)} does not fit ${this.dataset.trainSize} training sequences`, { state: s });
    }
    this.rng.state = s.rngState;
    this.startEpoch(s.epoch);
    this.cursor = s.cursor;
  }

  private startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.cursor = 0;
    this.epochStartState = this.rng.state;
    // Fisher-Yates with the sampler's own stream; the state before it is enough to replay it.
    const order = Uint32Array.from({ length: this.dataset.trainSize }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng.next() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    this.order = order;
  }
}
