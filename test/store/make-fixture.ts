// Writes test/fixtures/store/v<latest>.sqlite: a database at the current schema version holding
// one of everything (store-fixtures.ts populate). Run on each release that adds a migration,
// then commit the file; store.test.ts upgrades every committed fixture to the latest version.
//   node --import tsx test/store/make-fixture.ts
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST_SCHEMA_VERSION, openStore } from '../../main/engine/store/index.ts';
import { FIXTURE_DIR, populate } from './store-fixtures.ts';

const file = join(FIXTURE_DIR, `v${LATEST_SCHEMA_VERSION}.sqlite`);
if (existsSync(file) && process.argv[2] !== '--force') {
  console.error(`${file} exists; released fixtures are never rewritten (pass --force if it is unreleased)`);
  process.exit(1);
}
rmSync(file, { force: true });
const store = openStore(file);
populate(store);
// One self-contained file: no -wal/-shm beside it in the repository.
store.db.pragma('journal_mode = DELETE');
store.db.exec('VACUUM');
store.close();
console.log(`wrote ${file}`);
