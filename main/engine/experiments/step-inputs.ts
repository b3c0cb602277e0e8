// One step of work as a run: its kind, model, config (the whole recipe), seed and parents. The
// *.start methods and experiments build steps here, so a step asked for twice (by hand or by two
// experiments) has one fingerprint and is computed once. A config's `paths` (where inputs sit on
// this machine) are left out of the fingerprint; the inputs' sha256 are in it.

import { createHash } from 'node:crypto';
import type { CompressionSpec, RecoverySpec } from '../../contract/index.ts';
import { DEMO_TASKS_DIR } from '../analysis/inputs.ts';
import { type CompressSpec, validateSpec } from '../compress/compress-model.ts';
import { locateTask, resolveTask } from '../eval/task-data.ts';
import { RecallError } from '../errors.ts';
import type { AnalyzeJobConfig, CompressJobConfig, EvalJobConfig, TuneJobConfig } from '../jobs/job-context.ts';
import { readDecoderConfig } from '../models/config.ts';
import { inspectModel } from '../models/folder.ts';
import { checkSpec, defaultSeqLen } from '../recover/tune.ts';
import type { MethodSpec } from '../recover/method-trainers.ts';
import { checkPrefixInit, parsePrefixInit } from '../recover/prefix-init.ts';
import { parsePromptInit } from '../recover/prompt-init.ts';
import type { ModelRecord, RunRecord } from '../store/index.ts';
import { fileSha256, modelDataFile } from './model-registry.ts';

export type StepKind = 'compress' | 'tune' | 'eval' | 'analyze';

export interface StepInput {
  kind: StepKind;
  name: string;
  model: ModelRecord;
  config: { paths: unknown } & Record<string, unknown>;
  seed: number | null;
  parents: { run: RunRecord; role: string }[];
}

const defined = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function compressStep(model: ModelRecord, c: Omit<CompressionSpec, 'name'> & { name?: string }, calibration: { file?: string; nsamples?: number; seqlen?: number } = {}, seed = 0): StepInput {
  if (c.method === 'none') throw new RecallError('E_INVALID_ARGUMENT', 'method none is the dense model: nothing to compress', { field: 'method' });
  const spec = defined({
    method: c.method, bits: c.bits, groupSize: c.groupSize, sym: c.sym, actOrder: c.actOrder, mse: c.mse, trueSequential: c.trueSequential,
    sparsity: c.sparsity, nm: c.nm, percDamp: c.percDamp, skip: c.skip,
  }) as CompressSpec;
  validateSpec(spec);
  const file = calibration.file ?? modelDataFile(model.sourcePath, 'calibration');
  if (!file) throw new RecallError('E_INVALID_ARGUMENT', `calibration.file is required: ${model.sourcePath} names no calibration split in a recall.json`, { field: 'calibration.file' });
  const maxPositions = inspectModel(model.sourcePath).maxPositions;
  const config: CompressJobConfig = {
    spec, calibration: { nsamples: calibration.nsamples ?? 128, seqlen: calibration.seqlen ?? Math.min(2048, maxPositions), sha256: fileSha256(file) },
    paths: { calibration: file },
  };
  return { kind: 'compress', name: c.name ?? describeCompression(spec), model, config: config as unknown as StepInput['config'], seed, parents: [] };
}

function describeCompression(s: CompressSpec): string {
  return s.bits !== undefined && s.sparsity === undefined ? `${s.method}-${s.bits}bit` : `${s.method}-${Math.round((s.sparsity ?? 0) * 100)}`;
}

type OptionKind = 'int' | 'index' | 'number' | 'boolean' | 'string' | 'strings';
/** The options each recovery method reads, and their types: anything else is refused by name. */
const METHOD_OPTIONS: Readonly<Record<RecoverySpec['method'], Readonly<Record<string, OptionKind>>>> = {
  lora: { rank: 'int', alpha: 'number', targets: 'strings', dropout: 'number' },
  prompt: { virtualTokens: 'int', init: 'string' },
  prefix: { virtualTokens: 'int', reparam: 'boolean', encoderHiddenSize: 'int', init: 'string' },
  idp: { virtualTokens: 'int', prompts: 'int', selLayer: 'index', training: 'string', init: 'string' },
  none: {},
};

