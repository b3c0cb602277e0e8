// Migration 1: the first released schema. Never edit this file once released: change the
// schema with a new numbered migration (test/store checks a removed or retyped column fails).
//
// Conventions: times are INTEGER milliseconds since the Unix epoch; JSON is TEXT named *_json;
// every per-run table cascades from runs, so deleting a run is one DELETE (artifact files are
// the caller's to remove: the store returns their paths).

import type { SqliteDatabase } from './database.ts';

export const INITIAL_SCHEMA = `
CREATE TABLE models (
  id            INTEGER PRIMARY KEY,
  fingerprint   TEXT    NOT NULL UNIQUE,
  name          TEXT    NOT NULL,
  architecture  TEXT    NOT NULL,
  source_path   TEXT    NOT NULL,
  info_json     TEXT    NOT NULL DEFAULT '{}',
  created_at    INTEGER NOT NULL
);

CREATE TABLE runs (
  id                 INTEGER PRIMARY KEY,
  kind               TEXT    NOT NULL CHECK (kind IN ('compress', 'tune', 'eval', 'analyze', 'experiment')),
  name               TEXT    NOT NULL DEFAULT '',
  status             TEXT    NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  model_id           INTEGER REFERENCES models(id) ON DELETE RESTRICT,
  config_json        TEXT    NOT NULL,
  fingerprint        TEXT    NOT NULL,
  seed               INTEGER,
  recall_version     TEXT    NOT NULL,
  ort_version        TEXT,
  execution_provider TEXT,
  ep_version         TEXT,
  created_at         INTEGER NOT NULL,
  started_at         INTEGER,
  finished_at        INTEGER,
  timings_json       TEXT    NOT NULL DEFAULT '{}',
  error              TEXT,
  resumable          INTEGER NOT NULL DEFAULT 0,
  owner_pid          INTEGER,
  owner_host         TEXT
);
CREATE INDEX runs_by_kind_status ON runs (kind, status);
CREATE INDEX runs_by_model ON runs (model_id);
CREATE INDEX runs_by_fingerprint ON runs (kind, fingerprint, status);

-- Lineage: a tuned run's parent is the compressed run it repairs, an eval's parent the run it
-- scores. RESTRICT on the parent: a run others were derived from is not deleted from under them.
CREATE TABLE run_parents (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  parent_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE RESTRICT,
  role      TEXT    NOT NULL DEFAULT 'input',
  PRIMARY KEY (run_id, parent_id, role),
  CHECK (run_id <> parent_id)
);
CREATE INDEX run_parents_by_parent ON run_parents (parent_id);

CREATE TABLE metrics (
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task    TEXT    NOT NULL,
  metric  TEXT    NOT NULL,
  value   REAL    NOT NULL,
  stderr  REAL,
  n       INTEGER,
  PRIMARY KEY (run_id, task, metric)
);

CREATE TABLE records (
  run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task         TEXT    NOT NULL,
  item         INTEGER NOT NULL,
  payload_json TEXT    NOT NULL,
  PRIMARY KEY (run_id, task, item)
);

CREATE TABLE compression_logs (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  layer     INTEGER NOT NULL,
  module    TEXT    NOT NULL,
  rows      INTEGER NOT NULL,
  cols      INTEGER NOT NULL,
  bits      REAL,
  sparsity  REAL,
  damp      REAL,
  loss      REAL,
  rel_error REAL,
  seconds   REAL,
  PRIMARY KEY (run_id, layer, module)
);

CREATE TABLE training_curves (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step      INTEGER NOT NULL,
  loss      REAL,
  lr        REAL,
  eval_loss REAL,
  tokens    INTEGER,
  PRIMARY KEY (run_id, step)
);

CREATE TABLE similarity_arrays (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind       TEXT    NOT NULL,
  dtype      TEXT    NOT NULL,
  shape_json TEXT    NOT NULL,
  data       BLOB    NOT NULL,
  PRIMARY KEY (run_id, kind)
);

CREATE TABLE artifacts (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  path       TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  bytes      INTEGER NOT NULL,
  sha256     TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (run_id, path)
);
`;

export function createInitialSchema(db: SqliteDatabase): void {
  db.exec(INITIAL_SCHEMA);
}
