// Recipe for Recall's demo model data: a seeded fictional encyclopedia, its training and
// calibration text, two knowledge tasks in held-out phrasings, and a word-level tokenizer.
// Everything is a pure function of the seed and the sizes; the CLI only writes files.
//
//   node --import tsx native-models/recipes/demo-corpus.ts --out native-models/demo --seed 1234
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkDemoCorpus } from './demo-checks.ts';
import { worldFacts, type Fact } from './demo-facts.ts';
import { createRng } from './demo-random.ts';
import { renderCorpusReadme, renderTasksReadme } from './demo-readme.ts';
import { buildClozeItems, buildMcItems, toJsonLines, type ClozeItem, type McItem, type WithFact } from './demo-tasks.ts';
import { templateWords } from './demo-templates.ts';
import { buildCalibrationText, buildTrainText, DEFAULT_CALIBRATION_TEXT, DEFAULT_TRAIN_TEXT, type CalibrationTextOptions, type TrainTextOptions } from './demo-text.ts';
import { buildTokenizerConfig, buildTokenizerJson, buildVocab } from './demo-tokenizer.ts';
import { DEFAULT_SIZES, generateWorld, type World, type WorldSizes } from './demo-world.ts';

export * from './demo-checks.ts';
export * from './demo-facts.ts';
export * from './demo-random.ts';
export * from './demo-tasks.ts';
export * from './demo-templates.ts';
export * from './demo-text.ts';
export * from './demo-tokenizer.ts';
export * from './demo-world.ts';

export interface DemoCorpusOptions {
  seed: number;
  sizes: WorldSizes;
  train: TrainTextOptions;
  calibration: CalibrationTextOptions;
  /** Items per task (a seeded subset of the eligible facts). */
  itemsPerTask: number;
  /** model_max_length written to tokenizer_config.json. */
  maxLength: number;
}

export const DEFAULT_OPTIONS: DemoCorpusOptions = {
  seed: 1234,
  sizes: DEFAULT_SIZES,
  train: DEFAULT_TRAIN_TEXT,
  calibration: DEFAULT_CALIBRATION_TEXT,
  itemsPerTask: 400,
  maxLength: 256,
};

export interface DemoCorpus {
  options: DemoCorpusOptions;
  world: World;
  facts: Fact[];
  train: string;
  calibration: string;
  mc: WithFact<McItem>[];
  cloze: WithFact<ClozeItem>[];
  vocab: Map<string, number>;
  /** Path (relative to the output folder) -> exact file content. */
  files: Map<string, string>;
}

export function generateDemoCorpus(partial: Partial<DemoCorpusOptions> = {}): DemoCorpus {
  const options: DemoCorpusOptions = { ...DEFAULT_OPTIONS, ...partial };
  const root = createRng(options.seed);
  const world = generateWorld(options.seed, options.sizes, templateWords());
  const facts = worldFacts(world);
  const train = buildTrainText(facts, root.fork('train'), options.train);
  const calibration = buildCalibrationText(facts, root.fork('calibration'), options.calibration);
  const mc = buildMcItems(world, facts, options.itemsPerTask, root.fork('demo_mc'));
  const cloze = buildClozeItems(facts, options.itemsPerTask, root.fork('demo_cloze'));
  const mcFile = toJsonLines(mc.map((x) => x.item));
  const clozeFile = toJsonLines(cloze.map((x) => x.item));
  const vocab = buildVocab([train, calibration, ...mc.map((x) => `Question: ${x.item.question.stem}\nAnswer: ${x.item.question.choices.map((c) => c.text).join(' ')}`), ...cloze.map((x) => x.item.text)]);
  const files = new Map<string, string>([
    ['train.txt', train],
    ['calibration.txt', calibration],
    ['world.json', JSON.stringify(world, null, 1) + '\n'],
    ['tasks/demo_mc/test.jsonl', mcFile],
    ['tasks/demo_cloze/test.jsonl', clozeFile],
    ['tokenizer.json', JSON.stringify(buildTokenizerJson(vocab), null, 1) + '\n'],
    ['tokenizer_config.json', JSON.stringify(buildTokenizerConfig(options.maxLength), null, 2) + '\n'],
  ]);
  const corpus: DemoCorpus = { options, world, facts, train, calibration, mc, cloze, vocab, files };
  files.set('tasks/README.md', renderTasksReadme(corpus));
  files.set('README.md', renderCorpusReadme(corpus));
  return corpus;
}

export function writeDemoCorpus(outDir: string, corpus: DemoCorpus): void {
  for (const [path, content] of corpus.files) {
    const file = join(outDir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

function parseArgs(argv: readonly string[]): { out: string; seed: number } {
  let out = 'native-models/demo', seed = DEFAULT_OPTIONS.seed;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === '--out' && v !== undefined) {
      out = v;
      i++;
    } else if (a === '--seed' && v !== undefined && /^\d+$/.test(v)) {
      seed = Number(v);
      i++;
    } else throw new Error(`usage: demo-corpus.ts [--out DIR] [--seed N] (bad argument ${JSON.stringify(a)})`);
  }
  return { out, seed };
}

function main(): void {
  const { out, seed } = parseArgs(process.argv.slice(2));
  const corpus = generateDemoCorpus({ seed });
  const problems = checkDemoCorpus(corpus);
  if (problems.length > 0) {
    console.error(problems.slice(0, 20).join('\n'));
    throw new Error(`${problems.length} problem(s) in the generated corpus; nothing written`);
  }
  writeDemoCorpus(out, corpus);
  for (const [path, content] of corpus.files) console.log(`${path}\t${Buffer.byteLength(content)} bytes`);
  console.log(`vocabulary: ${corpus.vocab.size} tokens; entities: ${countEntities(corpus.world)}; facts: ${corpus.facts.length}; demo_mc: ${corpus.mc.length}; demo_cloze: ${corpus.cloze.length}`);
}

export function countEntities(world: World): number {
  return world.people.length + world.cities.length + world.countries.length + world.organisations.length + world.inventions.length;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
