// Training curves of tune runs: one point per logged step. Points arrive in batches from the
// trainer; a step written twice (after a resume from an earlier checkpoint) keeps the latest.

import type { SqliteDatabase } from './database.ts';
import { checkFinite, writeForRun } from './run-write.ts';

export interface CurvePoint {
  step: number;
  loss?: number | null;
  lr?: number | null;
  evalLoss?: number | null;
  /** Tokens seen so far. */
  tokens?: number | null;
}

interface CurveRow {
  step: number;
  loss: number | null;
  lr: number | null;
  eval_loss: number | null;
  tokens: number | null;
}

export class TrainingCurvesRepository {
  private readonly upsertStmt;
  private readonly listStmt;

  constructor(private readonly db: SqliteDatabase) {
    this.upsertStmt = db.prepare(`INSERT INTO training_curves (run_id, step, loss, lr, eval_loss, tokens) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (run_id, step) DO UPDATE SET loss = excluded.loss, lr = excluded.lr, eval_loss = excluded.eval_loss, tokens = excluded.tokens`);
    this.listStmt = db.prepare<[number], CurveRow>('SELECT step, loss, lr, eval_loss, tokens FROM training_curves WHERE run_id = ? ORDER BY step');
  }

  append(runId: number, points: readonly CurvePoint[]): void {
    // A diverged run's loss is a result worth keeping, but SQLite would store NaN as NULL
    // ("not logged"); refuse it so the trainer reports divergence explicitly instead.
    for (const p of points) for (const f of ['loss', 'lr', 'evalLoss'] as const) checkFinite(p[f], f, `run ${runId} training curve step ${p.step}`);
    writeForRun(this.db, runId, 'training curve', () => {
      for (const p of points) this.upsertStmt.run(runId, p.step, p.loss ?? null, p.lr ?? null, p.evalLoss ?? null, p.tokens ?? null);
    });
  }

  list(runId: number): Required<CurvePoint>[] {
    return this.listStmt.all(runId).map((r) => ({ step: r.step, loss: r.loss, lr: r.lr, evalLoss: r.eval_loss, tokens: r.tokens }));
  }
}
