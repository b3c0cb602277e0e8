// The layer-sequential compression driver (METHODS 1.1): capture the inputs of decoder layer
// 0 for all calibration sequences; for each layer, accumulate every linear module's Hessian
// H = (2/N) sum x x^T from the inputs it actually sees (in trueSequential groups, re-running
// the layer between groups), compress each module, then run the compressed layer to produce
// the next layer's inputs. Each finished layer is checkpointed, so a cancelled or crashed
// run resumes at the next layer and ends with the same weights as an uninterrupted one.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import type { Model, TensorData } from '../onnx/ir.ts';
import { extractSubgraph } from '../onnx/subgraph.ts';
import { transpose2d } from '../models/graph-layers.ts';
import type { DecoderConfig } from '../models/types.ts';
import { type RecallSession, type SessionOptions, createSession } from '../runtime/session.ts';
import { type HostTensor, float32, int64 } from '../runtime/tensors.ts';
import type { Calibration } from './calibration.ts';
import { type LayerGraph, type LinearModule, buildLayerGraph, layerGroups } from './layer-graphs.ts';

export interface ModuleResult {
  /** The compressed weight in HF layout [rows, cols] (fake-quant / pruned values). */
  weight: Float32Array;
  /** The method's own loss (GPTQ/SparseGPT objective). */
  loss: number;
  bits?: number;
  sparsity?: number;
  damp?: number;
  /** Packed artifacts (codes, scales, zeros, g_idx, mask...) to keep with the run. */
  packed?: Record<string, { dtype: 'int32' | 'uint8' | 'float32' | 'float16'; shape: number[]; data: Int32Array | Uint8Array | Float32Array | Uint16Array }>;
}

/** Compress one module. Returns null to keep the module dense (skip rules). */
export type ModuleCompressor = (w: Float32Array, rows: number, cols: number, H: Float64Array, module: LinearModule) => ModuleResult | null;

export interface ModuleLog {
  layer: number; module: string; path: string; rows: number; cols: number;
  bits: number | null; sparsity: number | null; damp: number | null; loss: number;
  /** ||(W - Q) X||^2 / ||W X||^2 over the calibration inputs, from H. */
  relError: number; seconds: number; skipped: boolean;
}

export interface DriverProgress { layer: number; layers: number; module?: string; stage: 'capture' | 'hessian' | 'compress' | 'propagate'; etaSeconds: number | null; fraction: number }

export interface DriverOptions {
  config: DecoderConfig;
  /** The dense model graph built with exposeHiddenStates (its initializers hold the weights). */
  graph: Model;
  calibration: Calibration;
  compress: ModuleCompressor;
  trueSequential: boolean;
  /** Folder for per-layer checkpoints. */
  stateDir: string;
  /** Fingerprint of everything that determines the result; a resume with another is refused. */
  fingerprint: string;
  resume?: boolean;
  batchSize?: number;
  session?: SessionOptions;
  signal?: AbortSignal;
  onProgress?: (p: DriverProgress) => void;
  onModule?: (log: ModuleLog) => void;
}

export interface DriverResult {
  status: 'completed' | 'cancelled';
  /** Compressed weights, HF name -> [rows, cols] values. */
  weights: Map<string, Float32Array>;
  packed: Map<string, NonNullable<ModuleResult['packed']>>;
  log: ModuleLog[];
  resumedFromLayer?: number;
}

/** trace((W-Q) H (W-Q)^T) / trace(W H W^T): the relative output error on the calibration rows. */
export function relativeOutputError(w: Float32Array, q: Float32Array, rows: number, cols: number, H: Float64Array): number {
  let num = 0, den = 0;
  const d = new Float64Array(cols), x = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) { x[c] = w[r * cols + c]!; d[c] = x[c]! - q[r * cols + c]!; }
    for (let i = 0; i < cols; i++) {
      let hd = 0, hx = 0;
      const row = i * cols;
      for (let j = 0; j < cols; j++) { hd += H[row + j]! * d[j]!; hx += H[row + j]! * x[j]!; }
      num += d[i]! * hd;
      den += x[i]! * hx;
    }
  }
  return den > 0 ? num / den : 0;
}