function checkMethodOptions(method: RecoverySpec['method'], o: NonNullable<RecoverySpec['options']>): void {
  const allowed = METHOD_OPTIONS[method];
  for (const [k, v] of Object.entries(o)) {
    const kind = allowed[k];
    const field = `options.${k}`;
    if (!kind) throw new RecallError('E_INVALID_ARGUMENT', `${field}: ${method} has no option '${k}'${Object.keys(allowed).length ? ` (it takes ${Object.keys(allowed).join(', ')})` : ''}`, { field, value: v });
    const ok = kind === 'int' ? Number.isInteger(v) && (v as number) > 0
      : kind === 'index' ? Number.isInteger(v) && (v as number) >= 0
      : kind === 'number' ? typeof v === 'number' && Number.isFinite(v)
        : kind === 'boolean' ? typeof v === 'boolean'
          : kind === 'string' ? typeof v === 'string'
            : Array.isArray(v) && v.length > 0;
    const expected = { int: 'a positive integer', index: 'an integer >= 0', number: 'a number', boolean: 'true or false', string: 'a string', strings: 'a non-empty list of names' }[kind];
    if (!ok) throw new RecallError('E_INVALID_ARGUMENT', `${field} must be ${expected} (got ${JSON.stringify(v)})`, { field, value: v });
  }
  if (method === 'lora' && typeof o.dropout === 'number' && !(o.dropout >= 0 && o.dropout < 1)) throw new RecallError('E_INVALID_ARGUMENT', `options.dropout must be in [0, 1) (got ${o.dropout})`, { field: 'options.dropout', value: o.dropout });
  if (method === 'idp' && o.training !== undefined && o.training !== 'joint-hard' && o.training !== 'independent') throw new RecallError('E_INVALID_ARGUMENT', `options.training must be joint-hard or independent (got ${JSON.stringify(o.training)})`, { field: 'options.training', value: o.training });
}

/** A recovery's options, checked against what its method takes, with the recovery module's defaults filled in (METHODS.md 2). */
export function methodSpecOf(r: Pick<RecoverySpec, 'method' | 'options'>): MethodSpec {
  const o = r.options ?? {};
  checkMethodOptions(r.method, o);
  const num = (k: string, d: number) => (typeof o[k] === 'number' ? o[k] : d);
  const initOption = typeof o.init === 'string' ? o.init : 'random';
  switch (r.method) {
    case 'lora': {
      const rank = num('rank', 8);
      // dropout 0 (the default) stays out of the spec, so a LoRA step's fingerprint (and reuse) is as before.
      return { method: 'lora', rank, alpha: num('alpha', rank), targets: Array.isArray(o.targets) ? o.targets : ['q_proj', 'v_proj'], ...(num('dropout', 0) > 0 ? { dropout: num('dropout', 0) } : {}) };
    }
    case 'prompt': return { method: 'prompt', virtualTokens: num('virtualTokens', 25), init: parsePromptInit(initOption) };
    case 'prefix': {
      // init random is the default and stays out of the spec, so a prefix step's fingerprint (and reuse) is as before.
      const init = parsePrefixInit(initOption, 'options.init');
      const spec: MethodSpec = {
        method: 'prefix', virtualTokens: num('virtualTokens', 25), reparam: o.reparam === true, ...(typeof o.encoderHiddenSize === 'number' ? { encoderHiddenSize: o.encoderHiddenSize } : {}),
        ...(init.kind !== 'random' ? { init } : {}),
      };
      checkPrefixInit(spec, 'options.init');
      return spec;
    }
    case 'idp': return {
      method: 'idp', virtualTokens: num('virtualTokens', 25), prompts: num('prompts', 4), selLayer: num('selLayer', 0),
      training: o.training === 'independent' ? 'independent' : 'joint-hard', init: parsePromptInit(initOption),
    };
    default: throw new RecallError('E_INVALID_ARGUMENT', `method ${r.method} trains nothing`, { field: 'method' });
  }
}

/**
 * The recovery's settings checked against the model now (targets of its family, selLayer among
 * its layers, prompt + sequence within its context, a blank init text), so a spec that a tune job
 * would refuse is refused when the experiment is planned, not after its compression has run.
 */
