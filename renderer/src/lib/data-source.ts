// Where the views get their data: the engine's API (lib/api-source.ts), or the fixed sample
// study (fixtures/sample-data.ts) when the user chooses to explore it. Sample values are
// marked `sample: true`, and every view says so in a banner.

import {
  SAMPLE_MODELS,
  SAMPLE_RUNS,
  SAMPLE_TASKS,
  sampleCompare,
  sampleJobs,
  sampleLayers,
  sampleRunDetail,
} from '../fixtures/sample-data.ts';
import type { Transport } from '../transport/transport.ts';
import { createApiSource } from './api-source.ts';
import type { CompareData, ExperimentDraft, JobEntry, LayerData, ModelEntry, RunDetail, RunSummary, Sourced } from './workbench-types.ts';

export interface TaskChoice {
  id: string;
  label: string;
  available: boolean;
  hint: string;
}

export interface DataSource {
  models(): Promise<Sourced<ModelEntry[]>>;
  importModel(path: string): Promise<{ ok: true; model: ModelEntry } | { ok: false; message: string }>;
  tasks(): Promise<Sourced<TaskChoice[]>>;
  runs(): Promise<Sourced<RunSummary[]>>;
  run(id: string): Promise<Sourced<RunDetail | null>>;
  jobs(): Promise<Sourced<JobEntry[]>>;
  /** Calls back on any job progress, log line or end; returns the unsubscribe. */
  onJobs(listener: () => void): () => void;
  cancelJob(id: string): Promise<{ ok: boolean; message?: string }>;
  resumeJob(id: string, runId: string | null): Promise<{ ok: boolean; message?: string }>;
  compare(runIds: string[]): Promise<Sourced<CompareData>>;
  layers(runIds: string[]): Promise<Sourced<LayerData>>;
  startExperiment(draft: ExperimentDraft): Promise<{ ok: boolean; message: string }>;
}

const sample = <T>(value: T): Sourced<T> => ({ value, sample: true, missing: null });

export function createSampleSource(): DataSource {
  const imported: ModelEntry[] = [];
  return {
    models: async () => sample([...SAMPLE_MODELS, ...imported]),
    async importModel(path) {
      const p = path.trim();
      if (!p) return { ok: false, message: 'Type the path of a folder holding config.json and *.safetensors.' };
      const model: ModelEntry = { ...SAMPLE_MODELS[1]!, id: `sample-${imported.length}`, name: p.split(/[\\/]/).filter(Boolean).pop() ?? p, path: p };
      imported.push(model);
      return { ok: true, model };
    },
    tasks: async () => sample(SAMPLE_TASKS.map((t) => ({ ...t, available: true, hint: '' }))),
    runs: async () => sample(SAMPLE_RUNS),
    run: async (id) => sample(sampleRunDetail(id)),
    jobs: async () => sample(sampleJobs()),
    onJobs: () => () => undefined,
    cancelJob: async () => ({ ok: false, message: 'This is the sample study: nothing runs, so nothing was cancelled.' }),
    resumeJob: async () => ({ ok: false, message: 'This is the sample study: nothing runs, so nothing was resumed.' }),
    compare: async (ids) => sample(sampleCompare(ids.length ? ids : undefined)),
    layers: async () => sample(sampleLayers()),
    startExperiment: async () => ({ ok: false, message: 'This is the sample study: the plan is shown, nothing was started. Leave the sample study to run it.' }),
  };
}

export function createDataSource(transport: Transport, useSample: boolean): DataSource {
  return useSample ? createSampleSource() : createApiSource(transport);
}
