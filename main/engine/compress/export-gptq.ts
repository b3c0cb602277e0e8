// Export a Recall-compressed folder (RTN or GPTQ, 2/3/4/8 bits) in the GPTQ checkpoint layout
// that AutoGPTQ, GPTQModel and transformers load (docs/METHODS.md 1.5; packing.ts):
//   model.safetensors   per quantized module <m>.qweight I32, <m>.qzeros I32, <m>.scales F16,
//                       <m>.g_idx I32 (<m>.bias as is); every other tensor F16 (default) or F32
//   config.json         quantization_config {quant_method 'gptq', bits, group_size, desc_act, sym,
//                       static_groups, damp_percent, true_sequential, checkpoint_format, [dynamic]}
//   quantize_config.json  the same settings (AutoGPTQ reads this file)
//   tokenizer files, generation_config.json
// checkpoint_format 'gptq' (v1: zero - 1 stored) unless some zero point is 0, which only 'gptq_v2'
// holds. Modules whose bits or group size differ from the model's (per-module overrides), and
// modules kept dense, are listed in GPTQModel's `dynamic` ({"+:^path$": {...}}, {"-:^path$": {}}).
// Before writing, each module's codes are dequantized with their float32 scales and checked equal
// to the folder's fake-quant weight, so a folder trained or edited after compression is refused.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import { openModelWeights } from '../models/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../models/safetensors-write.ts';
import { type QuantizedModule } from './load-gptq.ts';
import { openRecallPacked } from './packed-graph.ts';
import { type GptqCheckpointFormat, type GptqCheckpointTensors, gptqQuantizationConfig, packGptqCheckpoint } from './packing.ts';
import { dequantize, groupCount } from './quantizer.ts';

export interface ExportGptqOptions {
  /** A folder written by compressModel (quantization_config.quant_method 'recall'). */
  model: string;
  out: string;
  /** 'auto' (default): 'gptq' (v1) unless a zero point is 0, then 'gptq_v2'. */
  format?: 'auto' | GptqCheckpointFormat;
  /** dtype of the tensors that are not quantized (embeddings, norms, lm_head, dense modules). Default float16. */
  dtype?: 'float16' | 'float32';
  /** Check the codes against the fake-quant weights (default true). */
  verify?: boolean;
}

export interface ExportGptqResult {
  out: string;
  format: GptqCheckpointFormat;
  bits: number;
  groupSize: number;
  modules: number;
  /** Modules listed in quantization_config.dynamic (other bits / group size, or kept dense). */
  dynamic: Record<string, Record<string, number>>;
  bytes: number;
}

const fail = (message: string, details: Record<string, unknown> = {}) => new RecallError('E_COMPRESS_EXPORT', message, details);
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'vocab.json', 'merges.txt', 'tokenizer.model'];
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function mostCommon(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
}

