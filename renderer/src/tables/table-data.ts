// A table as data: the one shape the table components render and the exporters (CSV, LaTeX,
// Markdown in export/table-export.ts) write. Cells keep numbers, not strings, so each format
// rounds and marks them its own way.

export interface TableColumn {
  key: string;
  label: string;
  align: 'left' | 'right';
}

export interface TableCell {
  /** Number shown (already scaled, e.g. accuracy in %); null for a missing value. */
  value: number | null;
  stderr?: number | null;
  /** Significance mark, e.g. "*" or "**". */
  mark?: string;
  /** Text cells (row labels). */
  text?: string;
  /** Direction against the reference row, for colour in the app. */
  tone?: 'up' | 'down' | null;
}

export interface TableRow {
  /** Rows with the same group are kept together; a rule separates groups. */
  group?: string;
  cells: TableCell[];
}

export interface TableData {
  caption: string;
  columns: TableColumn[];
  rows: TableRow[];
  /** Decimals of values and stderrs. */
  digits: number;
  notes?: string[];
}

export function formatValue(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

/** "62.3 ± 1.2*" — the plain-text form of a cell (Markdown and the app). */
export function cellText(c: TableCell, digits: number): string {
  if (c.text !== undefined) return c.text;
  if (c.value === null) return '—';
  const se = c.stderr !== undefined && c.stderr !== null ? ` ± ${formatValue(c.stderr, digits)}` : '';
  return `${formatValue(c.value, digits)}${se}${c.mark ?? ''}`;
}
