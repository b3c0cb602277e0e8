// ORT sessions built from our IR: in-memory bytes (optionally with external data handed
// over as a buffer) or a model file on disk with its data file beside it.

import { type ExternalDataOptions, externalBuffer, hasSinkWeights, saveModel, serializeModel } from '../onnx/serialize.ts';
import type { Model } from '../onnx/ir.ts';
import { validateModel } from '../onnx/validate.ts';
import { type ExecutionProvider, availableProviders } from './providers.ts';
import { type HostTensor, fromOrt, toOrt } from './tensors.ts';
import { ort } from './ort.ts';

export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  ep?: ExecutionProvider;
  /** Intra-op threads (0 = ORT's default, one per core). */
  threads?: number;
  optimization?: OptimizationLevel;
  /** Called once when the requested provider is unavailable and CPU is used instead. */
  onFallback?: (message: string) => void;
  /**
   * Keep constant weights as loaded instead of letting kernels pre-pack them into a second
   * buffer (ORT's session.disable_prepacking). For memory-mapped external weights this keeps
   * one copy of each weight; MatMul then packs per call, which costs some speed.
   */
  disablePrepacking?: boolean;
  /**
   * ORT's enableMemPattern and enableCpuMemArena (both default true). With either off a training
   * step's peak RSS is lower (bench/train-step.ts: the pattern lays out one block for the whole
   * run, the arena keeps freed blocks).
   */
  memPattern?: boolean;
  cpuMemArena?: boolean;
}

/** Session option presets: `inference` for evaluation, `training` keeps numerics closest to the graph. */
export const SESSION_PRESETS: Readonly<Record<'inference' | 'training' | 'debug', SessionOptions>> = {
  inference: { optimization: 'all' },
  training: { optimization: 'extended' },
  debug: { optimization: 'disabled', threads: 1 },
};

export class RecallSession {
  private released = false;

  constructor(private readonly session: ort.InferenceSession, readonly ep: ExecutionProvider, readonly fallbackReason?: string) {}

  get inputNames(): readonly string[] { return this.session.inputNames; }
  get outputNames(): readonly string[] { return this.session.outputNames; }

  async run(feeds: Record<string, HostTensor>, fetches?: string[]): Promise<Record<string, HostTensor>> {
    if (this.released) throw new Error('session was released');
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    const results = fetches ? await this.session.run(ortFeeds, fetches) : await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [k, t] of Object.entries(results)) {
      out[k] = fromOrt(t, k);
      t.dispose();
    }
    return out;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

function ortOptions(ep: ExecutionProvider, o: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    graphOptimizationLevel: o.optimization ?? 'all',
    ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
    ...(o.memPattern === false ? { enableMemPattern: false } : {}),
    ...(o.cpuMemArena === false ? { enableCpuMemArena: false } : {}),
    // The Node binding flattens `extra` to ORT session config keys (onnxruntime_session_options_config_keys.h).
    ...(o.disablePrepacking ? { extra: { session: { disable_prepacking: '1' } } } : {}),
    logSeverityLevel: 3,
  };
}

async function createWithFallback(
  create: (opts: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>,
  o: SessionOptions,
): Promise<RecallSession> {
  const ep = o.ep ?? 'cpu';
  if (ep === 'cpu') return new RecallSession(await create(ortOptions('cpu', o)), 'cpu');
  const known = availableProviders().find((p) => p.name === ep);
  let reason: string;
  if (!known) {
    reason = `execution provider '${ep}' is not in this onnxruntime-node build (has: ${availableProviders().map((p) => p.name).join(', ')})`;
  } else {
    try {
      return new RecallSession(await create(ortOptions(ep, o)), ep);
    } catch (e) {
      reason = `execution provider '${ep}' failed to start: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  const message = `${reason}; running on CPU instead`;
  o.onFallback?.(message);
  return new RecallSession(await create(ortOptions('cpu', o)), 'cpu', message);
}

/**
 * A session over a model held in memory. With `external`, initializers of at least
 * `minBytes` travel as an external-data buffer (ORT's `externalData` option).
 */
export async function createSession(model: Model, o: SessionOptions = {}, external?: ExternalDataOptions): Promise<RecallSession> {
  validateModel(model);
  if (hasSinkWeights(model)) throw new Error('model has weights written to an external-data file while building; save it beside that file and use openSessionFile');
  const s = serializeModel(model, external);
  const extra = external ? { externalData: [{ path: external.fileName, data: externalBuffer(s) }] } : {};
  return createWithFallback((opts) => ort.InferenceSession.create(s.proto, { ...opts, ...extra }), o);
}

/** Save `model` (with its external data) to `path` and open a session from the file. */
export async function createSessionFromFile(model: Model, path: string, o: SessionOptions = {}, external?: ExternalDataOptions): Promise<RecallSession> {
  validateModel(model);
  saveModel(model, path, external);
  return openSessionFile(path, o);
}

export async function openSessionFile(path: string, o: SessionOptions = {}): Promise<RecallSession> {
  return createWithFallback((opts) => ort.InferenceSession.create(path, opts), o);
}
