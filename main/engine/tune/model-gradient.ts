// The bridge between the training loop and ONNX Runtime: builds a model's forward graph
// with the next-token loss, derives the gradient graph for the trainable parameters, and
// exposes gradient() / evaluate() over TokenBatches. Trainable parameters are graph inputs,
// fed from the loop's Float32Arrays every step; frozen weights stay initializers.
// Recovery methods (main/engine/recover) train graph INPUTS instead: a soft prompt
// (prompt_embeds) or prefix key/values, one value shared by every row of a batch, fed
// tiled over the batch; their gradient is the sum over the rows.

import { buildGradientGraph, gradName } from '../autodiff/backward.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import type { Model } from '../onnx/ir.ts';
import { buildModelGraph } from '../models/build-graph.ts';
import type { GraphOptions } from '../models/graph-options.ts';
import { transpose2d } from '../models/graph-layers.ts';
import type { DecoderConfig, WeightSource } from '../models/types.ts';
import type { ExecutionProvider } from '../runtime/providers.ts';
import { type RecallSession, createSession } from '../runtime/session.ts';
import { type HostTensor, float32, int64 } from '../runtime/tensors.ts';
import type { TokenBatch } from './data.ts';
import type { EvalResult, GradientResult } from './loop.ts';
import type { Params } from './optimizer.ts';

/** A trained graph input shared by every row of a batch (fed as [batch, ...shape]). */
export interface SharedInput { name: string; shape: number[]; init: Float32Array }

/**
 * Positions before the tokens: a soft prompt ('prompt': prompt_embeds, positions 0..n-1, labels
 * -100 there) or a past KV prefix ('past': the tokens take positions n..n+T-1). METHODS.md section 2.
 */
export interface VirtualTokens { kind: 'prompt' | 'past'; length: number }

export interface ModelGradientOptions {
  /** Which graph initializers train: 'all' weights, or a predicate on their graph names. */
  trainable: 'all' | ((name: string) => boolean);
  /** Graph inputs that train too (prompt_embeds, past_key_values.*); in `params` under their names. */
  sharedInputs?: SharedInput[];
  virtualTokens?: VirtualTokens;
  graph?: GraphOptions;
  ep?: ExecutionProvider;
  threads?: number;
  onFallback?: (message: string) => void;
  /**
   * Recompute each decoder layer's activations in the backward pass instead of keeping them
   * from the forward pass (buildGradientGraph's checkpointLayers): less peak memory, one more
   * forward pass of the layers per step.
   */
  checkpointLayers?: boolean;
}

/** Weights are graph initializers not made by the builder itself (constants start with '/'). */
const isWeight = (name: string) => !name.startsWith('/');

function promoteParams(forward: Model, names: string[]): Model {
  const b = GraphBuilder.fromModel(forward);
  for (const n of names) b.promoteToInput(n);
  return b.build(forward.metadata);
}

export class ModelGradient {
  private constructor(
    readonly config: DecoderConfig,
    readonly params: Params,
    readonly paramShapes: Map<string, number[]>,
    private readonly gradSession: RecallSession,
    private readonly evalSession: RecallSession,
    private readonly shared: ReadonlySet<string>,
    readonly virtualTokens: VirtualTokens | undefined,
  ) {}

