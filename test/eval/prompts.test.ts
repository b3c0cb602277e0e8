// Prompt construction per task on hand-written records, against lm-evaluation-harness's rules
// written out as exact strings (METHODS.md section 3; lm_eval/tasks/*/ yaml and utils.py).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hellaswagPreprocess, matchesAnyAlias, normalizeExactMatch, pythonCapitalize, removePrefixes, unquoteCsvField } from '../../main/engine/eval/harness-text.ts';
import { buildPairs, buildPrompt, fewshotPrefix, shotText } from '../../main/engine/eval/prompts.ts';
import { buildDocs } from '../../main/engine/eval/task-data.ts';
import { findTask } from '../../main/engine/eval/tasks.ts';
import type { EvalDoc, TaskDef } from '../../main/engine/eval/types.ts';

const task = (name: string): TaskDef => findTask(name)!;
const docOf = (name: string, value: Record<string, unknown>, index = 0): EvalDoc => task(name).toDoc({ index, line: index + 1, value });
const pairsOf = (name: string, value: Record<string, unknown>) => buildPairs(task(name), docOf(name, value));

describe('prompts: multiple choice', () => {
  test('ARC: "Question: {stem}\\nAnswer:" + " " + choice; gold = index of answerKey among the labels', () => {
    const v = { id: 'x', question: { stem: 'Which gas do plants take in?', choices: [{ text: 'oxygen', label: '1' }, { text: 'carbon dioxide', label: '2' }, { text: 'helium', label: '3' }] }, answerKey: '2' };
    assert.deepEqual(pairsOf('arc_easy', v), [
      { context: 'Question: Which gas do plants take in?\nAnswer:', continuation: ' oxygen' },
      { context: 'Question: Which gas do plants take in?\nAnswer:', continuation: ' carbon dioxide' },
      { context: 'Question: Which gas do plants take in?\nAnswer:', continuation: ' helium' },
    ]);
    assert.deepEqual(docOf('arc_challenge', v).gold, [1]);
    assert.throws(() => docOf('arc_easy', { ...v, answerKey: 'E' }), /answerKey "E" is not one of the choice labels 1, 2, 3/);
  });

  test('SciQ: support (left-stripped) + "\\nQuestion: ...\\nAnswer:"; choices distractor1..3 then the answer, gold 3', () => {
    const v = { question: 'What do bees make?', distractor1: 'milk', distractor2: 'silk', distractor3: 'wax paper', correct_answer: 'honey', support: '  Bees collect nectar.' };
    const d = docOf('sciq', v);
    assert.deepEqual(d.contexts, ['Bees collect nectar.\nQuestion: What do bees make?\nAnswer:']);
    assert.deepEqual(d.choices, ['milk', 'silk', 'wax paper', 'honey']);
    assert.deepEqual(d.gold, [3]);
    // An empty support leaves the newline: the harness's "{{support.lstrip()}}\nQuestion:".
    assert.equal(docOf('sciq', { ...v, support: '' }).contexts[0], '\nQuestion: What do bees make?\nAnswer:');
  });

  test('PIQA: "Question: {goal}\\nAnswer:", choices sol1/sol2, gold from the label file', () => {
    const pairs = pairsOf('piqa', { goal: 'Open a jar', sol1: 'Twist the lid.', sol2: 'Bite the lid.', label: '0' });
    assert.deepEqual(pairs, [
      { context: 'Question: Open a jar\nAnswer:', continuation: ' Twist the lid.' },
      { context: 'Question: Open a jar\nAnswer:', continuation: ' Bite the lid.' },
    ]);
  });

  test('CommonsenseQA: the question (stripped) with "A. .." to "E. .." lines; continuations " A".." E"', () => {
    const v = { answerKey: 'C', id: 'q', question: { question_concept: 'x', stem: ' Where is a fork kept? ', choices: ['desk', 'river', 'drawer', 'shoe', 'sky'].map((text, i) => ({ label: 'ABCDE'[i], text })) } };
    const pairs = pairsOf('commonsense_qa', v);
    const context = 'Question: Where is a fork kept?\nA. desk\nB. river\nC. drawer\nD. shoe\nE. sky\nAnswer:';
    assert.deepEqual(pairs, ['A', 'B', 'C', 'D', 'E'].map((l) => ({ context, continuation: ` ${l}` })));
    assert.deepEqual(docOf('commonsense_qa', v).gold, [2]);
  });

  test('demo_mc is scored like ARC', () => {
    const v = { id: 'd', question: { stem: 'Which city is Taskein Vitaeth a native of?', choices: [{ text: 'Drankir', label: 'A' }, { text: 'Vobirkun', label: 'B' }] }, answerKey: 'B' };
    assert.deepEqual(pairsOf('demo_mc', v)[1], { context: 'Question: Which city is Taskein Vitaeth a native of?\nAnswer:', continuation: ' Vobirkun' });
  });
});

