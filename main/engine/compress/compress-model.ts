// Compress a model folder (METHODS 1): validate the spec, draw calibration data, run the
// layer-sequential driver with the chosen algorithm per module, and write a compressed model
// folder every Recall command accepts (fake-quant / pruned weights in HF layout, a
// quantization_config in config.json), the packed artifacts and the per-module log.

import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { RecallError } from '../errors.ts';
import { loadModelFolder } from '../models/folder.ts';
import { writeSafetensors } from '../models/safetensors-write.ts';
import { Tokenizer } from '../models/tokenizer.ts';
import type { ExecutionProvider } from '../runtime/providers.ts';
import { loadCalibration } from './calibration.ts';
import { type CompressedLayers, type DriverProgress, type ModuleLog, type ModuleResult, type ModuleCompressor, runCompression } from './driver.ts';
import { quantizeGptq, quantizeRtn } from './gptq.ts';
import type { LinearModule } from './layer-graphs.ts';
import { pruneMagnitude } from './magnitude.ts';
import { prestartSolverThreads } from './solver-pool.ts';
import { pruneSparseGpt } from './sparsegpt.ts';

export type CompressMethod = 'rtn' | 'gptq' | 'sparsegpt' | 'magnitude';

export interface CompressSpec {
  method: CompressMethod;
  bits?: number;
  groupSize?: number;
  sym?: boolean;
  actOrder?: boolean;
  staticGroups?: boolean;
  mse?: boolean;
  sparsity?: number;
  /** n:m semi-structured pattern, e.g. [2, 4]. */
  nm?: [number, number];
  percDamp?: number;
  blockSize?: number;
  trueSequential?: boolean;
  /** Regular expressions on module paths to keep dense. */
  skip?: string[];
  /** Per-module overrides, first match wins: e.g. { pattern: 'down_proj', bits: 4 }. */
  overrides?: { pattern: string; bits?: number; groupSize?: number; sparsity?: number }[];
}

export interface CompressOptions {
  model: string;
  out: string;
  spec: CompressSpec;
  calib: string;
  nsamples?: number;
  seqlen?: number;
  seed?: number;
  resume?: boolean;
  ep?: ExecutionProvider;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (p: DriverProgress) => void;
  onModule?: (log: ModuleLog) => void;
  /** Free bytes on the file system of a folder (default: statfs); the disk check reads it. */
  freeBytes?: (dir: string) => number;
}

const bad = (field: string, message: string, value: unknown) => new RecallError('E_COMPRESS_CONFIG', message, { field, value });

/** Check the spec before anything heavy is loaded: one clear error per mistake. */
export function validateSpec(s: CompressSpec): void {
  if (!['rtn', 'gptq', 'sparsegpt', 'magnitude'].includes(s.method)) throw bad('method', `unknown method '${s.method}' (expected rtn, gptq, sparsegpt or magnitude)`, s.method);
  const quant = s.method === 'rtn' || s.method === 'gptq';
  const checkBits = (b: number | undefined, where: string) => {
    if (b !== undefined && !(Number.isInteger(b) && b >= 2 && b <= 8)) throw bad('bits', `${where}bits must be an integer in 2..8 (got ${b})`, b);
  };
  checkBits(s.bits, '');
  if (quant && s.bits === undefined) throw bad('bits', `--bits is required for ${s.method}`, undefined);
  if (s.groupSize !== undefined && !(s.groupSize === -1 || (Number.isInteger(s.groupSize) && s.groupSize > 0))) throw bad('groupSize', `group size must be a positive integer or -1 (got ${s.groupSize})`, s.groupSize);
  const prune = s.method === 'sparsegpt' || s.method === 'magnitude';
  if (prune) {
    if ((s.sparsity === undefined) === (s.nm === undefined)) throw bad('sparsity', `${s.method} needs exactly one of --sparsity or --nm`, s.sparsity);
    if (s.sparsity !== undefined && !(s.sparsity >= 0 && s.sparsity < 1)) throw bad('sparsity', `sparsity must be in [0, 1) (got ${s.sparsity})`, s.sparsity);
    if (s.nm && !(Number.isInteger(s.nm[0]) && Number.isInteger(s.nm[1]) && s.nm[0] >= 1 && s.nm[0] < s.nm[1])) throw bad('nm', `n:m needs integers with 1 <= n < m (got ${s.nm.join(':')})`, s.nm);
  } else if (s.sparsity !== undefined || s.nm) {
    throw bad('sparsity', `${s.method} quantizes; sparsity options belong to sparsegpt or magnitude`, s.sparsity);
  }
  if (s.actOrder && s.method !== 'gptq') throw bad('actOrder', '--act-order applies to gptq only', s.actOrder);
  for (const p of [...(s.skip ?? []), ...(s.overrides ?? []).map((o) => o.pattern)]) {
    try { new RegExp(p); } catch { throw bad('skip', `'${p}' is not a valid regular expression`, p); }
  }
  for (const o of s.overrides ?? []) checkBits(o.bits, `override '${o.pattern}': `);
}

