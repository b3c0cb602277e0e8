// `recall tune`: train one recovery method on a frozen base (any HF folder Recall loads,
// compressed or not) from a text file, with the trainer's guarantees (checkpoints, resume,
// cancel, progress with ETA, held-out loss), and write the adapter in PEFT's layout.
// Defaults (METHODS.md 2): AdamW, lr 1e-3 for prompts / 2e-4 for LoRA, weight decay 1e-5,
// linear schedule with 10% warmup, clip 1.0; LoRA r = alpha = 8 on q_proj, v_proj;
// IDP m = 4 prompts of n = 25 tokens, selLayer 0, joint-hard.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import { loadModelFolder, type ModelFolder } from '../models/folder.ts';
import { Tokenizer } from '../models/tokenizer.ts';
import type { DecoderConfig } from '../models/types.ts';
import { TokenDataset } from '../tune/data.ts';
import { type ProgressEvent, type TrainResult, train } from '../tune/loop.ts';
import { type TrainModelOptions, tokenizeCorpus } from '../tune/train-model.ts';
import { type Adapter, baseShapeOf, moduleDims, positiveInt } from './adapter.ts';
import { type MethodSpec, type MethodTrainer, createMethodTrainer } from './method-trainers.ts';
import { mergeLora } from './merge-lora.ts';
import { checkPrefixInit } from './prefix-init.ts';
import { writeAdapter } from './peft-format.ts';

/** The trainer's options (data, budget, schedule, checkpoints, provider), a method, and what a recovery adds. */
export interface TuneOptions extends Omit<TrainModelOptions, 'initialWeights' | 'onProgress'> {
  method: MethodSpec;
  /** LoRA: also write the base with the LoRA product merged into its dense weights to out/merged. */
  merge?: boolean;
  onProgress?: (e: ProgressEvent & { run?: number }) => void;
}

export interface TuneResult {
  status: TrainResult['status'];
  /** One per training run (IDP independent: one per prompt). */
  runs: TrainResult[];
  /** Held-out loss with the method's initial and final parameters (null when nothing is held out). */
  heldOut: { before: number | null; after: number | null };
  adapterDir: string;
  /** IDP joint-hard: the prompt chosen for each training batch (this call's batches). */
  idpChoices?: number[];
}

const isPromptMethod = (s: MethodSpec) => s.method !== 'lora';

/** Sequence length of a tuning run when none is given: 128, or what the context leaves after n virtual tokens. */
export function defaultSeqLen(config: Pick<DecoderConfig, 'maxPositions'>, virtualTokens: number): number {
  return Math.max(1, Math.min(128, config.maxPositions - virtualTokens));
}

/** Refuse settings the method cannot use on this model, naming the option (experiments call it when planning). */
export function checkSpec(spec: MethodSpec, folder: Pick<ModelFolder, 'config'>, seqLen: number): void {
  const { config } = folder;
  if (spec.method === 'lora') {
    positiveInt('rank', spec.rank);
    if (!(spec.alpha > 0)) throw new RecallError('E_INVALID_ARGUMENT', `alpha must be > 0, got ${spec.alpha}`, { field: 'alpha' });
    if (spec.targets.length === 0) throw new RecallError('E_INVALID_ARGUMENT', 'LoRA needs at least one target module', { field: 'targets' });
    for (const t of spec.targets) moduleDims(config, t);
    const twice = spec.targets.find((t, i) => spec.targets.indexOf(t) !== i);
    if (twice) throw new RecallError('E_INVALID_ARGUMENT', `LoRA target '${twice}' is named twice`, { field: 'targets', value: twice });
    const p = spec.dropout ?? 0;
    if (!(p >= 0 && p < 1)) throw new RecallError('E_INVALID_ARGUMENT', `LoRA dropout must be in [0, 1), got ${p}`, { field: 'dropout', value: p });
    return;
  }
  const n = positiveInt('virtualTokens', spec.virtualTokens);
  if (n + seqLen > config.maxPositions) {
    throw new RecallError('E_INVALID_ARGUMENT', `a prompt of ${n} virtual tokens plus sequences of ${seqLen} tokens is longer than the model's context (${config.maxPositions}); lower --virtual-tokens or --seq-len`, { field: 'virtualTokens', value: n });
  }
  const init = spec.init;
  if (init?.kind === 'text' && init.text.trim() === '') throw new RecallError('E_INVALID_ARGUMENT', 'init text is blank: give the words to start from', { field: 'init', value: `text:${init.text}` });
  if (spec.method === 'prefix') checkPrefixInit(spec);
  if (spec.method === 'idp') {
    positiveInt('prompts', spec.prompts);
    if (!(spec.selLayer >= 0 && spec.selLayer < config.numLayers && Number.isInteger(spec.selLayer))) {
      throw new RecallError('E_INVALID_ARGUMENT', `selLayer must be a layer of the model (0..${config.numLayers - 1}), got ${spec.selLayer}`, { field: 'selLayer', value: spec.selLayer });
    }
  }
}

async function heldOutLoss(t: MethodTrainer, data: TokenDataset, batchSize: number): Promise<number | null> {
  let loss = 0, tokens = 0;
  for (const batch of data.heldOutBatches(batchSize, 8)) { const r = await t.evaluate(batch); loss += r.loss * r.tokens; tokens += r.tokens; }
  return tokens ? loss / tokens : null;
}

