// `recall eval` (score a model on tasks as lm-evaluation-harness does) and `recall compare`
// (paired statistics and flip sets between results files of the same items).
import { writeFileSync } from 'node:fs';
import { openAdapter } from '../engine/recover/model-adapter.ts';
import { packedGraphOptions } from '../engine/compress/packed-graph.ts';
import { compareResults } from '../engine/eval/compare.ts';
import { evaluate } from '../engine/eval/evaluate.ts';
import { readResults, toHarnessResults } from '../engine/eval/results.ts';
import { modelScorer } from '../engine/eval/scorer.ts';
import { BENCHMARK_TASKS, TASKS } from '../engine/eval/tasks.ts';
import { LanguageModel } from '../engine/models/language-model.ts';
import { parseExecutionProvider } from '../engine/runtime/providers.ts';
import { UsageError, optionalInt, parseFlags, requireString } from './args.ts';
import type { Output } from './output.ts';
import { fromPackageRoot } from '../engine/package-root.ts';

export const EVAL_HELP = `  eval --model DIR [--adapter DIR] [--packed] [--data-dir DIR]... [--tasks a,b|all|demo] [--limit N] [--shots K]
       [--seed S] [--max-gen-tokens N] [--no-shared-context] [--out FILE] [--json]
                                       accuracy on the paper's tasks, scored as lm-evaluation-harness does
  compare RESULTS_A RESULTS_B [RESULTS_C] [--seed S] [--resamples N] [--json]
                                       paired statistics (McNemar, bootstrap CI) and flip sets per task
`;

const BUNDLED_TASKS = fromPackageRoot('native-models', 'demo', 'tasks');

const fmt = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : 'N/A');

function parseTasks(spec: string | undefined): { names: string[]; explicit: boolean } {
  // 'all': the paper's benchmarks found in the data folders, plus the demo model's own tasks (bundled).
  if (spec === undefined || spec === 'all') return { names: [...BENCHMARK_TASKS, 'demo_mc', 'demo_cloze'], explicit: false };
  if (spec === 'demo') return { names: ['demo_mc', 'demo_cloze'], explicit: true };
  const names = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !TASKS.some((t) => t.name === n));
  if (names.length === 0 || unknown.length) {
    throw new UsageError(`eval: unknown task '${unknown[0] ?? spec}' (known: ${TASKS.map((t) => t.name).join(', ')}, all, demo)`);
  }
  return { names, explicit: true };
}

