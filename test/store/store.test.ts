// The run store's database: opening (WAL, foreign keys), migrations from empty and from every
// committed fixture of an earlier version, refusal of a newer database, rollback of a failed
// migration, and the schema snapshot that refuses a removed or retyped column.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  appliedVersion,
  checkIntegrity,
  journalMode,
  LATEST_SCHEMA_VERSION,
  migrate,
  MIGRATIONS,
  openDatabase,
  openStore,
  type Migration,
} from '../../main/engine/store/index.ts';
import { assertFails, columnTypes, describeSchema, FIXTURE_DIR, populate, rowCounts, SCHEMA_SNAPSHOT, tempDir } from './store-fixtures.ts';

const root = tempDir();
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(root, `case${n++}`, 'recall.db');

describe('opening', () => {
  test('a new database is created in WAL mode with foreign keys on, at the latest version', () => {
    const store = openStore(freshFile());
    try {
      assert.equal(journalMode(store.db), 'wal');
      assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(store.db.pragma('busy_timeout', { simple: true }), 5000);
      assert.equal(appliedVersion(store.db), LATEST_SCHEMA_VERSION);
      const ledger = store.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      assert.deepEqual(ledger, MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      assert.deepEqual(store.migration, { from: 0, to: LATEST_SCHEMA_VERSION, applied: MIGRATIONS.map((m) => m.version) });
    } finally {
      store.close();
    }
  });

  test('reopening applies nothing and keeps the data', () => {
    const file = freshFile();
    const a = openStore(file);
    populate(a);
    const counts = rowCounts(a.db);
    a.close();
    const b = openStore(file);
    assert.deepEqual(b.migration.applied, []);
    assert.deepEqual(rowCounts(b.db), counts);
    b.close();
  });

  test('a file that is not a database fails with E_STORE_CORRUPT naming it', () => {
    const file = freshFile();
    openStore(file).close();
    writeFileSync(file, 'this is not sqlite, just text long enough to fill a header '.repeat(20));
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    assertFails(() => openStore(file), 'E_STORE_CORRUPT', file, 'not a readable Recall database');
  });

  test('read-only open of a missing file fails with E_IO naming it', () => {
    const file = freshFile();
    assertFails(() => openDatabase(file, { readonly: true }), 'E_IO', file);
  });
});

describe('migrations', () => {
  test('versions are 1, 2, 3... with unique names', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
    assert.equal(new Set(MIGRATIONS.map((m) => m.name)).size, MIGRATIONS.length);
  });

  test('stopping at every version and continuing gives the same schema as migrating at once', () => {
    const direct = openDatabase(':memory:');
    migrate(direct, { file: ':memory:' });
    const expected = describeSchema(direct);
    direct.close();
    for (let stop = 0; stop <= LATEST_SCHEMA_VERSION; stop++) {
      const db = openDatabase(':memory:');
      assert.equal(migrate(db, { file: ':memory:', target: stop }).to, stop);
      const rest = migrate(db, { file: ':memory:' });
      assert.deepEqual(rest.applied, MIGRATIONS.filter((m) => m.version > stop).map((m) => m.version));
      assert.equal(describeSchema(db), expected, `stopping at version ${stop}`);
      db.close();
    }
  });

  // One committed database per released schema version (make-fixture.ts writes them). Adding
  // migration n+1 makes this upgrade the v1..vn fixtures with no change to the test.
  const fixtures = readdirSync(FIXTURE_DIR).filter((f) => /^v\d+\.sqlite$/.test(f)).sort();
  test('a fixture exists for version 1 and none is newer than the code', () => {
    assert.ok(fixtures.includes('v1.sqlite'), `fixtures: ${fixtures.join(', ')}`);
    for (const f of fixtures) assert.ok(Number(f.slice(1, -7)) <= LATEST_SCHEMA_VERSION, `${f} is newer than version ${LATEST_SCHEMA_VERSION}`);
  });
  for (const fixture of fixtures) {
    test(`upgrading ${fixture} keeps every row and reads back through the repositories`, () => {
      const file = freshFile();
      openDatabase(file).close(); // creates the folder
      rmSync(file);
      copyFileSync(join(FIXTURE_DIR, fixture), file);
      const raw = openDatabase(file);
      const from = appliedVersion(raw);
      assert.equal(`v${from}.sqlite`, fixture, 'the fixture holds the version its name says');
      const before = rowCounts(raw);
      raw.close();

      const store = openStore(file);
      try {
        assert.equal(appliedVersion(store.db), LATEST_SCHEMA_VERSION);
        assert.deepEqual(checkIntegrity(store.db), []);
        assert.deepEqual(store.db.pragma('foreign_key_check'), []);
        const after = rowCounts(store.db);
        for (const [table, count] of Object.entries(before)) {
          if (table === 'schema_migrations') continue;
          assert.equal(after[table], count, `rows of ${table}`);
        }
        if (from < LATEST_SCHEMA_VERSION) assert.ok(store.migration.backup && existsSync(store.migration.backup), 'backup written before upgrading');
        // Every row decodes: JSON columns, blobs, lineage.
        for (const run of store.runs.list()) {
          store.metrics.list(run.id);
          store.compressionLogs.list(run.id);
          store.trainingCurves.list(run.id);
          store.artifacts.list(run.id);
          for (const task of store.records.tasks(run.id)) store.records.list(run.id, task);
          for (const kind of store.similarity.kinds(run.id)) assert.ok(store.similarity.get(run.id, kind));
        }
        assert.ok(store.runs.list().some((r) => r.parents.length > 0), 'lineage survives');
      } finally {
        store.close();
      }
    });
  }

  test('the oldest fixture upgrades through a further migration with a backup first (the path a real migration 2 takes)', () => {
    const file = freshFile();
    openDatabase(file).close();
    copyFileSync(join(FIXTURE_DIR, fixtures[0]!), file);
    const db = openDatabase(file);
    const before = rowCounts(db);
    const next: Migration = { version: LATEST_SCHEMA_VERSION + 1, name: 'add runs.note', up: (d) => d.exec("ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT ''") };
    const result = migrate(db, { file, migrations: [...MIGRATIONS, next] });
    assert.equal(result.to, LATEST_SCHEMA_VERSION + 1);
    assert.ok(result.backup && existsSync(result.backup));
    const backup = openDatabase(result.backup, { readonly: true });
    assert.equal(`v${appliedVersion(backup)}.sqlite`, fixtures[0], 'the backup holds the version before the upgrade');
    backup.close();
    const after = rowCounts(db);
    for (const [table, count] of Object.entries(before)) if (table !== 'schema_migrations') assert.equal(after[table], count, `rows of ${table}`);
    assert.deepEqual(checkIntegrity(db), []);
    db.close();
  });

  test('a database from a newer Recall is refused, naming the file and both versions, and left untouched', () => {
    const file = freshFile();
    const store = openStore(file);
    store.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_SCHEMA_VERSION + 5, 'from the future', 0);
    store.close();
    const bytes = readFileSync(file);
    assertFails(() => openStore(file), 'E_STORE_NEWER', file, `schema version ${LATEST_SCHEMA_VERSION + 5}`, `knows versions up to ${LATEST_SCHEMA_VERSION}`, 'newer Recall');
    assert.deepEqual(readFileSync(file), bytes);
  });

  test('a failing migration is rolled back whole and not recorded', () => {
    const db = openDatabase(':memory:');
    const broken: Migration[] = [
      ...MIGRATIONS,
      {
        version: LATEST_SCHEMA_VERSION + 1,
        name: 'half done',
        up: (d) => {
          d.exec('CREATE TABLE half_done (x INTEGER)');
          throw new Error('disk on fire');
        },
      },
    ];
    assertFails(() => migrate(db, { file: 'mem.db', migrations: broken }), 'E_STORE_MIGRATION', 'mem.db', `migration ${LATEST_SCHEMA_VERSION + 1} (half done)`, 'disk on fire');
    assert.equal(appliedVersion(db), LATEST_SCHEMA_VERSION);
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").all(), []);
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys back on after the failure');
    db.close();
  });

  test('a migration list with a gap is a programming error', () => {
    const db = openDatabase(':memory:');
    assert.throws(() => migrate(db, { file: ':memory:', migrations: [{ ...MIGRATIONS[0]!, version: 2 }] }), /entry 0 has version 2, expected 1/);
    db.close();
  });
});

