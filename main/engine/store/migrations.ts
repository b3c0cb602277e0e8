// Numbered, forward-only schema migrations. Each runs in its own transaction and is recorded in
// schema_migrations in that same transaction, so a crash leaves the database at a whole version.
// There are no down migrations: a database from a newer Recall is refused rather than guessed at.
//
// Adding a migration: append {version: n + 1, ...} to MIGRATIONS, run the store tests with
// RECALL_UPDATE_SNAPSHOTS=1 to record new columns, and on release commit a fixture database
// made by `node --import tsx test/store/make-fixture.ts` (the upgrade test picks it up).

import { existsSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import type { SqliteDatabase } from './database.ts';
import { createInitialSchema } from './migration-001-initial.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: SqliteDatabase): void;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', up: createInitialSchema },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const CREATE_LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
)`;

/** The highest migration recorded in the database; 0 for an empty one. */
export function appliedVersion(db: SqliteDatabase): number {
  const ledger = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!ledger) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

export interface MigrateOptions {
  /** Named in messages and used for the pre-upgrade backup; ':memory:' skips the backup. */
  file: string;
  /** Stop after this version (tests walk the versions one by one). Default: the latest. */
  target?: number;
  /** The list to apply (tests substitute their own). Default: MIGRATIONS. */
  migrations?: readonly Migration[];
  /** Copy the file to '<file>.before-v<n>.bak' before upgrading a non-empty database. Default true. */
  backup?: boolean;
}

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
  backup?: string;
}

/** Brings the database up to date. Throws E_STORE_NEWER for a database this code cannot know. */
export function migrate(db: SqliteDatabase, options: MigrateOptions): MigrateResult {
  const migrations = options.migrations ?? MIGRATIONS;
  checkMigrationList(migrations);
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  const target = options.target ?? latest;
  db.exec(CREATE_LEDGER);
  const from = appliedVersion(db);
  if (from > latest) {
    throw new RecallError(
      'E_STORE_NEWER',
      `run database '${options.file}' has schema version ${from}, but this Recall knows versions up to ${latest}: ` +
        'it was written by a newer Recall. Open it with that version (this one will not downgrade it).',
      { file: options.file, databaseVersion: from, knownVersion: latest },
    );
  }
  const pending = migrations.filter((m) => m.version > from && m.version <= target);
  const result: MigrateResult = { from, to: from, applied: [] };
  if (!pending.length) return result;
  if (from > 0 && options.backup !== false && options.file !== ':memory:') {
    const base = `${options.file}.before-v${pending[pending.length - 1]!.version}`;
    // An earlier upgrade attempt may have left a backup: keep it, write a second one beside it.
    result.backup = existsSync(`${base}.bak`) ? `${base}-${Date.now()}.bak` : `${base}.bak`;
    backupTo(db, result.backup);
  }
  // Table rebuilds (the SQLite way to retype or drop a column) need foreign keys off, and the
  // pragma is a no-op inside a transaction; foreign_key_check then proves nothing was orphaned.
  // https://www.sqlite.org/lang_altertable.html#otheralter
  const fkWasOn = db.pragma('foreign_keys', { simple: true }) === 1;
  db.pragma('foreign_keys = OFF');
  try {
    for (const m of pending) {
      applyOne(db, m, options.file);
      result.applied.push(m.version);
      result.to = m.version;
    }
  } finally {
    if (fkWasOn) db.pragma('foreign_keys = ON');
  }
  return result;
}

function applyOne(db: SqliteDatabase, m: Migration, file: string): void {
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const run = db.transaction(() => {
    // Two processes opening a new home at once both see version 0; the second to take the
    // write lock finds the migration done and must not run it again.
    if (appliedVersion(db) >= m.version) return;
    m.up(db);
    const orphans = db.pragma('foreign_key_check') as unknown[];
    if (orphans.length) throw new Error(`${orphans.length} rows violate foreign keys afterwards`);
    record.run(m.version, m.name, Date.now());
  });
  try {
    run.immediate();
  } catch (err) {
    throw new RecallError(
      'E_STORE_MIGRATION',
      `run database '${file}': migration ${m.version} (${m.name}) failed and was rolled back: ${(err as Error).message}`,
      { file, version: m.version },
      { cause: err },
    );
  }
}

/** A consistent copy of the live database (VACUUM INTO reads one snapshot, even under WAL). */
function backupTo(db: SqliteDatabase, path: string): void {
  db.prepare('VACUUM INTO ?').run(path);
}

/** Versions must be 1, 2, 3... in order: a gap or a reorder is a programming error. */
function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list: entry ${i} has version ${m.version}, expected ${i + 1}`);
  });
}
