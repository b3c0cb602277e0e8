// Per-example records (one eval item's prompt, choices, log-probs, correctness...) as JSON.
// A batch is written in one transaction: after a crash a batch is there in full or not at all,
// and one transaction per batch rather than per row is what makes 100k rows take milliseconds.

import type { SqliteDatabase } from './database.ts';
import { parseJsonColumn, toJsonColumn } from './json-column.ts';
import { writeForRun } from './run-write.ts';

export interface RecordInput {
  /** Index of the item within the task's dataset. */
  item: number;
  payload: unknown;
}

export interface ExampleRecord {
  runId: number;
  task: string;
  item: number;
  payload: unknown;
}

interface RecordRow {
  run_id: number;
  task: string;
  item: number;
  payload_json: string;
}

export class RecordsRepository {
  private readonly s;

  constructor(private readonly db: SqliteDatabase) {
    this.s = {
      upsert: db.prepare(`INSERT INTO records (run_id, task, item, payload_json) VALUES (?, ?, ?, ?)
        ON CONFLICT (run_id, task, item) DO UPDATE SET payload_json = excluded.payload_json`),
      page: db.prepare<[number, string, number, number], RecordRow>(
        'SELECT * FROM records WHERE run_id = ? AND task = ? ORDER BY item LIMIT ? OFFSET ?',
      ),
      count: db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM records WHERE run_id = ?'),
      countTask: db.prepare<[number, string], { n: number }>('SELECT COUNT(*) AS n FROM records WHERE run_id = ? AND task = ?'),
      tasks: db.prepare<[number], { task: string }>('SELECT DISTINCT task FROM records WHERE run_id = ? ORDER BY task'),
    };
  }

  /** Writes a batch of one task's records in one transaction (re-writing an item replaces it). */
  insertMany(runId: number, task: string, records: readonly RecordInput[]): void {
    // Serialise first: a bad payload fails before the transaction takes the write lock.
    const rows = records.map((r) => [r.item, toJsonColumn(r.payload, `run ${runId} record ${task}#${r.item}`)] as const);
    writeForRun(this.db, runId, 'records', () => {
      for (const [item, json] of rows) this.s.upsert.run(runId, task, item, json);
    });
  }

  list(runId: number, task: string, page: { offset?: number; limit?: number } = {}): ExampleRecord[] {
    return this.s.page.all(runId, task, page.limit ?? -1, page.offset ?? 0).map((r) => ({
      runId: r.run_id,
      task: r.task,
      item: r.item,
      payload: parseJsonColumn(r.payload_json, `records of run ${r.run_id} ${r.task}#${r.item}`),
    }));
  }

  count(runId: number, task?: string): number {
    return task === undefined ? this.s.count.get(runId)!.n : this.s.countTask.get(runId, task)!.n;
  }

  tasks(runId: number): string[] {
    return this.s.tasks.all(runId).map((r) => r.task);
  }
}
