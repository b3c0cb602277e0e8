// Read a GPTQ checkpoint (AutoGPTQ / GPTQModel / transformers layout, or Recall's own export):
// per quantized linear module `<m>.qweight` int32 [K * bits / 32, N], `<m>.qzeros` int32
// [nGroups, N * bits / 32], `<m>.scales` float16 [nGroups, N], `<m>.g_idx` int32 [K] (optional:
// contiguous groups of group_size when absent). GptqWeights serves such a folder as the float
// `<m>.weight` [N, K] = scales[g_idx[k], n] * (code[n, k] - zero[g_idx[k], n]) (the fake-quant
// reference path), so every Recall command reads it; quantizedModule() hands out the codes for
// the packed (MatMulNBits) path. Bits are taken per module from the tensor shapes, so mixed-bit
// checkpoints (GPTQModel's `dynamic`) load too.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import { float32ToFloat16Bits } from '../onnx/dtypes.ts';
import type { SafetensorsWeights } from '../models/safetensors.ts';
import type { WeightInfo, WeightSource } from '../models/types.ts';
import { type GptqCheckpointFormat, unpackGptqCheckpoint } from './packing.ts';
import { type GroupQuantized, dequantize } from './quantizer.ts';

/** Codes, per-group scales and zeros and g_idx of one linear module (GroupQuantized without the weight). */
export type QuantizedModule = Pick<GroupQuantized, 'rows' | 'cols' | 'bits' | 'groupSize' | 'codes' | 'zeros' | 'scales' | 'gIdx'>;

export interface GptqFolderConfig {
  bits: number;
  groupSize: number;
  format: GptqCheckpointFormat;
  descAct: boolean;
  sym: boolean;
}

const GPTQ_SUFFIXES = ['qweight', 'qzeros', 'scales', 'g_idx'] as const;

function fail(code: ConstructorParameters<typeof RecallError>[0], message: string, details: Record<string, unknown>): RecallError {
  return new RecallError(code, message, details);
}

/**
 * The GPTQ settings of a model folder: config.json `quantization_config` with quant_method
 * 'gptq', else AutoGPTQ's quantize_config.json; null when the folder is not a GPTQ checkpoint.
 */
export function readGptqFolderConfig(dir: string): GptqFolderConfig | null {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { quantization_config?: Record<string, unknown> };
  let q = cfg.quantization_config;
  if (!q && existsSync(join(dir, 'quantize_config.json'))) q = { quant_method: 'gptq', ...(JSON.parse(readFileSync(join(dir, 'quantize_config.json'), 'utf8')) as Record<string, unknown>) };
  if (!q || q.quant_method !== 'gptq') return null;
  const format = (q.checkpoint_format ?? q.format ?? 'gptq') as string;
  if (format !== 'gptq' && format !== 'gptq_v2') {
    throw fail('E_CONFIG_FIELD', `${dir}: GPTQ checkpoint_format '${format}' is not supported (Recall reads 'gptq' and 'gptq_v2')`, { file: dir, format });
  }
  return {
    bits: Number(q.bits), groupSize: Number(q.group_size ?? -1), format,
    descAct: Boolean(q.desc_act), sym: Boolean(q.sym ?? true),
  };
}

/** Serve a GPTQ checkpoint's quantized modules as dequantized float32 `.weight` tensors. */
export class GptqWeights implements WeightSource {
  /** Module path -> [rows (out features), cols (in features)]. */
  private readonly modules = new Map<string, [number, number]>();
  private readonly hidden = new Set<string>();

  constructor(private readonly inner: SafetensorsWeights, readonly config: GptqFolderConfig) {
    for (const name of inner.names()) {
      if (!name.endsWith('.qweight')) continue;
      const m = name.slice(0, -'.qweight'.length);
      for (const s of GPTQ_SUFFIXES) if (s !== 'g_idx' || inner.has(`${m}.g_idx`)) this.hidden.add(`${m}.${s}`);
      for (const s of ['qzeros', 'scales']) {
        if (!inner.has(`${m}.${s}`)) throw fail('E_MISSING_TENSOR', `${inner.origin}: GPTQ module '${m}' has a qweight but no ${s}`, { file: inner.origin, tensor: `${m}.${s}` });
      }
      const rows = inner.entry(name)!.shape[1]!;
      this.modules.set(m, [rows, this.colsOf(m)]);
    }
  }

  /** Paths of the quantized modules. */
  quantizedModules(): string[] { return [...this.modules.keys()]; }

  names(): string[] {
    const out = this.inner.names().filter((n) => !this.hidden.has(n));
    for (const m of this.modules.keys()) if (!this.inner.has(`${m}.weight`)) out.push(`${m}.weight`);
    return out;
  }