function checkAgainstModel(spec: MethodSpec, model: ModelRecord, seqLen: number | undefined): void {
  const config = readDecoderConfig(model.sourcePath);
  const n = spec.method === 'lora' ? 0 : spec.virtualTokens;
  try {
    checkSpec(spec, { config }, seqLen ?? defaultSeqLen(config, n));
  } catch (e) {
    if (!(e instanceof RecallError)) throw e;
    const raw = typeof e.details.field === 'string' ? e.details.field : 'options';
    const field = raw === 'target_modules' ? 'options.targets' : raw.startsWith('options') ? raw : `options.${raw}`;
    throw new RecallError(e.code, `${field}: ${e.message}`, { ...e.details, field }, { cause: e });
  }
}

export function tuneStep(model: ModelRecord, input: RunRecord | undefined, r: Omit<RecoverySpec, 'name'> & { name?: string }, seed = 0): StepInput {
  const file = r.data ?? modelDataFile(model.sourcePath, 'train') ?? modelDataFile(model.sourcePath, 'calibration');
  if (!file) throw new RecallError('E_INVALID_ARGUMENT', `data is required: ${model.sourcePath} names no training split in a recall.json`, { field: 'data' });
  const spec = methodSpecOf(r);
  checkAgainstModel(spec, model, r.seqLen);
  const config: TuneJobConfig = {
    spec, steps: r.steps ?? 100, lr: r.lr ?? null, batchSize: r.batchSize ?? null, seqLen: r.seqLen ?? null,
    data: { sha256: fileSha256(file) }, paths: { data: file },
  };
  return { kind: 'tune', name: r.name ?? r.method, model, config: config as unknown as StepInput['config'], seed, parents: input ? [{ run: input, role: 'input' }] : [] };
}

/** sha256 over a task's data files, found in dataDirs or among the demo tasks. */
function taskDataSha(task: string, dataDirs: readonly string[]): string {
  const def = resolveTask(task);
  const where = locateTask(def, [...dataDirs, DEMO_TASKS_DIR]);
  if ('missing' in where) throw new RecallError('E_EVAL_TASK', `task ${task} is unavailable: missing ${where.missing.join(', ')}`, { task, missing: where.missing });
  const hash = createHash('sha256');
  for (const p of where.paths) hash.update(fileSha256(p));
  return hash.digest('hex');
}

export interface EvalSettings { limit?: number | undefined; shots?: number | undefined; maxGenTokens?: number | undefined }

export function evalStep(model: ModelRecord, input: RunRecord | undefined, tasks: string[], o: EvalSettings, dataDirs: string[], seed = 1234, name?: string): StepInput {
  const sorted = [...new Set(tasks)].sort();
  const config: EvalJobConfig = {
    tasks: sorted, limit: o.limit ?? null, shots: o.shots ?? 0, maxGenTokens: o.maxGenTokens ?? null,
    data: Object.fromEntries(sorted.map((t) => [t, taskDataSha(t, dataDirs)])), paths: { dataDirs },
  };
  return { kind: 'eval', name: name ?? `eval ${input?.name ?? model.name}`, model, config: config as unknown as StepInput['config'], seed, parents: input ? [{ run: input, role: 'input' }] : [] };
}

export interface AnalyzeSettings { task?: string | undefined; texts?: string[] | undefined; limit?: number | undefined; maxTokens?: number | undefined; cka?: boolean | undefined }

export function analyzeStep(model: ModelRecord, input: RunRecord, o: AnalyzeSettings, dataDirs: string[], name?: string): StepInput {
  if ((o.task === undefined) === (o.texts === undefined)) throw new RecallError('E_INVALID_ARGUMENT', 'analyze: give exactly one of task or texts', { field: 'task' });
  const config: AnalyzeJobConfig = {
    task: o.task ?? null, texts: o.texts ?? null, limit: o.limit ?? null, maxTokens: o.maxTokens ?? null, cka: o.cka ?? false,
    data: o.task ? taskDataSha(o.task, dataDirs) : null, paths: { dataDirs },
  };
  return { kind: 'analyze', name: name ?? `analyze ${input.name}`, model, config: config as unknown as StepInput['config'], seed: null, parents: [{ run: input, role: 'input' }] };
}
