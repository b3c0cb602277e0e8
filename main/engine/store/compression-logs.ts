// One row per compressed module: what GPTQ/SparseGPT/... did to layer L's module M (shape, bits,
// sparsity, damping) and what it cost (loss, relative error, seconds). Keyed by run, layer and
// module, so a resumed compression re-logging a module replaces its row.

import type { SqliteDatabase } from './database.ts';
import { checkFinite, writeForRun } from './run-write.ts';

export interface CompressionLogEntry {
  layer: number;
  /** e.g. 'self_attn.q_proj' */
  module: string;
  rows: number;
  cols: number;
  bits?: number | null;
  sparsity?: number | null;
  damp?: number | null;
  loss?: number | null;
  relError?: number | null;
  seconds?: number | null;
}

export interface CompressionLogRecord extends Required<CompressionLogEntry> {
  runId: number;
}

interface LogRow {
  run_id: number;
  layer: number;
  module: string;
  rows: number;
  cols: number;
  bits: number | null;
  sparsity: number | null;
  damp: number | null;
  loss: number | null;
  rel_error: number | null;
  seconds: number | null;
}

const REAL_FIELDS = ['bits', 'sparsity', 'damp', 'loss', 'relError', 'seconds'] as const;

export class CompressionLogsRepository {
  private readonly upsertStmt;
  private readonly listStmt;

  constructor(private readonly db: SqliteDatabase) {
    this.upsertStmt = db.prepare(`INSERT INTO compression_logs (run_id, layer, module, rows, cols, bits, sparsity, damp, loss, rel_error, seconds)
      VALUES (@runId, @layer, @module, @rows, @cols, @bits, @sparsity, @damp, @loss, @relError, @seconds)
      ON CONFLICT (run_id, layer, module) DO UPDATE SET rows = excluded.rows, cols = excluded.cols, bits = excluded.bits,
        sparsity = excluded.sparsity, damp = excluded.damp, loss = excluded.loss, rel_error = excluded.rel_error, seconds = excluded.seconds`);
    this.listStmt = db.prepare<[number], LogRow>('SELECT * FROM compression_logs WHERE run_id = ? ORDER BY layer, module');
  }

  log(runId: number, entries: CompressionLogEntry | readonly CompressionLogEntry[]): void {
    const list = Array.isArray(entries) ? (entries as readonly CompressionLogEntry[]) : [entries as CompressionLogEntry];
    // A non-finite loss or error means the solver failed upstream, and SQLite would store NaN as
    // NULL ("not measured"): refuse it so the failure is not recorded as a missing value.
    for (const e of list) for (const f of REAL_FIELDS) checkFinite(e[f], f, `run ${runId} compression log layer ${e.layer} ${e.module}`);
    writeForRun(this.db, runId, 'compression log', () => {
      for (const e of list) {
        this.upsertStmt.run({
          runId,
          layer: e.layer,
          module: e.module,
          rows: e.rows,
          cols: e.cols,
          bits: e.bits ?? null,
          sparsity: e.sparsity ?? null,
          damp: e.damp ?? null,
          loss: e.loss ?? null,
          relError: e.relError ?? null,
          seconds: e.seconds ?? null,
        });
      }
    });
  }

  list(runId: number): CompressionLogRecord[] {
    return this.listStmt.all(runId).map((r) => ({
      runId: r.run_id,
      layer: r.layer,
      module: r.module,
      rows: r.rows,
      cols: r.cols,
      bits: r.bits,
      sparsity: r.sparsity,
      damp: r.damp,
      loss: r.loss,
      relError: r.rel_error,
      seconds: r.seconds,
    }));
  }
}
