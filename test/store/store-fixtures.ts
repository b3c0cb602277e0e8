// Shared by the store tests and make-fixture.ts: temp folders, the exact-failure assertion, a
// data set that touches every table, and the schema as text (from PRAGMA table_info).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRecallError, type RecallErrorCode } from '../../main/engine/errors.ts';
import type { SqliteDatabase, Store } from '../../main/engine/store/index.ts';

export const FIXTURE_DIR = new URL('../fixtures/store/', import.meta.url).pathname;
export const SCHEMA_SNAPSHOT = join(FIXTURE_DIR, 'schema.snap');

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'recall-store-'));

/** Assert fn throws a RecallError with this code whose message contains every fragment. */
export function assertFails(fn: () => unknown, code: RecallErrorCode, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isRecallError(e), `expected a RecallError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

/** Writes one of everything: a model, a finished compress run, a tune child, a failed eval. */
export function populate(store: Store): void {
  const model = store.models.register({ fingerprint: 'f'.repeat(64), name: 'tiny-llama', architecture: 'llama', sourcePath: '/models/tiny', info: { params: 1234 } });
  const versions = { recall: '0.1.0', ort: '1.30.0', executionProvider: 'cpu' };
  const compress = store.runs.create({ kind: 'compress', name: 'gptq 4-bit', modelId: model.id, config: { method: 'gptq', bits: 4 }, seed: 0, versions });
  store.runs.start(compress.id);
  store.compressionLogs.log(compress.id, [
    { layer: 0, module: 'self_attn.q_proj', rows: 8, cols: 8, bits: 4, damp: 0.01, loss: 0.5, relError: 0.02, seconds: 0.1 },
    { layer: 1, module: 'mlp.down_proj', rows: 8, cols: 16, bits: 4, sparsity: 0.5 },
  ]);
  store.artifacts.record(compress.id, { path: 'runs/1/model.onnx', kind: 'onnx', bytes: 1024, sha256: 'a'.repeat(64) });
  store.runs.addTimings(compress.id, { load: 10, quantize: 250 });
  store.runs.finish(compress.id);
  const tune = store.runs.create({ kind: 'tune', name: 'lora repair', modelId: model.id, config: { rank: 8 }, seed: 1, versions, parents: [{ id: compress.id, role: 'base' }] });
  store.runs.start(tune.id);
  store.trainingCurves.append(tune.id, [{ step: 0, loss: 2.5, lr: 1e-4, tokens: 0 }, { step: 10, loss: 2.1, lr: 1e-4, evalLoss: 2.2, tokens: 5120 }]);
  store.runs.finish(tune.id);
  const ev = store.runs.create({ kind: 'eval', name: 'arc-easy', config: { tasks: ['arc_easy'] }, versions, parents: [{ id: tune.id }] });
  store.runs.start(ev.id);
  store.metrics.upsert(ev.id, [{ task: 'arc_easy', metric: 'acc', value: 0.625, stderr: 0.01, n: 2376 }]);
  store.records.insertMany(ev.id, 'arc_easy', [0, 1, 2].map((item) => ({ item, payload: { correct: item % 2 === 0, logprobs: [-1.5, -0.25] } })));
  store.runs.fail(ev.id, 'out of memory', { resumable: true });
  const an = store.runs.create({ kind: 'analyze', name: 'cka', config: {}, versions, parents: [{ id: compress.id }] });
  store.similarity.put(an.id, 'cka', new Float32Array([1, 0.5, 0.5, 1]), [2, 2]);
}

export function tableNames(db: SqliteDatabase): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

export function rowCounts(db: SqliteDatabase): Record<string, number> {
  return Object.fromEntries(tableNames(db).map((t) => [t, (db.prepare(`SELECT COUNT(*) AS n FROM "${t}"`).get() as { n: number }).n]));
}

interface ColumnInfo {
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
}

/** One line per column: `table.column TYPE [NOT NULL] [DEFAULT x] [PK n]`, tables sorted. */
export function describeSchema(db: SqliteDatabase): string {
  const lines: string[] = [];
  for (const t of tableNames(db)) {
    for (const c of db.prepare(`PRAGMA table_info("${t}")`).all() as ColumnInfo[]) {
      let line = `${t}.${c.name} ${c.type || '(none)'}`;
      if (c.notnull) line += ' NOT NULL';
      if (c.dflt_value !== null) line += ` DEFAULT ${c.dflt_value}`;
      if (c.pk) line += ` PK ${c.pk}`;
      lines.push(line);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Parses describeSchema's text back into column -> type. */
export function columnTypes(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n').filter(Boolean)) {
    const [column, type] = line.split(' ');
    map.set(column!, type!);
  }
  return map;
}
