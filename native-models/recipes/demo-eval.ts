// Accuracy of a model on the demo model's own tasks, scored as lm-evaluation-harness scores
// ARC (multiple choice: acc and acc_norm over " " + choice) and LAMBADA (greedy last word).
// Used by the recipe for the model card; the evaluation module covers the nine benchmarks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LanguageModel } from '../../main/engine/models/language-model.ts';

export interface DemoScores { mc: { acc: number; accNorm: number; n: number }; cloze: { acc: number; n: number } }

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

export async function evaluateDemoTasks(lm: LanguageModel, tasksDir: string, limit = Infinity): Promise<DemoScores> {
  const mcItems = lines(join(tasksDir, 'demo_mc', 'test.jsonl')).slice(0, limit) as { question: { stem: string; choices: { text: string; label: string }[] }; answerKey: string }[];
  let acc = 0, accNorm = 0;
  for (const item of mcItems) {
    const context = `Question: ${item.question.stem}\nAnswer:`;
    const scores = await lm.scorePairs(item.question.choices.map((c) => ({ context, continuation: ` ${c.text}` })));
    const gold = item.question.choices.findIndex((c) => c.label === item.answerKey);
    const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
    if (argmax(scores.map((s) => s.logprob)) === gold) acc++;
    if (argmax(scores.map((s, i) => s.logprob / item.question.choices[i]!.text.length)) === gold) accNorm++;
  }
  const clozeItems = lines(join(tasksDir, 'demo_cloze', 'test.jsonl')).slice(0, limit) as { text: string }[];
  const pairs = clozeItems.map(({ text }) => {
    const cut = text.lastIndexOf(' ');
    return { context: text.slice(0, cut), continuation: text.slice(cut) };
  });
  const cloze = pairs.length ? await lm.scorePairs(pairs) : [];
  return {
    mc: { acc: acc / mcItems.length, accNorm: accNorm / mcItems.length, n: mcItems.length },
    cloze: { acc: cloze.filter((s) => s.greedy).length / Math.max(1, cloze.length), n: cloze.length },
  };
}
