// The packed execution path (docs/METHODS.md 1.5): the quantized linear modules of a compressed
// model folder run as com.microsoft MatMulNBits on their integer codes instead of MatMul on the
// fake-quant float32 weights. The codes come from Recall's packed artifacts
// (compression/packed.{json,bin}, written by compressModel) or from a GPTQ checkpoint
// (quantization_config.quant_method 'gptq': Recall's export, AutoGPTQ, GPTQModel). Storage: 2-bit
// and 4-bit codes in their own layout, 3-bit codes in the 4-bit one, 5..8-bit in the 8-bit one
// (ORT 1.30 runs MatMulNBits with bits 2, 4 and 8). The blocks of MatMulNBits are contiguous runs
// of input features, so act-order without static groups (a permuted g_idx) is refused.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError, isRecallError } from '../errors.ts';
import type { GraphOptions, PackedLinear } from '../models/graph-options.ts';
import { LanguageModel, type LoadOptions } from '../models/language-model.ts';
import { openModelWeights } from '../models/safetensors.ts';
import { GptqWeights, type QuantizedModule, readGptqFolderConfig } from './load-gptq.ts';
import { packMatMulNBits } from './packing.ts';

interface PackedEntry { dtype: string; shape: number[]; offset: number; bytes: number }

/** Quantized modules of a compressed folder: paths, and each one's codes on demand. */
export interface QuantizedSource {
  /** 'recall' (compression/packed.*) or 'gptq' (qweight/qzeros/scales/g_idx). */
  kind: 'recall' | 'gptq';
  modules(): string[];
  get(module: string): QuantizedModule;
  close(): void;
}

const fail = (message: string, details: Record<string, unknown>) => new RecallError('E_COMPRESS_EXPORT', message, details);

/** Recall's packed artifacts: codes uint8 [rows, cols], scales float32 / zeros uint8 [groups, rows], g_idx int32 [cols]. */
export function openRecallPacked(dir: string): QuantizedSource {
  const cdir = join(dir, 'compression');
  if (!existsSync(join(cdir, 'packed.json'))) throw fail(`${dir}: no compression/packed.json (not a folder written by recall compress)`, { file: dir });
  const index = JSON.parse(readFileSync(join(cdir, 'packed.json'), 'utf8')) as Record<string, Record<string, PackedEntry>>;
  const qc = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { quantization_config?: { bits?: number | null } }).quantization_config;
  const bitsOf = new Map<string, number>();
  if (existsSync(join(cdir, 'log.json'))) {
    const log = JSON.parse(readFileSync(join(cdir, 'log.json'), 'utf8')) as { modules: { path: string; bits: number | null }[] };
    for (const m of log.modules) if (m.bits !== null) bitsOf.set(m.path, m.bits);
  }
  const fd = openSync(join(cdir, 'packed.bin'), 'r');
  const read = (e: PackedEntry): ArrayBuffer => {
    const buf = new Uint8Array(e.bytes);
    let done = 0;
    while (done < e.bytes) {
      const n = readSync(fd, buf, done, e.bytes - done, e.offset + done);
      if (n === 0) throw fail(`${cdir}/packed.bin: truncated at byte ${e.offset + done}`, { file: cdir });
      done += n;
    }
    return buf.buffer;
  };
  const modules = Object.keys(index).filter((m) => index[m]!.codes);
  return {
    kind: 'recall',
    modules: () => modules,
    get(m) {
      const e = index[m];
      if (!e?.codes || !e.scales || !e.zeros || !e.g_idx) throw fail(`${dir}: module '${m}' has no packed codes`, { module: m });
      const [rows, cols] = e.codes.shape as [number, number];
      const nG = e.scales.shape[0]!;
      const gIdx = new Int32Array(read(e.g_idx));
      const bits = bitsOf.get(m) ?? qc?.bits;
      if (typeof bits !== 'number') throw fail(`${dir}: no bit width recorded for '${m}' (compression/log.json)`, { module: m });
      return {
        rows, cols, bits, groupSize: nG === 1 ? -1 : gIdx.reduce((n, g) => n + (g === 0 ? 1 : 0), 0),
        codes: new Uint8Array(read(e.codes)), scales: new Float32Array(read(e.scales)), zeros: new Uint8Array(read(e.zeros)), gIdx,
      };
    },
    close: () => closeSync(fd),
  };
}

/** The quantized modules of a GPTQ checkpoint folder (scales are its float16 values). */
export function openGptqFolder(dir: string): QuantizedSource {
  const cfg = readGptqFolderConfig(dir);
  if (!cfg) throw fail(`${dir}: config.json has no GPTQ quantization_config`, { file: dir });
  const w = new GptqWeights(openModelWeights(dir), cfg);
  return { kind: 'gptq', modules: () => w.quantizedModules(), get: (m) => w.quantizedModule(m), close: () => w.close() };
}

/** Whichever packed form the folder holds: a GPTQ checkpoint, else Recall's packed artifacts. */
export function openQuantized(dir: string): QuantizedSource {
  return readGptqFolderConfig(dir) ? openGptqFolder(dir) : openRecallPacked(dir);
}

/**
 * MatMulNBits weights of every quantized module of a compressed folder. blockSize for modules
 * quantized per whole row (group -1): 128 by default (the row's scale repeated per block).
 */
export function packedLinearWeights(dir: string, o: { blockSizeForRows?: number } = {}): Map<string, PackedLinear> {
  const src = openQuantized(dir);
  const out = new Map<string, PackedLinear>();
  try {
    for (const m of src.modules()) {
      const q = src.get(m);
      try {
        // OPTModel checkpoints store decoder.*; the graph names modules model.decoder.* (folder.ts).
        out.set(m.startsWith('decoder.') ? `model.${m}` : m, packMatMulNBits({ ...q, weight: new Float32Array(0) }, o.blockSizeForRows ?? 128));
      } catch (e) {
        if (isRecallError(e, 'E_COMPRESS_EXPORT') && /contiguous groups/.test(e.message)) {
          throw fail(`${dir}: the packed path cannot run '${m}': it was quantized with act-order without static groups, so its groups are not contiguous runs of input features as MatMulNBits blocks are; use the fake-quant weights, or compress with --act-order --static-groups`, { module: m });
        }
        throw e;
      }
    }
  } finally {
    src.close();
  }
  if (out.size === 0) throw fail(`${dir}: no quantized modules to pack (pruning without quantization has no integer codes)`, { file: dir });
  return out;
}

/** Graph options that run a compressed folder's quantized modules as MatMulNBits. */
export function packedGraphOptions(dir: string, o: { blockSizeForRows?: number } = {}): GraphOptions {
  return { packedLinear: packedLinearWeights(dir, o) };
}

/** LanguageModel.load on the packed path (quantized modules as MatMulNBits). */
export async function loadPackedModel(dir: string, o: LoadOptions = {}): Promise<LanguageModel> {
  return LanguageModel.load(dir, { ...o, graph: { ...o.graph, ...packedGraphOptions(dir) } });
}

/** Bytes of the MatMulNBits initializers (B, scales, zero points) of a set of packed modules. */
export function packedBytes(p: Map<string, PackedLinear>): number {
  let n = 0;
  for (const w of p.values()) n += w.b.byteLength + w.scales.byteLength + w.zeroPoints.byteLength;
  return n;
}