function withOverrides(model: Model, overrides: Map<string, Float32Array>): Model {
  const initializers = model.graph.initializers.map((t): TensorData => (overrides.has(t.name) ? { ...t, data: overrides.get(t.name)! } : t));
  return { ...model, graph: { ...model.graph, initializers } };
}

class Batches {
  constructor(readonly cal: Calibration, readonly size: number) {}
  *ranges(): Generator<[number, number]> {
    for (let s = 0; s < this.cal.nsamples; s += this.size) yield [s, Math.min(s + this.size, this.cal.nsamples)];
  }
  feeds(s: number, e: number): Record<string, HostTensor> {
    const B = e - s, T = this.cal.seqlen;
    return {
      position_ids: int64([B, T], Array.from({ length: B * T }, (_, i) => i % T)),
      attention_mask: int64([B, T], new Array<number>(B * T).fill(1)),
    };
  }
}

interface LayerState { layer: number; fingerprint: string; log: ModuleLog[] }

export async function runCompression(o: DriverOptions): Promise<DriverResult> {
  const { config, calibration: cal } = o;
  const H = config.hiddenSize, T = cal.seqlen, N = cal.nsamples;
  const batches = new Batches(cal, o.batchSize ?? 8);
  const signal = o.signal ?? new AbortController().signal;
  const weights = new Map<string, Float32Array>();
  const packed = new Map<string, NonNullable<ModuleResult['packed']>>();
  const log: ModuleLog[] = [];
  mkdirSync(o.stateDir, { recursive: true });
  const statePath = join(o.stateDir, 'state.json');
  let hidden: Float32Array;
  let startLayer = 0;
  const result: DriverResult = { status: 'completed', weights, packed, log };
  const t0 = performance.now();
  const eta = (done: number, total: number) => (done > 0 ? ((performance.now() - t0) / 1000 / done) * (total - done) : null);

  if (o.resume && existsSync(statePath)) {
    const st = JSON.parse(readFileSync(statePath, 'utf8')) as LayerState;
    if (st.fingerprint !== o.fingerprint) throw new RecallError('E_INVALID_ARGUMENT', `${o.stateDir}: a compression with other settings is in progress there; use another --out or drop --resume`, { file: o.stateDir });
    startLayer = st.layer + 1;
    const hb = readFileSync(join(o.stateDir, `hidden-${st.layer}.bin`));
    hidden = new Float32Array(hb.buffer.slice(hb.byteOffset, hb.byteOffset + hb.byteLength));
    log.push(...st.log);
    for (let l = 0; l < startLayer; l++) loadLayerWeights(o.stateDir, l, weights, packed);
    result.resumedFromLayer = startLayer;
  } else {
    rmSync(o.stateDir, { recursive: true, force: true });
    mkdirSync(o.stateDir, { recursive: true });
    hidden = await captureLayer0(o, batches, N * T * H);
  }

  for (let layer = startLayer; layer < config.numLayers; layer++) {
    if (signal.aborted) return { ...result, status: 'cancelled' };
    const lg = buildLayerGraph(o.graph, config, layer);
    const overrides = new Map<string, Float32Array>();
    const groups = o.trueSequential ? layerGroups(config, layer) : [layerGroups(config, layer).flat()];
    for (const group of groups) {
      const modules = group.map((g) => lg.modules.find((m) => m.path === g.path)!);
      o.onProgress?.({ layer, layers: config.numLayers, stage: 'hessian', module: modules.map((m) => m.name).join(','), etaSeconds: eta(layer, config.numLayers), fraction: layer / config.numLayers });
      const hessians = await accumulateHessians(o, lg, overrides, batches, hidden, modules);
      if (!hessians) return { ...result, status: 'cancelled' };
      for (const m of modules) {
        if (signal.aborted) return { ...result, status: 'cancelled' };
        const started = performance.now();
        const wT = lg.model.graph.initializers.find((t) => t.name === m.weightT)!.data as Float32Array;
        const w = transpose2d(wT, m.cols, m.rows);
        const h = hessians.get(m.input)!;
        o.onProgress?.({ layer, layers: config.numLayers, stage: 'compress', module: m.name, etaSeconds: eta(layer, config.numLayers), fraction: layer / config.numLayers });
        const r = o.compress(w, m.rows, m.cols, h, m);
        const q = r?.weight ?? w;
        if (r) {
          overrides.set(m.weightT, transpose2d(q, m.rows, m.cols));
          weights.set(`${m.path}.weight`, q);
          if (r.packed) packed.set(m.path, r.packed);
        }
        const entry: ModuleLog = {
          layer, module: m.name, path: m.path, rows: m.rows, cols: m.cols, bits: r?.bits ?? null, sparsity: r?.sparsity ?? null,
          damp: r?.damp ?? null, loss: r?.loss ?? 0, relError: r ? relativeOutputError(w, q, m.rows, m.cols, h) : 0,
          seconds: (performance.now() - started) / 1000, skipped: !r,
        };
        log.push(entry);
        o.onModule?.(entry);
      }
    }
    o.onProgress?.({ layer, layers: config.numLayers, stage: 'propagate', etaSeconds: eta(layer, config.numLayers), fraction: (layer + 0.9) / config.numLayers });
    const next = await propagate(o, lg, overrides, batches, hidden);
    if (!next) return { ...result, status: 'cancelled' };
    hidden = next;
    saveLayer(o, layer, hidden, weights, packed, log);
  }
  return result;
}

