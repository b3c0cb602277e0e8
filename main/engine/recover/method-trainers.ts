// Each recovery method as trainable parameters plus gradient()/evaluate() for the training
// loop (tune/loop.ts), on a frozen base: only the method's own values are graph inputs with
// gradients; the base's weights stay initializers no gradient reaches (METHODS.md 2).
//   lora    LoRA A/B initializers on the target modules (PEFT init; graph-layers.ts)
//   prompt  prompt_embeds [n, E], tiled over the batch
//   prefix  past_key_values.{l}.key|value [kvHeads, n, headDim], tiled; or the MLP that makes them;
//           starts random (PEFT) or from the base's KV of an init text (prefix-init.ts)
//   idp     the pool idp.prompt.{i} [n, E]; per batch one prompt is chosen (joint-hard) and
//           only it gets a gradient; evaluation picks a prompt per sequence, as inference does
import { ModelRunner, type Past } from '../models/runner.ts';
import { buildModelGraph } from '../models/build-graph.ts';
import type { ModelFolder } from '../models/folder.ts';
import type { Tokenizer } from '../models/tokenizer.ts';
import type { SessionOptions } from '../runtime/session.ts';
import type { TokenBatch } from '../tune/data.ts';
import type { EvalResult, GradientResult } from '../tune/loop.ts';
import { ModelGradient } from '../tune/model-gradient.ts';
import type { Params } from '../tune/optimizer.ts';
import type { AdapterParams, IdpTraining, PrefixInit, PromptInit } from './adapter.ts';
import { IdpSelector, pickPrompt } from './idp-selector.ts';
import { type KvDims, initPrefixMlp, normal, pastToRows, prefixMlpBackward, prefixMlpForward, rowsToPast } from './prefix-kv.ts';
import { checkPrefixInit, initialPrefixPast } from './prefix-init.ts';
import { createLoraDropoutGradient } from './lora-dropout.ts';
import { initialPrompt } from './prompt-init.ts';

export type MethodSpec =
  | { method: 'lora'; rank: number; alpha: number; targets: string[]; /** PEFT lora_dropout p in [0, 1); default 0. */ dropout?: number }
  | { method: 'prompt'; virtualTokens: number; init: PromptInit }
  | { method: 'prefix'; virtualTokens: number; reparam: boolean; encoderHiddenSize?: number; /** Default random (PEFT's N(0, 1)); text needs reparam false. */ init?: PrefixInit }
  | { method: 'idp'; virtualTokens: number; prompts: number; selLayer: number; training: IdpTraining; init: PromptInit };

export interface MethodTrainer {
  params: Params;
  paramShapes: Map<string, number[]>;
  gradient: (batch: TokenBatch) => Promise<GradientResult>;
  evaluate: (batch: TokenBatch) => Promise<EvalResult>;
  /** The adapter's parameters from the current params. */
  adapter: () => AdapterParams;
  /** IDP: the prompt chosen for each training batch so far. */
  choices?: number[];
  release: () => Promise<void>;
}

export interface TrainerOptions { seed: number; session: SessionOptions }

const graphSession = (o: TrainerOptions) => ({ ...(o.session.ep ? { ep: o.session.ep } : {}), ...(o.session.threads ? { threads: o.session.threads } : {}), ...(o.session.onFallback ? { onFallback: o.session.onFallback } : {}) });

