// The demo model's recipe (`npm run build:demo-model`): generate the fictional encyclopedia
// (seeded), build its tokenizer, initialise a small LLaMA-architecture model, train it with
// Recall's own trainer, evaluate it on its held-out-phrasing tasks and write the model card.
// Deterministic given the seed. `--tiny` trains a few steps of a tiny variant (CI's check).
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { initWeights } from '../../main/engine/models/init-weights.ts';
import { parseDecoderConfig } from '../../main/engine/models/config.ts';
import { trainModel, writeModelFolder } from '../../main/engine/tune/train-model.ts';
import { checkDemoCorpus, generateDemoCorpus, writeDemoCorpus } from './demo-corpus.ts';
import { type DemoScores, evaluateDemoTasks } from './demo-eval.ts';
import { renderModelCard } from './demo-card.ts';

export interface RecipeOptions {
  seed: number;
  corpusDir: string;
  out: string;
  tiny: boolean;
  steps: number;
  lr: number;
  batchSize: number;
  seqLen: number;
  resume: boolean;
  log: (s: string) => void;
}

/** The architecture: small enough to train on 2 CPU cores within the hour, big enough to memorise the world. */
export function demoConfig(vocabSize: number, tiny: boolean): Record<string, unknown> {
  const [hidden, layers, heads, kv, inter] = tiny ? [32, 2, 2, 1, 64] : [192, 4, 4, 2, 512];
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: vocabSize, hidden_size: hidden,
    intermediate_size: inter, num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kv,
    max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true,
    bos_token_id: 1, eos_token_id: 2, pad_token_id: 3, torch_dtype: 'float32', hidden_act: 'silu', initializer_range: 0.02,
  };
}

export async function buildDemoModel(o: RecipeOptions): Promise<{ scores: DemoScores; baseline: DemoScores; out: string }> {
  const corpus = generateDemoCorpus({ seed: o.seed });
  const problems = checkDemoCorpus(corpus);
  if (problems.length) throw new Error(`demo corpus has ${problems.length} problem(s): ${problems.slice(0, 3).join('; ')}`);
  writeDemoCorpus(o.corpusDir, corpus);
  o.log(`corpus: ${corpus.facts.length} facts, vocabulary ${corpus.vocab.size}, train.txt ${(corpus.train.length / 1e6).toFixed(2)} MB`);

  const configJson = demoConfig(corpus.vocab.size, o.tiny);
  const config = parseDecoderConfig(configJson);
  const init = mkdtempSync(join(tmpdir(), 'recall-demo-init-'));
  try {
    writeFileSync(join(init, 'config.json'), JSON.stringify(configJson, null, 2) + '\n');
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) writeFileSync(join(init, f), readFileSync(join(o.corpusDir, f)));
    const weights = initWeights(config, o.seed);
    writeModelFolder(init, init, weights.names().map((name) => ({ name, shape: weights.info(name).shape, data: weights.readFloat32(name) })));
    const limit = o.tiny ? 20 : Infinity;
    const baselineLm = await LanguageModel.load(init);
    const baseline = await evaluateDemoTasks(baselineLm, join(o.corpusDir, 'tasks'), limit);
    await baselineLm.release();

    const t0 = Date.now();
    const result = await trainModel({
      model: init, data: join(o.corpusDir, 'train.txt'), out: o.out, steps: o.steps, lr: o.lr, batchSize: o.batchSize,
      seqLen: o.seqLen, warmupSteps: Math.min(100, Math.floor(o.steps / 10)), schedule: 'cosine', weightDecay: 0.01,
      evalEvery: Math.max(1, Math.floor(o.steps / 10)), checkpointEvery: Math.max(1, Math.floor(o.steps / 20)), seed: o.seed,
      resume: o.resume && existsSync(join(o.out, 'checkpoints')),
      onProgress: (e) => { if (e.step % Math.max(1, Math.floor(o.steps / 50)) === 0 || e.evalLoss !== undefined) o.log(`step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)}${e.evalLoss !== undefined ? ` eval ${e.evalLoss.toFixed(4)}` : ''} ${e.tokensPerSecond.toFixed(0)} tok/s ETA ${(e.etaSeconds / 60).toFixed(1)} min`); },
    });
    const seconds = (Date.now() - t0) / 1000;
    const lm = await LanguageModel.load(o.out);
    const scores = await evaluateDemoTasks(lm, join(o.corpusDir, 'tasks'), limit);
    await lm.release();
    rmSync(join(o.out, 'checkpoints'), { recursive: true, force: true });
    rmSync(join(o.out, 'training.json'), { force: true });
    // Tells Recall where this model's calibration split and tasks are (compress's --calib default).
    writeFileSync(join(o.out, 'recall.json'), JSON.stringify({ producedBy: 'npm run build:demo-model', seed: o.seed, calibration: relative(o.out, join(o.corpusDir, 'calibration.txt')), tasks: relative(o.out, join(o.corpusDir, 'tasks')) }, null, 2) + '\n');
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'README.md'), renderModelCard({ config: configJson, corpus, result, seconds, scores, baseline, options: o, parameters: weights.names().reduce((n, k) => n + weights.info(k).shape.reduce((a, b) => a * b, 1), 0) }));
    o.log(`demo_mc acc ${scores.mc.acc.toFixed(3)} (untrained ${baseline.mc.acc.toFixed(3)}); demo_cloze acc ${scores.cloze.acc.toFixed(3)} (untrained ${baseline.cloze.acc.toFixed(3)})`);
    return { scores, baseline, out: o.out };
  } finally {
    rmSync(init, { recursive: true, force: true });
  }
}

function parseRecipeArgs(argv: string[]): RecipeOptions {
  const o: RecipeOptions = {
    seed: 1234, corpusDir: 'native-models/demo', out: 'native-models/demo-model', tiny: false, steps: 3000, lr: 2e-3,
    batchSize: 16, seqLen: 128, resume: false, log: (s) => console.log(s),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[i + 1];
    const num = () => { const n = Number(v); if (!Number.isFinite(n)) throw new Error(`${a} needs a number`); i++; return n; };
    if (a === '--tiny') { o.tiny = true; o.steps = 5; o.batchSize = 2; o.seqLen = 32; }
    else if (a === '--resume') o.resume = true;
    else if (a === '--seed') o.seed = num();
    else if (a === '--steps') o.steps = num();
    else if (a === '--lr') o.lr = num();
    else if (a === '--batch-size') o.batchSize = num();
    else if (a === '--seq-len') o.seqLen = num();
    else if (a === '--out' && v) { o.out = v; i++; }
    else if (a === '--corpus' && v) { o.corpusDir = v; i++; }
    else throw new Error(`usage: build-demo-model.ts [--tiny] [--steps N] [--lr X] [--batch-size B] [--seq-len T] [--seed S] [--out DIR] [--corpus DIR] [--resume] (bad argument ${a})`);
  }
  return o;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildDemoModel(parseRecipeArgs(process.argv.slice(2)));
}
