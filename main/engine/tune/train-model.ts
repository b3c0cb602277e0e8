// Full fine-tuning (or training from scratch) of a model folder on a text file: the engine of
// `recall train` and of the demo model's recipe. Writes a Hugging Face folder (config.json,
// model.safetensors, tokenizer files) and keeps resumable checkpoints under out/checkpoints.

import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import { loadModelFolder } from '../models/folder.ts';
import { writeSafetensors } from '../models/safetensors-write.ts';
import { Tokenizer } from '../models/tokenizer.ts';
import type { WeightSource } from '../models/types.ts';
import type { ExecutionProvider } from '../runtime/providers.ts';
import { TokenDataset } from './data.ts';
import { type ProgressEvent, type TrainResult, train } from './loop.ts';
import { ModelGradient } from './model-gradient.ts';

export interface TrainModelOptions {
  model: string;
  /** Text file; paragraphs (blank-line separated) are tokenized with BOS and concatenated. */
  data: string;
  out: string;
  steps?: number;
  tokens?: number;
  lr?: number;
  weightDecay?: number;
  batchSize?: number;
  seqLen?: number;
  gradAccumSteps?: number;
  warmupSteps?: number;
  schedule?: 'constant' | 'linear' | 'cosine';
  heldOutFraction?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  seed?: number;
  resume?: boolean;
  ep?: ExecutionProvider;
  threads?: number;
  /** Start from these weights instead of the folder's (e.g. a freshly initialised model). */
  initialWeights?: WeightSource;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  onFallback?: (message: string) => void;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

/**
 * Tokenize a corpus: each paragraph (blank-line separated) is one document, framed as the
 * tokenizer frames a sequence (BOS ...) and closed with EOS when the tokenizer has one and
 * does not add it itself, so documents do not run into each other.
 */
export function tokenizeCorpus(tokenizer: Tokenizer, text: string): Int32Array {
  const out: number[] = [];
  const eos = tokenizer.eosTokenId;
  for (const para of text.split(/\n\s*\n/)) {
    const p = para.trim();
    if (!p) continue;
    const ids = tokenizer.encode(p);
    for (const id of ids) out.push(id);
    if (eos !== null && ids.at(-1) !== eos) out.push(eos);
  }
  return Int32Array.from(out);
}

export async function trainModel(o: TrainModelOptions): Promise<TrainResult & { outDir: string }> {
  if (!existsSync(o.data)) throw new RecallError('E_NOT_FOUND', `${o.data}: training data not found`, { file: o.data });
  const folder = loadModelFolder(o.model);
  const tokenizer = Tokenizer.fromFolder(o.model);
  const seqLen = o.seqLen ?? Math.min(128, folder.config.maxPositions);
  if (seqLen > folder.config.maxPositions) throw new RecallError('E_INVALID_ARGUMENT', `--seq-len ${seqLen} is longer than the model's context (${folder.config.maxPositions})`);
  const tokens = tokenizeCorpus(tokenizer, readFileSync(o.data, 'utf8'));
  const data = TokenDataset.fromTokens(tokens, { seqLen, heldOutFraction: o.heldOutFraction ?? 0.02, source: o.data });
  if (data.trainSize === 0) throw new RecallError('E_INVALID_ARGUMENT', `${o.data}: ${tokens.length} tokens is less than one sequence of ${seqLen + 1}`, { file: o.data });
  const mg = await ModelGradient.create(folder.config, o.initialWeights ?? folder.weights, {
    trainable: 'all', ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.onFallback ? { onFallback: o.onFallback } : {}),
  });
  folder.weights.close();
  try {
    mkdirSync(o.out, { recursive: true });
    const result = await train({
      params: mg.params, paramShapes: mg.paramShapes, data, batchSize: o.batchSize ?? 8,
      gradient: mg.gradient, evaluate: mg.evaluate,
      optimizer: { kind: 'adamw', lr: o.lr ?? 1e-4, weightDecay: o.weightDecay ?? 0.01 },
      schedule: o.schedule ?? 'linear', warmupSteps: o.warmupSteps ?? 0,
      ...(o.tokens !== undefined ? { tokenBudget: o.tokens } : { totalSteps: o.steps ?? 100 }),
      gradAccumSteps: o.gradAccumSteps ?? 1, ...(o.evalEvery === 0 ? {} : { evalEvery: o.evalEvery ?? 50 }), evalBatches: 8,
      checkpointDir: join(o.out, 'checkpoints'), checkpointEvery: o.checkpointEvery ?? 50,
      seed: o.seed ?? 0, resume: o.resume ?? false,
      ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    if (result.status === 'completed') writeModelFolder(o.model, o.out, mg.hfTensors());
    return { ...result, outDir: o.out };
  } finally {
    await mg.release();
  }
}

/** config.json and tokenizer files from the source folder, weights written atomically. */
export function writeModelFolder(source: string, out: string, tensors: { name: string; shape: number[]; data: Float32Array }[]): void {
  mkdirSync(out, { recursive: true });
  for (const f of ['config.json', ...TOKENIZER_FILES]) if (existsSync(join(source, f)) && source !== out) copyFileSync(join(source, f), join(out, f));
  const tmp = join(out, 'model.safetensors.tmp');
  writeSafetensors(tmp, tensors.map((t) => ({ name: t.name, dtype: 'float32', shape: t.shape, data: t.data })), { format: 'pt' });
  renameSync(tmp, join(out, 'model.safetensors'));
  writeFileSync(join(out, 'recall.json'), JSON.stringify({ producedBy: 'recall train', source }, null, 2));
}
