// The layer-sequential compression driver (METHODS 1.1): capture the inputs of decoder layer
// 0 for all calibration sequences; for each layer, accumulate every linear module's Hessian
// H = (2/N) sum x x^T from the inputs it actually sees (in trueSequential groups, re-running
// the layer between groups), compress each module, then run the compressed layer to produce
// the next layer's inputs. Each finished layer is checkpointed, so a cancelled or crashed
// run resumes at the next layer and ends with the same weights as an uninterrupted one.
//
// Memory: only one layer is resident. The model graph is built once with its weights deferred
// (the IR holds a placeholder location per weight; nothing is read); each cut (the embedding,
// then one layer at a time) has its weights read from the model's files into a data file in
// the state folder and its session opened from disk; the compressor reads one module's weight
// from that file, and each finished layer's compressed weights and packed artifacts go to its
// checkpoint (layer-<i>.safetensors), from which the output is written at the end
// (CompressedLayers). The hidden states of the calibration set (N x T x hidden float32) are
// held once and updated in place. On disk: one layer's dense weights beside the checkpoints.
//
//   stateDir/ graph/layer.onnx.data     the current layer's dense weights as the graph stores them (W^T)
//             graph/*.onnx (+ overrides.onnx.data)   the session being opened
//             layer-<i>.safetensors     compressed weights + packed tensors of layer i
//             hidden-<i>.bin            the inputs of layer i+1
//             state.json                commit point: last finished layer, fingerprint, log

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectGarbage } from '../collect-garbage.ts';
import { RecallError } from '../errors.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { bytesOf } from '../onnx/dtypes.ts';
import { ExternalWeightSink, type WeightSink } from '../onnx/external-weights.ts';
import type { ExternalLocation, Model, TensorData } from '../onnx/ir.ts';
import { extractSubgraph } from '../onnx/subgraph.ts';
import { buildModelGraph } from '../models/build-graph.ts';
import { transpose2d } from '../models/graph-layers.ts';
import { SafetensorsWeights } from '../models/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../models/safetensors-write.ts';
import type { DecoderConfig, WeightSource } from '../models/types.ts';
import { type RecallSession, type SessionOptions, createSession, createSessionFromFile } from '../runtime/session.ts';
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
  /** The dense model's weights (read once, while the graph is built into the state folder). */
  weights: WeightSource;
  calibration: Calibration;
  compress: ModuleCompressor;
  trueSequential: boolean;
  /** Folder for the graph's weight file and the per-layer checkpoints. */
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
  /** The finished layers' compressed weights and packed artifacts (close it when written). */
  compressed: CompressedLayers;
  log: ModuleLog[];
  resumedFromLayer?: number;
}

type Packed = NonNullable<ModuleResult['packed']>;
type PackedDtype = Packed[string]['dtype'];
/** A module compressed in the current layer (its weight lives in the layer's overrides, as W^T). */
interface Compressed { module: LinearModule; packed?: Packed }

/** Name of a packed tensor inside a layer checkpoint. */
const packedName = (module: string, tensor: string) => `packed/${module}/${tensor}`;

/**
 * The compressed weights and packed artifacts of the finished layers, read from their
 * checkpoints on demand: HF weight name -> float32 [rows, cols]; module -> packed tensors in
 * the order the compressor made them.
 */
export class CompressedLayers {
  private readonly files: SafetensorsWeights | null;
  private readonly packedOrder: [string, string[]][] = [];

  constructor(stateDir: string, layers: number) {
    const paths = Array.from({ length: layers }, (_, l) => layerFile(stateDir, l));
    this.files = paths.length ? new SafetensorsWeights(paths) : null;
    for (const [, meta] of this.files?.metadata() ?? []) this.packedOrder.push(...(JSON.parse(meta.packed ?? '[]') as [string, string[]][]));
  }

  has(name: string): boolean { return this.files?.has(name) ?? false; }

  weight(name: string): Float32Array { return this.files!.readFloat32(name); }

  /** Modules with packed artifacts, in compression order. */
  packedModules(): string[] { return this.packedOrder.map(([m]) => m); }

