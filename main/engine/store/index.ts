// The run store's public surface. Only this folder imports better-sqlite3 (eslint enforces it).

export { openStore, type OpenStoreOptions, type Store } from './store.ts';
export { checkIntegrity, databasePath, journalMode, openDatabase, type SqliteDatabase } from './database.ts';
export { appliedVersion, LATEST_SCHEMA_VERSION, migrate, MIGRATIONS, type Migration, type MigrateResult } from './migrations.ts';
export { insertRunVerbatim, type VerbatimRun } from './run-import.ts';
export { recoverInterruptedRuns, type RecoverOptions } from './recovery.ts';
export { canonicalJson, fingerprint } from './fingerprint.ts';
export { INTERRUPTED_ERROR, RUN_KINDS, RUN_STATUSES, RUN_TRANSITIONS, type RunKind, type RunStatus } from './run-status.ts';
export { runFingerprint, type CreateRunInput, type RunParent, type RunRecord, type RunVersions } from './runs.ts';
export type { RunFilter } from './run-query.ts';
export type { ModelInput, ModelRecord } from './models.ts';
export type { MetricInput, MetricRecord } from './metrics.ts';
export type { ExampleRecord, RecordInput } from './records.ts';
export type { CompressionLogEntry, CompressionLogRecord } from './compression-logs.ts';
export type { CurvePoint } from './training-curves.ts';
export type { SimilarityArray, SimilarityDtype } from './similarity.ts';
export type { ArtifactInput, ArtifactRecord } from './artifacts.ts';
