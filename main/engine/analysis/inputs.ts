// Where analysis inputs come from: a text file (one example per line) or a task's evaluation
// contexts, formatted as METHODS.md section 3 gives them to the model.
//
// TODO(eval): main/engine/eval is not committed yet; once it exposes task loaders, take the
// contexts from there (all nine tasks). Until then the demo tasks and ARC-style / LAMBADA-style
// JSON Lines files are read here directly.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RecallError } from '../errors.ts';

/** The demo tasks shipped with the repository (native-models/demo/tasks/<name>/test.jsonl). */
export const DEMO_TASKS_DIR = fileURLToPath(new URL('../../../native-models/demo/tasks/', import.meta.url));

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
 * The contexts of a task: `Question: {stem}\nAnswer:` for ARC-layout records
 * ({question: {stem}}), the text without its last word for LAMBADA-layout records ({text}).
 * `task` is a demo task name (demo_mc, demo_cloze) or a .jsonl path.
 */
export function readTaskContexts(task: string): string[] {
  const file = task.endsWith('.jsonl') ? task : `${DEMO_TASKS_DIR}${task}/test.jsonl`;
  if (!task.endsWith('.jsonl') && !existsSync(file)) {
    throw new RecallError('E_NOT_FOUND', `task '${task}' not found (known: demo_mc, demo_cloze, or give a .jsonl file)`, { task });
  }
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
