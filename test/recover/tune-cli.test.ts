// `recall tune` / `recall cost` as a user runs them, and the trainer's guarantees for adapters:
// cancel mid-run returns within a second with a checkpoint, --resume ends with an adapter
// bit-identical to an uninterrupted run; --merge writes a dense model equal to unmerged LoRA;
// the cost report counts parameters exactly and times every model on the same inputs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { MethodSpec } from '../../main/engine/recover/method-trainers.ts';
import { tuneModel } from '../../main/engine/recover/tune.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';
import { CORPUS, tempDir } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));
const tmp = tempDir('cli');
after(() => rmSync(tmp, { recursive: true, force: true }));
const MODEL = fixtureDir('tiny-llama');

const cancelCases: MethodSpec[] = [
  { method: 'idp', virtualTokens: 4, prompts: 3, selLayer: 0, training: 'joint-hard', init: { kind: 'random' } },
  { method: 'prefix', virtualTokens: 4, reparam: true, encoderHiddenSize: 16 },
];
for (const method of cancelCases) {
  test(`${method.method}: cancel at step 3 returns within a second; --resume ends bit-identical to an uninterrupted run`, async () => {
    const common = { model: MODEL, data: CORPUS, method, steps: 6, lr: 3e-2, seqLen: 16, batchSize: 4, threads: 2, checkpointEvery: 2, evalEvery: 3 };
    const whole = join(tmp, `${method.method}-whole`), cut = join(tmp, `${method.method}-cut`);
    await tuneModel({ ...common, out: whole });
    const controller = new AbortController();
    let abortedAt = 0;
    const r1 = await tuneModel({ ...common, out: cut, signal: controller.signal, onProgress: (e) => { if (e.step === 3) { abortedAt = performance.now(); controller.abort(); } } });
    assert.equal(r1.status, 'cancelled');
    assert.ok(performance.now() - abortedAt < 1000, 'cancelled within a second');
    const r2 = await tuneModel({ ...common, out: cut, resume: true });
    assert.equal(r2.status, 'completed');
    assert.equal(r2.runs[0]!.resumedFrom, 3);
    assert.ok(readFileSync(join(cut, 'adapter_model.safetensors')).equals(readFileSync(join(whole, 'adapter_model.safetensors'))), 'adapter bit-identical');
  });
}

const recall = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

test('recall tune --method lora --merge; logprobs --adapter equals the merged model; recall cost', () => {
  const out = join(tmp, 'lora');
  const r = recall('tune', '--model', MODEL, '--method', 'lora', '--rank', '4', '--alpha', '8', '--data', CORPUS, '--out', out, '--steps', '4', '--lr', '1e-2',
    '--seq-len', '16', '--batch-size', '4', '--threads', '2', '--merge', '--json');
  assert.equal(r.status, 0, r.stderr);
  const done = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(done.event, 'done');
  assert.ok(done.heldOut.after < done.heldOut.before);
  const viaAdapter = JSON.parse(recall('logprobs', '--model', MODEL, '--adapter', out, '--text', 'the king sat on the river .', '--json').stdout);
  const merged = JSON.parse(recall('logprobs', '--model', join(out, 'merged'), '--text', 'the king sat on the river .', '--json').stdout);
  const base = JSON.parse(recall('logprobs', '--model', MODEL, '--text', 'the king sat on the river .', '--json').stdout);
  viaAdapter.logprobs.slice(1).forEach((lp: number, i: number) => assert.ok(Math.abs(lp - merged.logprobs[i + 1]) < 1e-4, `position ${i + 1}`));
  assert.notDeepEqual(viaAdapter.logprobs, base.logprobs, 'the adapter changes the outputs');

  const prompt = join(tmp, 'prompt');
  assert.equal(recall('tune', '--model', MODEL, '--method', 'idp', '--virtual-tokens', '3', '--prompts', '2', '--data', CORPUS, '--out', prompt, '--steps', '2', '--seq-len', '16', '--batch-size', '4').status, 0);
  const cost = recall('cost', '--model', MODEL, '--adapter', out, '--adapter', prompt, '--repeats', '2', '--warmup', '1', '--sequences', '2', '--json');
  assert.equal(cost.status, 0, cost.stderr);
  const report = JSON.parse(cost.stdout);
  assert.deepEqual(report.rows.map((x: { method: string }) => x.method), ['base', 'lora', 'idp']);
  assert.equal(report.lora.parameters, 2 * (4 * (64 + 64) + 4 * (64 + 32)), 'LoRA r=4 on q (64->64) and v (64->32), 2 layers');
  assert.equal(report.rows[2].extraParameters, 2 * 3 * 64, 'IDP m*n*hidden');
  assert.equal(report.rows[2].ratioToLora, (2 * 3 * 64) / report.lora.parameters);
  for (const row of report.rows) assert.equal(row.rounds.length, 2);
});

test('recall tune: bad input gives one clear error', () => {
  const rank0 = recall('tune', '--model', MODEL, '--method', 'lora', '--rank', '0', '--data', CORPUS, '--out', join(tmp, 'bad'));
  assert.equal(rank0.status, 2);
  assert.match(rank0.stderr, /--rank must be >= 1/);
  const long = recall('tune', '--model', MODEL, '--method', 'prompt', '--virtual-tokens', '200', '--data', CORPUS, '--out', join(tmp, 'bad'));
  assert.equal(long.status, 1);
  assert.match(long.stderr, /200 virtual tokens .* longer than the model's context \(128\)/);
  const method = recall('tune', '--model', MODEL, '--method', 'adapterx', '--data', CORPUS, '--out', join(tmp, 'bad'));
  assert.equal(method.status, 2);
  assert.match(method.stderr, /--method must be one of lora, prompt, prefix, idp/);
});
