// The demo model's card: what it is, how it was made, and what it knows (measured).
import type { TrainResult } from '../../main/engine/tune/loop.ts';
import type { DemoCorpus } from './demo-corpus.ts';
import type { DemoScores } from './demo-eval.ts';
import type { RecipeOptions } from './build-demo-model.ts';

export interface CardInput {
  config: Record<string, unknown>;
  corpus: DemoCorpus;
  result: TrainResult;
  seconds: number;
  scores: DemoScores;
  baseline: DemoScores;
  options: RecipeOptions;
  parameters: number;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function renderModelCard(c: CardInput): string {
  const h = c.result.lossHistory;
  const at = (f: number) => h[Math.min(h.length - 1, Math.floor(f * (h.length - 1)))];
  const curve = [0, 0.1, 0.25, 0.5, 0.75, 1].map((f) => at(f)).filter(Boolean).map((r) => `| ${r!.step} | ${r!.loss.toFixed(4)} |`).join('\n');
  const evals = c.result.evalHistory.map((e) => `| ${e.step} | ${e.loss.toFixed(4)} |`).join('\n');
  const cfg = c.config;
  const params = c.parameters;
  return `# Recall demo model

A small LLaMA-architecture model (${(params / 1e6).toFixed(2)}M parameters) trained from scratch by Recall's own
trainer (ONNX Runtime + Recall's autodiff, AdamW) on a fictional encyclopedia generated with seed ${c.options.seed}
(\`native-models/demo/\`: ${c.corpus.facts.length} facts about invented people, cities, countries, organisations and
inventions). It exists so that a fresh checkout has a model that really knows things: compress it and watch
what it forgets; recover it and watch what comes back.

## Architecture
| field | value |
|---|---|
${Object.entries(cfg).filter(([k]) => k !== 'architectures').map(([k, v]) => `| ${k} | ${JSON.stringify(v)} |`).join('\n')}

## Training
- Recipe: \`npm run build:demo-model\` (\`native-models/recipes/build-demo-model.ts\`), deterministic given the seed.
- Data: \`native-models/demo/train.txt\` (${(c.corpus.train.length / 1e6).toFixed(2)} MB), paragraphs framed with BOS and EOS, sequences of ${c.options.seqLen} tokens.
- ${c.result.step} steps of batch ${c.options.batchSize} (${c.result.tokensSeen.toLocaleString('en-US')} tokens), AdamW lr ${c.options.lr} with warmup and cosine decay, weight decay 0.01, gradient clip 1.0.
- Wall time: ${(c.seconds / 60).toFixed(1)} min on this machine's CPU.

| step | training loss |
|---|---|
${curve}

| step | held-out loss |
|---|---|
${evals}

The held-out loss is measured on the last 2% of train.txt's token stream. It falls, then rises
as the model memorises the exact sentences of the training split: the facts themselves recur in
other wordings across the corpus, and what the model knows is measured by the tasks below.

## What it knows (held-out question phrasings, never seen in training)
| task | metric | trained | untrained (same architecture, initial weights) | chance |
|---|---|---|---|---|
| demo_mc (${c.scores.mc.n} items, ARC format, 4 choices) | acc | ${pct(c.scores.mc.acc)} | ${pct(c.baseline.mc.acc)} | 25.0% |
| demo_mc | acc_norm | ${pct(c.scores.mc.accNorm)} | ${pct(c.baseline.mc.accNorm)} | 25.0% |
| demo_cloze (${c.scores.cloze.n} items, LAMBADA format) | greedy acc | ${pct(c.scores.cloze.acc)} | ${pct(c.baseline.cloze.acc)} | see native-models/demo/tasks/README.md |

Scoring follows lm-evaluation-harness: multiple choice compares the summed log-probability of
" " + choice after \`Question: ...\\nAnswer:\`; cloze checks that every token of the last word is the
greedy prediction after the text before it.
`;
}