/** The snapshot rule: a column may be added, never removed or retyped (old rows and old code rely on it). */
function compareSchemas(snapshot: string, actual: string): { removed: string[]; retyped: string[] } {
  const before = columnTypes(snapshot);
  const now = columnTypes(actual);
  const removed = [...before.keys()].filter((c) => !now.has(c));
  const retyped = [...before].filter(([c, t]) => now.has(c) && now.get(c) !== t).map(([c, t]) => `${c}: ${t} -> ${now.get(c)}`);
  return { removed, retyped };
}

describe('schema snapshot', () => {
  test('the comparison catches a removed and a retyped column, and allows an added one', () => {
    const snap = 'runs.id INTEGER PK 1\nruns.seed INTEGER\nruns.name TEXT NOT NULL\n';
    const actual = 'runs.id INTEGER PK 1\nruns.seed TEXT\nruns.extra REAL\n';
    assert.deepEqual(compareSchemas(snap, actual), { removed: ['runs.name'], retyped: ['runs.seed: INTEGER -> TEXT'] });
    assert.deepEqual(compareSchemas(snap, `${snap}runs.extra REAL\n`), { removed: [], retyped: [] });
  });

  test(`no column of ${SCHEMA_SNAPSHOT.split('/').slice(-3).join('/')} is removed or retyped`, () => {
    const db = openDatabase(':memory:');
    migrate(db, { file: ':memory:' });
    const actual = describeSchema(db);
    db.close();
    const update = process.env.RECALL_UPDATE_SNAPSHOTS === '1';
    if (!existsSync(SCHEMA_SNAPSHOT)) {
      assert.ok(update || !process.env.CI, `${SCHEMA_SNAPSHOT} is missing (run with RECALL_UPDATE_SNAPSHOTS=1 and commit it)`);
      writeFileSync(SCHEMA_SNAPSHOT, actual);
      return;
    }
    const snapshot = readFileSync(SCHEMA_SNAPSHOT, 'utf8');
    // Refused even when updating: a release's databases hold these columns and old fixtures use them.
    const { removed, retyped } = compareSchemas(snapshot, actual);
    assert.deepEqual({ removed, retyped }, { removed: [], retyped: [] }, 'columns may be added by a migration, never removed or retyped');
    if (snapshot === actual) return;
    if (update) writeFileSync(SCHEMA_SNAPSHOT, actual);
    else assert.equal(actual, snapshot, 'schema grew or changed constraints: run with RECALL_UPDATE_SNAPSHOTS=1 to record it');
  });
});
