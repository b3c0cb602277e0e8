// `recall`: the command line face of the engine. Each command parses its flags, calls the
// engine, and prints; every failure is one line on stderr and a non-zero exit status
// (2 for usage errors, 1 for everything else).
import { readFileSync } from 'node:fs';
import { isRecallError } from '../engine/errors.ts';
import { analyzeCommand } from './analyze.ts';
import { UsageError } from './args.ts';
import { EVAL_HELP, compareCommand, evalCommand } from './eval.ts';
import { generateCommand, logprobsCommand, modelsCommand } from './models.ts';
import { type Output, consoleOutput } from './output.ts';
import { trainCommand } from './train.ts';
import { tuneCommand } from './tune.ts';
import { costCommand } from './cost.ts';
import { compressCommand } from './compress.ts';
import { demoCommand } from './demo.ts';
import { runCommand } from './run.ts';
import { RUNS_HELP, runsCommand } from './runs.ts';
import { serveCommand } from './serve.ts';
import { WORKER_HELP, workerCommand } from './worker.ts';
import { fromPackageRoot } from '../engine/package-root.ts';

const HELP = `recall: is a compressed LLM's knowledge forgotten or displaced?

usage: recall <command> [options]

commands:
  models inspect DIR [--json]          architecture, parameters, dtype, layers, heads, vocabulary, memory
  logprobs --model DIR (--text T | --ids 1,2,3) [--json]
                                       log-probability of each next token and the greedy token
  generate --model DIR --prompt P [--max-tokens N] [--stop S]... [--json]
                                       greedy generation with a KV cache

  train --model DIR --data FILE --out DIR [--steps N | --tokens N] [--lr X] [--batch-size B]
        [--seq-len T] [--grad-accum K] [--warmup N] [--schedule linear|cosine|constant]
        [--eval-every N] [--checkpoint-every N] [--seed S] [--resume] [--json]
                                       full fine-tuning (AdamW) through ONNX Runtime; resumable
  tune --model DIR --method lora|prompt|prefix|idp --data FILE --out DIR [--steps N | --tokens N]
       [--lr X] [--seed S] [--resume] [--rank R --alpha A --dropout P --targets q_proj,v_proj] [--merge]
       [--virtual-tokens N --init random|vocab|text:WORDS] [--reparam] [--prompts M --sel-layer L
       --idp-training joint-hard|independent] [train's batch/schedule/checkpoint options] [--json]
                                       train a recovery adapter on a frozen base; PEFT layout
  cost --model DIR --adapter DIR... [--sequences K] [--seq-len T] [--repeats R] [--json]
                                       extra parameters and latency of base + each adapter

  analyze --base DIR --model DIR [--label NAME] [--adapter PEFT_DIR] (--task T | --texts FILE)
        [--data-dir DIR]... [--limit N] [--batch-size B] [--max-tokens N] [--cka] [--json] [--out FILE]
                                       per-layer attention and activation similarity to the base
                                       (--model, --label, --adapter repeat; '-' = no adapter)
${EVAL_HELP}
  compress --model DIR --method rtn|gptq|sparsegpt|magnitude [--bits B] [--group-size G] [--sym]
        [--act-order] [--static-groups] [--mse] [--true-sequential] [--sparsity S | --nm 2:4]
        [--calib FILE] [--nsamples N] [--seqlen T] [--seed S] [--skip REGEX]... [--override REGEX:bits=N]...
        --out DIR [--resume] [--json]     layer-by-layer compression with per-module log
        [--export gptq [--export-out DIR] [--export-format auto|gptq|gptq_v2]]   also write the GPTQ layout

  run SPEC.yaml|SPEC.json [--force] [--json] | run --resume ID
                                       an experiment (models x compressions x recoveries x tasks x seeds)
                                       as recorded, resumable runs; finished steps are reused
      [--backend redis://HOST:6379 --artifacts DIR [--attempts N]]
                                       ... its steps run by \`recall worker\` processes (docs/DISTRIBUTED.md)
${WORKER_HELP}  demo [--data-dir DIR]... [--limit N] [--steps N] [--model DIR] [--json]
                                       the built-in experiment on the demo model; prints method x task
${RUNS_HELP}  serve [--port P] [--host 127.0.0.1] [--allow-remote]
                                       the app in a browser (loopback bridge with a token)
  (run, demo, runs and serve take --home DIR: where settings, the run database and runs live)

options for commands that run a model:
  --ep cpu|cuda|dml|coreml|webgpu      execution provider (falls back to cpu, saying why)
  --threads N                          ONNX Runtime intra-op threads
  --weight-dtype float32|float16       how weights are held in memory
  --adapter DIR                        a recovery adapter (PEFT layout) on top of the model
  --packed                             compressed models: run quantized linears as MatMulNBits
  --adapter DIR                        apply a recovery adapter (LoRA, prompt, prefix, IDP)
`;

type Command = (argv: string[], out: Output) => Promise<number>;
const COMMANDS: Record<string, Command> = { models: modelsCommand, logprobs: logprobsCommand, generate: generateCommand, train: trainCommand, eval: evalCommand, compare: compareCommand, analyze: analyzeCommand, compress: compressCommand, tune: tuneCommand, cost: costCommand, run: runCommand, demo: demoCommand, runs: runsCommand, serve: serveCommand, worker: workerCommand };

export async function main(argv: string[], out: Output = consoleOutput()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out.line(HELP);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    out.line(JSON.parse(readFileSync(fromPackageRoot('package.json'), 'utf8')).version);
    return 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}' (run recall --help)`);
    return await command(rest, out);
  } catch (e) {
    if (e instanceof UsageError) {
      out.error(e.message);
      return 2;
    }
    if (isRecallError(e)) {
      out.error(`[${e.code}] ${e.message}`);
      return 1;
    }
    out.error((e as Error).message ?? String(e));
    if (process.env.RECALL_DEBUG) console.error(e);
    return 1;
  }
}
