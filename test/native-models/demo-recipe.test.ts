// The demo model's recipe end to end on its tiny variant (a few steps; the full recipe takes
// about half an hour and is not run by CI), and the committed demo model's own claims: it
// loads, and it answers held-out-phrasing questions far above chance.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { buildDemoModel } from '../../native-models/recipes/build-demo-model.ts';
import { evaluateDemoTasks } from '../../native-models/recipes/demo-eval.ts';

const tmp = mkdtempSync(join(tmpdir(), 'recall-demo-recipe-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const DEMO = fileURLToPath(new URL('../../native-models/demo-model', import.meta.url));
const TASKS = fileURLToPath(new URL('../../native-models/demo/tasks', import.meta.url));

test('the demo recipe (tiny variant) generates the corpus, trains, evaluates and writes a model card', async () => {
  const corpusDir = join(tmp, 'corpus'), out = join(tmp, 'model');
  const lines: string[] = [];
  const r = await buildDemoModel({ seed: 1234, corpusDir, out, tiny: true, steps: 5, lr: 2e-3, batchSize: 2, seqLen: 32, resume: false, log: (s) => lines.push(s) });
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md', 'recall.json']) assert.ok(existsSync(join(out, f)), `missing ${f}`);
  assert.ok(!existsSync(join(out, 'checkpoints')), 'checkpoints are removed after training');
  // The generated corpus is the committed one (same seed, same bytes).
  for (const f of ['train.txt', 'calibration.txt', 'tokenizer.json', 'tasks/demo_mc/test.jsonl']) {
    assert.ok(readFileSync(join(corpusDir, f)).equals(readFileSync(fileURLToPath(new URL(`../../native-models/demo/${f}`, import.meta.url)))), `${f} differs from the committed corpus`);
  }
  assert.match(readFileSync(join(out, 'README.md'), 'utf8'), /\| demo_mc \(20 items/);
  assert.ok(r.scores.mc.n === 20 && lines.some((l) => /^step 5\/5/.test(l)));
});

test('the committed demo model knows its facts: demo_mc far above chance on held-out phrasings', async () => {
  const lm = await LanguageModel.load(DEMO);
  try {
    const s = await evaluateDemoTasks(lm, TASKS, 60);
    console.log(`# demo model on 60 items: demo_mc acc ${s.mc.acc.toFixed(3)}, demo_cloze acc ${s.cloze.acc.toFixed(3)}`);
    assert.ok(s.mc.acc > 0.8, `demo_mc acc ${s.mc.acc}`);
    assert.ok(s.cloze.acc > 0.3, `demo_cloze acc ${s.cloze.acc}`);
    const g = await lm.generate('Question: Where was Taskein Vitaeth born?\nAnswer:', { maxTokens: 2, stop: ['\n'] });
    assert.equal(g.text.trim(), 'Vobirkun');
  } finally {
    await lm.release();
  }
});
