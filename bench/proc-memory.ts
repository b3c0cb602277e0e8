// Memory counters of the current process (Linux /proc), and the benches' flag reader.
import { readFileSync } from 'node:fs';

/** A /proc/self/status field in bytes (VmRSS: now; VmHWM: the peak so far). */
export function procStatus(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]) * 1024;
}

/** The value after --name in args, or the fallback. */
export function stringOption(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1]!;
}

/** A positive number after --name in args, or the fallback. */
export function numberOption(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number, got '${args[i + 1]}'`);
  return v;
}
