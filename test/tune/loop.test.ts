// The training loop on a tiny real model (problem.ts): learning, accumulation, cancellation,
// bit-exact resume (in process and after kill -9 of a child process) and checkpoint safety.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isRecallError } from '../../main/engine/errors.ts';
import { openSafetensors } from '../../main/engine/models/safetensors.ts';
import { listCheckpoints, loadLatestCheckpoint } from '../../main/engine/tune/checkpoint.ts';
import { type ProgressEvent, type TrainOptions, type TrainResult, train } from '../../main/engine/tune/loop.ts';
import type { Params } from '../../main/engine/tune/optimizer.ts';
import { assertClose } from '../helpers/compare.ts';
import { initParams, makeDataset, problemOptions } from './problem.ts';

const root = mkdtempSync(join(tmpdir(), 'recall-tune-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `run${n++}`);

interface Run { result: TrainResult; params: Params }
async function run(over: Parameters<typeof problemOptions>[0] = {}): Promise<Run> {
  const o = problemOptions(over);
  return { result: await train(o), params: o.params };
}

/** The uninterrupted run every resumed run must reproduce exactly. */
let baseline: Run | undefined;
const getBaseline = async () => (baseline ??= await run());

function assertSameRun(got: Run, want: Run, label: string): void {
  assert.equal(got.result.status, 'completed', label);
  for (const [name, p] of want.params) assert.deepEqual(got.params.get(name), p, `${label}: parameter ${name} differs`);
  assert.deepEqual(got.result.lossHistory, want.result.lossHistory, `${label}: loss curve differs`);
  assert.deepEqual(got.result.evalHistory, want.result.evalHistory, `${label}: eval curve differs`);
  assert.equal(got.result.tokensSeen, want.result.tokensSeen);
}

/** Options that abort a run when the gradient function is called for the k-th time. */
function abortAtCall(k: number): { signal: AbortSignal; abortedAt: () => number; wrap: (o: TrainOptions) => TrainOptions } {
  const ctl = new AbortController();
  let calls = 0, at = 0;
  return {
    signal: ctl.signal,
    abortedAt: () => at,
    wrap: (o) => ({
      ...o,
      signal: ctl.signal,
      gradient: async (b, s) => {
        if (++calls === k) {
          ctl.abort();
          at = performance.now();
        }
        return o.gradient(b, s);
      },
    }),
  };
}

describe('training loop', () => {
  test('loss and eval loss go down; progress reports every step', async () => {
    const events: ProgressEvent[] = [];
    const { result } = await run({ totalSteps: 40, onProgress: (e) => events.push(e) });
    assert.equal(result.status, 'completed');
    assert.equal(events.length, 40);
    const first = result.lossHistory.slice(0, 3).reduce((a, r) => a + r.loss, 0) / 3;
    const last = result.lossHistory.slice(-3).reduce((a, r) => a + r.loss, 0) / 3;
    assert.ok(last < 0.6 * first, `mean loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    const evals = result.evalHistory;
    assert.deepEqual(evals.map((e) => e.step), [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    assert.ok(evals.at(-1)!.loss < 0.7 * evals[0]!.loss, `eval ${evals[0]!.loss} -> ${evals.at(-1)!.loss}`);
    // Warmup from lr 0 (transformers' schedule applied before each update), linear decay to 0 at the end.
    assert.deepEqual(result.lossHistory.slice(0, 4).map((r) => r.lr), [0, 0.05 / 3, 0.1 / 3, 0.05]);
    const e = events[7]!;
    assert.equal(e.step, 8);
    assert.equal(e.evalLoss, evals[1]!.loss);
    assert.ok(e.tokensPerSecond > 0 && e.etaSeconds >= 0 && e.gradNorm > 0 && e.totalSteps === 40);
    assert.equal(events[6]!.evalLoss, undefined);
  });

  test('accumulating 2 micro-batches of B equals one batch of 2B (mean loss)', async () => {
    const common = { optimizer: { kind: 'sgd' as const, lr: 0.5, momentum: 0.9 }, schedule: 'constant' as const, warmupSteps: 0, clipNorm: null, totalSteps: 8, evalEvery: undefined };
    const two = await run({ ...common, batchSize: 4, gradAccumSteps: 2 });
    const one = await run({ ...common, batchSize: 8, gradAccumSteps: 1 });
    assert.equal(two.result.tokensSeen, one.result.tokensSeen);
    assertClose(two.result.lossHistory.map((r) => r.loss), one.result.lossHistory.map((r) => r.loss), { rtol: 1e-6, atol: 0, label: 'loss' });
    assertClose(two.result.lossHistory.map((r) => r.gradNorm), one.result.lossHistory.map((r) => r.gradNorm), { rtol: 1e-5, atol: 0, label: 'grad norm' });
    for (const [name, p] of one.params) assertClose(two.params.get(name)!, p, { rtol: 1e-5, atol: 1e-7, label: name });
    // And not trivially: one micro-batch of B alone gives a different step.
    const half = await run({ ...common, batchSize: 4, gradAccumSteps: 1, totalSteps: 1 });
    assert.notDeepEqual(half.params.get('out'), (await run({ ...common, batchSize: 8, gradAccumSteps: 1, totalSteps: 1 })).params.get('out'));
  });

  test('cancel mid-step returns within 1 s with a checkpoint, and resume reproduces the run bit for bit', async () => {
    const dir = fresh();
    const a = abortAtCall(13); // the first micro-batch of step 7
    const o = a.wrap(problemOptions({ checkpointDir: dir, checkpointEvery: 5 }));
    const r = await train(o);
    assert.ok(performance.now() - a.abortedAt() < 1000, 'cancel took more than 1 s');
    assert.equal(r.status, 'cancelled');
    assert.equal(r.step, 6);
    assert.equal(r.checkpoint, join(dir, 'step-00000006'));
    const resumed = await run({ checkpointDir: dir, checkpointEvery: 5, resume: true });
    assert.equal(resumed.result.resumedFrom, 6);
    assertSameRun(resumed, await getBaseline(), 'resumed after cancel');
  });

  test('cancel from a timer while the gradient is slow takes effect within 1 s', async () => {
    const ctl = new AbortController();
    const dir = fresh();
    let abortedAt = 0;
    setTimeout(() => {
      abortedAt = performance.now();
      ctl.abort();
    }, 150);
    const r = await train(problemOptions({ checkpointDir: dir, delayMs: 20, signal: ctl.signal }));
    const took = performance.now() - abortedAt;
    assert.equal(r.status, 'cancelled');
    assert.ok(took < 1000, `returned ${took.toFixed(0)} ms after the abort`);
    assert.ok(r.step > 0 && r.step < 24, `stopped at step ${r.step}`);
    assert.ok(existsSync(join(r.checkpoint!, 'state.json')));
    assertSameRun(await run({ checkpointDir: dir, resume: true }), await getBaseline(), 'resumed after timer cancel');
  });

  test('cancel during an evaluation leaves it pending; resume runs it first', async () => {
    const dir = fresh();
    const ctl = new AbortController();
    const o = problemOptions({ checkpointDir: dir, signal: ctl.signal });
    let evals = 0;
    const evaluate = o.evaluate!;
    const r = await train({ ...o, evaluate: async (b, s) => (++evals === 3 ? (ctl.abort(), evaluate(b, s)) : evaluate(b, s)) });
    assert.equal(r.status, 'cancelled');
    assert.equal(r.step, 8);
    assert.deepEqual(r.evalHistory.map((e) => e.step), [4]);
    assertSameRun(await run({ checkpointDir: dir, resume: true }), await getBaseline(), 'resumed after cancel in eval');
  });

  test('kill -9 of a training process mid-run, then resume: identical parameters and loss curve', async () => {
    const dir = fresh();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/tune/train-child.ts', dir], { cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const killedAfter = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const steps = [...out.matchAll(/^checkpoint (\d+)$/gm)].map((m) => Number(m[1]));
        if (steps.length && steps.at(-1)! >= 6 && !child.killed) {
          child.kill('SIGKILL');
          resolve(steps.at(-1)!);
        }
      });
      child.on('exit', (code) => (child.killed ? undefined : reject(new Error(`child exited ${code} before a checkpoint: ${out}${err}`))));
    });
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r)));
    assert.equal(child.signalCode, 'SIGKILL');
    assert.ok(!out.includes('done'), 'the child finished before it was killed; slow it down');
    const latest = loadLatestCheckpoint(dir)!;
    assert.ok(latest.state.step >= killedAfter && latest.state.step < 24, `latest checkpoint step ${latest.state.step}`);
    const resumed = await run({ checkpointDir: dir, checkpointEvery: 3, resume: true });
    assert.equal(resumed.result.resumedFrom, latest.state.step);
    assertSameRun(resumed, await getBaseline(), 'resumed after kill -9');
  });
});

describe('checkpoints', () => {
  test('layout: params and optimizer state in safetensors, run state in JSON; the newest 2 kept', async () => {
    const dir = fresh();
    const { result, params } = await run({ checkpointDir: dir, checkpointEvery: 5, totalSteps: 12 });
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [10, 12]);
    assert.deepEqual(readdirSync(result.checkpoint!).sort(), ['optimizer.safetensors', 'params.safetensors', 'state.json']);
    const w = openSafetensors(join(result.checkpoint!, 'params.safetensors'));
    assert.deepEqual(w.info('embed').shape, [12, 6]);
    assert.deepEqual(w.readFloat32('out'), params.get('out'));
    w.close();
    const ck = loadLatestCheckpoint(dir)!;
    assert.equal(ck.state.step, 12);
    assert.deepEqual([...ck.optimizer.tensors.keys()].sort(), ['exp_avg.embed', 'exp_avg.out', 'exp_avg_sq.embed', 'exp_avg_sq.out']);
    assert.equal(ck.optimizer.step, 12);
    assert.equal(ck.state.lossHistory.length, 12);
  });

  test('an interrupted write (stray temp folder) never hides or corrupts the latest good checkpoint', async () => {
    const dir = fresh();
    const a = abortAtCall(17);
    await train(a.wrap(problemOptions({ checkpointDir: dir, checkpointEvery: 4 })));
    // What a crash between mkdir and rename leaves: a temp folder with partial files, named for a later step.
    const stray = join(dir, '.tmp-step-00000010-999-abc');
    mkdirSync(stray);
    writeFileSync(join(stray, 'params.safetensors'), new Uint8Array([1, 2, 3]));
    assert.equal(loadLatestCheckpoint(dir)!.state.step, 8);
    // A crash while replacing a same-step checkpoint: the old one was moved aside, the new one never landed.
    renameSync(join(dir, 'step-00000008'), join(dir, '.old-step-00000008-xyz'));
    assert.equal(loadLatestCheckpoint(dir)!.state.step, 8);
    assert.ok(existsSync(join(dir, 'step-00000008')), 'moved-aside checkpoint restored');
    const resumed = await run({ checkpointDir: dir, checkpointEvery: 4, resume: true });
    assert.ok(!existsSync(stray), 'stray temp folder cleaned up by the next save');
    assertSameRun(resumed, await getBaseline(), 'resumed past a stray temp folder');
  });

  test('a damaged newest checkpoint is skipped for the one before it, and reported', async () => {
    const dir = fresh();
    const a = abortAtCall(21);
    await train(a.wrap(problemOptions({ checkpointDir: dir, checkpointEvery: 4 })));
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [8, 10]);
    truncateSync(join(dir, 'step-00000010', 'optimizer.safetensors'), 20);
    const resumed = await run({ checkpointDir: dir, checkpointEvery: 4, resume: true });
    assert.equal(resumed.result.resumedFrom, 8);
    assert.match(resumed.result.skippedCheckpoints![0]!, /step-00000010/);
    assertSameRun(resumed, await getBaseline(), 'resumed from the older checkpoint');
  });

  test('refuses a fresh run into a folder with checkpoints, and a resume with other settings', async () => {
    const dir = fresh();
    await run({ checkpointDir: dir, totalSteps: 2 });
    await assert.rejects(run({ checkpointDir: dir, totalSteps: 2 }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && e.message.includes('resume: true'));
    await assert.rejects(run({ checkpointDir: dir, totalSteps: 3, resume: true }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && /totalSteps, schedule/.test(e.message));
    await assert.rejects(
      train({ ...problemOptions({ checkpointDir: dir, totalSteps: 2, resume: true }), data: makeDataset(8, 8 * 48 + 2) }),
      (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && /\(data\)/.test(e.message),
    );
    // Same settings written in another key order are the same settings.
    const done = await run({ checkpointDir: dir, totalSteps: 2, resume: true, params: initParams(), optimizer: { weightDecay: 1e-5, lr: 0.05, kind: 'adamw' } });
    assert.equal(done.result.status, 'completed');
    assert.equal(done.result.resumedFrom, 2);
  });

  test('a token budget sets the step count; bad options are refused by name', async () => {
    const { result } = await run({ totalSteps: undefined, tokenBudget: 8 * 4 * 2 * 5 + 1, evalEvery: undefined });
    assert.equal(result.totalSteps, 6);
    await assert.rejects(run({ tokenBudget: 100 }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && e.message.includes('exactly one'));
    await assert.rejects(run({ gradAccumSteps: 0 }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && e.message.includes('gradAccumSteps'));
  });
});