export async function createMethodTrainer(spec: MethodSpec, folder: ModelFolder, tokenizer: Tokenizer, o: TrainerOptions): Promise<MethodTrainer> {
  const { config, weights } = folder;
  const E = config.wordEmbedProjDim;
  switch (spec.method) {
    case 'lora': {
      const dropout = spec.dropout ?? 0;
      const loraAdapter = (tensors: { name: string; data: Float32Array }[]): AdapterParams => {
        const weightsOut = new Map<string, { A: Float32Array; B: Float32Array }>();
        for (const t of tensors) {
          const m = /^(.+)\.lora_([AB])\.weight$/.exec(t.name)!;
          const e = weightsOut.get(m[1]!) ?? { A: new Float32Array(), B: new Float32Array() };
          e[m[2] as 'A' | 'B'] = t.data;
          weightsOut.set(m[1]!, e);
        }
        return { method: 'lora', rank: spec.rank, alpha: spec.alpha, dropout, targets: spec.targets, weights: weightsOut };
      };
      if (dropout > 0) {
        // Dropout masks are graph inputs made here (lora-dropout.ts); p = 0 keeps the plain path below.
        const lg = await createLoraDropoutGradient(config, weights, { targets: spec.targets, rank: spec.rank, alpha: spec.alpha, seed: o.seed }, dropout, o.seed, graphSession(o));
        return { params: lg.params, paramShapes: lg.paramShapes, gradient: lg.gradient, evaluate: lg.evaluate, release: lg.release, adapter: () => loraAdapter(lg.hfTensors()) };
      }
      const mg = await ModelGradient.create(config, weights, { trainable: (n) => n.includes('.lora_'), graph: { lora: { targets: spec.targets, rank: spec.rank, alpha: spec.alpha, seed: o.seed } }, ...graphSession(o) });
      return {
        params: mg.params, paramShapes: mg.paramShapes, gradient: mg.gradient, evaluate: mg.evaluate, release: () => mg.release(),
        adapter: () => loraAdapter(mg.hfTensors()),
      };
    }
    case 'prompt': {
      const n = spec.virtualTokens;
      const init = initialPrompt(spec.init, n, config, weights, tokenizer, o.seed);
      const mg = await ModelGradient.create(config, weights, {
        trainable: () => false, graph: { softPrompt: true }, sharedInputs: [{ name: 'prompt_embeds', shape: [n, E], init }], virtualTokens: { kind: 'prompt', length: n }, ...graphSession(o),
      });
      return {
        params: mg.params, paramShapes: mg.paramShapes, gradient: mg.gradient, evaluate: mg.evaluate, release: () => mg.release(),
        adapter: () => ({ method: 'prompt', numVirtualTokens: n, init: spec.init, embeddings: Float32Array.from(mg.params.get('prompt_embeds')!) }),
      };
    }
    case 'prefix': return prefixTrainer(spec, folder, tokenizer, o);
    case 'idp': return idpTrainer(spec, folder, tokenizer, o);
  }
}

async function prefixTrainer(spec: Extract<MethodSpec, { method: 'prefix' }>, folder: ModelFolder, tokenizer: Tokenizer, o: TrainerOptions): Promise<MethodTrainer> {
  const { config, weights } = folder;
  const n = spec.virtualTokens;
  const dims: KvDims = { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, n };
  const d = dims.kvHeads * dims.headDim, width = dims.layers * 2 * d;
  const kvShape = [dims.kvHeads, n, dims.headDim];
  checkPrefixInit(spec);
  const init: PrefixInit = spec.init ?? { kind: 'random' };
  // random: PEFT's prefix Embedding(n, layers*2*d), N(0, 1); text: the base's KV of the init text.
  // (With reparam these values only seed the graph's inputs; the MLP's output replaces them every step.)
  const initPast = await initialPrefixPast(init, dims, config, weights, tokenizer, o.seed, graphSession(o));
  const mg = await ModelGradient.create(config, weights, {
    trainable: () => false, graph: { pastKeyValues: true }, virtualTokens: { kind: 'past', length: n }, ...graphSession(o),
    sharedInputs: [...initPast].map(([name, init]) => ({ name, shape: kvShape, init })),
  });
  const base = { method: 'prefix' as const, numVirtualTokens: n, reparam: spec.reparam, encoderHiddenSize: spec.reparam ? spec.encoderHiddenSize ?? config.hiddenSize : null, init };
  if (!spec.reparam) {
    return {
      params: mg.params, paramShapes: mg.paramShapes, gradient: mg.gradient, evaluate: mg.evaluate, release: () => mg.release(),
      adapter: () => ({ ...base, kv: pastToRows(mg.params, dims) }),
    };
  }
  const hidden = base.encoderHiddenSize!;
  const params = initPrefixMlp(n, d, hidden, width, o.seed);
  const paramShapes = new Map([['embedding.weight', [n, d]], ['transform.0.weight', [hidden, d]], ['transform.0.bias', [hidden]], ['transform.2.weight', [width, hidden]], ['transform.2.bias', [width]]]);
  return {
    params, paramShapes, release: () => mg.release(),
    gradient: async (batch) => {
      const f = prefixMlpForward(params, n, d, hidden, width);
      const r = await mg.gradientFor(batch, rowsToPast(f.rows, dims));
      return { loss: r.loss, tokens: r.tokens, grads: prefixMlpBackward(params, f, pastToRows(r.grads, dims), n, d, hidden, width) };
    },
    evaluate: (batch) => mg.evaluateFor(batch, rowsToPast(prefixMlpForward(params, n, d, hidden, width).rows, dims)),
    adapter: () => ({ ...base, kv: prefixMlpForward(params, n, d, hidden, width).rows }), // the MLP folded away
  };
}

