// Readers for the file layouts of the evaluation data sets: JSON Lines (one object a line),
// one JSON array of objects, and label files (one label a line, aligned with a data file).
// A line that cannot be used is returned as a DataIssue naming the file and line; the
// readers never drop one silently. A file that cannot be read at all is an E_EVAL_DATA error.
import { readFileSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import type { DataIssue, RawRecord } from './types.ts';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new RecallError('E_EVAL_DATA', `${path}: cannot read (${(e as Error).message})`, { file: path }, { cause: e });
  }
}

/** Split a file into lines; a final newline does not make an extra empty line. */
function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function readJsonLines(path: string): { records: RawRecord[]; issues: DataIssue[] } {
  const records: RawRecord[] = [];
  const issues: DataIssue[] = [];
  splitLines(readText(path)).forEach((text, i) => {
    const line = i + 1;
    if (text.trim() === '') {
      issues.push({ file: path, line, message: 'empty line' });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      issues.push({ file: path, line, message: `not JSON (${(e as Error).message})` });
      return;
    }
    if (!isObject(value)) {
      issues.push({ file: path, line, message: 'not a JSON object' });
      return;
    }
    records.push({ index: i, line, value });
  });
  return { records, issues };
}

/** A file holding one JSON array of objects (SciQ, WebQS). Issues give the 1-based record number. */
export function readJsonArray(path: string): { records: RawRecord[]; issues: DataIssue[] } {
  let value: unknown;
  try {
    value = JSON.parse(readText(path));
  } catch (e) {
    if (e instanceof RecallError) throw e;
    throw new RecallError('E_EVAL_DATA', `${path}: not JSON (${(e as Error).message})`, { file: path }, { cause: e });
  }
  if (!Array.isArray(value)) throw new RecallError('E_EVAL_DATA', `${path}: expected a JSON array of records`, { file: path });
  const records: RawRecord[] = [];
  const issues: DataIssue[] = [];
  value.forEach((v, i) => {
    if (isObject(v)) records.push({ index: i, line: i + 1, value: v });
    else issues.push({ file: path, line: i + 1, message: `record ${i + 1} is not a JSON object` });
  });
  return { records, issues };
}

/**
 * Attach the labels of a label file (PIQA valid-labels.lst, WinoGrande dev-labels.lst) to the
 * records of its data file as `field`, by line. A label that is not one of `allowed` is an
 * issue of the label file (its record is dropped, and said so); a count that differs from the
 * data file's line count is an error, since every label after the gap would be misaligned.
 */
export function attachLabels(
  data: { records: RawRecord[]; issues: DataIssue[] }, dataPath: string, labelPath: string, field: string, allowed: string[],
): { records: RawRecord[]; issues: DataIssue[] } {
  const labels = splitLines(readText(labelPath));
  const dataLines = splitLines(readText(dataPath)).length;
  if (labels.length !== dataLines) {
    throw new RecallError('E_EVAL_DATA', `${labelPath}: ${labels.length} labels for ${dataLines} lines of ${dataPath}; they must align line by line`, { file: labelPath });
  }
  const issues = [...data.issues];
  const records: RawRecord[] = [];
  for (const r of data.records) {
    const label = labels[r.index]!.trim();
    if (!allowed.includes(label)) {
      issues.push({ file: labelPath, line: r.index + 1, message: `label ${JSON.stringify(label)} is not one of ${allowed.join(', ')}` });
      continue;
    }
    records.push({ ...r, value: { ...r.value, [field]: label } });
  }
  return { records, issues };
}

// Field accessors for toDoc: they throw an Error whose message names the field, which the
// loader turns into a DataIssue with the file and line.

export function stringField(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`field "${key}" must be a string (got ${v === undefined ? 'nothing' : JSON.stringify(v)})`);
  return v;
}

export function objectField(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = o[key];
  if (!isObject(v)) throw new Error(`field "${key}" must be an object`);
  return v;
}

export function stringList(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string')) throw new Error(`field "${key}" must be a non-empty list of strings`);
  return v as string[];
}

export function objectList(o: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length === 0 || !v.every(isObject)) throw new Error(`field "${key}" must be a non-empty list of objects`);
  return v as Record<string, unknown>[];
}
