// Prefix tuning initialised from the key/values of real tokens (init text:<words>, Li & Liang 2021):
// - the initial prefix equals the present.{l}.key|value of the base run directly on the init
//   tokens (repeated/cut to n), on a LLaMA (RoPE, GQA) and an OPT fixture;
// - the untrained text prefix is the text's KV cache: the continuation after it gets the same
//   logits as after the text written as real tokens (positions n.. in both), through the runner,
//   the saved adapter loaded by LanguageModel, and the training graph's loss;
// - init random stays bit-identical (omitted or given, the same adapter bytes);
// - bad input (empty text, vocab, text with reparam) gives one clear error naming the field,
//   from the engine, the experiment options and the CLI;
// - on the demo model compressed by GPTQ 2-bit (when native-models/demo-model exists), 20 steps
//   from a text init end at a lower training and held-out loss than 20 steps from random.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compressModel } from '../../main/engine/compress/compress-model.ts';
import { isRecallError } from '../../main/engine/errors.ts';
import { methodSpecOf } from '../../main/engine/experiments/step-inputs.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import type { Past } from '../../main/engine/models/runner.ts';
import { Tokenizer } from '../../main/engine/models/tokenizer.ts';
import { type PrefixInit, baseShapeOf } from '../../main/engine/recover/adapter.ts';
import { createMethodTrainer, type MethodSpec } from '../../main/engine/recover/method-trainers.ts';
import { openAdapter } from '../../main/engine/recover/model-adapter.ts';
import { writeAdapter } from '../../main/engine/recover/peft-format.ts';
import { parsePrefixInit } from '../../main/engine/recover/prefix-init.ts';
import { rowsToPast } from '../../main/engine/recover/prefix-kv.ts';
import { tuneModel } from '../../main/engine/recover/tune.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';
import { CORPUS, tempDir } from './helpers.ts';

const tmp = tempDir('prefix-init');
after(() => rmSync(tmp, { recursive: true, force: true }));

const TEXT = 'the capital of france'; // 4 tokens, repeated to n = 6: "the capital of france the capital"
const N = 6;
const CONTINUATION = ' of france is paris . the king sat on the mat .';
const session = { threads: 2 };

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length, 'same length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const logSoftmax = (row: Float32Array): Float64Array => {
  const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return Float64Array.from(row, (v) => v - lse);
};

for (const name of ['tiny-llama', 'tiny-opt']) {
  test(`${name}: text init = the base's present KV of the init tokens; the continuation scores as after the real text`, async () => {
    const model = fixtureDir(name);
    const folder = loadModelFolder(model);
    const tokenizer = Tokenizer.fromFolder(model);
    const { config } = folder;
    const text = tokenizer.encode(TEXT, { addSpecialTokens: false });
    assert.equal(text.length, 4, `"${TEXT}" is 4 tokens`);
    const ids = Array.from({ length: N }, (_, i) => text[i % text.length]!); // repeated, then cut to n
    const cont = tokenizer.encode(CONTINUATION, { addSpecialTokens: false });
    const V = config.vocabSize, m = cont.length;
    const spec: MethodSpec = { method: 'prefix', virtualTokens: N, reparam: false, init: { kind: 'text', text: TEXT } };
    const trainer = await createMethodTrainer(spec, folder, tokenizer, { seed: 0, session });
    const lm = await LanguageModel.load(model, session);
    try {
      // 1. The initial prefix is the present KV of a direct run on the n init tokens (positions 0..n-1).
      const direct = await lm.runner.step([ids], lm.runner.emptyPast(1));
      for (let l = 0; l < config.numLayers; l++) {
        for (const [kind, t] of [['key', direct.past.keys[l]!], ['value', direct.past.values[l]!]] as const) {
          assert.deepEqual(t.dims, [1, config.numKvHeads, N, config.headDim]);
          const init = trainer.params.get(`past_key_values.${l}.${kind}`)!;
          const d = maxDiff(init, t.data as Float32Array);
          assert.ok(d <= 1e-6, `layer ${l} ${kind}: max |diff| ${d}`);
        }
      }

      // 2. The continuation after the untrained prefix (positions n..) scores as after the real text.
      const full = await lm.runner.step([[...ids, ...cont]], lm.runner.emptyPast(1));
      const realRows = full.logits.subarray(N * V, (N + m) * V);
      const adapter = trainer.adapter();
      assert.equal(adapter.method, 'prefix');
      if (adapter.method !== 'prefix') return;
      assert.deepEqual(adapter.init, { kind: 'text', text: TEXT });
      const kv = rowsToPast(adapter.kv, { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, n: N });
      const tensor = (name2: string) => ({ dtype: 'float32' as const, dims: [1, config.numKvHeads, N, config.headDim], data: kv.get(name2)! });
      const past: Past = {
        keys: Array.from({ length: config.numLayers }, (_, l) => tensor(`past_key_values.${l}.key`)),
        values: Array.from({ length: config.numLayers }, (_, l) => tensor(`past_key_values.${l}.value`)),
        length: N,
      };
      const viaPrefix = await lm.runner.step([cont], past);
      const dLogits = maxDiff(viaPrefix.logits, realRows);
      assert.ok(dLogits < 1e-4, `logits after the prefix vs after the real text: max |diff| ${dLogits}`);

      // ... through the saved adapter folder, as inference loads it (recall.json records the init).
      const dir = join(tmp, `${name}-text`);
      writeAdapter(dir, { ...adapter, base: baseShapeOf(config, model) });
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'recall.json'), 'utf8')).init, { kind: 'text', text: TEXT });
      const withAdapter = await LanguageModel.load(model, { ...session, adapter: openAdapter(dir) });
      try {
        const { logprobs } = await withAdapter.logprobsOfIds(cont);
        for (let j = 1; j < m; j++) {
          const expected = logSoftmax(realRows.subarray((j - 1) * V, j * V))[cont[j]!]!;
          assert.ok(Math.abs(logprobs[j]! - expected) < 1e-4, `token ${j}: ${logprobs[j]} vs ${expected}`);
        }
      } finally {
        await withAdapter.release();
      }

      // ... and through the training graph: its loss on the continuation is the real text's.
      const T = m - 1;
      const batch = { inputs: Int32Array.from(cont.slice(0, T)), labels: Int32Array.from(cont.slice(1)), batchSize: 1, seqLen: T, sequences: [0] };
      let nll = 0;
      for (let t = 0; t < T; t++) nll -= logSoftmax(realRows.subarray(t * V, (t + 1) * V))[cont[t + 1]!]!;
      const r = await trainer.evaluate(batch);
      assert.ok(Math.abs(r.loss - nll / T) < 1e-4, `training graph loss ${r.loss} vs real text ${nll / T}`);
    } finally {
      await lm.release();
      await trainer.release();
      folder.weights.close();
    }
  });
}

