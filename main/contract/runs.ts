// Result and event types of runs, jobs, models and experiments: plain data, no zod (the renderer
// imports these types). The schemas of the params are in run-methods.ts.

export type RunKind = 'compress' | 'tune' | 'eval' | 'analyze' | 'experiment';
export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type JobKind = Exclude<RunKind, 'experiment'>;
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** What jobs.start-like methods answer at once; the work goes on in a job process. */
export interface JobTicket {
  jobId: string;
  runId: number;
  /** A finished run with the same inputs and config was found: no job was started (jobId ''). */
  reused: boolean;
}

export interface JobProgress {
  /** 0..1 over the whole job. */
  fraction: number;
  /** e.g. 'layer 2/8 hessian', 'step 40/100', 'arc_easy 120/500'. */
  stage: string;
  etaSeconds: number | null;
}

/** Set on jobs that run on a `recall worker` (an experiment's step on the remote backend). */
export interface RemoteJobFields {
  remote?: true;
  /** The worker running (or that last ran) the step, once one has taken it. */
  worker?: string | null;
}

export interface JobInfo extends RemoteJobFields {
  jobId: string;
  runId: number;
  kind: JobKind;
  state: JobState;
  resume: boolean;
  /** Process id of the job process while it runs. */
  pid: number | null;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  progress: JobProgress | null;
  error: string | null;
}

export interface RunParentRef { id: number; role: string }

export interface RunSummary {
  id: number;
  kind: RunKind;
  name: string;
  status: RunStatus;
  modelId: number | null;
  config: unknown;
  fingerprint: string;
  seed: number | null;
  versions: { recall: string; ort?: string; executionProvider?: string; epVersion?: string };
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  timings: Record<string, number>;
  error: string | null;
  resumable: boolean;
  parents: RunParentRef[];
}

export interface MetricRow { runId: number; task: string; metric: string; value: number; stderr: number | null; n: number | null }
export interface CompressionLogRow {
  runId: number; layer: number; module: string; rows: number; cols: number;
  bits: number | null; sparsity: number | null; damp: number | null; loss: number | null; relError: number | null; seconds: number | null;
}
export interface CurveRow { step: number; loss: number | null; lr: number | null; evalLoss: number | null; tokens: number | null }
export interface ArtifactRow { id: number; runId: number; path: string; kind: string; bytes: number; sha256: string; createdAt: number }

export interface RunDetail extends RunSummary {
  /** Ancestors, nearest first (parent, grandparent...), each with its role. */
  lineage: (RunParentRef & { kind: RunKind; name: string; status: RunStatus })[];
  children: number[];
  metrics: MetricRow[];
  /** Per task: how many per-example records are stored (read them with runs.records). */
  records: Record<string, number>;
  compressionLog: CompressionLogRow[];
  curve: CurveRow[];
  similarityKinds: string[];
  artifacts: ArtifactRow[];
  /** The run's folder of files. */
  dir: string;
  /** The job's log lines (the last ones kept in <dir>/job.log). */
  log: string[];
}

export interface ModelEntry {
  /** Store id once imported (the demo model is imported on first use). */
  id: number | null;
  name: string;
  dir: string;
  source: 'demo' | 'imported';
  architecture: string | null;
  fingerprint: string | null;
  /** The folder exists and holds a config.json. */
  available: boolean;
}

export interface ModelInspectionInfo {
  dir: string;
  modelType: string;
  family: string;
  /** config.json architectures[0], e.g. LlamaForCausalLM. */
  architecture: string;
  /** Parameters stored in the weight files (a tied lm_head is stored once). */
  parameters: number;
  /** Stored dtype of the weights, or 'mixed'. */
  dtype: string;
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  tiedEmbeddings: boolean;
  /** Bytes to hold the weights as float32 / float16. */
  memory: { float32: number; float16: number };
  weightFiles: { file: string; bytes: number }[];
  hasTokenizer: boolean;
}

export interface TaskAvailability {
  name: string;
  /** One of the nine benchmarks (not a demo task). */
  benchmark: boolean;
  available: boolean;
  /** The files used, when available. */
  files: string[];
  /** Every path looked for (all data folders), when unavailable. */
  lookedFor: string[];
}

export interface PlanStepInfo {
  key: string;
  kind: JobKind;
  label: string;
  runId: number;
  status: RunStatus;
  /** 'reused' = a finished run with the same fingerprint stands in for it. */
  origin: 'created' | 'reused' | 'resumed';
  parents: string[];
}

/** One row of the method x task table: a model variant's primary metric per task. */
export interface ExperimentRow {
  model: string;
  compression: string;
  recovery: string;
  seed: number;
  evalRunId: number;
  status: RunStatus;
  /** task -> primary metric (acc for the knowledge tasks) with its stderr. */
  values: Record<string, { metric: string; value: number; stderr: number | null }>;
}

export interface ExperimentInfo {
  runId: number;
  name: string;
  status: RunStatus;
  steps: PlanStepInfo[];
  created: number;
  reused: number;
  resumed: number;
  tasks: string[];
  table: ExperimentRow[];
}

export interface ExportInfo { path: string; bytes: number; runs: number; format: 'bundle' | 'csv' | 'harness' }
export interface ImportInfo { runs: { from: number; to: number; reused: boolean }[]; artifacts: number; missingArtifacts: string[] }

export interface TaskComparisonInfo {
  task: string;
  metric: string;
  paired: number;
  accA: number;
  accB: number;
  accC?: number;
  difference: { diff: number; lower: number; upper: number; level: number };
  mcnemar: { b: number; c: number; p: number };
  flips: Record<string, number[]>;
}

/** Event payloads. */
export interface JobProgressEvent extends JobProgress, RemoteJobFields { jobId: string; runId: number; kind: JobKind }
export interface JobLogEvent { jobId: string; runId: number; level: 'info' | 'warn'; line: string }
export interface JobDoneEvent extends RemoteJobFields { jobId: string; runId: number; kind: JobKind; status: 'done' | 'failed' | 'cancelled'; error: string | null; resumable: boolean }
/** A run was created, changed status, or (deleted: true) was deleted. */
export interface RunUpdatedEvent { runId: number; kind: RunKind; status: RunStatus; deleted?: boolean }