export function exportGptq(o: ExportGptqOptions): ExportGptqResult {
  const config = JSON.parse(readFileSync(join(o.model, 'config.json'), 'utf8')) as Record<string, unknown>;
  const qc = config.quantization_config as Record<string, unknown> | undefined;
  if (qc?.quant_method === 'gptq') throw fail(`${o.model}: already a GPTQ checkpoint`, { file: o.model });
  if (qc?.quant_method !== 'recall') throw fail(`${o.model}: not a folder written by recall compress (config.json has no quantization_config with quant_method 'recall')`, { file: o.model });
  const src = openRecallPacked(o.model);
  const weights = openModelWeights(o.model);
  try {
    const paths = src.modules();
    if (paths.length === 0) throw fail(`${o.model}: no quantized modules (${String(qc.method)} without --bits has no integer codes to export)`, { method: qc.method });
    // Pass 1: bits, groups and zero points of every module (small), and the verification.
    const meta = new Map<string, { bits: number; nG: number; groupSize: number; hasZero0: boolean }>();
    for (const m of paths) {
      const q = src.get(m);
      if (![2, 3, 4, 8].includes(q.bits)) throw fail(`${o.model}: '${m}' has ${q.bits}-bit codes; the GPTQ layout holds 2, 3, 4 or 8 bits`, { module: m, bits: q.bits });
      if (o.verify !== false) verifyModule(o.model, m, q, weights.readFloat32(`${m}.weight`));
      meta.set(m, { bits: q.bits, nG: q.scales.length / q.rows, groupSize: q.groupSize, hasZero0: q.zeros.includes(0) });
    }
    const bits = mostCommon([...meta.values()].map((v) => v.bits));
    const groupSize = typeof qc.group_size === 'number' ? qc.group_size : -1;
    const format: GptqCheckpointFormat = o.format && o.format !== 'auto' ? o.format : [...meta.values()].some((v) => v.hasZero0) ? 'gptq_v2' : 'gptq';
    const dynamic: Record<string, Record<string, number>> = {};
    for (const [m, v] of meta) {
      const cols = weights.entry(`${m}.weight`)!.shape[1]!;
      const d: Record<string, number> = {};
      if (v.bits !== bits) d.bits = v.bits;
      if (v.nG !== groupCount(cols, groupSize > 0 && groupSize < cols ? groupSize : -1)) d.group_size = v.groupSize;
      if (Object.keys(d).length) dynamic[`+:^${escapeRe(m)}$`] = d;
    }
    const dense = (qc.method === 'rtn' || qc.method === 'gptq') ? denseModules(o.model, new Set(paths)) : [];
    for (const m of dense) dynamic[`-:^${escapeRe(m)}$`] = {};

    mkdirSync(o.out, { recursive: true });
    const half = (o.dtype ?? 'float16') === 'float16';
    const tensors: TensorToWrite[] = [];
    let current: { m: string; t: GptqCheckpointTensors } | null = null;
    const packed = (m: string): GptqCheckpointTensors => {
      if (current?.m !== m) current = { m, t: packGptqCheckpoint({ ...src.get(m), weight: new Float32Array(0) }, format) };
      return current.t;
    };
    for (const name of weights.names()) {
      const m = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : '';
      const v = meta.get(m);
      if (v) {
        const { shape } = weights.entry(name)!;
        const [rows, cols] = shape as [number, number];
        const nw = (rows * v.bits) / 32;
        tensors.push(
          { name: `${m}.qweight`, dtype: 'int32', shape: [(cols * v.bits) / 32, rows], data: () => packed(m).qweight },
          { name: `${m}.qzeros`, dtype: 'int32', shape: [v.nG, nw], data: () => packed(m).qzeros },
          { name: `${m}.scales`, dtype: 'float16', shape: [v.nG, rows], data: () => packed(m).scales },
          { name: `${m}.g_idx`, dtype: 'int32', shape: [cols], data: () => packed(m).gIdx },
        );
        continue;
      }
      const shape = weights.entry(name)!.shape;
      tensors.push(half
        ? { name, dtype: 'float16', shape, data: () => weights.readFloat16(name) }
        : { name, dtype: 'float32', shape, data: () => weights.readFloat32(name) });
    }
    const tmp = join(o.out, 'model.safetensors.tmp');
    writeSafetensors(tmp, tensors, { format: 'pt' });
    renameSync(tmp, join(o.out, 'model.safetensors'));

    const quantization: Record<string, unknown> = {
      ...gptqQuantizationConfig({
        bits, groupSize, sym: Boolean(qc.sym), actOrder: Boolean(qc.desc_act), staticGroups: Boolean(qc.static_groups),
        percDamp: typeof qc.damp_percent === 'number' ? qc.damp_percent : 0.01, trueSequential: Boolean(qc.true_sequential), format,
      }),
      ...(Object.keys(dynamic).length ? { dynamic } : {}),
      meta: { quantizer: ['recall'], recall_method: qc.method, recall_calibration: qc.calibration ?? null },
    };
    const { quantization_config: _old, ...rest } = config;
    writeFileSync(join(o.out, 'config.json'), JSON.stringify({ ...rest, ...(half ? { torch_dtype: 'float16' } : {}), quantization_config: quantization }, null, 2) + '\n');
    const { quant_method: _q, ...autoGptq } = quantization;
    writeFileSync(join(o.out, 'quantize_config.json'), JSON.stringify({ ...autoGptq, model_file_base_name: 'model' }, null, 2) + '\n');
    for (const f of TOKENIZER_FILES) if (existsSync(join(o.model, f))) copyFileSync(join(o.model, f), join(o.out, f));
    const bytes = statSync(join(o.out, 'model.safetensors')).size;
    return { out: o.out, format, bits, groupSize, modules: paths.length, dynamic, bytes };
  } finally {
    weights.close();
    src.close();
  }
}

function verifyModule(dir: string, m: string, q: QuantizedModule, w: Float32Array): void {
  const deq = dequantize(q.codes, q.scales, q.zeros, q.gIdx, q.rows, q.cols);
  for (let i = 0; i < deq.length; i++) {
    if (deq[i] !== w[i]) {
      throw fail(`${dir}: the weight of '${m}' differs from its packed codes at [${Math.floor(i / q.cols)}, ${i % q.cols}] (${w[i]} vs ${deq[i]}): was the folder trained or edited after compression?`, { module: m });
    }
  }
}

/** Modules the compression log marks as kept dense (skip rules). */
function denseModules(dir: string, quantized: Set<string>): string[] {
  const file = join(dir, 'compression', 'log.json');
  if (!existsSync(file)) return [];
  const log = JSON.parse(readFileSync(file, 'utf8')) as { modules: { path: string; skipped: boolean }[] };
  return log.modules.filter((m) => m.skipped && !quantized.has(m.path)).map((m) => m.path);
}
