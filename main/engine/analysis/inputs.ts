// Where analysis inputs come from: a text file (one example per line) or a task's evaluation
// contexts, as the evaluation builds them (main/engine/eval; METHODS.md section 3).

import { existsSync, readFileSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import { loadTask, unavailableMessage } from '../eval/task-data.ts';
import { fromPackageRoot } from '../package-root.ts';

/** The demo tasks shipped with the repository (native-models/demo/tasks/<name>/test.jsonl). */
export const DEMO_TASKS_DIR = `${fromPackageRoot('native-models', 'demo', 'tasks')}/`;

function readLines(file: string): string[] {
  if (!existsSync(file)) throw new RecallError('E_NOT_FOUND', `${file}: file not found`, { file });
  return readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/\r$/, ''));
}

/** One example per non-empty line. */
export function readTextExamples(file: string): string[] {
  const texts = readLines(file).filter((l) => l.trim() !== '');
  if (texts.length === 0) throw new RecallError('E_INVALID_ARGUMENT', `${file}: no non-empty lines`, { file });
  return texts;
}

/**
 * The distinct contexts of a task's documents (one per document; WinoGrande's two), in order.
 * `task` is a task name (arc_easy..., demo_mc, demo_cloze), looked for in `dataDirs` and then
 * among the demo tasks, or a .jsonl file of ARC-layout ({question: {stem}}: `Question: {stem}\nAnswer:`)
 * or LAMBADA-layout ({text}: the text without its last word) records.
 */
export function readTaskContexts(task: string, dataDirs: readonly string[] = []): string[] {
  if (task.endsWith('.jsonl')) return readJsonlContexts(task);
  const t = loadTask(task, [...dataDirs, DEMO_TASKS_DIR]);
  if (!t.available) throw new RecallError('E_NOT_FOUND', unavailableMessage(t), { task });
  const contexts = t.data.docs.flatMap((d) => [...new Set(d.contexts)]);
  if (contexts.length === 0) throw new RecallError('E_INVALID_ARGUMENT', `task ${task}: no documents in ${t.data.files.join(', ')}`, { task });
  return contexts;
}

function readJsonlContexts(file: string): string[] {
  const contexts: string[] = [];
  readLines(file).forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: { question?: { stem?: unknown }; text?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch (e) {
      throw new RecallError('E_INVALID_ARGUMENT', `${file}:${i + 1}: not JSON (${(e as Error).message})`, { file, line: i + 1 });
    }
    if (typeof rec.question?.stem === 'string') contexts.push(`Question: ${rec.question.stem}\nAnswer:`);
    else if (typeof rec.text === 'string' && rec.text.includes(' ')) contexts.push(rec.text.slice(0, rec.text.lastIndexOf(' ')));
    else throw new RecallError('E_INVALID_ARGUMENT', `${file}:${i + 1}: neither question.stem nor a text of several words`, { file, line: i + 1 });
  });
  if (contexts.length === 0) throw new RecallError('E_INVALID_ARGUMENT', `${file}: no records`, { file });
  return contexts;
}
