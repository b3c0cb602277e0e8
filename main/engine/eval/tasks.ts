// The evaluation tasks: lm-evaluation-harness's task configs (lm_eval/tasks/<task>/*.yaml and
// utils.py, METHODS.md section 3) over the original file layouts of ../shared/datasets
// (see its README), plus the demo model's own two tasks (ARC and LAMBADA layouts).
import { attachLabels, objectField, objectList, readJsonArray, readJsonLines, stringField, stringList } from './data-files.ts';
import { hellaswagPreprocess, pythonCapitalize, removePrefixes, unquoteCsvField } from './harness-text.ts';
import type { EvalDoc, RawRecord, TaskDef } from './types.ts';

type Shared = Pick<TaskDef, 'filter' | 'targetDelimiter'>;
const SHARED: Shared = { filter: 'none', targetDelimiter: ' ' };
const readLines = (paths: string[]) => readJsonLines(paths[0]!);

function doc(r: RawRecord, contexts: string[], choices: string[], gold: number[]): EvalDoc {
  return { index: r.index, doc: r.value, contexts, choices, gold };
}

/** ARC's original layout: {question: {stem, choices: [{text, label}]}, answerKey}. */
function arcDoc(r: RawRecord): EvalDoc {
  const q = objectField(r.value, 'question');
  const stem = stringField(q, 'stem');
  const choices = objectList(q, 'choices');
  const texts = choices.map((c) => stringField(c, 'text'));
  const labels = choices.map((c) => stringField(c, 'label'));
  const key = stringField(r.value, 'answerKey');
  const gold = labels.indexOf(key);
  if (gold < 0) throw new Error(`answerKey ${JSON.stringify(key)} is not one of the choice labels ${labels.join(', ')}`);
  return doc(r, [`Question: ${stem}\nAnswer:`], texts, [gold]);
}

function arcTask(name: string, file: string, version: number): TaskDef {
  return {
    ...SHARED, name, version, split: 'test', datasetPath: name.startsWith('demo') ? 'recall/demo' : 'allenai/ai2_arc',
    kind: 'multiple_choice', files: [file], metrics: ['acc', 'acc_norm'], template: 'Question: {{question}}\\nAnswer:',
    read: readLines, toDoc: arcDoc,
  };
}

/** LAMBADA: context = text without its last space-separated word; target = " " + that word. */
function lambadaDoc(r: RawRecord): EvalDoc {
  const text = stringField(r.value, 'text');
  const words = text.split(' ');
  return doc(r, [words.slice(0, -1).join(' ')], [` ${words[words.length - 1]}`], [0]);
}

function lambadaTask(name: string, file: string): TaskDef {
  return {
    ...SHARED, name, version: 1, split: 'test', datasetPath: name.startsWith('demo') ? 'recall/demo' : 'EleutherAI/lambada_openai',
    kind: 'loglikelihood', files: [file], metrics: ['perplexity', 'acc'], template: "{{text.split(' ')[:-1]|join(' ')}}",
    read: readLines, toDoc: lambadaDoc,
  };
}

const sciq: TaskDef = {
  ...SHARED, name: 'sciq', version: 1, split: 'test', datasetPath: 'allenai/sciq', kind: 'multiple_choice',
  files: ['sciq/test.json'], metrics: ['acc', 'acc_norm'], template: '{{support.lstrip()}}\\nQuestion: {{question}}\\nAnswer:',
  read: (paths) => readJsonArray(paths[0]!),
  toDoc: (r) => {
    const v = r.value;
    const choices = ['distractor1', 'distractor2', 'distractor3', 'correct_answer'].map((k) => stringField(v, k));
    return doc(r, [`${stringField(v, 'support').trimStart()}\nQuestion: ${stringField(v, 'question')}\nAnswer:`], choices, [3]);
  },
};

const webqs: TaskDef = {
  ...SHARED, name: 'webqs', version: 2, split: 'test', datasetPath: 'web_questions', kind: 'greedy_any',
  files: ['webqs/main/test.json'], metrics: ['exact_match'], template: 'Question: {{question}}\\nAnswer:',
  read: (paths) => readJsonArray(paths[0]!),
  toDoc: (r) => {
    const answers = removePrefixes(stringList(r.value, 'answers'));
    return doc(r, [`Question: ${stringField(r.value, 'qText')}\nAnswer:`], answers, answers.map((_, i) => i));
  },
};

const triviaqa: TaskDef = {
  name: 'triviaqa', version: 3, split: 'validation', datasetPath: 'trivia_qa', kind: 'generate_until',
  files: ['triviaqa/test.subsample-1000.jsonl'], metrics: ['exact_match'], filter: 'remove_whitespace', targetDelimiter: ' ',
  until: ['\n', '.', ','], template: 'Question: {{question}}?\\nAnswer:',
  read: readLines,
  toDoc: (r) => {
    // The harness appends "?" to the question even when it already ends with one.
    const aliases = stringList(r.value, 'golden_answers');
    return doc(r, [`Question: ${unquoteCsvField(stringField(r.value, 'question'))}?\nAnswer:`], aliases, aliases.map((_, i) => i));
  },
};

