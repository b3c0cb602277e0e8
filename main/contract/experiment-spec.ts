// An experiment in one object (JSON or YAML on disk): models x compressions x recoveries x tasks x
// seeds. The engine expands it into runs with lineage (compress -> tune -> eval; analyze base vs
// each variant), computing every step once and reusing finished runs with the same fingerprint.
//
//   name: demo
//   models: [demo]                       # 'demo', a model folder, or a store model id
//   calibration: { nsamples: 16, seqlen: 64 }
//   compressions:
//     - { name: dense, method: none }
//     - { name: gptq-3bit, method: gptq, bits: 3, groupSize: 32 }
//     - { name: sparsegpt-50, method: sparsegpt, sparsity: 0.5 }
//   recoveries:
//     - { name: none, method: none }
//     - { name: lora, method: lora, steps: 20, lr: 0.001 }
//   tasks: [demo, benchmarks]            # task names; 'demo' and 'benchmarks' (those found) expand
//   eval: { limit: 100 }
//   analyze: { task: demo_mc, limit: 16 }
//   seeds: [0]

import { z } from 'zod';

const name = z.string({ error: 'expected a name (string)' }).min(1, { error: 'must not be empty' }).max(100).regex(/^[A-Za-z0-9._-]+$/, { error: 'use letters, digits, ".", "_" or "-"' });
const posInt = z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' }).min(1, { error: 'must be at least 1' });
const nonNegInt = z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' }).min(0, { error: 'must be 0 or more' });

export const COMPRESS_METHODS = ['none', 'rtn', 'gptq', 'sparsegpt', 'magnitude'] as const;
export const RECOVERY_METHODS = ['none', 'lora', 'prompt', 'prefix', 'idp'] as const;

export const compressionSchema = z.strictObject({
  name,
  method: z.enum(COMPRESS_METHODS, { error: `expected one of ${COMPRESS_METHODS.join(', ')}` }),
  bits: z.number().int().min(2, { error: 'must be in 2..8' }).max(8, { error: 'must be in 2..8' }).optional(),
  groupSize: z.number().int().refine((g) => g === -1 || g > 0, { error: 'must be a positive integer or -1' }).optional(),
  sym: z.boolean().optional(),
  actOrder: z.boolean().optional(),
  mse: z.boolean().optional(),
  trueSequential: z.boolean().optional(),
  sparsity: z.number().min(0, { error: 'must be in [0, 1)' }).lt(1, { error: 'must be in [0, 1)' }).optional(),
  nm: z.tuple([posInt, posInt]).optional(),
  percDamp: z.number().positive().optional(),
  skip: z.array(z.string()).optional(),
});
export type CompressionSpec = z.infer<typeof compressionSchema>;

export const recoverySchema = z.strictObject({
  name,
  method: z.enum(RECOVERY_METHODS, { error: `expected one of ${RECOVERY_METHODS.join(', ')}` }),
  steps: posInt.optional(),
  lr: z.number().positive({ error: 'must be positive' }).optional(),
  batchSize: posInt.optional(),
  seqLen: posInt.optional(),
  /** Training text (default: the model's calibration / training split). */
  data: z.string().min(1).optional(),
  /**
   * Method options passed to the recovery module (rank, alpha, virtualTokens, prompts, reparam...;
   * init: 'random' | 'vocab' | 'text:<words>' for prompt / IDP, 'random' | 'text:<words>' for prefix).
   * Checked per method when the experiment is planned (experiments/step-inputs.ts METHOD_OPTIONS):
   * an option the method does not take, or a value of the wrong type, is refused by name.
   */
  options: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.array(z.string())])).optional(),
});
export type RecoverySpec = z.infer<typeof recoverySchema>;

export const experimentSpecSchema = z.strictObject({
  name,
  models: z.array(z.union([z.string().min(1), posInt]), { error: 'expected a list of models' }).min(1, { error: 'needs at least one model' }),
  compressions: z.array(compressionSchema).min(1, { error: 'needs at least one compression (method none for dense)' }),
  recoveries: z.array(recoverySchema).default([{ name: 'none', method: 'none' }]),
  tasks: z.array(z.string().min(1)).min(1, { error: 'needs at least one task' }),
  seeds: z.array(nonNegInt).min(1).default([0]),
  calibration: z.strictObject({ file: z.string().min(1).optional(), nsamples: posInt.optional(), seqlen: posInt.optional() }).optional(),
  eval: z.strictObject({ limit: posInt.optional(), shots: nonNegInt.optional(), maxGenTokens: posInt.optional() }).optional(),
  analyze: z.union([
    z.literal(false),
    z.strictObject({ task: z.string().min(1).optional(), texts: z.array(z.string()).min(1).optional(), limit: posInt.optional(), maxTokens: posInt.optional(), cka: z.boolean().optional() }),
  ]).optional(),
  /** Folders searched for the benchmark data (tasks a folder lacks are skipped when 'benchmarks' asked for them). */
  dataDirs: z.array(z.string().min(1)).optional(),
  /** Also train recoveries on the dense model (default: compressed models only). */
  recoverDense: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  const dupes = (xs: { name: string }[], path: string) => {
    const seen = new Set<string>();
    xs.forEach((x, i) => {
      if (seen.has(x.name)) ctx.addIssue({ code: 'custom', path: [path, i, 'name'], message: `duplicate name '${x.name}'` });
      seen.add(x.name);
    });
  };
  dupes(spec.compressions, 'compressions');
  dupes(spec.recoveries, 'recoveries');
});
export type ExperimentSpec = z.infer<typeof experimentSpecSchema>;
export type ExperimentSpecInput = z.input<typeof experimentSpecSchema>;
