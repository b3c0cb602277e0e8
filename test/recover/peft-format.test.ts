// Adapters in PEFT's layout: write -> read gives the same tensors and the config fields PEFT
// requires; the committed PEFT-made LoRA adapter (scripts/oracles/models.py) reproduces the
// PyTorch oracle's logits through --adapter; prefix rows follow PEFT's view/permute; adapters
// for another base, rank 0 and prompts longer than the context fail with one clear error.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isRecallError } from '../../main/engine/errors.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { type Adapter, baseShapeOf } from '../../main/engine/recover/adapter.ts';
import { checkAdapterFits } from '../../main/engine/recover/adapter-fit.ts';
import { openAdapter } from '../../main/engine/recover/model-adapter.ts';
import { readAdapter, writeAdapter } from '../../main/engine/recover/peft-format.ts';
import { normal, pastToRows, rowsToPast } from '../../main/engine/recover/prefix-kv.ts';
import { tuneModel } from '../../main/engine/recover/tune.ts';
import { assertClose } from '../helpers/compare.ts';
import { OracleFixture, fixtureDir } from '../helpers/model-fixtures.ts';
import { CORPUS, tempDir } from './helpers.ts';

const tmp = tempDir('peft');
after(() => rmSync(tmp, { recursive: true, force: true }));
const folder = loadModelFolder(fixtureDir('tiny-llama'));
const config = folder.config;
folder.weights.close();
const base = baseShapeOf(config, 'tiny-llama');

const adapters: Adapter[] = [
  { method: 'lora', base, rank: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], weights: new Map([['model.layers.0.self_attn.q_proj', { A: normal(2 * 64, 1), B: normal(64 * 2, 2) }], ['model.layers.1.self_attn.v_proj', { A: normal(2 * 64, 3), B: normal(32 * 2, 4) }]]) },
  { method: 'prompt', base, numVirtualTokens: 3, init: { kind: 'text', text: 'the king' }, embeddings: normal(3 * 64, 5) },
  { method: 'prefix', base, numVirtualTokens: 3, reparam: false, encoderHiddenSize: null, init: { kind: 'text', text: 'the queen' }, kv: normal(3 * 2 * 2 * 32, 6) },
  { method: 'idp', base, numVirtualTokens: 3, numPrompts: 2, selLayer: 1, training: 'joint-hard', init: { kind: 'random' }, pool: normal(2 * 3 * 64, 7) },
];

