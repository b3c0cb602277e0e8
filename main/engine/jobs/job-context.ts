// What a job kind gets inside the job process, and the run config each kind reads. A run's
// config is the whole recipe (the job reads nothing else), so resuming is running the same run
// again. `paths` holds where inputs are on this machine; it is left out of the fingerprint
// (config-fingerprint.ts), while the inputs' sha256 are in it.

import type { CompressSpec } from '../compress/compress-model.ts';
import type { MethodSpec } from '../recover/method-trainers.ts';
import type { ExecutionProvider } from '../runtime/providers.ts';
import type { RunRecord, Store } from '../store/index.ts';

export interface JobContext {
  store: Store;
  run: RunRecord;
  dataDir: string;
  /** The run's folder, <dataDir>/runs/<id>. */
  dir: string;
  resume: boolean;
  signal: AbortSignal;
  session: { ep?: ExecutionProvider; threads?: number };
  progress(fraction: number, stage: string, etaSeconds?: number | null): void;
  log(line: string, level?: 'info' | 'warn'): void;
}

export interface JobKindRunner {
  /** 'cancelled' when the signal stopped it (checkpoints kept). */
  run(ctx: JobContext): Promise<'done' | 'cancelled'>;
  /** Whether a failed run of this kind can be resumed from what it kept. */
  resumable: boolean;
}

export interface CompressJobConfig {
  spec: CompressSpec;
  calibration: { nsamples: number; seqlen: number; sha256: string };
  paths: { calibration: string };
}

export interface EvalJobConfig {
  tasks: string[];
  limit: number | null;
  shots: number;
  maxGenTokens: number | null;
  /** sha256 of each task's data files. */
  data: Record<string, string>;
  paths: { dataDirs: string[] };
}

export interface AnalyzeJobConfig {
  task: string | null;
  texts: string[] | null;
  limit: number | null;
  maxTokens: number | null;
  cka: boolean;
  /** sha256 of the task's data files (task inputs). */
  data: string | null;
  paths: { dataDirs: string[] };
}

export interface TuneJobConfig {
  /** The recovery method with every option filled in (tune-spec.ts). */
  spec: MethodSpec;
  steps: number;
  lr: number | null;
  batchSize: number | null;
  seqLen: number | null;
  data: { sha256: string };
  paths: { data: string };
}

/** The run a job works on top of (its 'input' parent), if any. */
export function inputParent(run: RunRecord): number | undefined {
  return run.parents.find((p) => p.role === 'input')?.id;
}
