// LoRA dropout (PEFT lora_dropout) in training: masks are graph inputs made in TypeScript from
// (seed, sequence id, module), so
// - gradients reach only A/B, and the mask is a pure function of its key (0 or 1/(1-p));
// - p = 0 trains bit-identically to no dropout at all (same plain graph);
// - p > 0 changes the training losses, still lowers the held-out loss, and is recorded as
//   lora_dropout in adapter_config.json; the default graph has no mask input;
// - cancel + resume ends bit-identical to an uninterrupted run.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { Tokenizer } from '../../main/engine/models/tokenizer.ts';
import { dropoutMask } from '../../main/engine/recover/lora-dropout.ts';
import { type MethodSpec, createMethodTrainer } from '../../main/engine/recover/method-trainers.ts';
import { tuneModel } from '../../main/engine/recover/tune.ts';
import { TokenDataset } from '../../main/engine/tune/data.ts';
import { tokenizeCorpus } from '../../main/engine/tune/train-model.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';
import { CORPUS, tempDir } from './helpers.ts';

const tmp = tempDir('lora-dropout');
after(() => rmSync(tmp, { recursive: true, force: true }));
const MODEL = fixtureDir('tiny-llama');
const lora = (dropout?: number): MethodSpec => ({ method: 'lora', rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'], ...(dropout !== undefined ? { dropout } : {}) });
const common = { model: MODEL, data: CORPUS, steps: 6, lr: 1e-2, seqLen: 16, batchSize: 4, threads: 2, checkpointEvery: 2, evalEvery: 3 };
const adapterBytes = (dir: string) => readFileSync(join(dir, 'adapter_model.safetensors'));

test('dropout mask: a pure function of (p, seed, sequence, module, epoch), values 0 or 1/(1-p), rate near p; a later epoch draws afresh', () => {
  const a = dropoutMask(0.25, 3, 17, 'model.layers.0.self_attn.q_proj', 4000);
  assert.deepEqual(a, dropoutMask(0.25, 3, 17, 'model.layers.0.self_attn.q_proj', 4000));
  assert.notDeepEqual(a, dropoutMask(0.25, 3, 18, 'model.layers.0.self_attn.q_proj', 4000));
  assert.notDeepEqual(a, dropoutMask(0.25, 3, 17, 'model.layers.0.self_attn.v_proj', 4000));
  assert.notDeepEqual(a, dropoutMask(0.25, 4, 17, 'model.layers.0.self_attn.q_proj', 4000));
  assert.deepEqual(a, dropoutMask(0.25, 3, 17, 'model.layers.0.self_attn.q_proj', 4000, 0), 'epoch 0 is the default');
  const e1 = dropoutMask(0.25, 3, 17, 'model.layers.0.self_attn.q_proj', 4000, 1);
  assert.notDeepEqual(a, e1, 'the same sequence in epoch 1 gets another mask');
  assert.deepEqual(e1, dropoutMask(0.25, 3, 17, 'model.layers.0.self_attn.q_proj', 4000, 1));
  const keep = Math.fround(1 / 0.75);
  assert.ok(a.every((v) => v === 0 || v === keep));
  const rate = a.filter((v) => v === 0).length / a.length;
  assert.ok(Math.abs(rate - 0.25) < 0.03, `drop rate ${rate}`);
});

test('the default LoRA graph has no mask input; dropoutMask adds one per targeted module', () => {
  const folder = loadModelFolder(MODEL);
  try {
    const opts = { targets: ['q_proj', 'v_proj'], rank: 4, alpha: 8 };
    const plain = buildModelGraph(folder.config, folder.weights, { lora: opts });
    assert.ok(!plain.graph.inputs.some((i) => i.name.includes('dropout')));
    const masked = buildModelGraph(folder.config, folder.weights, { lora: { ...opts, dropoutMask: true } });
    const masks = masked.graph.inputs.filter((i) => i.name.endsWith('.lora_dropout_mask')).map((i) => i.name);
    assert.equal(masks.length, 2 * folder.config.numLayers);
  } finally {
    folder.weights.close();
  }
});

test('with dropout, gradients reach only LoRA A/B', async () => {
  const folder = loadModelFolder(MODEL);
  const tokens = tokenizeCorpus(Tokenizer.fromFolder(MODEL), readFileSync(CORPUS, 'utf8'));
  const [batch] = [...TokenDataset.fromTokens(tokens, { seqLen: 16, heldOutFraction: 0.05 }).heldOutBatches(2, 1)];
  const t = await createMethodTrainer(lora(0.3), folder, Tokenizer.fromFolder(MODEL), { seed: 1, session: { threads: 2 } });
  try {
    const g = await t.gradient(batch!);
    assert.deepEqual([...g.grads.keys()].sort(), [...t.params.keys()].sort());
    for (const name of t.params.keys()) assert.match(name, /^model\.layers\.\d\.self_attn\.[qv]_proj\.lora_[AB]\.weight\.T$/);
    assert.ok([...g.grads.values()].some((x) => x.some((v) => v !== 0)));
  } finally {
    await t.release();
    folder.weights.close();
  }
});

test('p = 0 is bit-identical to no dropout; p > 0 changes the losses, still learns, records lora_dropout', async () => {
  const none = join(tmp, 'none'), zero = join(tmp, 'zero'), some = join(tmp, 'some');
  const r0 = await tuneModel({ ...common, out: none, method: lora() });
  const rz = await tuneModel({ ...common, out: zero, method: lora(0) });
  assert.ok(adapterBytes(zero).equals(adapterBytes(none)), 'p = 0: adapter bit-identical');
  assert.deepEqual(rz.runs[0]!.lossHistory, r0.runs[0]!.lossHistory);
  const rd = await tuneModel({ ...common, out: some, method: lora(0.3) });
  assert.equal(rd.status, 'completed');
  assert.notDeepEqual(rd.runs[0]!.lossHistory.map((s) => s.loss), r0.runs[0]!.lossHistory.map((s) => s.loss));
  assert.ok(rd.heldOut.after! < rd.heldOut.before!, `held-out ${rd.heldOut.before} -> ${rd.heldOut.after}`);
  assert.equal(rd.heldOut.before, r0.heldOut.before, 'no dropout in evaluation');
  assert.equal(JSON.parse(readFileSync(join(some, 'adapter_config.json'), 'utf8')).lora_dropout, 0.3);
  assert.equal(JSON.parse(readFileSync(join(none, 'adapter_config.json'), 'utf8')).lora_dropout, 0);
});

test('p > 0: cancel at step 3 and resume ends bit-identical to an uninterrupted run', async () => {
  const whole = join(tmp, 'whole'), cut = join(tmp, 'cut');
  await tuneModel({ ...common, out: whole, method: lora(0.2) });
  const controller = new AbortController();
  const r1 = await tuneModel({ ...common, out: cut, method: lora(0.2), signal: controller.signal, onProgress: (e) => { if (e.step === 3) controller.abort(); } });
  assert.equal(r1.status, 'cancelled');
  const r2 = await tuneModel({ ...common, out: cut, method: lora(0.2), resume: true });
  assert.equal(r2.runs[0]!.resumedFrom, 3);
  assert.ok(adapterBytes(cut).equals(adapterBytes(whole)), 'adapter bit-identical');
});

test('dropout outside [0, 1) is refused', async () => {
  for (const p of [-0.1, 1, Number.NaN]) {
    await assert.rejects(tuneModel({ ...common, out: join(tmp, 'bad'), method: lora(p) }), /dropout must be in \[0, 1\)/);
  }
});
