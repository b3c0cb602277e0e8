// Runs: what was done (kind, config, seed), with what (model, parent runs, Recall/ORT/EP
// versions), and how it went (status, timings, error). Status changes go through the lifecycle
// table in run-status.ts; each is one transaction that reads and writes the row, so two
// processes cannot both start the same queued run.

import { hostname } from 'node:os';
import { RecallError } from '../errors.ts';
import type { SqliteDatabase } from './database.ts';
import { fingerprint as fingerprintOf } from './fingerprint.ts';
import { parseJsonColumn, toJsonColumn } from './json-column.ts';
import { buildRunQuery, type RunFilter } from './run-query.ts';
import { isRunKind, RUN_TRANSITIONS, statusesLeadingTo, type RunKind, type RunStatus } from './run-status.ts';

export interface RunVersions {
  recall: string;
  ort?: string;
  /** 'cpu', 'cuda', 'dml'... */
  executionProvider?: string;
  epVersion?: string;
}

export interface RunParent {
  id: number;
  /** What the parent is to this run: 'input' (default), 'base', 'teacher'... */
  role: string;
}

export interface CreateRunInput {
  kind: RunKind;
  name?: string;
  modelId?: number;
  config: unknown;
  seed?: number;
  versions: RunVersions;
  parents?: { id: number; role?: string }[];
  /** Defaults to runFingerprint over kind, config, seed, model and parents. */
  fingerprint?: string;
}

export interface RunRecord {
  id: number;
  kind: RunKind;
  name: string;
  status: RunStatus;
  modelId: number | null;
  config: unknown;
  fingerprint: string;
  seed: number | null;
  versions: RunVersions;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Milliseconds per phase ('load', 'quantize', 'eval'...). */
  timings: Record<string, number>;
  error: string | null;
  resumable: boolean;
  ownerPid: number | null;
  ownerHost: string | null;
  parents: RunParent[];
}

export interface RunRow {
  id: number;
  kind: RunKind;
  name: string;
  status: RunStatus;
  model_id: number | null;
  config_json: string;
  fingerprint: string;
  seed: number | null;
  recall_version: string;
  ort_version: string | null;
  execution_provider: string | null;
  ep_version: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  timings_json: string;
  error: string | null;
  resumable: number;
  owner_pid: number | null;
  owner_host: string | null;
}

/**
 * The reuse key of a run: same kind, config, seed, model and parents (by their own
 * fingerprints, so lineage is content-addressed) means the same computation. Versions are left
 * out on purpose: a Recall upgrade should not invalidate every cached result.
 */
export function runFingerprint(input: { kind: RunKind; config: unknown; seed?: number | null; model?: string | null; parents?: { role: string; fingerprint: string }[] }): string {
  const parents = [...(input.parents ?? [])].sort((a, b) => (a.role + a.fingerprint < b.role + b.fingerprint ? -1 : 1));
  return fingerprintOf({ kind: input.kind, config: input.config, seed: input.seed ?? null, model: input.model ?? null, parents });
}

export class RunsRepository {
  private readonly s;

  constructor(private readonly db: SqliteDatabase) {
    this.s = {
      insert: db.prepare(`INSERT INTO runs (kind, name, status, model_id, config_json, fingerprint, seed,
          recall_version, ort_version, execution_provider, ep_version, created_at)
        VALUES (@kind, @name, 'queued', @modelId, @config, @fingerprint, @seed, @recall, @ort, @ep, @epVersion, @now)`),
      insertParent: db.prepare('INSERT INTO run_parents (run_id, parent_id, role) VALUES (?, ?, ?)'),
      get: db.prepare<[number], RunRow>('SELECT * FROM runs WHERE id = ?'),
      parents: db.prepare<[number], { parent_id: number; role: string }>('SELECT parent_id, role FROM run_parents WHERE run_id = ? ORDER BY parent_id, role'),
      childCount: db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM run_parents WHERE parent_id = ?'),
      modelFingerprint: db.prepare<[number], { fingerprint: string }>('SELECT fingerprint FROM models WHERE id = ?'),
      update: db.prepare(`UPDATE runs SET status = @status, started_at = @startedAt, finished_at = @finishedAt,
          error = @error, resumable = @resumable, owner_pid = @ownerPid, owner_host = @ownerHost WHERE id = @id`),
      timings: db.prepare('UPDATE runs SET timings_json = ? WHERE id = ?'),
      artifactPaths: db.prepare<[number], { path: string }>('SELECT path FROM artifacts WHERE run_id = ? ORDER BY id'),
      delete: db.prepare('DELETE FROM runs WHERE id = ?'),
      reusable: db.prepare<[string, string], RunRow>(
        "SELECT * FROM runs WHERE kind = ? AND fingerprint = ? AND status = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1",
      ),
    };
  }

