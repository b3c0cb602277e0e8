// A step becomes a run at most once: a finished run with the step's fingerprint is reused, an
// unfinished one (queued, failed or cancelled, resumable) is continued, and only otherwise is a
// run created. `force` creates a new run even when a finished one exists.

import pkg from '../../../package.json' with { type: 'json' };
import { ort } from '../runtime/ort.ts';
import { runFingerprint, type RunRecord, type Store } from '../store/index.ts';
import type { StepInput } from './step-inputs.ts';

export type StepOrigin = 'created' | 'reused' | 'resumed';

/** The fingerprint a step's run has: kind, config without `paths`, seed, model and parents. */
export function stepFingerprint(step: StepInput): string {
  const { paths: _paths, ...config } = step.config;
  return runFingerprint({
    kind: step.kind, config, seed: step.seed, model: step.model.fingerprint,
    parents: step.parents.map((p) => ({ role: p.role, fingerprint: p.run.fingerprint })),
  });
}

export function runVersions(executionProvider?: string): RunRecord['versions'] {
  return { recall: pkg.version, ort: ort.env.versions.node ?? ort.env.versions.common, ...(executionProvider ? { executionProvider } : {}) };
}

export function ensureRun(store: Store, step: StepInput, o: { force?: boolean; executionProvider?: string } = {}): { run: RunRecord; origin: StepOrigin } {
  const fingerprint = stepFingerprint(step);
  if (!o.force) {
    const done = store.runs.findReusableRun(step.kind, fingerprint);
    if (done) return { run: done, origin: 'reused' };
    const open = store.runs.list({ kind: step.kind, status: ['queued', 'running', 'failed', 'cancelled'], order: 'newest' })
      .find((r) => r.fingerprint === fingerprint && (r.status === 'queued' || r.status === 'running' || r.resumable));
    if (open) return { run: open, origin: 'resumed' };
  }
  const run = store.runs.create({
    kind: step.kind, name: step.name, modelId: step.model.id, config: step.config, ...(step.seed !== null ? { seed: step.seed } : {}),
    versions: runVersions(o.executionProvider), parents: step.parents.map((p) => ({ id: p.run.id, role: p.role })), fingerprint,
  });
  return { run, origin: 'created' };
}
