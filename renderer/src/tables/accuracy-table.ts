// The paper's main table: rows dense / compressed / recovered models, columns tasks plus their
// average; each cell accuracy ± stderr (in %), marked when a paired test against the row's
// reference (dense for compressed rows, the compressed model for recovered rows) is
// significant. Pure: the Compare view renders it, the exporters write it.

import type { TableCell, TableData } from './table-data.ts';

export type RowKind = 'dense' | 'compressed' | 'recovered';

export interface AccuracyCell {
  /** Accuracy in [0, 1]. */
  acc: number | null;
  stderr?: number | null;
  /** Paired test p-value against the row's reference (McNemar exact). */
  p?: number | null;
  /** Accuracy minus the reference's on the paired items. */
  delta?: number | null;
}

export interface AccuracyRow {
  label: string;
  kind: RowKind;
  runId?: string;
  cells: Record<string, AccuracyCell>;
}

export interface AccuracyTableData {
  caption?: string;
  tasks: { id: string; label: string }[];
  rows: AccuracyRow[];
  /** Levels for one and two marks. */
  alpha?: [number, number];
}

export function significanceMark(p: number | null | undefined, alpha: [number, number] = [0.05, 0.01]): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '';
  return p < alpha[1] ? '**' : p < alpha[0] ? '*' : '';
}

/** Mean of the tasks' accuracies, with the stderr of that mean (independent tasks). */
export function averageCell(cells: AccuracyCell[]): AccuracyCell {
  const ok = cells.filter((c) => c.acc !== null && Number.isFinite(c.acc));
  if (ok.length === 0 || ok.length < cells.length) return { acc: null };
  const acc = ok.reduce((s, c) => s + c.acc!, 0) / ok.length;
  const withSe = ok.every((c) => c.stderr !== null && c.stderr !== undefined);
  const stderr = withSe ? Math.sqrt(ok.reduce((s, c) => s + c.stderr! ** 2, 0)) / ok.length : null;
  return { acc, stderr };
}

export function accuracyTable(data: AccuracyTableData, digits = 1): TableData {
  const alpha = data.alpha ?? [0.05, 0.01];
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? null : v * 100);
  const toCell = (c: AccuracyCell | undefined): TableCell => {
    if (!c || c.acc === null) return { value: null };
    const mark = significanceMark(c.p, alpha);
    const tone = mark && c.delta ? (c.delta > 0 ? 'up' : 'down') : null;
    return { value: pct(c.acc), stderr: pct(c.stderr), ...(mark ? { mark } : {}), tone };
  };
  return {
    caption: data.caption ?? 'Accuracy (%) ± standard error',
    digits,
    columns: [
      { key: 'method', label: 'Method', align: 'left' },
      ...data.tasks.map((t) => ({ key: t.id, label: t.label, align: 'right' as const })),
      { key: 'average', label: 'Average', align: 'right' },
    ],
    rows: data.rows.map((r) => ({
      group: r.kind,
      cells: [{ value: null, text: r.label }, ...data.tasks.map((t) => toCell(r.cells[t.id])), toCell(averageCell(data.tasks.map((t) => r.cells[t.id] ?? { acc: null })))],
    })),
    notes: [
      `* p < ${alpha[0]}, ** p < ${alpha[1]}: McNemar's exact test on the paired items, against the dense model (compressed rows) or the compressed model (recovered rows).`,
    ],
  };
}
