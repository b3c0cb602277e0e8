// `recall demo`: the built-in experiment on the demo model: dense, GPTQ 3-bit and SparseGPT 50%,
// each recovered by LoRA, prompt tuning, prefix tuning and IDP, evaluated on the demo tasks and
// the benchmarks found in --data-dir, analysed against the dense model; small budgets so it
// finishes in minutes on two cores. Run again, it reuses every finished step.
import { type ExperimentInfo, type ExperimentSpecInput, unwrap } from '../contract/index.ts';
import { createApi } from '../engine/api.ts';
import { optionalInt, parseFlags } from './args.ts';
import type { Output } from './output.ts';
import { experimentJson, followExperiment, printTable } from './run.ts';

export function demoSpec(o: { model?: string; dataDirs?: string[]; limit?: number; steps?: number } = {}): ExperimentSpecInput {
  const steps = o.steps ?? 30;
  const prompt = { steps, lr: 0.01, batchSize: 4, seqLen: 64 };
  return {
    name: 'demo', models: [o.model ?? 'demo'], seeds: [0],
    calibration: { nsamples: 32, seqlen: 64 },
    compressions: [
      { name: 'dense', method: 'none' },
      { name: 'gptq-3bit', method: 'gptq', bits: 3, groupSize: 32 },
      { name: 'sparsegpt-50', method: 'sparsegpt', sparsity: 0.5 },
    ],
    recoveries: [
      { name: 'none', method: 'none' },
      { name: 'lora', method: 'lora', steps, lr: 0.002, batchSize: 4, seqLen: 64, options: { rank: 8 } },
      { name: 'prompt', method: 'prompt', ...prompt, options: { virtualTokens: 8 } },
      // Prefix tuning from PEFT's N(0, 1) init starts far from the base's key/value scale and
      // needs many steps; the reparameterisation MLP recovers within the demo's budget.
      { name: 'prefix', method: 'prefix', ...prompt, options: { virtualTokens: 8, reparam: true } },
      { name: 'idp', method: 'idp', ...prompt, options: { virtualTokens: 8, prompts: 4 } },
    ],
    tasks: ['demo', 'benchmarks'], dataDirs: o.dataDirs ?? [], eval: { limit: o.limit ?? 100 },
    analyze: { task: 'demo_mc', limit: 16 },
  };
}

export async function demoCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    home: { type: 'string' }, 'data-dir': { type: 'string', multiple: true }, model: { type: 'string' }, limit: { type: 'string' },
    steps: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
  }, 'demo');
  const limit = optionalInt(p, 'limit', 'demo', 1), steps = optionalInt(p, 'steps', 'demo', 1);
  const spec = demoSpec({
    ...(typeof p.flags.model === 'string' ? { model: p.flags.model } : {}), dataDirs: (p.flags['data-dir'] as string[] | undefined) ?? [],
    ...(limit ? { limit } : {}), ...(steps ? { steps } : {}),
  });
  const api = createApi(typeof p.flags.home === 'string' ? { home: p.flags.home } : {});
  try {
    const info: ExperimentInfo = unwrap(await api.call('experiments.create', { spec, ...(p.flags.force ? { force: true } : {}) }));
    const final = await followExperiment(api, info, out, { quiet: Boolean(p.flags.json) });
    if (p.flags.json) out.json(experimentJson(final));
    else {
      out.line('');
      out.line(`accuracy (%) with stderr, ${spec.eval?.limit} items per task (seeded subset):`);
      printTable(final, out);
      out.line(`\nexperiment ${final.runId}: ${final.status}${final.status !== 'done' ? ' (run recall demo again to continue)' : ''}`);
    }
    return final.status === 'done' ? 0 : final.status === 'cancelled' ? 130 : 1;
  } finally {
    await api.close();
  }
}
