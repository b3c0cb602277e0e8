// `recall compress`: RTN, GPTQ, SparseGPT or magnitude pruning of a model folder, layer by
// layer, with per-layer progress and ETA, Ctrl-C (resumable) and --resume.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type CompressMethod, type CompressSpec, compressModel, validateSpec } from '../engine/compress/compress-model.ts';
import { type ExportGptqOptions, exportGptq } from '../engine/compress/export-gptq.ts';
import { parseExecutionProvider } from '../engine/runtime/providers.ts';
import { type Parsed, UsageError, optionalInt, parseFlags, requireString } from './args.ts';
import type { Output } from './output.ts';

function num(p: Parsed, name: string): number | undefined {
  const v = p.flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`compress: --${name} must be a number (got '${v}')`);
  return n;
}

/** --calib default: the calibration split a model folder names in its recall.json (the demo model does). */
function defaultCalibration(model: string): string | undefined {
  const meta = join(model, 'recall.json');
  if (!existsSync(meta)) return undefined;
  const cal = (JSON.parse(readFileSync(meta, 'utf8')) as { calibration?: string }).calibration;
  return cal ? resolve(dirname(meta), cal) : undefined;
}

export function specFromFlags(p: Parsed): CompressSpec {
  const nmFlag = p.flags.nm as string | undefined;
  let nm: [number, number] | undefined;
  if (nmFlag !== undefined) {
    const m = /^(\d+):(\d+)$/.exec(nmFlag);
    if (!m) throw new UsageError(`compress: --nm must look like 2:4 (got '${nmFlag}')`);
    nm = [Number(m[1]), Number(m[2])];
  }
  const overrides = ((p.flags.override as string[] | undefined) ?? []).map((o) => {
    const m = /^(.+):bits=(\d+)$/.exec(o);
    if (!m) throw new UsageError(`compress: --override must look like PATTERN:bits=N (got '${o}')`);
    return { pattern: m[1]!, bits: Number(m[2]) };
  });
  const spec: CompressSpec = {
    method: requireString(p, 'method', 'compress') as CompressMethod,
    ...defined({ bits: num(p, 'bits'), groupSize: num(p, 'group-size'), sparsity: num(p, 'sparsity'), percDamp: num(p, 'damp') }),
    sym: Boolean(p.flags.sym), actOrder: Boolean(p.flags['act-order']), staticGroups: Boolean(p.flags['static-groups']),
    mse: Boolean(p.flags.mse), trueSequential: Boolean(p.flags['true-sequential']),
    ...(nm ? { nm } : {}), skip: (p.flags.skip as string[] | undefined) ?? [], overrides,
  };
  validateSpec(spec);
  return spec;
}

