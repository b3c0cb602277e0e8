// Where the views get their data. Each function names the API method it stands for; until
// that method exists in main/contract it answers sample data (fixtures/sample-data.ts) marked
// `sample: true`, and the view says so in a banner. Wiring a method is replacing one body.

import type { Transport } from '../transport/transport.ts';
import {
  SAMPLE_MODELS,
  SAMPLE_RUNS,
  SAMPLE_TASKS,
  sampleCompare,
  sampleJobs,
  sampleLayers,
  sampleRunDetail,
} from '../fixtures/sample-data.ts';
import type { CompareData, ExperimentDraft, JobEntry, LayerData, ModelEntry, RunDetail, RunSummary, Sourced } from './workbench-types.ts';

const sample = <T>(value: T, missing: string): Sourced<T> => ({ value, sample: true, missing });

export interface DataSource {
  models(): Promise<Sourced<ModelEntry[]>>;
  importModel(path: string): Promise<{ ok: true; model: ModelEntry } | { ok: false; message: string }>;
  tasks(): Promise<Sourced<{ id: string; label: string }[]>>;
  runs(): Promise<Sourced<RunSummary[]>>;
  run(id: string): Promise<Sourced<RunDetail | null>>;
  jobs(): Promise<Sourced<JobEntry[]>>;
  cancelJob(id: string): Promise<{ ok: boolean; message?: string }>;
  resumeJob(id: string): Promise<{ ok: boolean; message?: string }>;
  compare(runIds: string[]): Promise<Sourced<CompareData>>;
  layers(runIds: string[]): Promise<Sourced<LayerData>>;
  startExperiment(draft: ExperimentDraft): Promise<{ ok: boolean; message: string }>;
}

export function createDataSource(_transport: Transport): DataSource {
  const importedSample: ModelEntry[] = [];
  return {
    // TODO(models.list): call transport.call('models.list', {}) once the contract has it.
    models: async () => sample([...SAMPLE_MODELS, ...importedSample], 'models.list'),
    // TODO(models.import): call transport.call('models.import', { path }).
    async importModel(path) {
      const p = path.trim();
      if (!p) return { ok: false, message: 'Type the path of a folder holding config.json and *.safetensors.' };
      if (!p.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(p)) return { ok: false, message: 'Use an absolute path (it is read by the engine, not the browser).' };
      const name = p.split(/[\\/]/).filter(Boolean).pop() ?? p;
      const model: ModelEntry = { ...SAMPLE_MODELS[1]!, id: `folder-${importedSample.length}`, name, path: p };
      importedSample.push(model);
      return { ok: true, model };
    },
    // TODO(data.tasks)
    tasks: async () => sample(SAMPLE_TASKS, 'data.tasks'),
    // TODO(runs.list)
    runs: async () => sample(SAMPLE_RUNS, 'runs.list'),
    // TODO(runs.get)
    run: async (id) => sample(sampleRunDetail(id), 'runs.get'),
    // TODO(jobs.list) and the jobs.progress / jobs.log / jobs.done events.
    jobs: async () => sample(sampleJobs(), 'jobs.list'),
    // TODO(jobs.cancel)
    cancelJob: async () => ({ ok: false, message: 'jobs.cancel is not in this engine yet (sample job).' }),
    // TODO(jobs.resume)
    resumeJob: async () => ({ ok: false, message: 'jobs.resume is not in this engine yet (sample job).' }),
    // TODO(runs.compare)
    compare: async (ids) => sample(sampleCompare(ids.length ? ids : undefined), 'runs.compare'),
    // TODO(analyze.start results via runs.get)
    layers: async () => sample(sampleLayers(), 'runs.get (analysis)'),
    // TODO(experiments.create + experiments.run)
    startExperiment: async () => ({ ok: false, message: 'experiments.create is not in this engine yet: the plan is shown, nothing was started.' }),
  };
}