/** The module compressor for a spec: skip rules, per-module overrides, then the algorithm. */
export function moduleCompressor(s: CompressSpec): ModuleCompressor {
  const skips = (s.skip ?? []).map((p) => new RegExp(p));
  const overrides = (s.overrides ?? []).map((o) => ({ ...o, re: new RegExp(o.pattern) }));
  return (w: Float32Array, rows: number, cols: number, h: Float64Array, m: LinearModule): ModuleResult | null => {
    if (skips.some((re) => re.test(m.path))) return null;
    const o = overrides.find((x) => x.re.test(m.path));
    const bits = o?.bits ?? s.bits;
    const groupSize = o?.groupSize ?? s.groupSize ?? -1;
    const quant = bits !== undefined ? { bits, groupSize, sym: s.sym ?? false, mse: s.mse ?? false } : undefined;
    const solver = { blockSize: s.blockSize ?? 128, percDamp: s.percDamp ?? 0.01, name: m.path };
    switch (s.method) {
      case 'rtn': {
        const r = quantizeRtn(w, rows, cols, quant!);
        return { weight: r.weight, loss: 0, bits, packed: quantPacked(r) };
      }
      case 'gptq': {
        const r = quantizeGptq(w, rows, cols, h, { ...quant!, ...solver, actOrder: s.actOrder ?? false, staticGroups: s.staticGroups ?? false });
        return { weight: r.weight, loss: r.loss, bits, damp: r.damp, packed: quantPacked(r) };
      }
      case 'sparsegpt': {
        const sp = o?.sparsity ?? s.sparsity;
        const r = pruneSparseGpt(w, rows, cols, h, { ...solver, ...(s.nm ? { n: s.nm[0], m: s.nm[1] } : { sparsity: sp! }), ...(quant ? { quant } : {}) });
        return { weight: r.weight, loss: r.loss, sparsity: r.sparsity, damp: r.damp, ...(quant ? { bits } : {}), packed: { mask: { dtype: 'uint8', shape: [rows, cols], data: r.mask }, ...(r.quant ? quantPacked(r.quant) : {}) } };
      }
      case 'magnitude': {
        const sp = o?.sparsity ?? s.sparsity;
        const r = pruneMagnitude(w, rows, cols, { ...(s.nm ? { n: s.nm[0], m: s.nm[1] } : { sparsity: sp! }), name: m.path });
        return { weight: r.weight, loss: 0, sparsity: r.sparsity, packed: { mask: { dtype: 'uint8', shape: [rows, cols], data: r.mask } } };
      }
    }
  };
}

function quantPacked(r: { codes: Uint8Array; scales: Float32Array; zeros: Uint8Array; gIdx: Int32Array; rows: number; cols: number }): NonNullable<ModuleResult['packed']> {
  const groups = r.scales.length / r.rows;
  return {
    codes: { dtype: 'uint8', shape: [r.rows, r.cols], data: r.codes },
    scales: { dtype: 'float32', shape: [groups, r.rows], data: r.scales },
    zeros: { dtype: 'uint8', shape: [groups, r.rows], data: r.zeros },
    g_idx: { dtype: 'int32', shape: [r.cols], data: r.gIdx },
  };
}

export interface CompressResult { status: 'completed' | 'cancelled'; out: string; log: ModuleLog[]; calibrationFingerprint: string; resumedFromLayer?: number }

export async function compressModel(o: CompressOptions): Promise<CompressResult> {
  validateSpec(o.spec);
  const folder = loadModelFolder(o.model);
  try {
    const tokenizer = Tokenizer.fromFolder(o.model);
    const seqlen = o.seqlen ?? Math.min(2048, folder.config.maxPositions);
    if (seqlen > folder.config.maxPositions) throw bad('seqlen', `--seqlen ${seqlen} is longer than the model's context (${folder.config.maxPositions})`, seqlen);
    const calibration = loadCalibration({ file: o.calib, nsamples: o.nsamples ?? 128, seqlen, seed: o.seed ?? 0 }, tokenizer, folder.config.vocabSize);
    checkFreeSpace(o, folder);
    // The solver's worker threads start now, so their start-up overlaps building the graph and capturing layer 0.
    if (o.spec.method === 'gptq' || o.spec.method === 'sparsegpt') prestartSolverThreads();
    const fingerprint = createHash('sha256').update(JSON.stringify({ model: o.model, spec: o.spec, calib: calibration.fingerprint, n: calibration.nsamples, T: seqlen, seed: calibration.seed })).digest('hex');
    const r = await runCompression({
      config: folder.config, weights: folder.weights, calibration, compress: moduleCompressor(o.spec), trueSequential: o.spec.trueSequential ?? false,
      stateDir: join(o.out, '.recall-compress'), fingerprint, resume: o.resume ?? false,
      session: { ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}) },
      ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}), ...(o.onModule ? { onModule: o.onModule } : {}),
    });
    const base = { out: o.out, log: r.log, calibrationFingerprint: calibration.fingerprint, ...(r.resumedFromLayer !== undefined ? { resumedFromLayer: r.resumedFromLayer } : {}) };
    try {
      if (r.status === 'cancelled') return { status: 'cancelled', ...base };
      writeOutput(o, folder, r.compressed, r.log, calibration.fingerprint);
    } finally {
      r.compressed.close();
    }
    rmSync(join(o.out, '.recall-compress'), { recursive: true, force: true });
    return { status: 'completed', ...base };
  } finally {
    folder.weights.close();
  }
}

