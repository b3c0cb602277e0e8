// Task loaders on the real data files of ../shared/datasets (record counts equal its README's
// table, no line reported malformed) and on broken copies: every bad line is reported with
// its file and line number and counted, and a task whose files are missing names the path.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isRecallError } from '../../main/engine/errors.ts';
import { evaluate } from '../../main/engine/eval/evaluate.ts';
import { toHarnessResults } from '../../main/engine/eval/results.ts';
import type { EvalScorer } from '../../main/engine/eval/scorer.ts';
import { loadTask } from '../../main/engine/eval/task-data.ts';

const DATASETS = fileURLToPath(new URL('../../../shared/datasets', import.meta.url));
const DEMO_TASKS = fileURLToPath(new URL('../../native-models/demo/tasks', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'recall-eval-data-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A scorer that prefers the first choice and generates nothing: enough to run the pipeline. */
const firstChoiceScorer: EvalScorer = {
  scorePairs: async (pairs) => pairs.map((_, i) => ({ logprob: -1 - i, greedy: i === 0, tokens: 1 })),
  generate: async () => '',
};

// From ../shared/datasets/README.md, "Status at a glance".
const EXPECTED: [string, number][] = [
  ['arc_easy', 2376], ['arc_challenge', 1172], ['sciq', 1000], ['webqs', 2032], ['triviaqa', 1000],
  ['piqa', 1838], ['lambada_openai', 5153], ['winogrande', 1267], ['commonsense_qa', 1221],
];

describe('loaders on ../shared/datasets', () => {
  test('the shared data folder exists (these tests need it; they do not skip)', () => {
    assert.ok(existsSync(DATASETS), `../shared/datasets not found at ${DATASETS}: the loader tests read the real data files from there`);
  });

  for (const [name, count] of EXPECTED) {
    test(`${name}: ${count} records, all usable`, () => {
      const t = loadTask(name, [DATASETS]);
      assert.ok(t.available, `${name} unavailable: ${t.available ? '' : t.missing.join(', ')}`);
      assert.deepEqual(t.data.issues, []);
      assert.equal(t.data.docs.length, count);
      assert.equal(t.data.records, count);
      assert.deepEqual(t.data.docs.map((d) => d.index), Array.from({ length: count }, (_, i) => i));
      for (const d of t.data.docs) {
        assert.ok(d.gold.every((g) => g >= 0 && g < Math.max(d.choices.length, d.contexts.length)), `${name} doc ${d.index}: gold ${d.gold}`);
      }
    });
  }

  test('details the README states: SciQ has 884 supports; ARC-E has 97 numeric answer keys; PIQA has 928 label-1 items; WinoGrande answers', () => {
    const sciq = loadTask('sciq', [DATASETS]);
    assert.ok(sciq.available);
    assert.equal(sciq.data.docs.filter((d) => !d.contexts[0]!.startsWith('\n')).length, 884);
    const arc = loadTask('arc_easy', [DATASETS]);
    assert.ok(arc.available);
    assert.equal(arc.data.docs.filter((d) => /^\d$/.test(d.doc.answerKey as string)).length, 97);
    const piqa = loadTask('piqa', [DATASETS]);
    assert.ok(piqa.available);
    assert.equal(piqa.data.docs.filter((d) => d.gold[0] === 1).length, 928);
    const wino = loadTask('winogrande', [DATASETS]);
    assert.ok(wino.available);
    assert.ok(wino.data.docs.every((d) => d.contexts.length === 2 && d.choices.length === 1));
  });

  test('the demo tasks: 400 items each in native-models/demo/tasks', () => {
    for (const name of ['demo_mc', 'demo_cloze']) {
      const t = loadTask(name, [DATASETS, DEMO_TASKS]);
      assert.ok(t.available);
      assert.equal(t.data.docs.length, 400);
      assert.deepEqual(t.data.issues, []);
    }
  });

  test('hellaswag is absent there: unavailable, naming the exact path looked for', () => {
    const t = loadTask('hellaswag', [DATASETS]);
    assert.equal(t.available, false);
    assert.deepEqual(t.available ? [] : t.missing, [join(DATASETS, 'hellaswag/hellaswag_val.jsonl')]);
  });
});

describe('malformed data', () => {
  const arcLine = (stem: string, key = 'A') => JSON.stringify({ id: stem, question: { stem, choices: [{ text: 'x', label: 'A' }, { text: 'y', label: 'B' }] }, answerKey: key });

  test('bad JSON, empty lines, missing fields and bad keys are each reported with file and line, and counted', async () => {
    const dir = join(tmp, 'bad');
    mkdirSync(join(dir, 'arc_easy'), { recursive: true });
    const file = join(dir, 'arc_easy', 'ARC-Easy-Test.jsonl');
    writeFileSync(file, [arcLine('one'), '{"id": "broken", ', '', JSON.stringify({ id: 'nokey', question: { stem: 's', choices: [{ text: 'x', label: 'A' }] } }), arcLine('five', 'Z'), '[1, 2]', arcLine('seven', 'B')].join('\n') + '\n');
    const t = loadTask('arc_easy', [dir]);
    assert.ok(t.available);
    assert.deepEqual(t.data.docs.map((d) => d.index), [0, 6]);
    assert.equal(t.data.records, 7);
    assert.deepEqual(t.data.issues.map((i) => [i.file, i.line]), [[file, 2], [file, 3], [file, 4], [file, 5], [file, 6]]);
    assert.match(t.data.issues[0]!.message, /not JSON/);
    assert.equal(t.data.issues[1]!.message, 'empty line');
    assert.match(t.data.issues[2]!.message, /field "answerKey" must be a string/);
    assert.match(t.data.issues[3]!.message, /answerKey "Z" is not one of the choice labels A, B/);
    assert.equal(t.data.issues[4]!.message, 'not a JSON object');
    // The run carries them into the results file.
    const run = await evaluate(firstChoiceScorer, { tasks: ['arc_easy'], dataDirs: [dir] });
    const json = toHarnessResults(run, { model: 'fake' }) as { recall: { tasks: Record<string, { data_issues: unknown[]; records: number }> }; 'n-samples': Record<string, unknown> };
    assert.equal(json.recall.tasks.arc_easy!.data_issues.length, 5);
    assert.equal(json.recall.tasks.arc_easy!.records, 7);
    assert.deepEqual(json['n-samples'].arc_easy, { original: 2, effective: 2 });
  });

  test('PIQA: a bad label is an issue of the label file; a label count that does not align is an error', () => {
    const dir = join(tmp, 'piqa-bad');
    mkdirSync(join(dir, 'piqa'), { recursive: true });
    const line = JSON.stringify({ goal: 'g', sol1: 'a', sol2: 'b' });
    writeFileSync(join(dir, 'piqa', 'valid.jsonl'), `${line}\n${line}\n${line}\n`);
    writeFileSync(join(dir, 'piqa', 'valid-labels.lst'), '0\n2\n1\n');
    const t = loadTask('piqa', [dir]);
    assert.ok(t.available);
    assert.equal(t.data.docs.length, 2);
    assert.deepEqual(t.data.issues, [{ file: join(dir, 'piqa', 'valid-labels.lst'), line: 2, message: 'label "2" is not one of 0, 1' }]);
    writeFileSync(join(dir, 'piqa', 'valid-labels.lst'), '0\n1\n');
    assert.throws(() => loadTask('piqa', [dir]), (e) => isRecallError(e, 'E_EVAL_DATA') && /2 labels for 3 lines/.test(e.message));
  });

  test('an explicitly requested task with missing files fails with the path; with requireAll false it is reported and skipped', async () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'winogrande', 'dev.jsonl');
    await assert.rejects(evaluate(firstChoiceScorer, { tasks: ['winogrande'], dataDirs: [dir] }),
      (e) => isRecallError(e, 'E_EVAL_TASK') && e.message === `task winogrande is unavailable: missing ${path}`);
    const run = await evaluate(firstChoiceScorer, { tasks: ['winogrande'], dataDirs: [dir], requireAll: false });
    assert.deepEqual(run.unavailable, [{ task: 'winogrande', missing: [path] }]);
    assert.deepEqual(run.results, []);
  });
});
