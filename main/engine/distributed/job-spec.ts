// What travels through the queue: data only, never code. A step job names one run of the
// coordinator's store (its id, kind, config, fingerprint) with its lineage (the runs it is
// computed from, so the worker can rebuild the paths a job kind resolves) and the model record;
// a release job holds the steps that wait for one run. Workers parse every job with these zod
// schemas before touching it, and run only the four job kinds of main/engine/jobs/kinds.

import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '../../contract/index.ts';

export const STEP_FORMAT = 'recall-step/1';
export const RELEASE_FORMAT = 'recall-release/1';

/** A namespace keeps two coordinators' run ids apart on one Redis and one shared folder. */
const ns = z.string().regex(/^[a-z0-9][a-z0-9-]{3,63}$/, { error: 'namespace: lowercase letters, digits and "-"' });
const runId = z.number().int().min(1);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const json: z.ZodType<unknown> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(json), z.record(z.string(), json)]));
const paths = z.array(z.string().min(1).max(4096));

// Each kind's config as job-context.ts declares it; `spec` objects are checked again by the
// engine (validateSpec, the recovery trainers) when the job runs.
const compressConfig = z.strictObject({
  spec: z.record(z.string(), json),
  calibration: z.strictObject({ nsamples: z.number().int().min(1), seqlen: z.number().int().min(1), sha256 }),
  paths: z.strictObject({ calibration: z.string().min(1) }),
});
const tuneConfig = z.strictObject({
  spec: z.record(z.string(), json), steps: z.number().int().min(1), lr: z.number().positive().nullable(),
  batchSize: z.number().int().min(1).nullable(), seqLen: z.number().int().min(1).nullable(),
  data: z.strictObject({ sha256 }), paths: z.strictObject({ data: z.string().min(1) }),
});
const evalConfig = z.strictObject({
  tasks: z.array(z.string().min(1)).min(1), limit: z.number().int().min(1).nullable(), shots: z.number().int().min(0),
  maxGenTokens: z.number().int().min(1).nullable(), data: z.record(z.string(), sha256), paths: z.strictObject({ dataDirs: paths }),
});
const analyzeConfig = z.strictObject({
  task: z.string().min(1).nullable(), texts: z.array(z.string()).nullable(), limit: z.number().int().min(1).nullable(),
  maxTokens: z.number().int().min(1).nullable(), cka: z.boolean(), data: sha256.nullable(), paths: z.strictObject({ dataDirs: paths }),
});

const runBase = {
  id: runId,
  name: z.string().max(300),
  fingerprint: z.string().min(8).max(128),
  seed: z.number().int().nullable(),
  parents: z.array(z.strictObject({ id: runId, role: z.string().min(1).max(40) })).max(8),
};
export const lineageRunSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...runBase, kind: z.literal('compress'), config: compressConfig }),
  z.strictObject({ ...runBase, kind: z.literal('tune'), config: tuneConfig }),
  z.strictObject({ ...runBase, kind: z.literal('eval'), config: evalConfig }),
  z.strictObject({ ...runBase, kind: z.literal('analyze'), config: analyzeConfig }),
]);
export type LineageRun = z.infer<typeof lineageRunSchema>;

export const modelSpecSchema = z.strictObject({
  fingerprint: z.string().min(8).max(128), name: z.string().max(300), architecture: z.string().max(100),
  sourcePath: z.string().min(1).max(4096), info: z.record(z.string(), json),
});

export const stepJobSchema = z.strictObject({
  format: z.literal(STEP_FORMAT),
  ns,
  experimentId: runId,
  runId,
  /** The run first, then its ancestors (input parent, its input parent...). */
  lineage: z.array(lineageRunSchema).min(1).max(16),
  model: modelSpecSchema,
  ep: z.enum(EXECUTION_PROVIDERS).optional(),
  threads: z.number().int().min(1).max(1024).optional(),
}).refine((j) => j.lineage[0]!.id === j.runId, { error: 'lineage[0] must be the run itself' });
export type StepJob = z.infer<typeof stepJobSchema>;

/** A step and the steps that wait for it (one level of the plan's lineage tree). */
export interface StepNode { step: StepJob; dependents: StepNode[] }
export const stepNodeSchema: z.ZodType<StepNode> = z.lazy(() => z.strictObject({ step: stepJobSchema, dependents: z.array(stepNodeSchema).max(256) }));

/** How often a step is tried (a poison job fails after `attempts`), and the first retry's delay. */
export const retryPolicySchema = z.strictObject({ attempts: z.number().int().min(1).max(100), backoffMs: z.number().int().min(0).max(3_600_000) });
export type RetryPolicy = z.infer<typeof retryPolicySchema>;

export const releaseJobSchema = z.strictObject({
  format: z.literal(RELEASE_FORMAT), ns, runId, policy: retryPolicySchema, dependents: z.array(stepNodeSchema).min(1).max(256),
});
export type ReleaseJob = z.infer<typeof releaseJobSchema>;

/** What a step job returns: its end, and where its results were put (absent unless done). */
export const stepReturnSchema = z.strictObject({
  status: z.enum(['done', 'cancelled']),
  result: z.strictObject({ key: z.string().min(1).max(300), sha256, bytes: z.number().int().min(0) }).optional(),
  host: z.string().max(300),
  worker: z.string().max(300),
  /** Whether this attempt continued from checkpoints another attempt left. */
  resumed: z.boolean(),
  /** The result was already in the shared store (a finished attempt that was not reported). */
  reused: z.boolean(),
});
export type StepReturn = z.infer<typeof stepReturnSchema>;

export const stepJobId = (ns: string, runId: number) => `${ns}.r${runId}`;
export const releaseJobId = (ns: string, runId: number) => `${ns}.r${runId}.release`;
