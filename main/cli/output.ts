// Where CLI commands write: results to stdout, warnings and errors to stderr.
export interface Output {
  line(s: string): void;
  json(v: unknown): void;
  table(rows: string[][], header?: boolean): void;
  warn(s: string): void;
  error(s: string): void;
}

export function consoleOutput(): Output {
  return {
    line: (s) => process.stdout.write(`${s}\n`),
    json: (v) => process.stdout.write(`${JSON.stringify(v)}\n`),
    table: (rows, header = false) => {
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
      rows.forEach((r, i) => {
        process.stdout.write(`${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}\n`);
        if (header && i === 0) process.stdout.write(`${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
      });
    },
    warn: (s) => process.stderr.write(`recall: warning: ${s}\n`),
    error: (s) => process.stderr.write(`recall: error: ${s}\n`),
  };
}
