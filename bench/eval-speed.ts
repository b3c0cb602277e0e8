// Evaluation speed per task type: examples/s with shared-context KV reuse (each document's
// context computed once, its choices batched after it) vs the harness way (one full forward
// per (context, choice) pair), on the same documents in one run, printed as ratios; the two
// must give the same log-likelihoods (max |diff| shown).
//
//   node --import tsx bench/eval-speed.ts [--model DIR] [--limit N] [--data-dir DIR]...
//
// Default model: native-models/demo-model if it holds a config.json, else the tiny-llama
// fixture. Default data: ../shared/datasets and native-models/demo/tasks.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { evaluateLoaded, type TaskResult } from '../main/engine/eval/evaluate.ts';
import { modelScorer } from '../main/engine/eval/scorer.ts';
import { type LoadedTask, loadTask } from '../main/engine/eval/task-data.ts';
import { LanguageModel } from '../main/engine/models/language-model.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const TASKS = ['arc_easy', 'piqa', 'commonsense_qa', 'winogrande', 'webqs', 'lambada_openai', 'triviaqa', 'demo_mc', 'demo_cloze'];

function maxDiff(a: TaskResult, b: TaskResult): number {
  let d = 0;
  a.samples.forEach((s, i) => (s.choice_loglikelihoods ?? []).forEach((ll, j) => {
    d = Math.max(d, Math.abs(ll - b.samples[i]!.choice_loglikelihoods![j]!));
  }));
  return d;
}

export async function runEvalSpeed(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { model: { type: 'string' }, limit: { type: 'string' }, 'data-dir': { type: 'string', multiple: true } } });
  const demo = root('native-models/demo-model');
  const model = values.model ?? (existsSync(`${demo}/config.json`) ? demo : root('test/fixtures/models/tiny-llama'));
  const limit = Number(values.limit ?? 20);
  const dataDirs = values['data-dir'] ?? [root('../shared/datasets'), root('native-models/demo/tasks')];
  const lm = await LanguageModel.load(model);
  console.log(`model ${model} on ${lm.ep}; ${limit} documents per task (seeded subset); ratio = shared / full-forward examples/s`);
  const rows: string[][] = [['task', 'kind', 'n', 'shared ex/s', 'full-forward ex/s', 'ratio', 'max |dLL|']];
  try {
    for (const name of TASKS) {
      const t = loadTask(name, dataDirs);
      if (!t.available) {
        rows.push([name, t.task.kind, '-', 'unavailable', '', '', '']);
        continue;
      }
      const o = { limit, seed: 1, maxGenTokens: 16 };
      try {
        rows.push(await measure(lm, t.data, o));
      } catch (e) {
        rows.push([name, t.task.kind, '-', `error: ${(e as Error).message.slice(0, 90)}`, '', '', '']);
      }
    }
  } finally {
    await lm.release();
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
}

async function measure(lm: LanguageModel, data: LoadedTask, o: { limit: number; seed: number; maxGenTokens: number }): Promise<string[]> {
  const name = data.task.name;
  await evaluateLoaded(modelScorer(lm), data, { ...o, limit: 1 }); // warm-up
  const shared = await evaluateLoaded(modelScorer(lm), data, o);
  // Generation always decodes with the KV cache; there is no pairwise alternative.
  if (data.task.kind === 'generate_until') return [name, data.task.kind, String(shared.samples.length), (shared.samples.length / shared.seconds).toFixed(1), '-', '-', '-'];
  const full = await evaluateLoaded(modelScorer(lm, { shareContext: false }), data, o);
  const rs = shared.samples.length / shared.seconds, rf = full.samples.length / full.seconds;
  return [name, data.task.kind, String(shared.samples.length), rs.toFixed(1), rf.toFixed(1), `${(rs / rf).toFixed(2)}x`, maxDiff(shared, full).toExponential(1)];
}

export const bench = { description: 'evaluation examples/s per task type, shared-context KV reuse vs one forward per pair', run: runEvalSpeed };

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runEvalSpeed(process.argv.slice(2));