export async function evalCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    model: { type: 'string' }, tasks: { type: 'string' }, 'data-dir': { type: 'string', multiple: true }, limit: { type: 'string' },
    shots: { type: 'string' }, seed: { type: 'string' }, 'max-gen-tokens': { type: 'string' }, 'no-shared-context': { type: 'boolean' },
    ep: { type: 'string' }, threads: { type: 'string' }, 'weight-dtype': { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' },
    adapter: { type: 'string' }, packed: { type: 'boolean' },
  }, 'eval');
  const dir = requireString(p, 'model', 'eval');
  // The demo model's tasks ship with Recall, so their folder is always searched (after the user's).
  const dataDirs = [...((p.flags['data-dir'] as string[] | undefined) ?? []), BUNDLED_TASKS];
  const tasks = parseTasks(p.flags.tasks as string | undefined);
  const limit = optionalInt(p, 'limit', 'eval', 1);
  const shots = optionalInt(p, 'shots', 'eval', 0) ?? 0;
  const seed = optionalInt(p, 'seed', 'eval', 0) ?? 1234;
  const maxGenTokens = optionalInt(p, 'max-gen-tokens', 'eval', 1);
  const threads = optionalInt(p, 'threads', 'eval', 1);
  const ep = typeof p.flags.ep === 'string' ? parseExecutionProvider(p.flags.ep) : undefined;
  const wd = p.flags['weight-dtype'];
  if (wd !== undefined && wd !== 'float32' && wd !== 'float16') throw new UsageError('eval: --weight-dtype must be float32 or float16');
  const sharedContext = !p.flags['no-shared-context'];

  const adapter = typeof p.flags.adapter === 'string' ? openAdapter(p.flags.adapter, { ...(ep ? { ep } : {}), ...(threads ? { threads } : {}) }) : undefined;
  const lm = await LanguageModel.load(dir, {
    ...(ep ? { ep } : {}), ...(threads ? { threads } : {}), ...(wd ? { weightDtype: wd as 'float32' | 'float16' } : {}),
    ...(adapter ? { adapter } : {}), ...(p.flags.packed ? { graph: packedGraphOptions(dir) } : {}), onFallback: (m) => out.warn(m),
  });
  try {
    const run = await evaluate(modelScorer(lm, { shareContext: sharedContext }), {
      tasks: tasks.names, dataDirs, shots, seed, requireAll: tasks.explicit,
      ...(limit ? { limit } : {}), ...(maxGenTokens ? { maxGenTokens } : {}),
    });
    for (const u of run.unavailable) out.warn(`task ${u.task} is unavailable: missing ${u.missing.join(', ')}`);
    for (const r of run.results) {
      if (r.issues.length === 0) continue;
      out.warn(`task ${r.task.name}: ${r.issues.length} malformed record(s) not scored, first: ${r.issues.slice(0, 3).map((i) => `${i.file}:${i.line}: ${i.message}`).join('; ')}`);
    }
    const json = toHarnessResults(run, { model: dir, ep: lm.ep, sharedContext });
    if (typeof p.flags.out === 'string') writeFileSync(p.flags.out, `${JSON.stringify(json, null, 2)}\n`);
    if (p.flags.json) {
      const { samples: _samples, ...summary } = json;
      out.json(summary);
      return 0;
    }
    out.line(`model ${dir} on ${lm.ep}; ${shots}-shot, seed ${seed}${limit ? `, limit ${limit} (seeded subset)` : ''}`);
    out.table([
      ['task', 'metric', 'value', 'stderr', 'n'],
      ...run.results.flatMap((r) => r.metrics.map((m) => [r.task.name, m.name, fmt(m.value), fmt(m.stderr), String(r.samples.length)])),
    ], true);
    if (typeof p.flags.out === 'string') out.line(`results written to ${p.flags.out}`);
    return 0;
  } finally {
    await lm.release();
  }
}

export async function compareCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, { json: { type: 'boolean' }, seed: { type: 'string' }, resamples: { type: 'string' } }, 'compare');
  if (p.positionals.length < 2 || p.positionals.length > 3) {
    throw new UsageError('compare: give two results files (base, other), or three (base, compressed, recovered)');
  }
  const seed = optionalInt(p, 'seed', 'compare', 0) ?? 1234;
  const resamples = optionalInt(p, 'resamples', 'compare', 1) ?? 1000;
  const [a, b, c] = p.positionals.map(readResults);
  const rows = compareResults(a!, b!, c, { seed, resamples });
  if (p.flags.json) {
    out.json(rows.map((r) => ({ ...r, flips: { ...r.flips } })));
    return 0;
  }
  out.line(`A = ${a!.source}\nB = ${b!.source}${c ? `\nC = ${c.source}` : ''}`);
  out.table([
    ['task', 'metric', 'paired n', 'A', 'B', ...(c ? ['C'] : []), 'B-A', '95% CI', 'McNemar p', 'A-only right', 'B-only right'],
    ...rows.map((r) => [
      r.task, r.metric, String(r.paired), fmt(r.accA), fmt(r.accB), ...(r.accC !== undefined ? [fmt(r.accC)] : []), fmt(r.difference.diff),
      `[${fmt(r.difference.lower)}, ${fmt(r.difference.upper)}]`, fmt(r.mcnemar.p), String(r.mcnemar.b), String(r.mcnemar.c),
    ]),
  ], true);
  out.line('');
  out.table([
    ['task', 'lost by B', 'gained by B', ...(c ? ['regained by C', 'newly wrong in C'] : []), 'never known', 'always known'],
    ...rows.map((r) => [
      r.task, String(r.flips.lostByCompression.length), String(r.flips.gainedByCompression.length),
      ...(c ? [String(r.flips.regainedByRecovery.length), String(r.flips.newlyWrong.length)] : []),
      String(r.flips.neverKnown.length), String(r.flips.alwaysKnown.length),
    ]),
  ], true);
  return 0;
}