  packed(module: string): Packed {
    const names = this.packedOrder.find(([m]) => m === module)?.[1];
    if (!names || !this.files) throw new Error(`compress: no packed artifacts for ${module}`);
    const out: Packed = {};
    for (const n of names) {
      const key = packedName(module, n), f = this.files;
      const { storedDtype: stored, shape } = f.entry(key)!;
      out[n] = stored === 'F32' ? { dtype: 'float32', shape, data: f.readFloat32(key) }
        : stored === 'F16' ? { dtype: 'float16', shape, data: f.readFloat16(key) }
          : { dtype: stored === 'I32' ? 'int32' : 'uint8', shape, data: f.readInteger(key) as Int32Array | Uint8Array };
    }
    return out;
  }

  close(): void { this.files?.close(); }
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

/**
 * The same ratio through ORT's MatMul (float32 products, float64 would cost rows x cols^2 in
 * JavaScript: minutes for a 4096 x 11008 module): sum(D .* (D H)) / sum(W .* (W H)), D = W - Q.
 */
class OutputError {
  private session: Promise<RecallSession> | null = null;
  constructor(private readonly o: SessionOptions | undefined) {}

  async ratio(w: Float32Array, q: Float32Array, rows: number, cols: number, H: Float64Array): Promise<number> {
    this.session ??= createSession(OutputError.graph(), { ...this.o, optimization: 'basic' });
    const s = await this.session;
    const r = await s.run({ w: float32([rows, cols], w), q: float32([rows, cols], q), h: float32([cols, cols], Float32Array.from(H)) }, ['num', 'den']);
    const num = (r.num!.data as Float32Array)[0]!, den = (r.den!.data as Float32Array)[0]!;
    return den > 0 ? Math.max(0, num) / den : 0;
  }

  async close(): Promise<void> {
    if (this.session) await (await this.session).release();
    this.session = null;
  }

