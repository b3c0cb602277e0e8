// User settings: where data lives, which ONNX Runtime execution provider to ask for, and how many
// intra-op threads.

import { z } from 'zod';
import { EXECUTION_PROVIDERS, MAX_THREADS } from './execution.ts';

const isAbsolutePath = (p: string): boolean => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');

const redisUrlIssue = (v: string): string | null => {
  let u: URL;
  try { u = new URL(v); } catch { return 'expected redis://host:port[/db] or rediss://...'; }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `unsupported scheme '${u.protocol}' (redis: or rediss:)`;
  if (!u.hostname) return 'needs a host';
  if (u.password) return 'must not hold a password (settings.json is plain text): set RECALL_REDIS_PASSWORD for the engine, or give passwordFile';
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) return `database '${db}' is not a number`;
  return null;
};

/**
 * A remote backend: experiments' steps go to `recall worker` processes through BullMQ on Redis
 * (docs/DISTRIBUTED.md). The password is never kept here: it comes from RECALL_REDIS_PASSWORD in
 * the engine's environment, or from the first line of passwordFile.
 */
export const remoteBackendSchema = z.strictObject({
  redisUrl: z.string({ error: 'expected a Redis URL (string)' }).superRefine((v, ctx) => {
    const issue = redisUrlIssue(v);
    if (issue) ctx.addIssue({ code: 'custom', message: issue });
  }),
  /** Storage every host mounts at the same path (absolute). */
  artifactsDir: z.string({ error: 'expected a folder path (string)' }).min(1, { error: 'must not be empty' }).refine(isAbsolutePath, { error: 'must be an absolute path' }),
  /** A file whose first line is the Redis password (absolute). */
  passwordFile: z.string({ error: 'expected a file path (string)' }).refine(isAbsolutePath, { error: 'must be an absolute path' }).optional(),
  /** Queue name prefix shared with the workers (default 'recall'). */
  prefix: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, { error: "letters, digits, '_' or '-' (at most 40)" }).optional(),
});
export type RemoteBackendSettings = z.infer<typeof remoteBackendSchema>;

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
  /** Where experiments run when remote: null or absent means local only. */
  remote: remoteBackendSchema.nullable().optional(),
});

export type Settings = z.infer<typeof settingsSchema>;

/** settings.set takes any subset of the fields; unknown fields are refused. */
export const settingsPatchSchema = settingsSchema.partial();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
