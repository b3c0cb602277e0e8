// Files a run produced (compressed weights, ONNX graphs, adapters, exports), with size and
// sha256 so a later run can verify it reads the very bytes that were recorded. The files live
// in the run's artifacts folder; the store keeps only their description.

import { RecallError } from '../errors.ts';
import type { SqliteDatabase } from './database.ts';
import { writeForRun } from './run-write.ts';

export interface ArtifactInput {
  path: string;
  /** e.g. 'weights', 'onnx', 'adapter', 'export' */
  kind: string;
  bytes: number;
  sha256: string;
}

export interface ArtifactRecord extends ArtifactInput {
  id: number;
  runId: number;
  createdAt: number;
}

interface ArtifactRow {
  id: number;
  run_id: number;
  path: string;
  kind: string;
  bytes: number;
  sha256: string;
  created_at: number;
}

const toRecord = (r: ArtifactRow): ArtifactRecord => ({
  id: r.id,
  runId: r.run_id,
  path: r.path,
  kind: r.kind,
  bytes: r.bytes,
  sha256: r.sha256,
  createdAt: r.created_at,
});

export class ArtifactsRepository {
  private readonly upsertStmt;
  private readonly listStmt;
  private readonly byPathStmt;

  constructor(private readonly db: SqliteDatabase) {
    // Re-recording a path (a resumed run rewrote the file) replaces its size and hash.
    this.upsertStmt = db.prepare(`INSERT INTO artifacts (run_id, path, kind, bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind, bytes = excluded.bytes, sha256 = excluded.sha256, created_at = excluded.created_at`);
    this.listStmt = db.prepare<[number], ArtifactRow>('SELECT * FROM artifacts WHERE run_id = ? ORDER BY id');
    this.byPathStmt = db.prepare<[number, string], ArtifactRow>('SELECT * FROM artifacts WHERE run_id = ? AND path = ?');
  }

  record(runId: number, artifact: ArtifactInput): ArtifactRecord {
    const where = `artifact '${artifact.path}' of run ${runId}`;
    if (!/^[0-9a-f]{64}$/.test(artifact.sha256)) throw new RecallError('E_INVALID_ARGUMENT', `${where}: sha256 must be 64 lowercase hex digits`, { field: 'sha256' });
    if (!Number.isSafeInteger(artifact.bytes) || artifact.bytes < 0) throw new RecallError('E_INVALID_ARGUMENT', `${where}: bytes must be a non-negative integer`, { field: 'bytes' });
    writeForRun(this.db, runId, where, () => this.upsertStmt.run(runId, artifact.path, artifact.kind, artifact.bytes, artifact.sha256, Date.now()));
    return toRecord(this.byPathStmt.get(runId, artifact.path)!);
  }

  list(runId: number): ArtifactRecord[] {
    return this.listStmt.all(runId).map(toRecord);
  }
}
