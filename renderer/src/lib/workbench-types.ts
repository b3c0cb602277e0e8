// What the views show, in the renderer's own terms. The data source (lib/data-source.ts)
// fills these from the engine's API where its methods exist, and from the sample data in
// fixtures/sample-data.ts where they do not yet.

import type { AttentionHeatmapData } from '../charts/attention-heatmap.ts';
import type { CompressionLogEntry } from '../charts/compression-log.ts';
import type { LayerSeries } from '../charts/layer-similarity.ts';
import type { TrainingCurveData } from '../charts/training-curve.ts';
import type { AccuracyTableData } from '../tables/accuracy-table.ts';

export interface ModelEntry {
  /** 'demo', a store id, or a folder path: what the API accepts as a model reference. */
  id: string;
  name: string;
  source: 'demo' | 'folder';
  path: string;
  /** The folder exists and holds a config.json. */
  available: boolean;
  /** Architecture and size, when the folder could be inspected. */
  details: ModelDetails | null;
}

export interface ModelDetails {
  architecture: string;
  parameters: number;
  layers: number;
  hiddenSize: number;
  heads: number;
  vocabSize: number;
  dtype: string;
  sizeBytes: number;
}

export type RunKind = 'compress' | 'tune' | 'eval' | 'analyze' | 'experiment';
export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface RunSummary {
  id: string;
  name: string;
  kind: RunKind;
  status: RunStatus;
  model: string;
  /** e.g. "GPTQ 3-bit g128"; "dense" for the base model. */
  method: string;
  recovery: string | null;
  tasks: string[];
  seed: number;
  createdAt: string;
  durationSeconds: number | null;
  /** The run this one was made from (a recovery's compressed model, an eval's model run). */
  parentId: string | null;
  experimentId: string | null;
  /** Mean primary metric over the run's tasks, when evaluated. */
  average: number | null;
}

export interface TaskMetric {
  task: string;
  metric: string;
  value: number;
  stderr: number | null;
  items: number;
}

export interface RunDetail extends RunSummary {
  config: Record<string, unknown>;
  metrics: TaskMetric[];
  compressionLog: CompressionLogEntry[] | null;
  training: TrainingCurveData | null;
  artifacts: { name: string; bytes: number }[];
}

export type JobStatus = 'queued' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';

export interface JobEntry {
  id: string;
  runId: string | null;
  label: string;
  kind: RunKind;
  status: JobStatus;
  stage: string;
  fraction: number;
  etaSeconds: number | null;
  startedAt: string;
  log: string[];
  error: string | null;
  /** Set when a `recall worker` runs the job (an experiment step on the remote backend). */
  remote?: { worker: string | null };
}

export interface FlipItem {
  docId: number;
  /** The question and gold answer, when known (sample data; the API gives item ids). */
  prompt?: string;
  answer?: string;
}

export interface FlipGroup {
  /** The engine's flip-set name, e.g. lostByCompression, regainedByRecovery. */
  key: string;
  title: string;
  hint: string;
  items: FlipItem[];
}

export interface TaskFlips {
  task: string;
  groups: FlipGroup[];
}

export interface CompareData {
  table: AccuracyTableData;
  /** Per recovered row label, per task. */
  flips: Record<string, TaskFlips[]>;
}

export interface LayerPrompt {
  id: string;
  text: string;
  /** Why the IDP selector chose it (instruction-driven prompt), e.g. "lost by GPTQ 3-bit". */
  reason: string;
}

/** An analyze run the Layers view can show, grouped by the experiment that made it. */
export interface AnalysisChoice {
  id: string;
  /** The variant analysed, e.g. "gptq-3bit+prompt". */
  label: string;
  /** The experiment's name, or "Separate analyses". */
  group: string;
}

export interface LayerData {
  models: string[];
  /** Live data only: every finished analysis, and the ids shown. */
  analyses?: AnalysisChoice[];
  selected?: string[];
  metrics: { id: 'attention' | 'activation' | 'cka'; label: string; series: LayerSeries[] }[];
  prompts: LayerPrompt[];
  /** Heatmaps per prompt id, per layer (head-averaged or a chosen head). */
  heatmaps: Record<string, AttentionHeatmapData[]>;
}

export interface ExperimentDraft {
  model: string;
  compressions: CompressionChoice[];
  recoveries: RecoveryChoice[];
  tasks: string[];
  seeds: number[];
  limit: number | null;
  name: string;
  /** Calibration samples and their length in tokens for the compressions (engine defaults when absent). */
  calibration?: { nsamples: number | null; seqlen: number | null };
  /** Analyse every variant against the base model on this many items of the first task (false: no analysis). */
  analyze?: { limit: number | null } | false;
}

export interface CompressionChoice {
  method: 'rtn' | 'gptq' | 'sparsegpt' | 'magnitude';
  bits?: number;
  groupSize?: number;
  sparsity?: number;
  nm?: [number, number];
}

/**
 * One recovery as the builder holds it. An option left empty (undefined or null, as an emptied
 * number field reads) is the engine's default (main/engine/experiments/step-inputs.ts methodSpecOf).
 */
export interface RecoveryChoice {
  method: 'lora' | 'prompt' | 'prefix' | 'idp';
  /** LoRA rank (default 8). */
  rank?: number | null;
  /** Virtual tokens of prompt / prefix (default 20 here) and IDP (default 25). */
  tokens?: number | null;
  steps: number;
  /** LoRA scaling alpha (default: the rank). */
  alpha?: number | null;
  /** LoRA dropout in [0, 1) (default 0). */
  dropout?: number | null;
  /** LoRA target modules as typed, comma-separated (default q_proj,v_proj). */
  targets?: string;
  /** Initial prompt / prefix: random (the default), vocab (prompt and IDP only) or the embeddings of `initText`. */
  init?: 'random' | 'vocab' | 'text';
  initText?: string;
  /** Prefix tuning through an MLP (default off; text init needs it off). */
  reparam?: boolean;
  /** IDP's pool of prompts (default 4). */
  prompts?: number | null;
}

/**
 * A value with where it came from: the live API, or sample data (the user chose the sample
 * study: missing null; or the engine lacks the method named in missing).
 */
export type Sourced<T> = { value: T; sample: false } | { value: T; sample: true; missing: string | null };
