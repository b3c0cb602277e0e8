// Writes that hang off a run (metrics, records, logs...) share one shape: an IMMEDIATE
// transaction (take the write lock up front, so a WAL reader-turned-writer never deadlocks into
// SQLITE_BUSY mid-way) and a clear error when the run does not exist, instead of SQLite's bare
// "FOREIGN KEY constraint failed".

import { RecallError } from '../errors.ts';
import type { SqliteDatabase } from './database.ts';

export function writeForRun<T>(db: SqliteDatabase, runId: number, what: string, body: () => T): T {
  try {
    return db.transaction(body).immediate();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
      throw new RecallError('E_NOT_FOUND', `cannot write ${what}: run ${runId} does not exist`, { runId }, { cause: err });
    }
    throw err;
  }
}

/** Rejects NaN/Infinity where a column must hold a real measurement (SQLite stores NaN as NULL). */
export function checkFinite(value: number | null | undefined, field: string, where: string): void {
  if (value !== null && value !== undefined && !Number.isFinite(value)) {
    throw new RecallError('E_INVALID_ARGUMENT', `${where}: ${field} is ${value}, not a finite number`, { field });
  }
}
