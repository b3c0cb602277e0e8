// Filtering, sorting and lineage of the Runs table (pure).

import type { RunSummary } from './workbench-types.ts';

export type SortKey = 'name' | 'kind' | 'status' | 'model' | 'createdAt' | 'average' | 'durationSeconds';

export interface RunFilter {
  text: string;
  status: RunSummary['status'] | 'all';
  kind: RunSummary['kind'] | 'all';
}

export function filterRuns(runs: RunSummary[], f: RunFilter): RunSummary[] {
  const words = f.text.toLowerCase().split(/\s+/).filter(Boolean);
  return runs.filter((r) => {
    if (f.status !== 'all' && r.status !== f.status) return false;
    if (f.kind !== 'all' && r.kind !== f.kind) return false;
    const hay = `${r.name} ${r.method} ${r.recovery ?? ''} ${r.model} ${r.id} ${r.tasks.join(' ')}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Stable sort; missing values (null) always last. */
export function sortRuns(runs: RunSummary[], key: SortKey, dir: 'asc' | 'desc'): RunSummary[] {
  const sign = dir === 'asc' ? 1 : -1;
  return runs
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const x = a.r[key], y = b.r[key];
      if (x === null && y === null) return a.i - b.i;
      if (x === null) return 1;
      if (y === null) return -1;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map((e) => e.r);
}

/** The chain of parents of a run, nearest first (cycles and missing parents end it). */
export function lineage(run: RunSummary, all: RunSummary[]): RunSummary[] {
  const byId = new Map(all.map((r) => [r.id, r]));
  const out: RunSummary[] = [];
  const seen = new Set([run.id]);
  let p = run.parentId ? byId.get(run.parentId) : undefined;
  while (p && !seen.has(p.id)) {
    out.push(p);
    seen.add(p.id);
    p = p.parentId ? byId.get(p.parentId) : undefined;
  }
  return out;
}
