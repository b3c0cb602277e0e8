// Inserting a run exactly as another Recall recorded it (runs.import of an export bundle):
// status, times, timings and error kept, so an imported run reads as the original. A hook for
// main/engine/experiments/import-bundle.ts; ordinary runs go through RunsRepository.create.

import type { SqliteDatabase } from './database.ts';
import type { RunRecord } from './runs.ts';

export type VerbatimRun = Omit<RunRecord, 'id' | 'parents' | 'ownerPid' | 'ownerHost'> & { parents: { id: number; role: string }[] };

/** Inserts the run and its parent links in one transaction; returns the new id. */
export function insertRunVerbatim(db: SqliteDatabase, r: VerbatimRun): number {
  const insert = db.prepare(`INSERT INTO runs (kind, name, status, model_id, config_json, fingerprint, seed, recall_version, ort_version,
      execution_provider, ep_version, created_at, started_at, finished_at, timings_json, error, resumable)
    VALUES (@kind, @name, @status, @modelId, @config, @fingerprint, @seed, @recall, @ort, @ep, @epVersion, @createdAt, @startedAt, @finishedAt, @timings, @error, @resumable)`);
  const parent = db.prepare('INSERT INTO run_parents (run_id, parent_id, role) VALUES (?, ?, ?)');
  const tx = db.transaction(() => {
    const { lastInsertRowid } = insert.run({
      kind: r.kind, name: r.name, status: r.status, modelId: r.modelId, config: JSON.stringify(r.config), fingerprint: r.fingerprint, seed: r.seed,
      recall: r.versions.recall, ort: r.versions.ort ?? null, ep: r.versions.executionProvider ?? null, epVersion: r.versions.epVersion ?? null,
      createdAt: r.createdAt, startedAt: r.startedAt, finishedAt: r.finishedAt, timings: JSON.stringify(r.timings), error: r.error, resumable: r.resumable ? 1 : 0,
    });
    const id = Number(lastInsertRowid);
    for (const p of r.parents) parent.run(id, p.id, p.role);
    return id;
  });
  return tx.immediate();
}