describe('prompts: HellaSwag preprocessing', () => {
  test('preprocess: strip, " [title]" -> ". ", remove [...], collapse double spaces once', () => {
    // Stripping comes first, so a removed leading marker leaves its space (as in the harness).
    assert.equal(hellaswagPreprocess('  [header] How to x [title] Do y [step] now  '), ' How to x. Do y now');
    assert.equal(hellaswagPreprocess('a    b'), 'a  b'); // str.replace("  ", " ") is one pass
    assert.equal(pythonCapitalize('push a FINGER in'), 'Push a finger in');
    assert.equal(pythonCapitalize(''), '');
  });

  test('the fixture file gives the harness queries and endings', () => {
    const path = fileURLToPath(new URL('../fixtures/eval/hellaswag/hellaswag_val.jsonl', import.meta.url));
    const { docs, issues } = buildDocs(task('hellaswag'), [path]);
    assert.deepEqual(issues, []);
    assert.equal(docs[0]!.contexts[0], 'Baking bread: A man kneads a ball of dough on a floured table. He');
    assert.equal(docs[1]!.contexts[0], 'Home and Garden: How to water a cactus. Check the soil first. Push a finger into the soil');
    assert.deepEqual(docs[1]!.choices, [' If it is dry, water the plant.', ' Pour a bucket of sand on the cactus.', ' Sing to the cactus every morning.', 'Put the cactus in the freezer overnight.']);
    assert.equal(docs[2]!.contexts[0], 'Playing violin: A girl lifts a violin to her shoulder.');
    assert.equal(docs[3]!.contexts[0], 'Riding a bike: A boy climbs onto a red bike. Then he');
    assert.deepEqual(docs[0]!.choices[1], 'paints the table blue.');
    assert.deepEqual(docs.map((d) => d.gold[0]), [2, 0, 1, 3]);
    assert.equal(buildPairs(task('hellaswag'), docs[0]!)[2]!.continuation, ' shapes the dough into a loaf and puts it in a tin.');
  });
});

