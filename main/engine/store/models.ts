// Models known to the store, keyed by the content fingerprint of their weights and config (the
// loader computes it), so the same checkpoint found at two paths is one model.

import { RecallError } from '../errors.ts';
import type { SqliteDatabase } from './database.ts';
import { parseJsonColumn, toJsonColumn } from './json-column.ts';

export interface ModelRecord {
  id: number;
  fingerprint: string;
  name: string;
  architecture: string;
  sourcePath: string;
  /** Free-form facts from the loader (parameter count, layers, dtype...). */
  info: Record<string, unknown>;
  createdAt: number;
}

export interface ModelInput {
  fingerprint: string;
  name: string;
  architecture: string;
  sourcePath: string;
  info?: Record<string, unknown>;
}

interface ModelRow {
  id: number;
  fingerprint: string;
  name: string;
  architecture: string;
  source_path: string;
  info_json: string;
  created_at: number;
}

function toRecord(r: ModelRow): ModelRecord {
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    name: r.name,
    architecture: r.architecture,
    sourcePath: r.source_path,
    info: parseJsonColumn(r.info_json, `models.info_json of model ${r.id}`),
    createdAt: r.created_at,
  };
}

export class ModelsRepository {
  private readonly upsertStmt;
  private readonly getStmt;
  private readonly byFingerprintStmt;
  private readonly listStmt;
  private readonly usedByStmt;
  private readonly deleteStmt;

  constructor(private readonly db: SqliteDatabase) {
    // On a fingerprint already known, the latest path and facts win (the folder may have moved).
    this.upsertStmt = db.prepare(`INSERT INTO models (fingerprint, name, architecture, source_path, info_json, created_at)
      VALUES (@fingerprint, @name, @architecture, @sourcePath, @info, @now)
      ON CONFLICT (fingerprint) DO UPDATE SET name = excluded.name, architecture = excluded.architecture,
        source_path = excluded.source_path, info_json = excluded.info_json`);
    this.getStmt = db.prepare<[number], ModelRow>('SELECT * FROM models WHERE id = ?');
    this.byFingerprintStmt = db.prepare<[string], ModelRow>('SELECT * FROM models WHERE fingerprint = ?');
    this.listStmt = db.prepare<[], ModelRow>('SELECT * FROM models ORDER BY name, id');
    this.usedByStmt = db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM runs WHERE model_id = ?');
    this.deleteStmt = db.prepare('DELETE FROM models WHERE id = ?');
  }

  /** Registers a model (or refreshes a known one) and returns it. */
  register(input: ModelInput): ModelRecord {
    if (!input.fingerprint) throw new RecallError('E_INVALID_ARGUMENT', 'model fingerprint must not be empty', { field: 'fingerprint' });
    const info = toJsonColumn(input.info ?? {}, 'model info');
    this.upsertStmt.run({ ...input, info, now: Date.now() });
    return this.getByFingerprint(input.fingerprint)!;
  }

  get(id: number): ModelRecord | undefined {
    const row = this.getStmt.get(id);
    return row && toRecord(row);
  }

  getByFingerprint(fingerprint: string): ModelRecord | undefined {
    const row = this.byFingerprintStmt.get(fingerprint);
    return row && toRecord(row);
  }

  list(): ModelRecord[] {
    return this.listStmt.all().map(toRecord);
  }

  /** Forgets a model; refused while runs refer to it (their results would lose their subject). */
  delete(id: number): void {
    const tx = this.db.transaction(() => {
      const { n } = this.usedByStmt.get(id)!;
      if (n > 0) throw new RecallError('E_RUN_IN_USE', `model ${id} is used by ${n} run(s); delete those runs first`, { modelId: id, runs: n });
      if (this.deleteStmt.run(id).changes === 0) throw new RecallError('E_NOT_FOUND', `model ${id} does not exist`, { modelId: id });
    });
    tx.immediate();
  }
}