test('init random stays bit-identical: omitted and given, the same adapter bytes', async () => {
  const common = { model: fixtureDir('tiny-llama'), data: CORPUS, steps: 3, lr: 3e-2, seqLen: 16, batchSize: 4, threads: 2 };
  const omitted = join(tmp, 'random-omitted'), given = join(tmp, 'random-given');
  await tuneModel({ ...common, out: omitted, method: { method: 'prefix', virtualTokens: 4, reparam: false } });
  await tuneModel({ ...common, out: given, method: { method: 'prefix', virtualTokens: 4, reparam: false, init: { kind: 'random' } } });
  for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'recall.json']) {
    assert.ok(readFileSync(join(omitted, f)).equals(readFileSync(join(given, f))), `${f} byte-equal`);
  }
  assert.deepEqual(JSON.parse(readFileSync(join(given, 'recall.json'), 'utf8')).init, { kind: 'random' });
});

test('text init trains: held-out loss goes down', async () => {
  const common = { model: fixtureDir('tiny-llama'), data: CORPUS, steps: 4, lr: 3e-2, seqLen: 16, batchSize: 4, threads: 2 };
  const r = await tuneModel({ ...common, out: join(tmp, 'text-trained'), method: { method: 'prefix', virtualTokens: 4, reparam: false, init: { kind: 'text', text: 'the king sat on' } } });
  assert.equal(r.status, 'completed');
  assert.ok(r.heldOut.after! < r.heldOut.before!, `held-out ${r.heldOut.before} -> ${r.heldOut.after}`);
});

const rejects = async (p: Promise<unknown> | (() => unknown), field: string, message: RegExp) => {
  let err: unknown;
  try { await (typeof p === 'function' ? p() : p); } catch (e) { err = e; }
  assert.ok(isRecallError(err, 'E_INVALID_ARGUMENT'), `a RecallError, got ${String(err)}`);
  assert.equal(err.details.field, field);
  assert.match(err.message, message);
};

test('bad input: empty text, vocab, text with reparam: one clear error each, naming the field', async () => {
  const model = fixtureDir('tiny-llama');
  const folder = loadModelFolder(model);
  const tokenizer = Tokenizer.fromFolder(model);
  const trainer = (spec: MethodSpec) => createMethodTrainer(spec, folder, tokenizer, { seed: 0, session });
  try {
    await rejects(() => parsePrefixInit('text:'), 'init', /must be random or text:<init text> \(got 'text:'\)/);
    await rejects(() => parsePrefixInit('vocab'), 'init', /must be random or text:<init text> \(got 'vocab'\)/);
    await rejects(trainer({ method: 'prefix', virtualTokens: 4, reparam: false, init: { kind: 'text', text: '' } }), 'init', /text is empty/);
    await rejects(trainer({ method: 'prefix', virtualTokens: 4, reparam: true, init: { kind: 'text', text: 'the king' } }), 'init', /needs reparam off/);
    await rejects(tuneModel({ model, data: CORPUS, out: join(tmp, 'bad'), steps: 1, seqLen: 16, method: { method: 'prefix', virtualTokens: 4, reparam: true, init: { kind: 'text', text: 'the king' } } }), 'init', /needs reparam off/);
    // Experiment / API options: refused when the step is planned, before any job runs.
    await rejects(() => methodSpecOf({ method: 'prefix', options: { reparam: true, init: 'text:the king' } }), 'options.init', /needs reparam off/);
    await rejects(() => methodSpecOf({ method: 'prefix', options: { init: 'vocab' } }), 'options.init', /must be random or text/);
  } finally {
    folder.weights.close();
  }
});

