// `recall tune`: train a recovery method (LoRA, prompt tuning, prefix tuning, IDP) on a frozen
// base and write the adapter in PEFT's layout; progress with ETA, Ctrl-C saves a checkpoint,
// --resume continues.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IdpTraining, RECOVERY_METHODS, type RecoveryMethod } from '../engine/recover/adapter.ts';
import type { MethodSpec } from '../engine/recover/method-trainers.ts';
import { parsePrefixInit } from '../engine/recover/prefix-init.ts';
import { parsePromptInit } from '../engine/recover/prompt-init.ts';
import { tuneModel } from '../engine/recover/tune.ts';
import { parseExecutionProvider } from '../engine/runtime/providers.ts';
import { type Parsed, UsageError, optionalInt, parseFlags, requireString } from './args.ts';
import type { Output } from './output.ts';

function optionalNumber(p: Parsed, name: string, command: string, min: number): number | undefined {
  const v = p.flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${command}: --${name} must be a number >= ${min} (got '${v}')`);
  return n;
}

const fmtTime = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

/** The method and its options from the flags (defaults: METHODS.md section 2). */
function methodSpec(p: Parsed): MethodSpec {
  const method = requireString(p, 'method', 'tune') as RecoveryMethod;
  if (!RECOVERY_METHODS.includes(method)) throw new UsageError(`tune: --method must be one of ${RECOVERY_METHODS.join(', ')} (got '${method}')`);
  const int = (name: string, min: number) => optionalInt(p, name, 'tune', min);
  const initFlag = p.flags.init as string | undefined;
  // Prompt, IDP (and, as before, LoRA, which ignores it): random, vocab or text:<words>; prefix parses its own below.
  const init = method === 'prefix' ? { kind: 'random' as const } : parsePromptInit(initFlag ?? 'random');
  if (method === 'lora') {
    const rank = int('rank', 0) ?? 8;
    if (rank === 0) throw new UsageError('tune: --rank must be >= 1 (LoRA rank 0 adds nothing to train)');
    const targets = ((p.flags.targets as string | undefined) ?? 'q_proj,v_proj').split(',').map((s) => s.trim()).filter(Boolean);
    const dropout = optionalNumber(p, 'dropout', 'tune', 0);
    if (dropout !== undefined && !(dropout < 1)) throw new UsageError(`tune: --dropout must be in [0, 1) (got '${String(p.flags.dropout)}')`);
    return { method, rank, alpha: optionalNumber(p, 'alpha', 'tune', 0) ?? rank, targets, ...(dropout ? { dropout } : {}) };
  }
  const virtualTokens = int('virtual-tokens', 1) ?? 25;
  if (method === 'prefix') {
    // --init random (default) or text:<words> (the base's KV of the text; needs no --reparam).
    const prefixInit = parsePrefixInit(initFlag ?? 'random', '--init');
    return {
      method, virtualTokens, reparam: Boolean(p.flags.reparam), ...(int('encoder-hidden', 1) ? { encoderHiddenSize: int('encoder-hidden', 1)! } : {}),
      ...(prefixInit.kind !== 'random' ? { init: prefixInit } : {}),
    };
  }
  if (method === 'prompt') return { method, virtualTokens, init };
  const training = (p.flags['idp-training'] as string | undefined) ?? 'joint-hard';
  if (training !== 'joint-hard' && training !== 'independent') throw new UsageError(`tune: --idp-training must be joint-hard or independent (got '${training}')`);
  return { method, virtualTokens, prompts: int('prompts', 1) ?? 4, selLayer: int('sel-layer', 0) ?? 0, training: training as IdpTraining, init };
}

export async function tuneCommand(argv: string[], out: Output): Promise<number> {
  const s = { type: 'string' } as const;
  const p = parseFlags(argv, {
    model: s, method: s, data: s, out: s, steps: s, tokens: s, lr: s, 'weight-decay': s, 'batch-size': s, 'seq-len': s, 'grad-accum': s,
    warmup: s, schedule: s, 'eval-every': s, 'checkpoint-every': s, seed: s, resume: { type: 'boolean' }, ep: s, threads: s, json: { type: 'boolean' },
    rank: s, alpha: s, targets: s, 'virtual-tokens': s, init: s, prompts: s, 'sel-layer': s, 'idp-training': s, reparam: { type: 'boolean' },
    'encoder-hidden': s, merge: { type: 'boolean' }, dropout: s,
  }, 'tune');
  const steps = optionalInt(p, 'steps', 'tune', 1), tokens = optionalInt(p, 'tokens', 'tune', 1);
  if (steps !== undefined && tokens !== undefined) throw new UsageError('tune: give --steps or --tokens, not both');
  const schedule = p.flags.schedule as string | undefined;
  if (schedule !== undefined && !['constant', 'linear', 'cosine'].includes(schedule)) throw new UsageError('tune: --schedule must be constant, linear or cosine');
  const method = methodSpec(p);
  const outDir = requireString(p, 'out', 'tune');
  const controller = new AbortController();
  const onSigint = () => { out.warn('cancelling: saving a checkpoint (run again with --resume to continue)'); controller.abort(); };
  process.once('SIGINT', onSigint);
  try {
    const r = await tuneModel({
      model: requireString(p, 'model', 'tune'), data: requireString(p, 'data', 'tune'), out: outDir, method,
      ...(steps !== undefined ? { steps } : {}), ...(tokens !== undefined ? { tokens } : {}),
      ...defined({
        lr: optionalNumber(p, 'lr', 'tune', 0), weightDecay: optionalNumber(p, 'weight-decay', 'tune', 0),
        batchSize: optionalInt(p, 'batch-size', 'tune', 1), seqLen: optionalInt(p, 'seq-len', 'tune', 1),
        gradAccumSteps: optionalInt(p, 'grad-accum', 'tune', 1), warmupSteps: optionalInt(p, 'warmup', 'tune', 0),
        evalEvery: optionalInt(p, 'eval-every', 'tune', 0), checkpointEvery: optionalInt(p, 'checkpoint-every', 'tune', 0),
        seed: optionalInt(p, 'seed', 'tune', 0), threads: optionalInt(p, 'threads', 'tune', 1),
        schedule: schedule as 'constant' | 'linear' | 'cosine' | undefined,
        ep: typeof p.flags.ep === 'string' ? parseExecutionProvider(p.flags.ep) : undefined,
      }),
      resume: Boolean(p.flags.resume), merge: Boolean(p.flags.merge), signal: controller.signal, onFallback: (m) => out.warn(m),
      onProgress: (e) => {
        if (p.flags.json) out.json({ event: 'progress', ...e });
        else out.line(`${e.run !== undefined ? `prompt ${e.run + 1}  ` : ''}step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}${e.evalLoss !== undefined ? `  held-out ${e.evalLoss.toFixed(4)}` : ''}  lr ${e.lr.toExponential(2)}  ${e.tokensPerSecond.toFixed(0)} tok/s  ETA ${fmtTime(e.etaSeconds)}`);
      },
    });
    const last = r.runs.at(-1)!;
    writeFileSync(join(outDir, 'training.json'), JSON.stringify({
      method, status: r.status, heldOut: r.heldOut, idpChoices: r.idpChoices ?? null,
      runs: r.runs.map((x) => ({ status: x.status, step: x.step, totalSteps: x.totalSteps, tokensSeen: x.tokensSeen, resumedFrom: x.resumedFrom ?? null, lossHistory: x.lossHistory, evalHistory: x.evalHistory })),
    }, null, 1));
    if (p.flags.json) out.json({ event: 'done', status: r.status, step: last.step, heldOut: r.heldOut, adapter: r.status === 'completed' ? outDir : null });
    else if (r.status === 'completed') out.line(`done: held-out loss ${r.heldOut.before?.toFixed(4) ?? '-'} -> ${r.heldOut.after?.toFixed(4) ?? '-'}; adapter written to ${outDir}`);
    else out.line(`cancelled at step ${last.step}; resume with --resume`);
    return r.status === 'completed' ? 0 : 130;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