  static async create(config: DecoderConfig, weights: WeightSource, o: ModelGradientOptions): Promise<ModelGradient> {
    const forward = buildModelGraph(config, weights, { ...o.graph, loss: true, logits: 'all' });
    const pick = o.trainable === 'all' ? () => true : o.trainable;
    const trainable = forward.graph.initializers.filter((t) => isWeight(t.name) && pick(t.name));
    const shared = o.sharedInputs ?? [];
    if (trainable.length === 0 && shared.length === 0) throw new Error('no trainable parameters selected');
    const inputNames = new Set(forward.graph.inputs.map((i) => i.name));
    for (const x of shared) {
      if (!inputNames.has(x.name)) throw new Error(`shared input '${x.name}' is not a graph input`);
      if (x.init.length !== x.shape.reduce((a, d) => a * d, 1)) throw new Error(`shared input '${x.name}': ${x.init.length} values for shape [${x.shape}]`);
    }
    const params: Params = new Map([
      ...trainable.map((t): [string, Float32Array] => [t.name, Float32Array.from(t.data as Float32Array)]),
      ...shared.map((x): [string, Float32Array] => [x.name, Float32Array.from(x.init)]),
    ]);
    const shapes = new Map([...trainable.map((t): [string, number[]] => [t.name, [...t.dims]]), ...shared.map((x): [string, number[]] => [x.name, [...x.shape]])]);
    const names = trainable.map((t) => t.name);
    const sessionOptions = { ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.onFallback ? { onFallback: o.onFallback } : {}), optimization: 'extended' as const,
      // ORT's memory pattern keeps one planned buffer for every activation of the gradient graph;
      // off, peak training memory fell from 2.1x to 1.3x PyTorch's (demo model) at ~0-7% time.
      memPattern: false };
    const gradSession = await createSession(buildGradientGraph(forward, { loss: 'loss', wrt: [...names, ...shared.map((x) => x.name)], ...(o.checkpointLayers ? { checkpointLayers: true } : {}) }), sessionOptions);
    const evalSession = await createSession(promoteParams(forward, names), sessionOptions);
    return new ModelGradient(config, params, shapes, gradSession, evalSession, new Set(shared.map((x) => x.name)), o.virtualTokens);
  }

  /**
   * Feeds for a batch. With virtual tokens of length n: 'prompt' widens positions, mask and
   * labels to n+T (labels -100 on the prompt); 'past' gives the tokens positions n..n+T-1 and a
   * mask over n+T keys. `values` override the trained values by name (e.g. IDP's chosen prompt).
   */
  private feeds(batch: TokenBatch, values?: ReadonlyMap<string, Float32Array>): { feeds: Record<string, HostTensor>; tokens: number } {
    const { batchSize: B, seqLen: T } = batch;
    const vt = this.virtualTokens;
    const n = vt?.length ?? 0;
    const lead = vt?.kind === 'prompt' ? n : 0; // positions fed before the tokens in this pass
    const start = vt?.kind === 'past' ? n : 0; // first position of the fed sequence
    const W = lead + T;
    const positions = Array.from({ length: B * W }, (_, i) => start + (i % W));
    const labels = new Array<number>(B * W).fill(-100);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { const v = batch.labels[b * T + t]!; labels[b * W + lead + t] = v < 0 ? -100 : v; }
    const feeds: Record<string, HostTensor> = {
      input_ids: int64([B, T], batch.inputs),
      position_ids: int64([B, W], positions),
      attention_mask: int64([B, n + T], new Array<number>(B * (n + T)).fill(1)),
      labels: int64([B, W], labels),
    };
    for (const [name, p] of this.params) {
      const v = values?.get(name) ?? p;
      const shape = this.paramShapes.get(name)!;
      // Parameters are fed without a copy (ORT reads the array during run); a per-step copy of
      // every weight was a large share of full fine-tuning's peak memory.
      feeds[name] = this.shared.has(name) ? float32([B, ...shape], tile(v, B)) : { dtype: 'float32', dims: shape, data: v };
    }
    return { feeds, tokens: labels.filter((v) => v !== -100).length };
  }

  /** Loss and gradients at the current params, or with `values` in place of some of them. */
  async gradientFor(batch: TokenBatch, values?: ReadonlyMap<string, Float32Array>): Promise<GradientResult> {
    const { feeds, tokens } = this.feeds(batch, values);
    const out = await this.gradSession.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const [name, p] of this.params) {
      const g = out[gradName(name)]!.data as Float32Array;
      grads.set(name, this.shared.has(name) ? sumRows(g, p.length) : g);
    }
    return { loss: (out.loss!.data as Float32Array)[0]!, grads, tokens };
  }

  async evaluateFor(batch: TokenBatch, values?: ReadonlyMap<string, Float32Array>): Promise<EvalResult> {
    const { feeds, tokens } = this.feeds(batch, values);
    const out = await this.evalSession.run(feeds, ['loss']);
    return { loss: (out.loss!.data as Float32Array)[0]!, tokens };
  }

  readonly gradient = (batch: TokenBatch): Promise<GradientResult> => this.gradientFor(batch);
  readonly evaluate = (batch: TokenBatch): Promise<EvalResult> => this.evaluateFor(batch);

  /** Trained parameters under Hugging Face names and layouts ([out, in] for linear weights). */
  hfTensors(): { name: string; shape: number[]; data: Float32Array }[] {
    return [...this.params].map(([name, data]) => {
      const shape = this.paramShapes.get(name)!;
      if (!name.endsWith('.T')) return { name, shape, data };
      const [inp, out] = shape as [number, number];
      return { name: name.slice(0, -2), shape: [out, inp], data: transpose2d(data, inp, out) };
    });
  }

  async release(): Promise<void> {
    await this.gradSession.release();
    await this.evalSession.release();
  }
}

/** `rows` copies of v, back to back. */
function tile(v: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(v.length * rows);
  for (let r = 0; r < rows; r++) out.set(v, r * v.length);
  return out;
}

/** g [rows, size] -> the sum over rows [size] (the gradient of a value tiled over the batch). */
function sumRows(g: Float32Array, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let r = 0; r < g.length / size; r++) for (let i = 0; i < size; i++) out[i]! += g[r * size + i]!;
  return out;
}
