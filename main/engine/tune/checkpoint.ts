// Training checkpoints, written atomically so a crash (kill -9, power loss) at any moment
// leaves the previous checkpoint intact and never a half-written one under a real name.
//
//   <checkpointDir>/
//     step-00000040/            one complete checkpoint per saved step
//       params.safetensors      the trained parameters, by their own names (F32)
//       optimizer.safetensors   exp_avg.<name>, exp_avg_sq.<name> (AdamW) or momentum_buffer.<name> (SGD)
//       state.json              CheckpointState: step, sampler (RNG) position, schedule, loss history...
//     .tmp-step-00000048-...    a write in progress (or one a crash interrupted): ignored, removed later
//     .old-step-00000040-...    a same-step checkpoint being replaced: restored if its replacement never landed
//
// A checkpoint is written into a temp folder in the same directory, each file fsynced, the
// folder fsynced, then renamed to its final name (rename(2) is atomic within a filesystem)
// and the parent fsynced so the rename itself is durable.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';
import { openSafetensors } from '../models/safetensors.ts';
import { writeSafetensors } from '../models/safetensors-write.ts';
import type { SamplerState } from './data.ts';
import type { OptimizerSettings, OptimizerState } from './optimizer.ts';
import type { ScheduleSettings } from './schedule.ts';

export const CHECKPOINT_FORMAT = 'recall.tune.checkpoint';
export const CHECKPOINT_VERSION = 1;
const STEP_DIR = /^step-(\d{8,})$/;
const TEMP_PREFIX = '.tmp-step-';
const OLD_PREFIX = '.old-step-';

export interface StepRecord { step: number; loss: number; lr: number; gradNorm: number; tokens: number }
export interface EvalRecord { step: number; loss: number; tokens: number }

/** What must match for a checkpoint to continue a run (checked on resume). */
export interface RunConfig {
  batchSize: number;
  seqLen: number;
  /** TokenDataset.fingerprint() of the data trained on. */
  data: string;
  gradAccumSteps: number;
  totalSteps: number;
  seed: number;
  optimizer: OptimizerSettings;
  schedule: ScheduleSettings;
  clipNorm: number | null;
  /** Parameter name -> element count. */
  params: Record<string, number>;
}

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  /** Optimizer steps completed; the run continues with step + 1. */
  step: number;
  tokensSeen: number;
  /** The data position at the start of the next step. */
  sampler: SamplerState;
  /** True when the eval due at `step` has not run yet (cancelled during it). */
  pendingEval: boolean;
  config: RunConfig;
  lossHistory: StepRecord[];
  evalHistory: EvalRecord[];
}

export interface Checkpoint {
  dir: string;
  state: CheckpointState;
  params: Map<string, Float32Array>;
  optimizer: OptimizerState;
}

export const checkpointName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