test('experiment options: init flows into the step spec; random stays out of it (fingerprints as before)', () => {
  const omitted = methodSpecOf({ method: 'prefix', options: { virtualTokens: 8 } });
  assert.deepEqual(omitted, { method: 'prefix', virtualTokens: 8, reparam: false });
  assert.deepEqual(methodSpecOf({ method: 'prefix', options: { virtualTokens: 8, init: 'random' } }), omitted);
  assert.deepEqual(methodSpecOf({ method: 'prefix', options: { virtualTokens: 8, init: 'text:the king' } }), { method: 'prefix', virtualTokens: 8, reparam: false, init: { kind: 'text', text: 'the king' } });
});

const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));
const recall = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

test('recall tune --method prefix --init text:...: trains, records the init; bad --init gives one clear error', () => {
  const model = fixtureDir('tiny-llama');
  const common = ['tune', '--model', model, '--method', 'prefix', '--virtual-tokens', '4', '--data', CORPUS, '--steps', '2', '--seq-len', '16', '--batch-size', '4', '--threads', '2'];
  const out = join(tmp, 'cli-text');
  const ok = recall(...common, '--out', out, '--init', 'text:the king sat');
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'recall.json'), 'utf8')).init, { kind: 'text', text: 'the king sat' });
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'training.json'), 'utf8')).method.init, { kind: 'text', text: 'the king sat' });

  const empty = recall(...common, '--out', join(tmp, 'cli-bad'), '--init', 'text:');
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /--init must be random or text:<init text> \(got 'text:'\)/);
  const vocab = recall(...common, '--out', join(tmp, 'cli-bad'), '--init', 'vocab');
  assert.equal(vocab.status, 1);
  assert.match(vocab.stderr, /--init must be random or text:<init text> \(got 'vocab'\)/);
  const reparam = recall(...common, '--out', join(tmp, 'cli-bad'), '--reparam', '--init', 'text:the king');
  assert.equal(reparam.status, 1);
  assert.match(reparam.stderr, /init text:<words> needs reparam off/);
  assert.equal(reparam.stderr.trim().split('\n').length, 1, 'one line');
});

const DEMO = fileURLToPath(new URL('../../native-models/demo-model', import.meta.url));
const DEMO_DATA = fileURLToPath(new URL('../../native-models/demo', import.meta.url));
if (existsSync(join(DEMO, 'model.safetensors')) && existsSync(join(DEMO_DATA, 'train.txt'))) {
  test('demo model, GPTQ 2-bit: 20 steps from a text init end lower than 20 steps from random', async () => {
    // Measured (seeds 0-4, lr 3e-2, n 8): last-5-step training loss text 0.85-0.95 vs random 0.99-1.25;
    // held-out 0.87-0.91 vs 1.05-1.16 (the compressed model without a prefix: 0.84, dense 0.52).
    const compressed = join(tmp, 'demo-gptq2');
    assert.equal((await compressModel({ model: DEMO, out: compressed, spec: { method: 'gptq', bits: 2, groupSize: 32 }, calib: join(DEMO_DATA, 'calibration.txt'), nsamples: 32, seqlen: 64, seed: 0, threads: 2 })).status, 'completed');
    const data = join(tmp, 'demo-train.txt');
    writeFileSync(data, readFileSync(join(DEMO_DATA, 'train.txt'), 'utf8').slice(0, 40000));
    const run = async (init: PrefixInit, label: string) => {
      const r = await tuneModel({ model: compressed, data, out: join(tmp, `demo-${label}`), method: { method: 'prefix', virtualTokens: 8, reparam: false, init }, steps: 20, lr: 3e-2, seqLen: 64, batchSize: 4, threads: 2, seed: 0, evalEvery: 1000, checkpointEvery: 1000 });
      const last = r.runs[0]!.lossHistory.slice(-5);
      return { train: last.reduce((s, x) => s + x.loss, 0) / last.length, heldOut: r.heldOut.after! };
    };
    const random = await run({ kind: 'random' }, 'random');
    const text = await run({ kind: 'text', text: 'Question: In which year was the city founded? Answer:' }, 'text');
    assert.ok(text.train < random.train - 0.05, `mean training loss of the last 5 steps: text ${text.train} vs random ${random.train}`);
    assert.ok(text.heldOut < random.heldOut - 0.05, `held-out: text ${text.heldOut} vs random ${random.heldOut}`);
  });
} else {
  test('demo model: skipped because native-models/demo-model has no model.safetensors yet', { skip: true }, () => {});
}