describe('prompts: other task kinds', () => {
  test('WebQS: answers sorted and prefix-deduplicated; every remaining answer is gold', () => {
    assert.deepEqual(removePrefixes(['Jamaican English', 'Jamaican Creole English Language', 'Jamaican']), ['Jamaican']);
    assert.deepEqual(removePrefixes(['b', 'ab', 'a', 'ba']), ['a', 'b']);
    const d = docOf('webqs', { qId: 'w', qText: 'what does jamaican people speak?', answers: ['Jamaican English', 'Jamaican Creole English Language'] });
    assert.deepEqual(d.choices, ['Jamaican Creole English Language', 'Jamaican English']);
    assert.deepEqual(d.gold, [0, 1]);
    assert.deepEqual(buildPairs(task('webqs'), d)[1], { context: 'Question: what does jamaican people speak?\nAnswer:', continuation: ' Jamaican English' });
  });

  test('TriviaQA: "Question: {q}?\\nAnswer:" (the harness adds "?"), CSV quoting undone, exact match ignoring case and punctuation', () => {
    const d = docOf('triviaqa', { id: 't', question: '"Who wrote ""A cabbage with a college education""?"', golden_answers: ['Mark Twain', 'Samuel L. Clemens'] });
    assert.equal(buildPrompt(d), 'Question: Who wrote "A cabbage with a college education"??\nAnswer:');
    assert.equal(unquoteCsvField('"a "b" c"'), '"a "b" c"'); // a lone inner quote: not CSV quoting
    assert.equal(normalizeExactMatch('Samuel L. Clemens!'), 'samuel l clemens');
    assert.ok(matchesAnyAlias(' mark twain', d.choices));
    assert.ok(matchesAnyAlias('Samuel L Clemens', d.choices));
    assert.ok(!matchesAnyAlias('the Mark Twain', d.choices)); // no article removal in the harness's triviaqa
    assert.deepEqual(task('triviaqa').until, ['\n', '.', ',']);
  });

  test('LAMBADA: context = text without its last space-separated word; continuation " " + the word', () => {
    const d = docOf('lambada_openai', { text: 'She opened the door and saw her  old friend Harlin' });
    assert.deepEqual(buildPairs(task('lambada_openai'), d), [{ context: 'She opened the door and saw her  old friend', continuation: ' Harlin' }]);
    assert.deepEqual(pairsOf('demo_cloze', { text: 'The city where Laeskox Kokirmeind was born is Gevond' }), [{ context: 'The city where Laeskox Kokirmeind was born is', continuation: ' Gevond' }]);
  });

  test('WinoGrande partial scoring: one context per option (sentence up to "_" with it), continuation " " + the rest', () => {
    const v = { qID: 'q', sentence: 'Sarah was a much better surgeon than Maria so _ always got the harder cases.', option1: 'Sarah', option2: 'Maria', answer: '1' };
    assert.deepEqual(pairsOf('winogrande', v), [
      { context: 'Sarah was a much better surgeon than Maria so Sarah', continuation: ' always got the harder cases.' },
      { context: 'Sarah was a much better surgeon than Maria so Maria', continuation: ' always got the harder cases.' },
    ]);
    assert.deepEqual(docOf('winogrande', v).gold, [0]);
    assert.throws(() => docOf('winogrande', { ...v, sentence: 'no blank here' }), /has no "_"/);
    assert.throws(() => docOf('winogrande', { ...v, answer: '3' }), /"answer" must be "1" or "2"/);
  });
});

describe('prompts: few-shot', () => {
  const arc = task('arc_easy');
  const pool = ['one', 'two', 'three', 'four', 'five'].map((w, i) => docOf('arc_easy', { question: { stem: `Q${w}?`, choices: [{ text: `a${w}`, label: 'A' }, { text: `b${w}`, label: 'B' }] }, answerKey: 'B' }, i));

  test('shots are "{text} {gold}" joined by "\\n\\n", end with "\\n\\n", and never include the item', () => {
    assert.equal(shotText(arc, pool[0]!), 'Question: Qone?\nAnswer: bone');
    for (const doc of pool) {
      const { prefix, shotIds } = fewshotPrefix(arc, pool, doc, 3, 7);
      assert.equal(shotIds.length, 3);
      assert.ok(!shotIds.includes(doc.index));
      assert.equal(prefix, `${shotIds.map((i) => shotText(arc, pool[i]!)).join('\n\n')}\n\n`);
      assert.ok(buildPairs(arc, doc, prefix)[0]!.context.endsWith(`\n\nQuestion: Q${['one', 'two', 'three', 'four', 'five'][doc.index]}?\nAnswer:`));
    }
  });

  test('the choice of shots is seeded: same seed same shots, another seed other shots somewhere', () => {
    const a = pool.map((d) => fewshotPrefix(arc, pool, d, 2, 1).shotIds);
    assert.deepEqual(pool.map((d) => fewshotPrefix(arc, pool, d, 2, 1).shotIds), a);
    const others = [2, 3, 4, 5].map((s) => pool.map((d) => fewshotPrefix(arc, pool, d, 2, s).shotIds));
    assert.ok(others.some((o) => JSON.stringify(o) !== JSON.stringify(a)));
    assert.deepEqual(fewshotPrefix(arc, pool, pool[0]!, 0, 1), { prefix: '', shotIds: [] });
  });

  test('WinoGrande shots fill in the gold option; LAMBADA shots keep the harness delimiter', () => {
    const w = docOf('winogrande', { sentence: 'The cup fell because _ was slippery.', option1: 'it', option2: 'the table', answer: '2' });
    assert.equal(shotText(task('winogrande'), w), 'The cup fell because the table was slippery.');
    const l = docOf('lambada_openai', { text: 'a b c' });
    assert.equal(shotText(task('lambada_openai'), l), 'a b  c');
  });
});