async function runAll(session: RecallSession, batches: Batches, hidden: Float32Array, inputName: string, fetches: string[], signal: AbortSignal | undefined, each: (out: Record<string, HostTensor>, s: number, e: number) => void): Promise<boolean> {
  const { seqlen: T } = batches.cal;
  const H = hidden.length / (batches.cal.nsamples * T);
  for (const [s, e] of batches.ranges()) {
    if (signal?.aborted) return false;
    const feeds = batches.feeds(s, e);
    feeds[inputName] = float32([e - s, T, H], hidden.subarray(s * T * H, e * T * H));
    each(await session.run(feeds, fetches), s, e);
  }
  return true;
}

async function captureLayer0(o: DriverOptions, batches: Batches, size: number): Promise<Float32Array> {
  const input = o.graph.graph.nodes.find((n) => n.name === '/model/layers.0/attn_residual/Add')!.inputs[0]!;
  const embed = extractSubgraph(o.graph, { inputs: [], outputs: [input], name: 'embed' });
  const session = await createSession(embed, o.session);
  const out = new Float32Array(size);
  const T = batches.cal.seqlen;
  try {
    for (const [s, e] of batches.ranges()) {
      const feeds = batches.feeds(s, e);
      const ids = batches.cal.tokens.subarray(s * T, e * T);
      const r = await session.run({ ...feeds, input_ids: int64([e - s, T], ids) }, [input]);
      out.set(r[input]!.data as Float32Array, s * T * o.config.hiddenSize);
    }
  } finally {
    await session.release();
  }
  o.onProgress?.({ layer: 0, layers: o.config.numLayers, stage: 'capture', etaSeconds: null, fraction: 0 });
  return out;
}