const REQUIRED: Record<string, string[]> = {
  LORA: ['peft_type', 'task_type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'bias', 'fan_in_fan_out', 'base_model_name_or_path', 'inference_mode'],
  PROMPT_TUNING: ['peft_type', 'task_type', 'num_virtual_tokens', 'token_dim', 'num_transformer_submodules', 'num_attention_heads', 'num_layers', 'prompt_tuning_init', 'base_model_name_or_path', 'inference_mode'],
  PREFIX_TUNING: ['peft_type', 'task_type', 'num_virtual_tokens', 'token_dim', 'num_transformer_submodules', 'num_attention_heads', 'num_layers', 'prefix_projection', 'encoder_hidden_size', 'base_model_name_or_path', 'inference_mode'],
  IDP: ['peft_type', 'task_type', 'num_virtual_tokens', 'token_dim', 'num_layers', 'num_prompts', 'sel_layer', 'idp_training', 'idp_selection'],
};

for (const a of adapters) {
  test(`PEFT layout round trip: ${a.method}`, () => {
    const dir = join(tmp, a.method);
    writeAdapter(dir, a);
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    for (const f of REQUIRED[cfg.peft_type]!) assert.ok(f in cfg, `${cfg.peft_type} config has ${f}`);
    assert.equal(cfg.task_type, 'CAUSAL_LM');
    const back = readAdapter(dir);
    assert.equal(back.method, a.method);
    if (a.method === 'lora' && back.method === 'lora') {
      assert.deepEqual([back.rank, back.alpha, back.targets], [a.rank, a.alpha, a.targets]);
      assert.deepEqual([...back.weights.keys()].sort(), [...a.weights.keys()].sort());
      for (const [k, w] of a.weights) { assert.deepEqual(back.weights.get(k)!.A, w.A); assert.deepEqual(back.weights.get(k)!.B, w.B); }
      // PEFT's tensor names and [r, in] / [out, r] shapes
      const header = readFileSync(join(dir, 'adapter_model.safetensors'));
      const json = JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString());
      assert.deepEqual(json['base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight'].shape, [32, 2]);
      assert.deepEqual(json['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape, [2, 64]);
    } else {
      const field = ({ prompt: 'embeddings', prefix: 'kv', idp: 'pool' } as Record<string, string>)[a.method]!;
      assert.deepEqual((back as unknown as Record<string, Float32Array>)[field], (a as unknown as Record<string, Float32Array>)[field]);
      assert.deepEqual(back.base, a.base);
      assert.deepEqual((back as { init?: unknown }).init, (a as { init?: unknown }).init, 'the init round-trips through recall.json');
    }
    if (a.method === 'prefix') assert.deepEqual([cfg.token_dim, cfg.num_attention_heads, cfg.num_layers], [32, 2, 2], 'GQA prefix: token_dim = kv_heads * head_dim (PEFT #1901)');
  });
}

test('prefix rows follow PEFT: view(n, layers*2, kv_heads, head_dim).permute(2, 0, 3, 1, 4)', () => {
  const d = { layers: 2, kvHeads: 2, headDim: 3, n: 4 };
  const rows = Float32Array.from({ length: 4 * 2 * 2 * 2 * 3 }, (_, i) => i);
  const past = rowsToPast(rows, d);
  // PEFT: past[l*2 + kind][h][j][x] = rows[j][(l*2 + kind)][h][x]
  for (let l = 0; l < 2; l++) for (let k = 0; k < 2; k++) for (let h = 0; h < 2; h++) for (let j = 0; j < 4; j++) for (let x = 0; x < 3; x++) {
    const want = rows[j * 24 + ((l * 2 + k) * 2 + h) * 3 + x]!;
    assert.equal(past.get(`past_key_values.${l}.${k ? 'value' : 'key'}`)![(h * 4 + j) * 3 + x], want);
  }
  assert.deepEqual(pastToRows(past, d), rows);
});

test('the PEFT-made LoRA fixture through --adapter reproduces the PyTorch oracle logits', async () => {
  const fx = new OracleFixture('tiny-llama');
  const c = fx.case('lora');
  const ids = fx.ints(c.inputs.input_ids);
  const expected = fx.floats(c.outputs.logits);
  const lm = await LanguageModel.load(fixtureDir('tiny-llama'), { adapter: openAdapter(join(fixtureDir('tiny-llama'), 'lora')) });
  try {
    const { logits } = await lm.runner.step([ids.slice(0, 7), ids.slice(7)], lm.runner.emptyPast(2));
    assertClose(logits, expected, { atol: 2e-5, label: 'LoRA logits' });
  } finally {
    await lm.release();
  }
});

function expectError(fn: () => unknown, code: string, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => isRecallError(e) && e.code === code && pattern.test(e.message));
}

test('bad input: an adapter for another base names the field', () => {
  const wide: Adapter = { ...adapters[1]!, embeddings: normal(3 * 32, 1) } as Adapter;
  expectError(() => checkAdapterFits({ ...wide, base: { ...base, hiddenSize: undefined as unknown as number } }, config, 'a'), 'E_SHAPE_MISMATCH', /token_dim is 32 but the base model's hidden_size is 64/);
  expectError(() => checkAdapterFits({ ...adapters[2]!, base: { ...base, numLayers: 4 } }, config, 'a'), 'E_SHAPE_MISMATCH', /num_layers is 4 but the base model's num_hidden_layers is 2/);
  expectError(() => checkAdapterFits({ ...adapters[0]!, base: { ...base, hiddenSize: 32 } }, config, 'a'), 'E_SHAPE_MISMATCH', /hidden_size is 32 but the base model's hidden_size is 64/);
  // a PEFT LoRA adapter (no recall.json) for a wider base: caught from the tensor shapes
  const lora = adapters[0]! as Extract<Adapter, { method: 'lora' }>;
  const wider = { ...lora, base: { name: 'x' } as never, weights: new Map([['model.layers.0.self_attn.q_proj', { A: normal(2 * 128, 1), B: normal(64 * 2, 2) }]]) };
  expectError(() => checkAdapterFits(wider, config, 'a'), 'E_SHAPE_MISMATCH', /lora_A\.weight input width is 128 .*hidden_size 64/);
  const deeper = { ...lora, base: { name: 'x' } as never, weights: new Map([['model.layers.5.self_attn.q_proj', lora.weights.get('model.layers.0.self_attn.q_proj')!]]) };
  expectError(() => checkAdapterFits(deeper, config, 'a'), 'E_SHAPE_MISMATCH', /num_hidden_layers is 2/);
});

test('bad input: loading an adapter of another base fails before any graph is built', async () => {
  const dir = join(tmp, 'other-base');
  writeAdapter(dir, { ...adapters[1]!, base: { ...base, hiddenSize: 32, tokenDim: 32 } } as Adapter);
  await assert.rejects(LanguageModel.load(fixtureDir('tiny-llama'), { adapter: openAdapter(dir) }), /adapter hidden_size is 32 but the base model's hidden_size is 64/);
});

test('bad input: rank 0 and prompts longer than the context', async () => {
  const dir = join(tmp, 'rank0');
  writeAdapter(dir, adapters[0]!);
  const cfgPath = join(dir, 'adapter_config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), r: 0 }));
  expectError(() => readAdapter(dir), 'E_INVALID_ARGUMENT', /adapter r must be an integer >= 1 \(got 0\)/);
  await assert.rejects(tuneModel({ model: fixtureDir('tiny-llama'), data: CORPUS, out: join(tmp, 'x'), method: { method: 'lora', rank: 0, alpha: 8, targets: ['q_proj'] }, steps: 1 }), /rank must be an integer >= 1, got 0/);
  await assert.rejects(tuneModel({ model: fixtureDir('tiny-llama'), data: CORPUS, out: join(tmp, 'y'), method: { method: 'prompt', virtualTokens: 120, init: { kind: 'random' } }, steps: 1, seqLen: 16 }), /120 virtual tokens plus sequences of 16 tokens is longer than the model's context \(128\)/);
  const long = { ...adapters[1]!, numVirtualTokens: 130, embeddings: normal(130 * 64, 1) } as Adapter;
  expectError(() => checkAdapterFits(long, config, 'a'), 'E_INVALID_ARGUMENT', /num_virtual_tokens 130 is longer than the base model's context \(max_position_embeddings 128\)/);
});