  /** Records a queued run with its lineage, in one transaction. */
  create(input: CreateRunInput): RunRecord {
    if (!isRunKind(input.kind)) throw new RecallError('E_INVALID_ARGUMENT', `run kind '${String(input.kind)}' is not one of compress, tune, eval, analyze, experiment`, { field: 'kind' });
    if (!input.versions?.recall) throw new RecallError('E_INVALID_ARGUMENT', 'run versions.recall is required', { field: 'versions.recall' });
    if (input.seed !== undefined && !Number.isSafeInteger(input.seed)) throw new RecallError('E_INVALID_ARGUMENT', `run seed must be an integer, got ${input.seed}`, { field: 'seed' });
    const config = toJsonColumn(input.config, 'run config');
    const parents = (input.parents ?? []).map((p) => ({ id: p.id, role: p.role ?? 'input' }));
    const tx = this.db.transaction(() => {
      const model = input.modelId === undefined ? undefined : this.s.modelFingerprint.get(input.modelId);
      if (input.modelId !== undefined && !model) throw new RecallError('E_NOT_FOUND', `model ${input.modelId} does not exist`, { modelId: input.modelId });
      const parentPrints = parents.map((p) => ({ role: p.role, fingerprint: this.require(p.id, 'parent run').fingerprint }));
      const fp = input.fingerprint ?? runFingerprint({ kind: input.kind, config: input.config, seed: input.seed, model: model?.fingerprint, parents: parentPrints });
      const { lastInsertRowid } = this.s.insert.run({
        kind: input.kind,
        name: input.name ?? '',
        modelId: input.modelId ?? null,
        config,
        fingerprint: fp,
        seed: input.seed ?? null,
        recall: input.versions.recall,
        ort: input.versions.ort ?? null,
        ep: input.versions.executionProvider ?? null,
        epVersion: input.versions.epVersion ?? null,
        now: Date.now(),
      });
      const id = Number(lastInsertRowid);
      for (const p of parents) this.s.insertParent.run(id, p.id, p.role);
      return id;
    });
    return this.get(tx.immediate())!;
  }

  get(id: number): RunRecord | undefined {
    const row = this.s.get.get(id);
    return row && this.toRecord(row);
  }

  /** get, or E_NOT_FOUND naming what was looked for. */
  require(id: number, what = 'run'): RunRecord {
    const run = this.get(id);
    if (!run) throw new RecallError('E_NOT_FOUND', `${what} ${id} does not exist`, { runId: id });
    return run;
  }

  list(filter: RunFilter = {}): RunRecord[] {
    const { sql, params } = buildRunQuery(filter);
    return (this.db.prepare(sql).all(...params) as RunRow[]).map((r) => this.toRecord(r));
  }

  /** Direct children: runs that name this one as a parent. */
  children(id: number): RunRecord[] {
    return this.list({ parentId: id, order: 'oldest' });
  }

  /** The newest finished run with this kind and fingerprint, whose results can be reused. */
  findReusableRun(kind: RunKind, fingerprint: string): RunRecord | undefined {
    const row = this.s.reusable.get(kind, fingerprint);
    return row && this.toRecord(row);
  }

  /** queued, failed or cancelled -> running. Records which process owns it (for crash recovery). */
  start(id: number, owner: { pid: number; host: string } = { pid: process.pid, host: hostname() }): RunRecord {
    // started_at is this attempt's start; a resume clears the previous attempt's end and error.
    return this.transition(id, 'running', () => ({
      startedAt: Date.now(),
      finishedAt: null,
      error: null,
      resumable: 0,
      ownerPid: owner.pid,
      ownerHost: owner.host,
    }));
  }