  has(name: string): boolean {
    return this.moduleOf(name) !== undefined || (!this.hidden.has(name) && this.inner.has(name));
  }

  info(name: string): WeightInfo {
    const m = this.moduleOf(name);
    if (m === undefined) return this.inner.info(name);
    return { name, dtype: 'float32', shape: [...this.modules.get(m)!], file: this.inner.fileOf(`${m}.qweight`)! };
  }

  readFloat32(name: string): Float32Array {
    const m = this.moduleOf(name);
    if (m === undefined) return this.inner.readFloat32(name);
    const q = this.quantizedModule(m);
    return dequantize(q.codes, q.scales, q.zeros, q.gIdx, q.rows, q.cols);
  }

  readFloat16(name: string): Uint16Array {
    return this.moduleOf(name) === undefined ? this.inner.readFloat16(name) : Uint16Array.from(this.readFloat32(name), float32ToFloat16Bits);
  }

  readFloat32Chunks(name: string, emit: (chunk: Float32Array) => void): void {
    if (this.moduleOf(name) === undefined) this.inner.readFloat32Chunks(name, emit);
    else emit(this.readFloat32(name));
  }

  close(): void { this.inner.close(); }

  /** Unpacked codes, zeros, scales (float16 values as float32) and g_idx of a quantized module. */
  quantizedModule(m: string): QuantizedModule {
    const shape = this.modules.get(m);
    if (!shape) throw fail('E_MISSING_TENSOR', `${this.inner.origin}: '${m}' is not a GPTQ-quantized module`, { file: this.inner.origin, tensor: `${m}.qweight` });
    const [rows, cols] = shape;
    const qw = this.inner.entry(`${m}.qweight`)!, qz = this.inner.entry(`${m}.qzeros`)!, sc = this.inner.entry(`${m}.scales`)!;
    const bits = (qw.shape[0]! * 32) / cols;
    const nG = sc.shape[0]!;
    const where = `${this.inner.origin}: GPTQ module '${m}'`;
    const expect = (ok: boolean, what: string) => { if (!ok) throw fail('E_SHAPE_MISMATCH', `${where}: ${what}`, { file: this.inner.origin, module: m }); };
    expect(qw.storedDtype === 'I32' && qz.storedDtype === 'I32', `qweight and qzeros must be I32 (got ${qw.storedDtype}, ${qz.storedDtype})`);
    expect(sc.shape.length === 2 && sc.shape[1] === rows, `scales has shape [${sc.shape.join(', ')}], expected [nGroups, ${rows}]`);
    expect(qz.shape[0] === nG && qz.shape[1]! * 32 === rows * bits, `qzeros has shape [${qz.shape.join(', ')}], expected [${nG}, ${(rows * bits) / 32}] for ${bits} bits`);
    const gIdx = this.inner.has(`${m}.g_idx`) ? (this.inner.readInteger(`${m}.g_idx`) as Int32Array) : contiguousGroups(cols, this.config.groupSize);
    expect(gIdx.every((g) => g >= 0 && g < nG), `g_idx holds a group outside [0, ${nG})`);
    const groupSize = nG === 1 ? -1 : gIdx.reduce((n, g) => n + (g === 0 ? 1 : 0), 0);
    return unpackGptqCheckpoint({
      bits, groupSize, format: this.config.format,
      qweight: this.inner.readInteger(`${m}.qweight`) as Int32Array, qweightDims: [qw.shape[0]!, rows],
      qzeros: this.inner.readInteger(`${m}.qzeros`) as Int32Array, qzerosDims: [nG, qz.shape[1]!],
      scales: this.inner.readFloat16(`${m}.scales`), scalesDims: [nG, rows],
      gIdx,
    });
  }

  private colsOf(m: string): number {
    const qw = this.inner.entry(`${m}.qweight`)!;
    const gi = this.inner.entry(`${m}.g_idx`);
    const cols = gi ? gi.shape[0]! : (qw.shape[0]! * 32) / this.config.bits;
    const bits = (qw.shape[0]! * 32) / cols;
    if (![2, 3, 4, 8].includes(bits) || qw.shape.length !== 2) {
      throw fail('E_SHAPE_MISMATCH', `${this.inner.origin}: GPTQ module '${m}': qweight [${qw.shape.join(', ')}] with ${cols} input features is not 2, 3, 4 or 8 bits`, { file: this.inner.origin, module: m });
    }
    return cols;
  }

  private moduleOf(name: string): string | undefined {
    if (!name.endsWith('.weight')) return undefined;
    const m = name.slice(0, -'.weight'.length);
    return this.modules.has(m) ? m : undefined;
  }
}

function contiguousGroups(cols: number, groupSize: number): Int32Array {
  return Int32Array.from({ length: cols }, (_, c) => (groupSize > 0 ? Math.floor(c / groupSize) : 0));
}