export async function tuneModel(o: TuneOptions): Promise<TuneResult> {
  if (!existsSync(o.data)) throw new RecallError('E_NOT_FOUND', `${o.data}: training data not found`, { file: o.data });
  const folder = loadModelFolder(o.model);
  try {
    const tokenizer = Tokenizer.fromFolder(o.model);
    const n = isPromptMethod(o.method) ? (o.method as { virtualTokens: number }).virtualTokens : 0;
    const seqLen = o.seqLen ?? defaultSeqLen(folder.config, n);
    checkSpec(o.method, folder, seqLen);
    const tokens = tokenizeCorpus(tokenizer, readFileSync(o.data, 'utf8'));
    const data = TokenDataset.fromTokens(tokens, { seqLen, heldOutFraction: o.heldOutFraction ?? 0.05, source: o.data });
    const seed = o.seed ?? 0;
    const session = { ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.onFallback ? { onFallback: o.onFallback } : {}) };
    const batchSize = Math.min(o.batchSize ?? 8, data.trainSize);
    const settings = { lr: o.lr ?? (o.method.method === 'lora' ? 2e-4 : 1e-3), weightDecay: o.weightDecay ?? 1e-5 };

    const runOne = async (spec: MethodSpec, runData: TokenDataset, runSeed: number, dir: string, run?: number): Promise<Run> => {
      const trainer = await createMethodTrainer(spec, folder, tokenizer, { seed: runSeed, session });
      try {
        const runBatch = Math.min(batchSize, runData.trainSize);
        const steps = o.steps ?? Math.ceil((o.tokens ?? 0) / (runBatch * seqLen * (o.gradAccumSteps ?? 1)));
        const before = o.resume ? null : await heldOutLoss(trainer, runData, runBatch);
        const result = await train({
          params: trainer.params, paramShapes: trainer.paramShapes, data: runData, batchSize: runBatch,
          gradient: trainer.gradient, evaluate: trainer.evaluate,
          // IDP joint-hard updates the chosen prompt only: unselected prompts (all-zero gradient)
          // keep their values, moments and own step counts (tune/optimizer.ts skipUnused).
          optimizer: { kind: 'adamw', ...settings, ...(spec.method === 'idp' && spec.training === 'joint-hard' ? { skipUnused: true } : {}) }, schedule: o.schedule ?? 'linear', warmupSteps: o.warmupSteps ?? Math.floor(0.1 * steps),
          ...(o.tokens !== undefined ? { tokenBudget: o.tokens } : { totalSteps: o.steps ?? 100 }),
          gradAccumSteps: o.gradAccumSteps ?? 1, evalEvery: o.evalEvery ?? 50, evalBatches: 8,
          checkpointDir: dir, checkpointEvery: o.checkpointEvery ?? 50, seed: runSeed, resume: o.resume ?? false,
          ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: (e: ProgressEvent) => o.onProgress!({ ...e, ...(run !== undefined ? { run } : {}) }) } : {}),
        });
        const after = result.status === 'completed' ? await heldOutLoss(trainer, runData, runBatch) : null;
        return { trainer, result, before, after };
      } catch (e) {
        await trainer.release();
        throw e;
      }
    };
    const finish = (adapter: Adapter, runs: Run[], heldOut: TuneResult['heldOut']): TuneResult => {
      const status = runs.every((r) => r.result.status === 'completed') ? 'completed' : 'cancelled';
      if (status === 'completed') {
        const training = { steps: runs.map((r) => r.result.step), tokensSeen: runs.reduce((a, r) => a + r.result.tokensSeen, 0), ...settings, seed, seqLen, data: o.data, heldOut };
        writeAdapter(o.out, adapter, { training });
        if (o.merge && adapter.method === 'lora') mergeLora(folder, adapter, o.model, join(o.out, 'merged'));
      }
      const choices = runs[0]!.trainer.choices;
      return { status, runs: runs.map((r) => r.result), heldOut, adapterDir: o.out, ...(choices ? { idpChoices: choices } : {}) };
    };

    const spec = o.method;
    const base = baseShapeOf(folder.config, o.model);
    if (spec.method === 'idp' && spec.training === 'independent') {
      // Each prompt trained alone as a soft prompt, with its own seed and its own shard of the
      // data; held-out loss before and after is IDP's (a prompt chosen per sequence) on the whole data.
      const runs: Run[] = [];
      const judge = await createMethodTrainer(spec, folder, tokenizer, { seed, session });
      try {
        const before = o.resume ? null : await heldOutLoss(judge, data, batchSize);
        const shard = Math.floor(tokens.length / spec.prompts);
        for (let i = 0; i < spec.prompts && (i === 0 || runs.at(-1)!.result.status === 'completed'); i++) {
          const part = TokenDataset.fromTokens(tokens.subarray(i * shard, (i + 1) * shard), { seqLen, heldOutFraction: o.heldOutFraction ?? 0.05, source: `${o.data} (shard ${i + 1}/${spec.prompts})` });
          runs.push(await runOne({ method: 'prompt', virtualTokens: spec.virtualTokens, init: spec.init }, part, seed + 7919 * i, join(o.out, 'checkpoints', `prompt-${i}`), i));
        }
        runs.forEach((r, i) => judge.params.set(`idp.prompt.${i}`, r.trainer.params.get('prompt_embeds')!));
        const done = runs.length === spec.prompts && runs.every((r) => r.result.status === 'completed');
        const idp: Adapter = { ...judge.adapter(), base };
        return finish(idp, runs, { before, after: done ? await heldOutLoss(judge, data, batchSize) : null });
      } finally {
        for (const r of runs) await r.trainer.release();
        await judge.release();
      }
    }
    const run = await runOne(spec, data, seed, join(o.out, 'checkpoints'));
    try {
      return finish({ ...run.trainer.adapter(), base }, [run], { before: run.before, after: run.after });
    } finally {
      await run.trainer.release();
    }
  } finally {
    folder.weights.close();
  }
}

interface Run { trainer: MethodTrainer; result: TrainResult; before: number | null; after: number | null }
