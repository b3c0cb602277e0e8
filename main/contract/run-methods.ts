// The methods of models, data, jobs, runs and experiments: params schemas (spread into `methods`
// in methods.ts) and result types (merged into MethodResults). Long work answers a JobTicket at
// once; progress arrives as jobs.progress / jobs.log / jobs.done events.

import { z } from 'zod';
import { compressionSchema, experimentSpecSchema, recoverySchema } from './experiment-spec.ts';
import type {
  ExperimentInfo, ExportInfo, ImportInfo, JobInfo, JobTicket, ModelEntry, ModelInspectionInfo, RunDetail, RunSummary,
  TaskAvailability, TaskComparisonInfo,
} from './runs.ts';
import type { RunSimilarityInfo } from './similarity.ts';

const runId = z.number({ error: 'expected a run id (number)' }).int({ error: 'expected a run id (whole number)' }).positive({ error: 'expected a run id (positive)' });
const posInt = z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' }).min(1, { error: 'must be at least 1' });
const path = z.string({ error: 'expected a path (string)' }).min(1, { error: 'must not be empty' });
/** 'demo', a model folder, or the id of an imported model. */
const modelRef = z.union([z.string().min(1), posInt], { error: "expected 'demo', a model folder or a model id" });
const seed = z.number().int({ error: 'expected a whole number' }).min(0, { error: 'must be 0 or more' }).optional();
const force = z.boolean().optional();
const dataDirs = z.array(path).optional();
const kinds = z.enum(['compress', 'tune', 'eval', 'analyze', 'experiment'], { error: 'expected compress, tune, eval, analyze or experiment' });
/** Where an experiment's steps run; default: 'remote' when the remote backend setting is set, else 'local'. */
const backend = z.enum(['local', 'remote'], { error: 'expected local or remote' }).optional();
const statuses = z.enum(['queued', 'running', 'done', 'failed', 'cancelled'], { error: 'expected queued, running, done, failed or cancelled' });

const { name: _cName, ...compressionFields } = compressionSchema.shape;
const { name: _rName, ...recoveryFields } = recoverySchema.shape;

