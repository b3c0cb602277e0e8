// The one place that opens SQLite. Every connection gets the same pragmas:
// - WAL, so readers (the UI, `recall runs`) never block the job writing, and a process killed
//   mid-transaction leaves the database at its last commit (https://sqlite.org/wal.html);
// - synchronous=FULL, because "nothing finished is ever lost" must hold across power loss too,
//   not only process death (NORMAL in WAL may drop the last commits on power loss);
// - foreign_keys on, which SQLite leaves off per connection by default;
// - a busy timeout, so a second process waits for the writer's lock instead of failing at once.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RecallError } from '../errors.ts';

/** The connection type, re-exported so no other module needs to import better-sqlite3. */
export type SqliteDatabase = Database.Database;

export const DATABASE_FILE_NAME = 'recall.db';
export const BUSY_TIMEOUT_MS = 5000;

/** The run database inside a data directory (see settings/home.ts for how the home is chosen). */
export function databasePath(home: string): string {
  return join(home, DATABASE_FILE_NAME);
}

export interface OpenOptions {
  /** Open read-only (a viewer next to a running job); no migrations, no recovery. */
  readonly?: boolean;
}

/** Opens (creating if needed) a database file with Recall's pragmas. ':memory:' works for tests. */
export function openDatabase(file: string, options: OpenOptions = {}): SqliteDatabase {
  if (file !== ':memory:' && !options.readonly) mkdirSync(dirname(file), { recursive: true });
  let db: SqliteDatabase;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (err) {
    throw new RecallError('E_IO', `cannot open run database '${file}': ${(err as Error).message}`, { file }, { cause: err });
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // The first statement that reads the header is where a non-database file shows up.
    if (!options.readonly) db.pragma('journal_mode = WAL');
    else db.pragma('schema_version');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new RecallError('E_STORE_CORRUPT', `'${file}' is not a readable Recall database (${(err as Error).message})`, { file }, { cause: err });
    }
    throw new RecallError('E_IO', `cannot open run database '${file}': ${(err as Error).message}`, { file }, { cause: err });
  }
  return db;
}

/** PRAGMA integrity_check as a list of problems; empty means the file is sound. */
export function checkIntegrity(db: SqliteDatabase): string[] {
  const rows = db.pragma('integrity_check') as { integrity_check: string }[];
  const problems = rows.map((r) => r.integrity_check).filter((m) => m !== 'ok');
  return problems;
}

/** The journal mode in effect ('wal' for every connection this module opens for writing). */
export function journalMode(db: SqliteDatabase): string {
  return String(db.pragma('journal_mode', { simple: true }));
}