export async function compressCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    model: { type: 'string' }, method: { type: 'string' }, bits: { type: 'string' }, 'group-size': { type: 'string' },
    sym: { type: 'boolean' }, 'act-order': { type: 'boolean' }, 'static-groups': { type: 'boolean' }, mse: { type: 'boolean' },
    'true-sequential': { type: 'boolean' }, sparsity: { type: 'string' }, nm: { type: 'string' }, damp: { type: 'string' },
    calib: { type: 'string' }, nsamples: { type: 'string' }, seqlen: { type: 'string' }, seed: { type: 'string' },
    skip: { type: 'string', multiple: true }, override: { type: 'string', multiple: true }, out: { type: 'string' },
    resume: { type: 'boolean' }, ep: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' },
    export: { type: 'string' }, 'export-out': { type: 'string' }, 'export-format': { type: 'string' }, 'export-dtype': { type: 'string' },
  }, 'compress');
  const exportOpts = exportFromFlags(p);
  const model = requireString(p, 'model', 'compress');
  if (exportOpts && p.flags.method === undefined) return runExport(p, out, { ...exportOpts, model, out: requireString(p, 'out', 'compress') });
  const spec = specFromFlags(p);
  const calib = (p.flags.calib as string | undefined) ?? defaultCalibration(model);
  if (!calib) throw new UsageError('compress: --calib FILE is required (a text file, or JSON Lines of token ids)');
  const controller = new AbortController();
  const onSigint = () => { out.warn('cancelling after the current layer step; run again with --resume to continue'); controller.abort(); };
  process.once('SIGINT', onSigint);
  try {
    const r = await compressModel({
      model, out: requireString(p, 'out', 'compress'), spec, calib,
      ...defined({ nsamples: optionalInt(p, 'nsamples', 'compress', 1), seqlen: optionalInt(p, 'seqlen', 'compress', 2), seed: optionalInt(p, 'seed', 'compress', 0), threads: optionalInt(p, 'threads', 'compress', 1) }),
      ...(typeof p.flags.ep === 'string' ? { ep: parseExecutionProvider(p.flags.ep) } : {}),
      resume: Boolean(p.flags.resume), signal: controller.signal,
      onProgress: (e) => {
        if (p.flags.json) out.json({ event: 'progress', ...e });
        else if (e.stage !== 'compress') out.line(`layer ${e.layer + 1}/${e.layers}  ${e.stage}${e.module ? ` ${e.module}` : ''}${e.etaSeconds !== null ? `  ETA ${e.etaSeconds.toFixed(0)} s` : ''}`);
      },
      onModule: (m) => {
        if (p.flags.json) out.json({ event: 'module', ...m });
        else out.line(`  ${m.path}  ${m.rows}x${m.cols}${m.skipped ? '  kept dense' : `  loss ${m.loss.toPrecision(4)}  rel. output error ${m.relError.toExponential(2)}${m.sparsity !== null ? `  sparsity ${(100 * m.sparsity).toFixed(1)}%` : ''}  ${m.seconds.toFixed(2)} s`}`);
      },
    });
    if (p.flags.json) out.json({ event: 'done', status: r.status, out: r.out });
    else out.line(r.status === 'completed' ? `done: compressed model written to ${r.out}` : 'cancelled; resume with --resume');
    if (r.status !== 'completed') return 130;
    return exportOpts ? runExport(p, out, { ...exportOpts, model: r.out, out: (p.flags['export-out'] as string | undefined) ?? `${r.out}-gptq` }) : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** --export gptq [--export-format auto|gptq|gptq_v2] [--export-dtype float16|float32], or null. */
function exportFromFlags(p: Parsed): Omit<ExportGptqOptions, 'model' | 'out'> | null {
  const kind = p.flags.export as string | undefined;
  if (kind === undefined) {
    for (const f of ['export-out', 'export-format', 'export-dtype']) if (p.flags[f] !== undefined) throw new UsageError(`compress: --${f} needs --export gptq`);
    return null;
  }
  if (kind !== 'gptq') throw new UsageError(`compress: --export must be gptq (got '${kind}')`);
  const format = (p.flags['export-format'] as string | undefined) ?? 'auto';
  if (!['auto', 'gptq', 'gptq_v2'].includes(format)) throw new UsageError(`compress: --export-format must be auto, gptq or gptq_v2 (got '${format}')`);
  const dtype = (p.flags['export-dtype'] as string | undefined) ?? 'float16';
  if (dtype !== 'float16' && dtype !== 'float32') throw new UsageError(`compress: --export-dtype must be float16 or float32 (got '${dtype}')`);
  return { format: format as 'auto' | 'gptq' | 'gptq_v2', dtype };
}

function runExport(p: Parsed, out: Output, o: ExportGptqOptions): number {
  const r = exportGptq(o);
  if (p.flags.json) out.json({ event: 'exported', ...r });
  else out.line(`exported GPTQ checkpoint (${r.bits}-bit, group ${r.groupSize}, checkpoint_format ${r.format}, ${r.modules} modules${Object.keys(r.dynamic).length ? `, ${Object.keys(r.dynamic).length} in dynamic` : ''}) to ${r.out}`);
  return 0;
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
