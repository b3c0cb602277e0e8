// Per-layer similarity arrays of analyze runs (CKA per layer pair, cosine per layer, attention
// maps...), stored as a raw little-endian blob with its dtype and shape, so any rank fits the
// one table. A type-level map ties each dtype name to its typed array.

import { RecallError } from '../errors.ts';
import type { SqliteDatabase } from './database.ts';
import { parseJsonColumn } from './json-column.ts';
import { writeForRun } from './run-write.ts';

interface ArrayTypes {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
}
export type SimilarityDtype = keyof ArrayTypes;
type AnyArray = ArrayTypes[SimilarityDtype];

const CONSTRUCTORS: { [K in SimilarityDtype]: { new (buffer: ArrayBuffer): ArrayTypes[K]; BYTES_PER_ELEMENT: number } } = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
};

function dtypeOf(data: AnyArray): SimilarityDtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  throw new RecallError('E_INVALID_ARGUMENT', 'similarity array must be a Float32Array, Float64Array or Int32Array', { field: 'data' });
}

export interface SimilarityArray<D extends SimilarityDtype = SimilarityDtype> {
  runId: number;
  /** What was measured, e.g. 'cka-base-vs-compressed', 'cos-hidden'. */
  kind: string;
  dtype: D;
  shape: number[];
  data: ArrayTypes[D];
}

interface ArrayRow {
  run_id: number;
  kind: string;
  dtype: string;
  shape_json: string;
  data: Buffer;
}

export class SimilarityRepository {
  private readonly upsertStmt;
  private readonly getStmt;
  private readonly kindsStmt;

  constructor(private readonly db: SqliteDatabase) {
    this.upsertStmt = db.prepare(`INSERT INTO similarity_arrays (run_id, kind, dtype, shape_json, data) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (run_id, kind) DO UPDATE SET dtype = excluded.dtype, shape_json = excluded.shape_json, data = excluded.data`);
    this.getStmt = db.prepare<[number, string], ArrayRow>('SELECT * FROM similarity_arrays WHERE run_id = ? AND kind = ?');
    this.kindsStmt = db.prepare<[number], { kind: string }>('SELECT kind FROM similarity_arrays WHERE run_id = ? ORDER BY kind');
  }

  /** Stores (or replaces) one array; the shape's product must equal the element count. */
  put(runId: number, kind: string, data: AnyArray, shape: readonly number[]): void {
    const dtype = dtypeOf(data);
    const elements = shape.reduce((a, b) => a * b, 1);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || elements !== data.length) {
      throw new RecallError('E_SHAPE_MISMATCH', `similarity '${kind}' of run ${runId}: shape [${shape.join(', ')}] does not hold ${data.length} elements`, {
        runId,
        kind,
        shape: [...shape],
        length: data.length,
      });
    }
    // Buffer.from over the view's own bytes: a subarray must not drag its whole parent buffer in.
    const blob = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    writeForRun(this.db, runId, `similarity '${kind}'`, () => this.upsertStmt.run(runId, kind, dtype, JSON.stringify(shape), blob));
  }

  get(runId: number, kind: string): SimilarityArray | undefined {
    const row = this.getStmt.get(runId, kind);
    if (!row) return undefined;
    const where = `similarity '${kind}' of run ${runId}`;
    if (!(row.dtype in CONSTRUCTORS)) throw new RecallError('E_STORE_CORRUPT', `${where}: unknown dtype '${row.dtype}'`, { runId, kind });
    const dtype = row.dtype as SimilarityDtype;
    const ctor = CONSTRUCTORS[dtype];
    const shape = parseJsonColumn<number[]>(row.shape_json, `${where} shape`);
    const elements = shape.reduce((a, b) => a * b, 1);
    if (row.data.byteLength !== elements * ctor.BYTES_PER_ELEMENT) {
      throw new RecallError('E_STORE_CORRUPT', `${where}: ${row.data.byteLength} bytes do not fit shape [${shape.join(', ')}] of ${dtype}`, { runId, kind });
    }
    // Copy into a fresh ArrayBuffer: SQLite's buffer need not be aligned for Float64Array.
    const bytes = new Uint8Array(row.data.byteLength);
    bytes.set(row.data);
    return { runId, kind, dtype, shape, data: new ctor(bytes.buffer) };
  }

  kinds(runId: number): string[] {
    return this.kindsStmt.all(runId).map((r) => r.kind);
  }
}