async function accumulateHessians(o: DriverOptions, lg: LayerGraph, overrides: Map<string, Float32Array>, batches: Batches, hidden: Float32Array, modules: LinearModule[]): Promise<Map<string, Float64Array> | null> {
  const inputs = [...new Set(modules.map((m) => m.input))];
  const sums = new Map(inputs.map((v) => [v, new Float64Array(modules.find((m) => m.input === v)!.cols ** 2)]));
  const session = await createSession(withOverrides(lg.model, overrides), o.session);
  try {
    const ok = await runAll(session, batches, hidden, lg.input, inputs.map((v) => lg.gramOf.get(v)!), o.signal, (out) => {
      for (const v of inputs) {
        const g = out[lg.gramOf.get(v)!]!.data as Float32Array;
        const acc = sums.get(v)!;
        for (let i = 0; i < g.length; i++) acc[i]! += g[i]!;
      }
    });
    if (!ok) return null;
  } finally {
    await session.release();
  }
  // H = (2 / nsamples) * sum over tokens of x x^T, as GPTQ's add_batch accumulates it.
  const scale = 2 / batches.cal.nsamples;
  for (const acc of sums.values()) for (let i = 0; i < acc.length; i++) acc[i]! *= scale;
  return sums;
}

async function propagate(o: DriverOptions, lg: LayerGraph, overrides: Map<string, Float32Array>, batches: Batches, hidden: Float32Array): Promise<Float32Array | null> {
  const session = await createSession(withOverrides(lg.model, overrides), o.session);
  const next = new Float32Array(hidden.length);
  const TH = batches.cal.seqlen * o.config.hiddenSize;
  try {
    const ok = await runAll(session, batches, hidden, lg.input, [lg.output], o.signal, (out, s) => next.set(out[lg.output]!.data as Float32Array, s * TH));
    return ok ? next : null;
  } finally {
    await session.release();
  }
}

/** Per-layer checkpoint, written so that state.json (the commit point) is renamed last. */
function saveLayer(o: DriverOptions, layer: number, hidden: Float32Array, weights: Map<string, Float32Array>, packed: DriverResult['packed'], log: ModuleLog[]): void {
  const prefix = o.config.family === 'opt' ? `model.decoder.layers.${layer}.` : `model.layers.${layer}.`;
  const mine = [...weights].filter(([k]) => k.startsWith(prefix));
  const layerFile = join(o.stateDir, `layer-${layer}.json`);
  const packedMine = [...packed].filter(([k]) => k.startsWith(prefix));
  const blob = { weights: mine.map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')]), packed: packedMine.map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape, data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64') }]))]) };
  atomicWrite(layerFile, JSON.stringify(blob));
  atomicWrite(join(o.stateDir, `hidden-${layer}.bin`), Buffer.from(hidden.buffer, hidden.byteOffset, hidden.byteLength));
  // The commit point: until state.json names this layer, a resume starts from the previous one.
  atomicWrite(join(o.stateDir, 'state.json'), JSON.stringify({ layer, fingerprint: o.fingerprint, log } satisfies LayerState));
  rmSync(join(o.stateDir, `hidden-${layer - 1}.bin`), { force: true });
}

function loadLayerWeights(dir: string, layer: number, weights: Map<string, Float32Array>, packed: DriverResult['packed']): void {
  const blob = JSON.parse(readFileSync(join(dir, `layer-${layer}.json`), 'utf8')) as { weights: [string, string][]; packed: [string, Record<string, { dtype: string; shape: number[]; data: string }>][] };
  for (const [k, b64] of blob.weights) { const b = Buffer.from(b64, 'base64'); weights.set(k, new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))); }
  for (const [k, entries] of blob.packed) {
    const out: NonNullable<ModuleResult['packed']> = {};
    for (const [n, t] of Object.entries(entries)) {
      const b = Buffer.from(t.data, 'base64');
      const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      const data = t.dtype === 'int32' ? new Int32Array(ab) : t.dtype === 'uint8' ? new Uint8Array(ab) : t.dtype === 'float16' ? new Uint16Array(ab) : new Float32Array(ab);
      out[n] = { dtype: t.dtype as 'int32', shape: t.shape, data };
    }
    packed.set(k, out);
  }
}

function atomicWrite(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try { writeFileSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, file);
}