  /** running -> done. */
  finish(id: number): RunRecord {
    return this.transition(id, 'done', () => ({ finishedAt: Date.now(), error: null, resumable: 0 }));
  }

  /** running -> failed, with the error a user will read; resumable when a checkpoint exists. */
  fail(id: number, error: string, options: { resumable?: boolean } = {}): RunRecord {
    return this.transition(id, 'failed', () => ({ finishedAt: Date.now(), error, resumable: options.resumable ? 1 : 0 }));
  }

  /** queued or running -> cancelled. */
  cancel(id: number, options: { resumable?: boolean } = {}): RunRecord {
    return this.transition(id, 'cancelled', () => ({ finishedAt: Date.now(), resumable: options.resumable ? 1 : 0 }));
  }

  /** Merges phase timings (milliseconds) into the run's timings. */
  addTimings(id: number, timings: Record<string, number>): RunRecord {
    for (const [k, v] of Object.entries(timings)) {
      if (!Number.isFinite(v)) throw new RecallError('E_INVALID_ARGUMENT', `run ${id}: timing '${k}' is ${v}`, { runId: id, field: k });
    }
    const tx = this.db.transaction(() => {
      const run = this.require(id);
      this.s.timings.run(JSON.stringify({ ...run.timings, ...timings }), id);
    });
    tx.immediate();
    return this.require(id);
  }

  /**
   * Deletes a run and everything recorded for it, in one transaction. Returns the artifact paths
   * so the caller removes the files (the store does no file I/O beyond its database). Refused for
   * a running run and for a run other runs were derived from.
   */
  delete(id: number): { artifactPaths: string[] } {
    const tx = this.db.transaction(() => {
      const run = this.require(id);
      if (run.status === 'running') throw new RecallError('E_RUN_IN_USE', `run ${id} is running; cancel it before deleting`, { runId: id });
      const { n } = this.s.childCount.get(id)!;
      if (n > 0) {
        const children = this.children(id).map((c) => c.id);
        throw new RecallError('E_RUN_IN_USE', `run ${id} is a parent of run(s) ${children.join(', ')}; delete those first`, { runId: id, children });
      }
      const artifactPaths = this.s.artifactPaths.all(id).map((r) => r.path);
      this.s.delete.run(id);
      return { artifactPaths };
    });
    return tx.immediate();
  }

  private transition(id: number, to: RunStatus, patch: (row: RunRow) => Record<string, unknown>): RunRecord {
    const tx = this.db.transaction(() => {
      const row = this.s.get.get(id);
      if (!row) throw new RecallError('E_NOT_FOUND', `run ${id} does not exist`, { runId: id });
      if (!RUN_TRANSITIONS[row.status].includes(to)) {
        const from = statusesLeadingTo(to);
        throw new RecallError(
          'E_RUN_TRANSITION',
          `run ${id} is '${row.status}' and cannot become '${to}' (only ${from.map((s) => `'${s}'`).join(' or ')} can)`,
          { runId: id, from: row.status, to },
        );
      }
      this.s.update.run({
        id,
        status: to,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
        error: row.error,
        resumable: row.resumable,
        ownerPid: row.owner_pid,
        ownerHost: row.owner_host,
        ...patch(row),
      });
    });
    tx.immediate();
    return this.require(id);
  }

  private toRecord(r: RunRow): RunRecord {
    const versions: RunVersions = { recall: r.recall_version };
    if (r.ort_version !== null) versions.ort = r.ort_version;
    if (r.execution_provider !== null) versions.executionProvider = r.execution_provider;
    if (r.ep_version !== null) versions.epVersion = r.ep_version;
    return {
      id: r.id,
      kind: r.kind,
      name: r.name,
      status: r.status,
      modelId: r.model_id,
      config: parseJsonColumn(r.config_json, `runs.config_json of run ${r.id}`),
      fingerprint: r.fingerprint,
      seed: r.seed,
      versions,
      createdAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      timings: parseJsonColumn(r.timings_json, `runs.timings_json of run ${r.id}`),
      error: r.error,
      resumable: r.resumable === 1,
      ownerPid: r.owner_pid,
      ownerHost: r.owner_host,
      parents: this.s.parents.all(r.id).map((p) => ({ id: p.parent_id, role: p.role })),
    };
  }
}
