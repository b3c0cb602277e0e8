// Finding and loading a task's data: the first data folder that holds all of the task's
// files is used; a task none of them holds is "unavailable", with the exact paths looked for.
// Records that do not fit the task's format become DataIssues (file + line), counted and
// reported with the results.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RecallError } from '../errors.ts';
import { findTask, TASKS } from './tasks.ts';
import type { DataIssue, EvalDoc, TaskDef } from './types.ts';

export interface LoadedTask {
  task: TaskDef;
  /** Absolute paths of the files read. */
  files: string[];
  docs: EvalDoc[];
  issues: DataIssue[];
  /** Records in the data file (good + malformed), the harness's n-samples "original". */
  records: number;
}

export type TaskData = { available: true; task: TaskDef; data: LoadedTask } | { available: false; task: TaskDef; missing: string[] };

export function resolveTask(name: string): TaskDef {
  const task = findTask(name);
  if (!task) throw new RecallError('E_EVAL_TASK', `unknown task '${name}' (known: ${TASKS.map((t) => t.name).join(', ')})`, { task: name });
  return task;
}

/** Where the task's files are (the first folder holding all of them), or the paths missing. */
export function locateTask(task: TaskDef, dataDirs: readonly string[]): { paths: string[] } | { missing: string[] } {
  const missing: string[] = [];
  for (const dir of dataDirs) {
    const paths = task.files.map((f) => resolve(join(dir, f)));
    const absent = paths.filter((p) => !existsSync(p));
    if (absent.length === 0) return { paths };
    missing.push(...absent);
  }
  return { missing: dataDirs.length ? missing : [...task.files] };
}

/** Build the documents of already-read records; each record that does not fit is an issue. */
export function buildDocs(task: TaskDef, paths: string[]): LoadedTask {
  const { records, issues } = task.read(paths);
  const allIssues = [...issues];
  const docs: EvalDoc[] = [];
  for (const r of records) {
    try {
      docs.push(task.toDoc(r));
    } catch (e) {
      allIssues.push({ file: paths[0]!, line: r.line, message: (e as Error).message });
    }
  }
  allIssues.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  // Every issue stands for one record (or line) that was not used.
  return { task, files: paths, docs, issues: allIssues, records: docs.length + allIssues.length };
}

export function loadTask(name: string, dataDirs: readonly string[]): TaskData {
  const task = resolveTask(name);
  const where = locateTask(task, dataDirs);
  if ('missing' in where) return { available: false, task, missing: where.missing };
  return { available: true, task, data: buildDocs(task, where.paths) };
}

/** One line per unavailable task, naming every path looked for. */
export function unavailableMessage(t: { task: TaskDef; missing: string[] }): string {
  return `task ${t.task.name} is unavailable: missing ${t.missing.join(', ')}`;
}