  private static graph(): Model {
    const b = new GraphBuilder('relative-output-error');
    const w = b.input('w', 'float32', ['rows', 'cols']), q = b.input('q', 'float32', ['rows', 'cols']), h = b.input('h', 'float32', ['cols', 'cols']);
    const d = b.op1('Sub', [w, q]);
    const quad = (x: string) => b.op1('ReduceSum', [b.op1('Mul', [x, b.op1('MatMul', [x, h])])], { keepdims: 0 });
    b.output(quad(d), 'num');
    b.output(quad(w), 'den');
    return b.build();
  }
}

/** The driver's output-error ratio for one module (ORT path), as logged. */
export async function outputErrorRatio(w: Float32Array, q: Float32Array, rows: number, cols: number, H: Float64Array, o?: SessionOptions): Promise<number> {
  const e = new OutputError(o);
  try { return await e.ratio(w, q, rows, cols, H); } finally { await e.close(); }
}

function withOverrides(model: Model, overrides: Map<string, Float32Array>): Model {
  const initializers = model.graph.initializers.map((t): TensorData => {
    const data = overrides.get(t.name);
    if (!data) return t;
    const { external: _stored, ...rest } = t;
    return { ...rest, data };
  });
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

/**
 * Sequences per layer run: as many as keep the run's activations (about 4 bytes x (6 hidden +
 * 3 intermediate + 2 heads x T) per token) within half of one layer's weight bytes, at least
 * one. A large model (and T = 2048) runs one sequence at a time, as GPTQ's reference does.
 */
export function defaultBatchSize(c: DecoderConfig, T: number): number {
  const perToken = 4 * (6 * c.hiddenSize + 3 * c.intermediateSize + 2 * c.numHeads * T);
  const layerBytes = 4 * (2 * c.hiddenSize * c.numHeads * c.headDim + 2 * c.hiddenSize * c.numKvHeads * c.headDim + 3 * c.hiddenSize * c.intermediateSize);
  return Math.max(1, Math.floor(layerBytes / 2 / (perToken * T)));
}

/** The checkpoint layout this driver writes (2: layer-<i>.safetensors; 1, before it: layer-<i>.json). */
const STATE_FORMAT = 2;
interface LayerState { format: number; layer: number; fingerprint: string; log: ModuleLog[] }

const layerFile = (dir: string, layer: number) => join(dir, `layer-${layer}.safetensors`);
const GRAPH_DIR = 'graph';
/** Location of a weight not yet read from the model (DeferredWeights). */
const DEFERRED = 'deferred';

/**
 * A weight sink that stores nothing: the graph is built with a placeholder location per weight
 * (nothing is read or written), and a cut's weights are read from the model's own files when
 * that cut is opened (materialize).
 */
class DeferredWeights implements WeightSink {
  private count = 0;
  accepts(byteLength: number): boolean { return byteLength >= 1024; }
  writeTensor(length: number): ExternalLocation { return { location: DEFERRED, offset: this.count++, length }; }
  write(bytes: Uint8Array): ExternalLocation { return this.writeTensor(bytes.byteLength); }
}

/** The model graph with hidden states exposed, its weights deferred; its cuts are opened from stateDir/graph. */
function buildGraph(o: DriverOptions): { graph: Model; dir: string } {
  const dir = join(o.stateDir, GRAPH_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { graph: buildModelGraph(o.config, o.weights, { exposeHiddenStates: true, externalWeights: new DeferredWeights() }), dir };
}

/** A deferred weight's values from the model: W^T for `<module>.weight.T`, else the tensor itself. */
function deferredValues(weights: WeightSource, t: TensorData): Float32Array {
  if (!t.name.endsWith('.weight.T')) return weights.readFloat32(t.name);
  const [inp, out] = t.dims as [number, number];
  return transpose2d(weights.readFloat32(t.name.slice(0, -2)), out, inp);
}

/** A cut with its deferred weights read from the model into `fileName` in `dir` (one cut's worth on disk at a time). */
function materialize(weights: WeightSource, dir: string, model: Model, fileName: string): Model {
  const sink = new ExternalWeightSink(dir, { fileName });
  try {
    const initializers = model.graph.initializers.map((t): TensorData => {
      if (t.external?.location !== DEFERRED) return t;
      const values = deferredValues(weights, t);
      if (values.byteLength !== t.external.length) throw new Error(`compress: weight ${t.name} has ${values.byteLength} bytes, the graph expects ${t.external.length}`);
      return { ...t, external: sink.write(bytesOf(values)) };
    });
    return { ...model, graph: { ...model.graph, initializers } };
  } finally {
    sink.close();
  }
}

/** A float32 initializer's values: in memory, or read from the graph's weight file. */
function initializerValues(dir: string, t: TensorData): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`compress: weight ${t.name} is ${t.dtype}, expected float32`);
  if (!t.external) return t.data as Float32Array;
  const out = new Float32Array(t.external.length / 4);
  const file = join(dir, t.external.location);
  readAt(file, new Uint8Array(out.buffer), t.external.offset, () => new Error(`compress: ${file} ends before weight ${t.name}`));
  return out;
}

/** Fill `into` from `file` at `offset`; `short()` is thrown when the file ends first. */
function readAt(file: string, into: Uint8Array, offset: number, short: () => Error): void {
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < into.length) {
      const n = readSync(fd, into, done, Math.min(into.length - done, 1 << 30), offset + done);
      if (n === 0) throw short();
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** A session over a cut of the graph: saved beside the weight file (overridden weights in their own file) and opened from disk. */
function openCut(dir: string, model: Model, name: string, o: SessionOptions | undefined): Promise<RecallSession> {
  // The stage before left its buffers (module weights, Gram outputs, solver arrays) to the
  // collector; hand them back before ORT allocates the session's.
  collectGarbage();
  return createSessionFromFile(model, join(dir, `${name}.onnx`), o, { fileName: 'overrides.onnx.data', align: 4096 });
}

export async function runCompression(o: DriverOptions): Promise<DriverResult> {
  const { config, calibration: cal } = o;
  const H = config.hiddenSize, T = cal.seqlen, N = cal.nsamples;
  const batches = new Batches(cal, o.batchSize ?? defaultBatchSize(config, T));
  const signal = o.signal ?? new AbortController().signal;
  const log: ModuleLog[] = [];
  const statePath = join(o.stateDir, 'state.json');
  let hidden: Float32Array;
  let startLayer = 0;
  let resumedFromLayer: number | undefined;
  const t0 = performance.now();
  const eta = (done: number, total: number) => (done > startLayer ? ((performance.now() - t0) / 1000 / (done - startLayer)) * (total - done) : null);

  if (o.resume && existsSync(statePath)) {
    const st = JSON.parse(readFileSync(statePath, 'utf8')) as Partial<LayerState> & Omit<LayerState, 'format'>;
    if (st.format !== STATE_FORMAT) throw new RecallError('E_INVALID_ARGUMENT', `${o.stateDir}: these checkpoints were written by an older Recall (layout ${st.format ?? 1}, this one reads ${STATE_FORMAT}); start again without --resume`, { file: o.stateDir });
    if (st.fingerprint !== o.fingerprint) throw new RecallError('E_INVALID_ARGUMENT', `${o.stateDir}: a compression with other settings is in progress there; use another --out or drop --resume`, { file: o.stateDir });
    startLayer = resumedFromLayer = st.layer + 1;
    hidden = readHidden(join(o.stateDir, `hidden-${st.layer}.bin`), N * T * H);
    log.push(...st.log);
    // Files of a layer past the commit point (written before a crash) are redone.
    for (const f of readdirSync(o.stateDir)) {
      const m = /^(?:layer-(\d+)\.safetensors|hidden-(\d+)\.bin)$/.exec(f);
      if (m && Number(m[1] ?? m[2]) > st.layer) rmSync(join(o.stateDir, f), { force: true });
    }
  } else {
    rmSync(o.stateDir, { recursive: true, force: true });
    mkdirSync(o.stateDir, { recursive: true });
    hidden = new Float32Array(0);
  }
  const finished = (layers: number, status: DriverResult['status']): DriverResult => ({ status, compressed: new CompressedLayers(o.stateDir, layers), log, ...(resumedFromLayer !== undefined ? { resumedFromLayer } : {}) });
  if (startLayer >= config.numLayers) return finished(config.numLayers, 'completed');

  const { graph, dir } = buildGraph(o);
  const errors = new OutputError(o.session);
  try {
    if (startLayer === 0) hidden = await captureLayer0(o, graph, dir, batches, N * T * H);
    for (let layer = startLayer; layer < config.numLayers; layer++) {
      if (signal.aborted) return finished(layer, 'cancelled');
      const cut = buildLayerGraph(graph, config, layer);
      const lg = { ...cut, model: materialize(o.weights, dir, cut.model, 'layer.onnx.data') };
      const overrides = new Map<string, Float32Array>();
      const done: Compressed[] = [];
      const groups = o.trueSequential ? layerGroups(config, layer) : [layerGroups(config, layer).flat()];
      for (const group of groups) {
        const modules = group.map((g) => lg.modules.find((m) => m.path === g.path)!);
        o.onProgress?.({ layer, layers: config.numLayers, stage: 'hessian', module: modules.map((m) => m.name).join(','), etaSeconds: eta(layer, config.numLayers), fraction: layer / config.numLayers });
        const hessians = await accumulateHessians(o, dir, lg, overrides, batches, hidden, modules);
        if (!hessians) return finished(layer, 'cancelled');
        for (const m of modules) {
          if (signal.aborted) return finished(layer, 'cancelled');
          const started = performance.now();
          const wT = initializerValues(dir, lg.model.graph.initializers.find((t) => t.name === m.weightT)!);
          const w = transpose2d(wT, m.cols, m.rows);
          const h = hessians.get(m.input)!;
          o.onProgress?.({ layer, layers: config.numLayers, stage: 'compress', module: m.name, etaSeconds: eta(layer, config.numLayers), fraction: layer / config.numLayers });
          collectGarbage();
          const r = o.compress(w, m.rows, m.cols, h, m);
          // The layer keeps one copy of each compressed weight: W^T, as the next session reads it.
          if (r) {
            overrides.set(m.weightT, transpose2d(r.weight, m.rows, m.cols));
            done.push({ module: m, ...(r.packed ? { packed: r.packed } : {}) });
          }
          const entry: ModuleLog = {
            layer, module: m.name, path: m.path, rows: m.rows, cols: m.cols, bits: r?.bits ?? null, sparsity: r?.sparsity ?? null,
            damp: r?.damp ?? null, loss: r?.loss ?? 0, relError: r ? await errors.ratio(w, r.weight, m.rows, m.cols, h) : 0,
            seconds: (performance.now() - started) / 1000, skipped: !r,
          };
          log.push(entry);
          o.onModule?.(entry);
          if (!modules.some((x, k) => k > modules.indexOf(m) && x.input === m.input)) hessians.delete(m.input);
        }
      }
      o.onProgress?.({ layer, layers: config.numLayers, stage: 'propagate', etaSeconds: eta(layer, config.numLayers), fraction: (layer + 0.9) / config.numLayers });
      if (!(await propagate(o, dir, lg, overrides, batches, hidden))) return finished(layer, 'cancelled');
      saveLayer(o, layer, hidden, done, overrides, log);
    }
    return finished(config.numLayers, 'completed');
  } finally {
    await errors.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function readHidden(file: string, size: number): Float32Array {
  const out = new Float32Array(size);
  readAt(file, new Uint8Array(out.buffer), 0, () => new RecallError('E_INVALID_ARGUMENT', `${file}: the checkpoint's hidden states are truncated (expected ${out.byteLength} bytes); start again without --resume`, { file }));
  return out;
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

async function captureLayer0(o: DriverOptions, graph: Model, dir: string, batches: Batches, size: number): Promise<Float32Array> {
  const input = graph.graph.nodes.find((n) => n.name === '/model/layers.0/attn_residual/Add')!.inputs[0]!;
  const embed = materialize(o.weights, dir, extractSubgraph(graph, { inputs: [], outputs: [input], name: 'embed' }), 'embed.onnx.data');
  const session = await openCut(dir, embed, 'embed', o.session);
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

async function accumulateHessians(o: DriverOptions, dir: string, lg: LayerGraph, overrides: Map<string, Float32Array>, batches: Batches, hidden: Float32Array, modules: LinearModule[]): Promise<Map<string, Float64Array> | null> {
  const inputs = [...new Set(modules.map((m) => m.input))];
  const sums = new Map(inputs.map((v) => [v, new Float64Array(modules.find((m) => m.input === v)!.cols ** 2)]));
  const session = await openCut(dir, withOverrides(lg.model, overrides), 'layer', o.session);
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

/** The compressed layer run on every calibration batch; its outputs replace `hidden` in place (a batch is read before it is overwritten). */
async function propagate(o: DriverOptions, dir: string, lg: LayerGraph, overrides: Map<string, Float32Array>, batches: Batches, hidden: Float32Array): Promise<boolean> {
  const session = await openCut(dir, withOverrides(lg.model, overrides), 'layer', o.session);
  const TH = batches.cal.seqlen * o.config.hiddenSize;
  try {
    return await runAll(session, batches, hidden, lg.input, [lg.output], o.signal, (out, s) => hidden.set(out[lg.output]!.data as Float32Array, s * TH));
  } finally {
    await session.release();
  }
}

/** Per-layer checkpoint, written so that state.json (the commit point) is renamed last. */
function saveLayer(o: DriverOptions, layer: number, hidden: Float32Array, done: Compressed[], overrides: Map<string, Float32Array>, log: ModuleLog[]): void {
  const tensors: TensorToWrite[] = [];
  const order: [string, string[]][] = [];
  for (const { module: m, packed } of done) {
    tensors.push({ name: `${m.path}.weight`, dtype: 'float32', shape: [m.rows, m.cols], data: () => transpose2d(overrides.get(m.weightT)!, m.cols, m.rows) });
    if (!packed) continue;
    order.push([m.path, Object.keys(packed)]);
    for (const [n, t] of Object.entries(packed)) tensors.push({ name: packedName(m.path, n), dtype: t.dtype satisfies PackedDtype, shape: t.shape, data: t.data });
  }
  const file = layerFile(o.stateDir, layer);
  writeSafetensors(`${file}.tmp`, tensors, { layer: String(layer), packed: JSON.stringify(order) });
  fsyncFile(`${file}.tmp`);
  renameSync(`${file}.tmp`, file);
  atomicWrite(join(o.stateDir, `hidden-${layer}.bin`), Buffer.from(hidden.buffer, hidden.byteOffset, hidden.byteLength));
  // The commit point: until state.json names this layer, a resume starts from the previous one.
  atomicWrite(join(o.stateDir, 'state.json'), JSON.stringify({ format: STATE_FORMAT, layer, fingerprint: o.fingerprint, log } satisfies LayerState));
  rmSync(join(o.stateDir, `hidden-${layer - 1}.bin`), { force: true });
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

function atomicWrite(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try { writeFileSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, file);
}