const piqa: TaskDef = {
  ...SHARED, name: 'piqa', version: 1, split: 'validation', datasetPath: 'baber/piqa', kind: 'multiple_choice',
  files: ['piqa/valid.jsonl', 'piqa/valid-labels.lst'], metrics: ['acc', 'acc_norm'], template: 'Question: {{goal}}\\nAnswer:',
  read: (paths) => attachLabels(readJsonLines(paths[0]!), paths[0]!, paths[1]!, 'label', ['0', '1']),
  toDoc: (r) => doc(r, [`Question: ${stringField(r.value, 'goal')}\nAnswer:`], [stringField(r.value, 'sol1'), stringField(r.value, 'sol2')], [Number(r.value.label)]),
};

const hellaswag: TaskDef = {
  ...SHARED, name: 'hellaswag', version: 1, split: 'validation', datasetPath: 'hellaswag', kind: 'multiple_choice',
  files: ['hellaswag/hellaswag_val.jsonl'], metrics: ['acc', 'acc_norm'], template: '{{query}}',
  read: readLines,
  toDoc: (r) => {
    const v = r.value;
    const ctx = `${stringField(v, 'ctx_a')} ${pythonCapitalize(stringField(v, 'ctx_b'))}`;
    const endings = stringList(v, 'endings');
    const label = Number(v.label);
    if (!Number.isInteger(label) || label < 0 || label >= endings.length || (typeof v.label === 'string' && v.label.trim() === '')) {
      throw new Error(`field "label" must be an index into endings (got ${JSON.stringify(v.label)})`);
    }
    return doc(r, [hellaswagPreprocess(`${stringField(v, 'activity_label')}: ${ctx}`)], endings.map(hellaswagPreprocess), [label]);
  },
};

const winogrande: TaskDef = {
  ...SHARED, name: 'winogrande', version: 1, split: 'validation', datasetPath: 'winogrande', kind: 'multiple_choice',
  files: ['winogrande/dev.jsonl'], metrics: ['acc'], template: 'partial scoring: sentence[:idx] + option | rest after "_"',
  read: readLines,
  toDoc: (r) => {
    // Partial scoring (Trinh & Le 2018; harness preprocess_winogrande.py): one context per
    // option, the sentence up to "_" with the option filled in; the continuation is the rest.
    const sentence = stringField(r.value, 'sentence');
    const idx = sentence.indexOf('_');
    if (idx < 0) throw new Error('field "sentence" has no "_"');
    const answer = stringField(r.value, 'answer');
    if (answer !== '1' && answer !== '2') throw new Error(`field "answer" must be "1" or "2" (got ${JSON.stringify(answer)})`);
    const options = [stringField(r.value, 'option1'), stringField(r.value, 'option2')];
    return doc(r, options.map((o) => sentence.slice(0, idx) + o), [sentence.slice(idx + 1).trim()], [Number(answer) - 1]);
  },
};

const LETTERS = ['A', 'B', 'C', 'D', 'E'];
const commonsenseQa: TaskDef = {
  ...SHARED, name: 'commonsense_qa', version: 1, split: 'validation', datasetPath: 'tau/commonsense_qa', kind: 'multiple_choice',
  files: ['commonsense_qa/dev_rand_split.jsonl'], metrics: ['acc'],
  template: "Question: {{ question.strip() }}\\nA. {{choices['text'][0]}}\\n...\\nE. {{choices['text'][4]}}\\nAnswer:",
  read: readLines,
  toDoc: (r) => {
    const q = objectField(r.value, 'question');
    const choices = objectList(q, 'choices');
    if (choices.length !== 5) throw new Error(`question.choices must have 5 entries (got ${choices.length})`);
    const lines = choices.map((c, i) => `${LETTERS[i]}. ${stringField(c, 'text')}`);
    const key = stringField(r.value, 'answerKey');
    const gold = LETTERS.indexOf(key);
    if (gold < 0) throw new Error(`answerKey ${JSON.stringify(key)} is not one of A-E`);
    return doc(r, [`Question: ${stringField(q, 'stem').trim()}\n${lines.join('\n')}\nAnswer:`], [...LETTERS], [gold]);
  },
};

export const TASKS: readonly TaskDef[] = [
  arcTask('arc_easy', 'arc_easy/ARC-Easy-Test.jsonl', 1),
  arcTask('arc_challenge', 'arc_challenge/ARC-Challenge-Test.jsonl', 1),
  sciq, webqs, triviaqa, piqa, hellaswag,
  lambadaTask('lambada_openai', 'lambada_openai/lambada_test.jsonl'),
  winogrande, commonsenseQa,
  arcTask('demo_mc', 'demo_mc/test.jsonl', 1),
  lambadaTask('demo_cloze', 'demo_cloze/test.jsonl'),
];

/** The paper's nine benchmarks (ten tasks: ARC has two), what `--tasks all` means. */
export const BENCHMARK_TASKS = TASKS.filter((t) => !t.name.startsWith('demo_')).map((t) => t.name);

/** The metric a task's per-item `correct` and paired comparisons use. */
export function primaryMetric(task: TaskDef): string {
  return task.metrics.includes('acc') ? 'acc' : task.metrics[0]!;
}

export function findTask(name: string): TaskDef | undefined {
  return TASKS.find((t) => t.name === name);
}
