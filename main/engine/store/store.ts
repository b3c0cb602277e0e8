// The run store: one connection, migrated and recovered on open, with one repository per
// concept. Callers get this object from openStore() and never see SQL.

import { RecallError } from '../errors.ts';
import { ArtifactsRepository } from './artifacts.ts';
import { CompressionLogsRepository } from './compression-logs.ts';
import { openDatabase, type SqliteDatabase } from './database.ts';
import { MetricsRepository } from './metrics.ts';
import { migrate, type MigrateResult } from './migrations.ts';
import { ModelsRepository } from './models.ts';
import { RecordsRepository } from './records.ts';
import { recoverInterruptedRuns, type RecoverOptions } from './recovery.ts';
import { RunsRepository } from './runs.ts';
import { SimilarityRepository } from './similarity.ts';
import { TrainingCurvesRepository } from './training-curves.ts';

export interface Store {
  readonly file: string;
  /** The raw connection, for the store's own tests and diagnostics (integrity checks). */
  readonly db: SqliteDatabase;
  /** What open() migrated (from/to version, the backup file of an upgrade). */
  readonly migration: MigrateResult;
  /** Runs that open() found interrupted and marked failed + resumable. */
  readonly recovered: readonly number[];
  readonly models: ModelsRepository;
  readonly runs: RunsRepository;
  readonly metrics: MetricsRepository;
  readonly records: RecordsRepository;
  readonly compressionLogs: CompressionLogsRepository;
  readonly trainingCurves: TrainingCurvesRepository;
  readonly similarity: SimilarityRepository;
  readonly artifacts: ArtifactsRepository;
  /** Runs `fn` in one transaction (nested calls become savepoints): all of its writes, or none if it throws. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface OpenStoreOptions {
  /** Passed to crash recovery (tests pretend other hosts or dead processes). */
  recovery?: RecoverOptions;
  /** Skip crash recovery (a read-mostly viewer that must not touch other processes' runs). */
  skipRecovery?: boolean;
}

/** Opens the database file, applies pending migrations, recovers interrupted runs. */
export function openStore(file: string, options: OpenStoreOptions = {}): Store {
  const db = openDatabase(file);
  let migration: MigrateResult;
  let recovered: number[];
  try {
    migration = migrate(db, { file });
    recovered = options.skipRecovery ? [] : recoverInterruptedRuns(db, options.recovery);
  } catch (err) {
    db.close();
    if (err instanceof RecallError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new RecallError('E_STORE_CORRUPT', `'${file}' is not a readable Recall database (${(err as Error).message})`, { file }, { cause: err });
    }
    throw err;
  }
  return {
    file,
    db,
    migration,
    recovered,
    models: new ModelsRepository(db),
    runs: new RunsRepository(db),
    metrics: new MetricsRepository(db),
    records: new RecordsRepository(db),
    compressionLogs: new CompressionLogsRepository(db),
    trainingCurves: new TrainingCurvesRepository(db),
    similarity: new SimilarityRepository(db),
    artifacts: new ArtifactsRepository(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    close: () => db.close(),
  };
}