/** Rows of a batch as a smaller batch. */
function subBatch(batch: TokenBatch, rows: number[]): TokenBatch {
  const T = batch.seqLen;
  const pick = (a: Int32Array) => { const out = new Int32Array(rows.length * T); rows.forEach((r, k) => out.set(a.subarray(r * T, r * T + T), k * T)); return out; };
  return { inputs: pick(batch.inputs), labels: pick(batch.labels), batchSize: rows.length, seqLen: T, sequences: rows.map((r) => batch.sequences[r]!) };
}

const rowsOf = (batch: TokenBatch): number[][] => Array.from({ length: batch.batchSize }, (_, b) => Array.from(batch.inputs.subarray(b * batch.seqLen, (b + 1) * batch.seqLen)));

async function idpTrainer(spec: Extract<MethodSpec, { method: 'idp' }>, folder: ModelFolder, tokenizer: Tokenizer, o: TrainerOptions): Promise<MethodTrainer> {
  const { config, weights } = folder;
  const n = spec.virtualTokens, m = spec.prompts, E = config.wordEmbedProjDim;
  const names = Array.from({ length: m }, (_, i) => `idp.prompt.${i}`);
  // Different seeds per prompt: with text/vocab init all prompts would start equal and the
  // joint hard choice could never tell them apart, so those inits get a small N(0, 0.01) jitter
  // (independent training separates them by their data shards instead).
  const params: Params = new Map(names.map((name, i) => {
    const p = initialPrompt(spec.init, n, config, weights, tokenizer, o.seed + 7919 * i);
    if (spec.training === 'joint-hard' && spec.init.kind !== 'random' && i > 0) normal(p.length, o.seed + 104729 * i, 0.01).forEach((v, k) => { p[k]! += v; });
    return [name, p];
  }));
  const paramShapes = new Map(names.map((name) => [name, [n, E]]));
  const mg = await ModelGradient.create(config, weights, {
    trainable: () => false, graph: { softPrompt: true }, sharedInputs: [{ name: 'prompt_embeds', shape: [n, E], init: params.get(names[0]!)! }], virtualTokens: { kind: 'prompt', length: n }, ...graphSession(o),
  });
  const kvRunner = await ModelRunner.create(buildModelGraph(config, weights, { softPrompt: true, pastKeyValues: true, logits: 'last' }), config, graphSession(o));
  const selector = await IdpSelector.create(config, weights, spec.selLayer, graphSession(o));
  const poolKv = async (): Promise<Past[]> => { const out: Past[] = []; for (const name of names) out.push(await kvRunner.promptPast(params.get(name)!, n)); return out; };
  const choices: number[] = [];
  return {
    params, paramShapes, choices,
    gradient: async (batch) => {
      // joint-hard: one prompt per batch by the inference rule (scores averaged over the batch's rows); no gradient through the choice.
      const scores = await selector.scores(rowsOf(batch), await poolKv());
      const chosen = pickPrompt(Array.from({ length: m }, (_, i) => scores.reduce((s, row) => s + row[i]!, 0) / scores.length));
      choices.push(chosen);
      const r = await mg.gradientFor(batch, new Map([['prompt_embeds', params.get(names[chosen]!)!]]));
      const grads = new Map(names.map((name, i) => [name, i === chosen ? r.grads.get('prompt_embeds')! : new Float32Array(n * E)]));
      return { loss: r.loss, tokens: r.tokens, grads };
    },
    evaluate: async (batch) => {
      // As at inference: each sequence runs after the prompt chosen for it.
      const scores = await selector.scores(rowsOf(batch), await poolKv());
      let loss = 0, tokens = 0;
      for (let i = 0; i < m; i++) {
        const rows = scores.map((s, b) => (pickPrompt(s) === i ? b : -1)).filter((b) => b >= 0);
        if (!rows.length) continue;
        const r = await mg.evaluateFor(subBatch(batch, rows), new Map([['prompt_embeds', params.get(names[i]!)!]]));
        loss += r.loss * r.tokens;
        tokens += r.tokens;
      }
      return { loss: loss / tokens, tokens };
    },
    adapter: () => {
      const pool = new Float32Array(m * n * E);
      names.forEach((name, i) => pool.set(params.get(name)!, i * n * E));
      return { method: 'idp', numVirtualTokens: n, numPrompts: m, selLayer: spec.selLayer, training: spec.training, init: spec.init, pool };
    },
    release: async () => { await mg.release(); await kvRunner.release(); await selector.release(); },
  };
}