/** fsync a file ('r+') or a directory ('r': Linux and macOS let a read-only directory fd be fsynced). */
function fsyncPath(path: string, mode: 'r' | 'r+'): void {
  const fd = openSync(path, mode);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Complete checkpoints in a directory, oldest first. */
export function listCheckpoints(root: string): { step: number; dir: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ m: STEP_DIR.exec(name), name }))
    .filter((e) => e.m)
    .map((e) => ({ step: Number(e.m![1]), dir: join(root, e.name) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * Clean up after an interrupted save (single writer per directory assumed): temp folders go;
 * a step moved aside for a same-step re-save whose replacement never landed is moved back.
 */
function recoverInterrupted(root: string): void {
  for (const name of readdirSync(root)) {
    if (name.startsWith(TEMP_PREFIX)) rmSync(join(root, name), { recursive: true, force: true });
  }
  for (const name of readdirSync(root)) {
    if (!name.startsWith(OLD_PREFIX)) continue;
    const original = join(root, `step-${name.slice(OLD_PREFIX.length).split('-')[0]}`);
    if (existsSync(original)) rmSync(join(root, name), { recursive: true, force: true });
    else renameSync(join(root, name), original);
  }
}

/** Write a checkpoint atomically; returns its folder. Keeps the newest `keep` checkpoints. */
export function saveCheckpoint(root: string, ck: Omit<Checkpoint, 'dir'>, shapes?: Map<string, number[]>, keep = 2): string {
  mkdirSync(root, { recursive: true });
  recoverInterrupted(root);
  const name = checkpointName(ck.state.step);
  const temp = join(root, `${TEMP_PREFIX}${name.slice(5)}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(temp);
  const files = ['params.safetensors', 'optimizer.safetensors', 'state.json'].map((f) => join(temp, f));
  writeSafetensors(files[0]!, [...ck.params].map(([n, data]) => ({ name: n, dtype: 'float32', shape: shapes?.get(n) ?? [data.length], data })));
  writeSafetensors(files[1]!, [...ck.optimizer.tensors].map(([n, data]) => ({ name: n, dtype: 'float32', shape: [data.length], data })), {
    kind: ck.optimizer.kind,
    step: String(ck.optimizer.step),
  });
  writeFileSync(files[2]!, JSON.stringify(ck.state));
  for (const f of files) fsyncPath(f, 'r+');
  fsyncPath(temp, 'r');
  const final = join(root, name);
  // The same step saved twice (a cancel right after a resume): move the old one aside first,
  // since rename(2) will not replace a non-empty directory.
  if (existsSync(final)) renameSync(final, join(root, `${OLD_PREFIX}${name.slice(5)}-${Date.now().toString(36)}`));
  renameSync(temp, final);
  fsyncPath(root, 'r');
  recoverInterrupted(root);
  const all = listCheckpoints(root);
  for (const old of all.slice(0, Math.max(0, all.length - Math.max(1, keep)))) rmSync(old.dir, { recursive: true, force: true });
  return final;
}

function bad(dir: string, why: string): RecallError {
  return new RecallError('E_INVALID_ARGUMENT', `${dir}: not a usable checkpoint (${why})`, { file: dir });
}

/** Read one checkpoint folder whole. */
export function loadCheckpoint(dir: string): Checkpoint {
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  } catch (e) {
    throw bad(dir, `state.json: ${(e as Error).message}`);
  }
  if (state?.format !== CHECKPOINT_FORMAT || state.version !== CHECKPOINT_VERSION) {
    throw bad(dir, `state.json is not a ${CHECKPOINT_FORMAT} v${CHECKPOINT_VERSION}`);
  }
  const read = (file: string) => {
    const w = openSafetensors(join(dir, file));
    try {
      return { tensors: new Map(w.names().map((n) => [n, w.readFloat32(n)])), meta: w.metadata().get(join(dir, file)) ?? {} };
    } finally {
      w.close();
    }
  };
  const params = read('params.safetensors').tensors;
  const opt = read('optimizer.safetensors');
  const kind = opt.meta.kind;
  if (kind !== 'adamw' && kind !== 'sgd') throw bad(dir, `optimizer.safetensors has kind '${String(kind)}'`);
  return { dir, state, params, optimizer: { kind, step: Number(opt.meta.step), tensors: opt.tensors } };
}

/**
 * The newest checkpoint that loads, or undefined when there is none. A newer one that fails
 * to load (damaged after it was written, say) is skipped for the one before it, and named in `skipped`.
 */
export function loadLatestCheckpoint(root: string): (Checkpoint & { skipped: string[] }) | undefined {
  const skipped: string[] = [];
  if (existsSync(root)) recoverInterrupted(root);
  for (const { dir } of listCheckpoints(root).reverse()) {
    try {
      return { ...loadCheckpoint(dir), skipped };
    } catch (e) {
      skipped.push(`${dir}: ${(e as Error).message}`);
    }
  }
  return undefined;
}
