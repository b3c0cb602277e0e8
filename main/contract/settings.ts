// User settings: where data lives, which ONNX Runtime execution provider to ask for, and how many
// intra-op threads.

import { z } from 'zod';
import { EXECUTION_PROVIDERS, MAX_THREADS } from './execution.ts';

const isAbsolutePath = (p: string): boolean => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');

export const settingsSchema = z.strictObject({
  /** Folder for the database and run artifacts (absolute path). */
  dataDir: z
    .string({ error: 'expected a folder path (string)' })
    .min(1, { error: 'must not be empty' })
    .refine(isAbsolutePath, { error: 'must be an absolute path' }),
  executionProvider: z.enum(EXECUTION_PROVIDERS, {
    error: `expected one of ${EXECUTION_PROVIDERS.join(', ')}`,
  }),
  /** Intra-op threads; 0 lets ONNX Runtime choose (one per core). */
  threads: z
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(0, { error: 'must be 0 (automatic) or more' })
    .max(MAX_THREADS, { error: `must be at most ${MAX_THREADS}` }),
});

export type Settings = z.infer<typeof settingsSchema>;

/** settings.set takes any subset of the fields; unknown fields are refused. */
export const settingsPatchSchema = settingsSchema.partial();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
