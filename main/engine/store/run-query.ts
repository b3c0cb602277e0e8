// The runs list: filters turned into one parameterised SELECT. Kept apart from runs.ts so the
// SQL a filter produces can be read in one place.

import { RecallError } from '../errors.ts';
import { isRunKind, isRunStatus, type RunKind, type RunStatus } from './run-status.ts';

export interface RunFilter {
  kind?: RunKind | readonly RunKind[];
  status?: RunStatus | readonly RunStatus[];
  modelId?: number;
  /** Runs derived from this run (direct children in the lineage). */
  parentId?: number;
  /** Case-insensitive substring of the run name. */
  text?: string;
  /** Newest first by default. */
  order?: 'newest' | 'oldest';
  limit?: number;
  offset?: number;
}

export interface BuiltQuery {
  sql: string;
  params: unknown[];
}

const asList = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? (v as readonly T[]) : [v as T]);

/** LIKE treats % and _ as wildcards; a user typing "q4_k" means those characters literally. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function checkCount(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
    throw new RecallError('E_INVALID_ARGUMENT', `run filter: ${name} must be a non-negative integer, got ${v}`, { field: name });
  }
}

export function buildRunQuery(filter: RunFilter): BuiltQuery {
  const where: string[] = [];
  const params: unknown[] = [];
  const inList = (column: string, values: readonly string[]) => {
    where.push(`${column} IN (${values.map(() => '?').join(', ')})`);
    params.push(...values);
  };
  if (filter.kind !== undefined) {
    const kinds = asList(filter.kind);
    const bad = kinds.find((k) => !isRunKind(k));
    if (bad !== undefined) throw new RecallError('E_INVALID_ARGUMENT', `run filter: unknown kind '${bad}'`, { field: 'kind' });
    inList('r.kind', kinds);
  }
  if (filter.status !== undefined) {
    const statuses = asList(filter.status);
    const bad = statuses.find((s) => !isRunStatus(s));
    if (bad !== undefined) throw new RecallError('E_INVALID_ARGUMENT', `run filter: unknown status '${bad}'`, { field: 'status' });
    inList('r.status', statuses);
  }
  if (filter.modelId !== undefined) {
    where.push('r.model_id = ?');
    params.push(filter.modelId);
  }
  if (filter.parentId !== undefined) {
    where.push('r.id IN (SELECT run_id FROM run_parents WHERE parent_id = ?)');
    params.push(filter.parentId);
  }
  if (filter.text) {
    // SQLite's LIKE is case-insensitive for ASCII, which is what run names mostly are.
    where.push("r.name LIKE ? ESCAPE '\\'");
    params.push(likePattern(filter.text));
  }
  checkCount('limit', filter.limit);
  checkCount('offset', filter.offset);
  const direction = filter.order === 'oldest' ? 'ASC' : 'DESC';
  let sql = `SELECT r.* FROM runs r${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY r.created_at ${direction}, r.id ${direction}`;
  if (filter.limit !== undefined || filter.offset !== undefined) {
    sql += ' LIMIT ? OFFSET ?';
    params.push(filter.limit ?? -1, filter.offset ?? 0);
  }
  return { sql, params };
}