export const runMethods = {
  'models.list': { summary: 'The demo model and the imported model folders.', params: z.strictObject({}) },
  'models.inspect': { summary: 'Architecture, size and memory of a model folder (headers only).', params: z.strictObject({ path }) },
  'models.import': { summary: 'Registers a model folder so runs can use it.', params: z.strictObject({ path, name: z.string().min(1).optional() }) },
  'data.tasks': { summary: 'The tasks a data folder holds, with the paths each was looked for at.', params: z.strictObject({ dataDirs }) },
  'compress.start': {
    summary: 'Compresses a model in a job process (a new compress run).',
    params: z.strictObject({
      model: modelRef, ...compressionFields, method: compressionFields.method.exclude(['none'], { error: 'expected rtn, gptq, sparsegpt or magnitude' }),
      calibration: z.strictObject({ file: path.optional(), nsamples: posInt.optional(), seqlen: posInt.optional() }).optional(),
      seed, name: z.string().optional(), force,
    }),
  },
  'tune.start': {
    summary: 'Trains a recovery (LoRA, prompt, prefix, IDP) on a model or a compressed run.',
    params: z.strictObject({
      parentRunId: runId.optional(), model: modelRef.optional(), ...recoveryFields,
      method: recoveryFields.method.exclude(['none'], { error: 'expected lora, prompt, prefix or idp' }), seed, name: z.string().optional(), force,
    }).refine((p) => (p.parentRunId === undefined) !== (p.model === undefined), { error: 'give exactly one of parentRunId or model', path: ['parentRunId'] }),
  },
  'eval.start': {
    summary: 'Evaluates a model (or a compressed / recovered run) on tasks.',
    params: z.strictObject({
      parentRunId: runId.optional(), model: modelRef.optional(), tasks: z.array(z.string().min(1)).min(1, { error: 'needs at least one task' }),
      limit: posInt.optional(), shots: z.number().int().min(0).optional(), maxGenTokens: posInt.optional(), dataDirs, seed, name: z.string().optional(), force,
    }).refine((p) => (p.parentRunId === undefined) !== (p.model === undefined), { error: 'give exactly one of parentRunId or model', path: ['parentRunId'] }),
  },
  'analyze.start': {
    summary: 'Per-layer similarity of a compressed / recovered run to its base model.',
    params: z.strictObject({
      parentRunId: runId, task: z.string().min(1).optional(), texts: z.array(z.string()).min(1).optional(), limit: posInt.optional(),
      maxTokens: posInt.optional(), cka: z.boolean().optional(), dataDirs, name: z.string().optional(), force,
    }).refine((p) => (p.task === undefined) !== (p.texts === undefined), { error: 'give exactly one of task or texts', path: ['task'] }),
  },
  'experiments.create': { summary: 'Expands an experiment spec into runs (reusing finished ones).', params: z.strictObject({ spec: experimentSpecSchema, force }) },
  'experiments.run': { summary: 'Runs an experiment created by experiments.create (locally, or on the remote workers of the remote backend setting).', params: z.strictObject({ runId, backend }) },
  'experiments.get': { summary: 'An experiment: its steps with their runs and status, and the method x task table.', params: z.strictObject({ runId }) },
  'experiments.cancel': { summary: 'Cancels a running experiment: its running steps are cancelled (resumable), the rest not started.', params: z.strictObject({ runId }) },
  'experiments.resume': { summary: 'Runs the unfinished steps of a failed or cancelled experiment.', params: z.strictObject({ runId, backend }) },
  'runs.list': {
    summary: 'Runs, newest first, with filters.',
    params: z.strictObject({
      kind: z.union([kinds, z.array(kinds)]).optional(), status: z.union([statuses, z.array(statuses)]).optional(), modelId: posInt.optional(),
      parentId: runId.optional(), text: z.string().optional(), order: z.enum(['newest', 'oldest']).optional(), limit: posInt.optional(),
      offset: z.number().int().min(0).optional(),
    }),
  },
  'runs.get': { summary: 'A run with its config, lineage, metrics, logs, curves and similarity kinds.', params: z.strictObject({ runId }) },
  'runs.similarity': {
    summary: "An analyze run's stored similarity arrays: per-layer spreads per measure, per-head attention similarity, and the kept attention maps.",
    params: z.strictObject({ runId, maps: z.boolean().optional() }),
  },
  'runs.records': { summary: "A page of a run's per-example records for one task.", params: z.strictObject({ runId, task: z.string().min(1), offset: z.number().int().min(0).optional(), limit: posInt.optional() }) },
  'runs.delete': { summary: 'Deletes a run, its results and its files (recursive: its descendants too).', params: z.strictObject({ runId, recursive: z.boolean().optional() }) },
  'runs.export': {
    summary: 'Writes runs (with their lineage) as a bundle, CSV or lm-evaluation-harness JSON.',
    params: z.strictObject({
      runIds: z.array(runId).min(1, { error: 'needs at least one run' }), out: path, format: z.enum(['bundle', 'csv', 'harness'], { error: 'expected bundle, csv or harness' }).default('bundle'),
      maxArtifactBytes: z.number().int().min(0).optional(),
    }),
  },
  'runs.import': { summary: 'Reads a bundle written by runs.export into this store.', params: z.strictObject({ path }) },
  'runs.compare': {
    summary: 'Paired statistics (McNemar, bootstrap CI) and flip sets between eval runs on the same items.',
    params: z.strictObject({ a: runId, b: runId, c: runId.optional(), seed, resamples: posInt.optional() }),
  },
  'jobs.list': { summary: 'Jobs of this session: queued, running and finished.', params: z.strictObject({}) },
  'jobs.cancel': { summary: 'Cancels a job (its run stays resumable).', params: z.strictObject({ jobId: z.string().min(1, { error: 'expected a job id' }) }) },
  'jobs.resume': { summary: 'Resumes a failed or cancelled run from its checkpoints.', params: z.strictObject({ runId }) },
} as const satisfies Record<string, { summary: string; params: z.ZodType }>;

export interface RunMethodResults {
  'models.list': ModelEntry[];
  'models.inspect': ModelInspectionInfo;
  'models.import': ModelEntry;
  'data.tasks': TaskAvailability[];
  'compress.start': JobTicket;
  'tune.start': JobTicket;
  'eval.start': JobTicket;
  'analyze.start': JobTicket;
  'experiments.create': ExperimentInfo;
  'experiments.run': ExperimentInfo;
  'experiments.get': ExperimentInfo;
  'experiments.cancel': ExperimentInfo;
  'experiments.resume': ExperimentInfo;
  'runs.list': RunSummary[];
  'runs.get': RunDetail;
  'runs.similarity': RunSimilarityInfo;
  'runs.records': { item: number; payload: unknown }[];
  'runs.delete': { deleted: number[] };
  'runs.export': ExportInfo;
  'runs.import': ImportInfo;
  'runs.compare': TaskComparisonInfo[];
  'jobs.list': JobInfo[];
  'jobs.cancel': JobInfo;
  'jobs.resume': JobTicket;
}
