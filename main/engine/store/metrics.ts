// Scalar results: one value (with its standard error and sample count) per run, task and metric.
// Writing the same run/task/metric again replaces it, so a resumed eval can re-report.

import type { SqliteDatabase } from './database.ts';
import { checkFinite, writeForRun } from './run-write.ts';

export interface MetricInput {
  task: string;
  metric: string;
  value: number;
  stderr?: number | null;
  n?: number | null;
}

export interface MetricRecord {
  runId: number;
  task: string;
  metric: string;
  value: number;
  stderr: number | null;
  n: number | null;
}

interface MetricRow {
  run_id: number;
  task: string;
  metric: string;
  value: number;
  stderr: number | null;
  n: number | null;
}

const toRecord = (r: MetricRow): MetricRecord => ({ runId: r.run_id, task: r.task, metric: r.metric, value: r.value, stderr: r.stderr, n: r.n });

export class MetricsRepository {
  private readonly upsertStmt;
  private readonly listStmt;

  constructor(private readonly db: SqliteDatabase) {
    this.upsertStmt = db.prepare(`INSERT INTO metrics (run_id, task, metric, value, stderr, n) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (run_id, task, metric) DO UPDATE SET value = excluded.value, stderr = excluded.stderr, n = excluded.n`);
    this.listStmt = db.prepare<[number], MetricRow>('SELECT * FROM metrics WHERE run_id = ? ORDER BY task, metric');
  }

  /** Inserts or replaces metrics of one run, all in one transaction. */
  upsert(runId: number, metrics: MetricInput | readonly MetricInput[]): void {
    const list = Array.isArray(metrics) ? (metrics as readonly MetricInput[]) : [metrics as MetricInput];
    for (const m of list) {
      const where = `run ${runId} metric ${m.task}/${m.metric}`;
      // value is required: a missing one is reported like NaN rather than as a NOT NULL failure.
      checkFinite(typeof m.value === 'number' ? m.value : NaN, 'value', where);
      checkFinite(m.stderr, 'stderr', where);
    }
    writeForRun(this.db, runId, 'metrics', () => {
      for (const m of list) this.upsertStmt.run(runId, m.task, m.metric, m.value, m.stderr ?? null, m.n ?? null);
    });
  }

  list(runId: number): MetricRecord[] {
    return this.listStmt.all(runId).map(toRecord);
  }

  /** Metrics of several runs at once (the Compare view's method x task table). */
  forRuns(runIds: readonly number[]): MetricRecord[] {
    if (!runIds.length) return [];
    const sql = `SELECT * FROM metrics WHERE run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY run_id, task, metric`;
    return (this.db.prepare(sql).all(...runIds) as MetricRow[]).map(toRecord);
  }
}
