// Tables to text files: CSV (numbers unrounded-but-scaled, stderr and marks in their own
// columns), LaTeX with booktabs rules, and GitHub Markdown. Pure functions of TableData.

import { cellText, formatValue, type TableCell, type TableData } from '../tables/table-data.ts';

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function tableToCsv(t: TableData): string {
  const hasSe = t.columns.map((_, i) => t.rows.some((r) => r.cells[i]?.stderr !== undefined && r.cells[i]?.stderr !== null));
  const hasMark = t.columns.map((_, i) => t.rows.some((r) => !!r.cells[i]?.mark));
  const header: string[] = [];
  t.columns.forEach((c, i) => {
    header.push(c.label);
    if (hasSe[i]) header.push(`${c.label} stderr`);
    if (hasMark[i]) header.push(`${c.label} significance`);
  });
  const num = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '' : String(Number(v.toFixed(6))));
  const lines = [header.map(csvField).join(',')];
  for (const r of t.rows) {
    const out: string[] = [];
    t.columns.forEach((_, i) => {
      const c: TableCell = r.cells[i] ?? { value: null };
      out.push(c.text !== undefined ? c.text : num(c.value));
      if (hasSe[i]) out.push(num(c.stderr));
      if (hasMark[i]) out.push(c.mark ?? '');
    });
    lines.push(out.map(csvField).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

function mdEscape(s: string): string {
  return s.replace(/[\\|*_]/g, (ch) => `\\${ch}`).replace(/\n/g, ' ');
}

export function tableToMarkdown(t: TableData): string {
  const head = `| ${t.columns.map((c) => mdEscape(c.label)).join(' | ')} |`;
  const rule = `| ${t.columns.map((c) => (c.align === 'right' ? '---:' : ':---')).join(' | ')} |`;
  const rows = t.rows.map((r) => `| ${t.columns.map((_, i) => mdEscape(cellText(r.cells[i] ?? { value: null }, t.digits))).join(' | ')} |`);
  const notes = (t.notes ?? []).map((n) => `\n${mdEscape(n)}`).join('');
  return `**${mdEscape(t.caption)}**\n\n${[head, rule, ...rows].join('\n')}\n${notes ? `${notes}\n` : ''}`;
}

const LATEX_SPECIAL: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '&': '\\&',
  '%': '\\%',
  $: '\\$',
  '#': '\\#',
  _: '\\_',
  '{': '\\{',
  '}': '\\}',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
  '±': '$\\pm$',
  '<': '$<$',
  '>': '$>$',
  '—': '--',
  '–': '--',
};

export function latexEscape(s: string): string {
  return s.replace(/[\\&%$#_{}~^±—–<>]/g, (ch) => LATEX_SPECIAL[ch]!);
}

function latexCell(c: TableCell, digits: number): string {
  if (c.text !== undefined) return latexEscape(c.text);
  if (c.value === null) return '--';
  const se = c.stderr !== undefined && c.stderr !== null ? ` {\\scriptsize$\\pm$${formatValue(c.stderr, digits)}}` : '';
  const mark = c.mark ? `$^{${c.mark.replace(/\*/g, '\\ast')}}$` : '';
  return `${formatValue(c.value, digits)}${se}${mark}`;
}

/** A booktabs table (\usepackage{booktabs}); groups of rows are separated by \midrule. */
export function tableToLatex(t: TableData): string {
  const spec = t.columns.map((c) => (c.align === 'right' ? 'r' : 'l')).join('');
  const lines = ['\\begin{table}[t]', '\\centering', `\\caption{${latexEscape(t.caption)}}`, `\\begin{tabular}{${spec}}`, '\\toprule'];
  lines.push(`${t.columns.map((c) => latexEscape(c.label)).join(' & ')} \\\\`);
  lines.push('\\midrule');
  t.rows.forEach((r, i) => {
    if (i > 0 && r.group !== t.rows[i - 1]!.group) lines.push('\\midrule');
    lines.push(`${t.columns.map((_, j) => latexCell(r.cells[j] ?? { value: null }, t.digits)).join(' & ')} \\\\`);
  });
  lines.push('\\bottomrule', '\\end{tabular}');
  for (const n of t.notes ?? []) lines.push(`\\par\\smallskip{\\footnotesize ${latexEscape(n)}}`);
  lines.push('\\end{table}');
  return lines.join('\n') + '\n';
}
