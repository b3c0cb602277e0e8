// `recall train`: full fine-tuning of a small model on a text file, with progress, ETA,
// checkpoints, cancel on Ctrl-C (a checkpoint is saved) and --resume.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainModel } from '../engine/tune/train-model.ts';
import { parseExecutionProvider } from '../engine/runtime/providers.ts';
import { type Parsed, UsageError, optionalInt, parseFlags, requireString } from './args.ts';
import type { Output } from './output.ts';

function optionalNumber(p: Parsed, name: string, min: number): number | undefined {
  const v = p.flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`train: --${name} must be a number >= ${min} (got '${v}')`);
  return n;
}

const fmtTime = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

export async function trainCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, steps: { type: 'string' }, tokens: { type: 'string' },
    lr: { type: 'string' }, 'weight-decay': { type: 'string' }, 'batch-size': { type: 'string' }, 'seq-len': { type: 'string' },
    'grad-accum': { type: 'string' }, warmup: { type: 'string' }, schedule: { type: 'string' }, 'eval-every': { type: 'string' },
    'checkpoint-every': { type: 'string' }, seed: { type: 'string' }, resume: { type: 'boolean' }, ep: { type: 'string' },
    threads: { type: 'string' }, json: { type: 'boolean' },
  }, 'train');
  const steps = optionalInt(p, 'steps', 'train', 1), tokens = optionalInt(p, 'tokens', 'train', 1);
  if (steps !== undefined && tokens !== undefined) throw new UsageError('train: give --steps or --tokens, not both');
  const schedule = p.flags.schedule as string | undefined;
  if (schedule !== undefined && !['constant', 'linear', 'cosine'].includes(schedule)) throw new UsageError('train: --schedule must be constant, linear or cosine');
  const outDir = requireString(p, 'out', 'train');
  const controller = new AbortController();
  const onSigint = () => { out.warn('cancelling: saving a checkpoint (run again with --resume to continue)'); controller.abort(); };
  process.once('SIGINT', onSigint);
  try {
    const r = await trainModel({
      model: requireString(p, 'model', 'train'), data: requireString(p, 'data', 'train'), out: outDir,
      ...(steps !== undefined ? { steps } : {}), ...(tokens !== undefined ? { tokens } : {}),
      ...defined({
        lr: optionalNumber(p, 'lr', 0), weightDecay: optionalNumber(p, 'weight-decay', 0),
        batchSize: optionalInt(p, 'batch-size', 'train', 1), seqLen: optionalInt(p, 'seq-len', 'train', 1),
        gradAccumSteps: optionalInt(p, 'grad-accum', 'train', 1), warmupSteps: optionalInt(p, 'warmup', 'train', 0),
        evalEvery: optionalInt(p, 'eval-every', 'train', 0), checkpointEvery: optionalInt(p, 'checkpoint-every', 'train', 0),
        seed: optionalInt(p, 'seed', 'train', 0), threads: optionalInt(p, 'threads', 'train', 1),
        schedule: schedule as 'constant' | 'linear' | 'cosine' | undefined,
        ep: typeof p.flags.ep === 'string' ? parseExecutionProvider(p.flags.ep) : undefined,
      }),
      resume: Boolean(p.flags.resume), signal: controller.signal, onFallback: (m) => out.warn(m),
      onProgress: (e) => {
        if (p.flags.json) out.json({ event: 'progress', ...e });
        else out.line(`step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}${e.evalLoss !== undefined ? `  eval ${e.evalLoss.toFixed(4)}` : ''}  lr ${e.lr.toExponential(2)}  ${e.tokensPerSecond.toFixed(0)} tok/s  ETA ${fmtTime(e.etaSeconds)}`);
      },
    });
    writeFileSync(join(outDir, 'training.json'), JSON.stringify({ status: r.status, step: r.step, totalSteps: r.totalSteps, tokensSeen: r.tokensSeen, resumedFrom: r.resumedFrom ?? null, lossHistory: r.lossHistory, evalHistory: r.evalHistory }, null, 1));
    if (p.flags.json) out.json({ event: 'done', status: r.status, step: r.step, checkpoint: r.checkpoint ?? null });
    else out.line(r.status === 'completed' ? `done: ${r.step} steps; model written to ${outDir}` : `cancelled at step ${r.step}; resume with --resume`);
    return r.status === 'completed' ? 0 : 130;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
