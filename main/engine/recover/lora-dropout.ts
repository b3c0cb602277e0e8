// LoRA dropout in training (PEFT's lora_dropout): y = W x + (alpha/r) B A dropout(x), dropout on
// the LoRA branch's input only. The mask is not drawn in the graph: the graph gets one input
// `<module>.lora_dropout_mask` [batch, seq, in] per targeted module (GraphOptions lora.dropoutMask)
// and TypeScript fills it from a counter-based RNG keyed by (seed, epoch, sequence id in the
// training split, module), so a step's masks depend only on which sequences it draws and when:
// a resumed run (sampler restored from the checkpoint) repeats the uninterrupted one bit for
// bit, and a sequence drawn again in a later epoch gets a fresh mask, as PEFT's would.
// Values are 0 with probability p, else 1/(1-p) (inverted dropout, as torch.nn.Dropout).
// Evaluation runs with all-ones masks (x * 1 = x exactly): no dropout outside training, and
// inference graphs never have the input. p = 0 never reaches this module (plain LoRA path).
import { buildGradientGraph, gradName } from '../autodiff/backward.ts';
import { buildModelGraph } from '../models/build-graph.ts';
import { transpose2d } from '../models/graph-layers.ts';
import type { LoraOptions } from '../models/graph-options.ts';
import type { DecoderConfig, WeightSource } from '../models/types.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { type SessionOptions, createSession } from '../runtime/session.ts';
import { type HostTensor, float32, int64 } from '../runtime/tensors.ts';
import type { TokenBatch } from '../tune/data.ts';
import type { EvalResult, GradientResult } from '../tune/loop.ts';
import type { Params } from '../tune/optimizer.ts';

export const DROPOUT_MASK_SUFFIX = '.lora_dropout_mask';

function fnv1a(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A 32-bit key from (seed, epoch, sequence, module), mixed (murmur3's finaliser). */
function maskKey(seed: number, sequence: number, module: string, epoch: number): number {
  let h = (fnv1a(module) ^ Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((sequence + 1) >>> 0, 0x85ebca77) ^ Math.imul(epoch >>> 0, 0xc2b2ae3d)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * One sequence's dropout mask for one module: `count` values (T * in, row-major), each 0 with
 * probability p, else fround(1 / (1 - p)); a pure function of (p, seed, sequence, module, epoch).
 */
export function dropoutMask(p: number, seed: number, sequence: number, module: string, count: number, epoch = 0): Float32Array {
  const keep = Math.fround(1 / (1 - p));
  const out = new Float32Array(count);
  let s = maskKey(seed, sequence, module, epoch);
  for (let i = 0; i < count; i++) {
    s = (s + 0x6d2b79f5) >>> 0; // mulberry32
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) < p ? 0 : keep;
  }
  return out;
}

export interface LoraDropoutGradient {
  params: Params;
  paramShapes: Map<string, number[]>;
  gradient: (batch: TokenBatch) => Promise<GradientResult>;
  evaluate: (batch: TokenBatch) => Promise<EvalResult>;
  /** Trained LoRA tensors under PEFT names and layouts (A [r, in], B [out, r]). */
  hfTensors: () => { name: string; data: Float32Array }[];
  release: () => Promise<void>;
}

export async function createLoraDropoutGradient(config: DecoderConfig, weights: WeightSource, lora: LoraOptions, p: number, seed: number, session: SessionOptions): Promise<LoraDropoutGradient> {
  const forward = buildModelGraph(config, weights, { lora: { ...lora, dropoutMask: true }, loss: true, logits: 'all' });
  const trainable = forward.graph.initializers.filter((t) => t.name.includes('.lora_'));
  const names = trainable.map((t) => t.name);
  const params: Params = new Map(trainable.map((t) => [t.name, Float32Array.from(t.data as Float32Array)]));
  const paramShapes = new Map(trainable.map((t) => [t.name, [...t.dims]]));
  const masks = forward.graph.inputs.filter((i) => i.name.endsWith(DROPOUT_MASK_SUFFIX))
    .map((i) => ({ name: i.name, module: i.name.slice(0, -DROPOUT_MASK_SUFFIX.length), width: Number(i.shape![2]) }));
  const options: SessionOptions = { ...session, optimization: 'extended', memPattern: false };
  const gradSession = await createSession(buildGradientGraph(forward, { loss: 'loss', wrt: names }), options);
  const b = GraphBuilder.fromModel(forward);
  for (const n of names) b.promoteToInput(n);
  const evalSession = await createSession(b.build(forward.metadata), options);

  const feeds = (batch: TokenBatch, dropout: boolean): { feeds: Record<string, HostTensor>; tokens: number } => {
    const { batchSize: B, seqLen: T } = batch;
    const labels = Array.from(batch.labels, (v) => (v < 0 ? -100 : v));
    const out: Record<string, HostTensor> = {
      input_ids: int64([B, T], batch.inputs),
      position_ids: int64([B, T], Array.from({ length: B * T }, (_, i) => i % T)),
      attention_mask: int64([B, T], new Array<number>(B * T).fill(1)),
      labels: int64([B, T], labels),
    };
    for (const [name, v] of params) out[name] = { dtype: 'float32', dims: paramShapes.get(name)!, data: v };
    for (const m of masks) {
      const data = new Float32Array(B * T * m.width);
      if (dropout) batch.sequences.forEach((seq, r) => data.set(dropoutMask(p, seed, seq, m.module, T * m.width, batch.epoch ?? 0), r * T * m.width));
      else data.fill(1);
      out[m.name] = float32([B, T, m.width], data);
    }
    return { feeds: out, tokens: labels.filter((v) => v !== -100).length };
  };

  return {
    params, paramShapes,
    gradient: async (batch) => {
      const { feeds: f, tokens } = feeds(batch, true);
      const out = await gradSession.run(f);
      return { loss: (out.loss!.data as Float32Array)[0]!, tokens, grads: new Map(names.map((n) => [n, out[gradName(n)]!.data as Float32Array])) };
    },
    evaluate: async (batch) => {
      const { feeds: f, tokens } = feeds(batch, false);
      const out = await evalSession.run(f, ['loss']);
      return { loss: (out.loss!.data as Float32Array)[0]!, tokens };
    },
    hfTensors: () => names.map((name) => {
      const [inp, outDim] = paramShapes.get(name) as [number, number];
      return { name: name.slice(0, -2), data: transpose2d(params.get(name)!, inp, outDim) };
    }),
    release: async () => { await gradSession.release(); await evalSession.release(); },
  };
}
