// The bridge between the training loop and ONNX Runtime: builds a model's forward graph
// with the next-token loss, derives the gradient graph for the trainable parameters, and
// exposes gradient() / evaluate() over TokenBatches. Trainable parameters are graph inputs,
// fed from the loop's Float32Arrays every step; frozen weights stay initializers.

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

export interface ModelGradientOptions {
  /** Which graph initializers train: 'all' weights, or a predicate on their graph names. */
  trainable: 'all' | ((name: string) => boolean);
  graph?: GraphOptions;
  ep?: ExecutionProvider;
  threads?: number;
  onFallback?: (message: string) => void;
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
  ) {}

  static async create(config: DecoderConfig, weights: WeightSource, o: ModelGradientOptions): Promise<ModelGradient> {
    const forward = buildModelGraph(config, weights, { ...o.graph, loss: true, logits: 'all' });
    const pick = o.trainable === 'all' ? () => true : o.trainable;
    const trainable = forward.graph.initializers.filter((t) => isWeight(t.name) && pick(t.name));
    if (trainable.length === 0) throw new Error('no trainable parameters selected');
    const params: Params = new Map(trainable.map((t) => [t.name, Float32Array.from(t.data as Float32Array)]));
    const shapes = new Map(trainable.map((t) => [t.name, [...t.dims]]));
    const names = trainable.map((t) => t.name);
    const sessionOptions = { ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.onFallback ? { onFallback: o.onFallback } : {}), optimization: 'extended' as const };
    const gradSession = await createSession(buildGradientGraph(forward, { loss: 'loss', wrt: names }), sessionOptions);
    const evalSession = await createSession(promoteParams(forward, names), sessionOptions);
    return new ModelGradient(config, params, shapes, gradSession, evalSession);
  }

  private feeds(batch: TokenBatch): { feeds: Record<string, HostTensor>; tokens: number } {
    const { batchSize: B, seqLen: T } = batch;
    const positions = Array.from({ length: B * T }, (_, i) => i % T);
    const labels = Array.from(batch.labels, (v) => (v < 0 ? -100 : v));
    const feeds: Record<string, HostTensor> = {
      input_ids: int64([B, T], batch.inputs),
      position_ids: int64([B, T], positions),
      attention_mask: int64([B, T], new Array<number>(B * T).fill(1)),
      labels: int64([B, T], labels),
    };
    for (const [name, p] of this.params) feeds[name] = float32(this.paramShapes.get(name)!, p);
    return { feeds, tokens: labels.filter((v) => v !== -100).length };
  }

  readonly gradient = async (batch: TokenBatch): Promise<GradientResult> => {
    const { feeds, tokens } = this.feeds(batch);
    const out = await this.gradSession.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const name of this.params.keys()) grads.set(name, out[gradName(name)]!.data as Float32Array);
    return { loss: (out.loss!.data as Float32Array)[0]!, grads, tokens };
  };

  readonly evaluate = async (batch: TokenBatch): Promise<EvalResult> => {
    const { feeds, tokens } = this.feeds(batch);
    const out = await this.evalSession.run(feeds, ['loss']);
    return { loss: (out.loss!.data as Float32Array)[0]!, tokens };
  };

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