/** Free bytes where `dir` is (or would be created): statfs of its nearest existing ancestor. */
function statfsFree(dir: string): number {
  let d = resolve(dir);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  const s = statfsSync(d);
  return s.bavail * s.bsize;
}

/**
 * The run keeps each finished layer's compressed weights (float32) in its state folder until the
 * end and then writes the compressed model (float32) beside them: about twice the model's
 * float32 bytes, plus one layer's dense weights and the packed codes (counted as 10% more).
 * Refused up front rather than failing with ENOSPC hours in.
 */
function checkFreeSpace(o: CompressOptions, folder: ReturnType<typeof loadModelFolder>): void {
  const float32Bytes = folder.weights.names().reduce((a, n) => a + 4 * folder.weights.info(n).shape.reduce((x, y) => x * y, 1), 0);
  const need = Math.ceil(2.2 * float32Bytes);
  const free = (o.freeBytes ?? statfsFree)(o.out);
  if (free < need) {
    const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
    throw new RecallError('E_NO_SPACE', `${o.out}: compressing ${o.model} needs about ${gb(need)} free (the compressed layers' checkpoints and the compressed model, float32); ${gb(free)} are free there`, { file: o.out, need, free });
  }
}

function writeOutput(o: CompressOptions, folder: ReturnType<typeof loadModelFolder>, compressed: CompressedLayers, log: ModuleLog[], calib: string): void {
  mkdirSync(join(o.out, 'compression'), { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
    if (existsSync(join(o.model, f))) copyFileSync(join(o.model, f), join(o.out, f));
  }
  const config = JSON.parse(readFileSync(join(o.model, 'config.json'), 'utf8')) as Record<string, unknown>;
  const s = o.spec;
  config.quantization_config = {
    quant_method: 'recall', method: s.method, bits: s.bits ?? null, group_size: s.groupSize ?? -1, sym: s.sym ?? false,
    desc_act: s.actOrder ?? false, static_groups: s.staticGroups ?? false, sparsity: s.sparsity ?? null, nm: s.nm ?? null,
    damp_percent: s.percDamp ?? 0.01, true_sequential: s.trueSequential ?? false, calibration: { file: o.calib, sha256: calib, nsamples: o.nsamples ?? 128, seqlen: o.seqlen ?? null, seed: o.seed ?? 0 },
    weights: 'fake-quant float32 (dequantized); packed codes in compression/packed.*',
  };
  writeFileSync(join(o.out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const names = folder.weights.names();
  const tmp = join(o.out, 'model.safetensors.tmp');
  writeSafetensors(tmp, names.map((name) => ({ name, dtype: 'float32' as const, shape: folder.weights.info(name).shape, data: () => (compressed.has(name) ? compressed.weight(name) : folder.weights.readFloat32(name)) })), { format: 'pt' });
  renameSync(tmp, join(o.out, 'model.safetensors'));
  writeFileSync(join(o.out, 'compression', 'log.json'), JSON.stringify({ spec: s, modules: log }, null, 1) + '\n');
  writePacked(join(o.out, 'compression'), compressed);
}

/** Packed artifacts as one binary file plus a JSON index of {module: {tensor: {dtype, shape, offset, bytes}}}. */
function writePacked(dir: string, compressed: CompressedLayers): void {
  const index: Record<string, Record<string, { dtype: string; shape: number[]; offset: number; bytes: number }>> = {};
  const fd = openSync(join(dir, 'packed.bin'), 'w');
  let offset = 0;
  try {
    for (const module of compressed.packedModules()) {
      const tensors = compressed.packed(module);
      index[module] = {};
      for (const [name, t] of Object.entries(tensors)) {
        const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        writeSync(fd, bytes, 0, bytes.length, offset);
        index[module]![name] = { dtype: t.dtype, shape: t.shape, offset, bytes: bytes.length };
        offset += bytes.length;
      }
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(join(dir, 'packed.json'), JSON.stringify(index, null, 1) + '\n');
}
