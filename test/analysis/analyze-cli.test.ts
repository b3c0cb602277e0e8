// `recall analyze` as a user runs it (bin/recall.js), and PEFT adapter folders read into the
// analysis adapter: a prompt-tuning folder reproduces the oracle's soft_prompt case, a prefix
// folder its prefix case (PEFT's past_key_values layout), the fixture LoRA folder loads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { analyzeModels } from '../../main/engine/analysis/analyze.ts';
import { readTaskContexts } from '../../main/engine/analysis/inputs.ts';
import { readPeftAdapter } from '../../main/engine/analysis/peft-adapter.ts';
import { readDecoderConfig } from '../../main/engine/models/config.ts';
import { writeSafetensors } from '../../main/engine/models/safetensors-write.ts';
import { assertClose } from '../helpers/compare.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));
const DIR = fixtureDir('tiny-llama');
const tmp = mkdtempSync(join(tmpdir(), 'recall-analyze-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const oracle = JSON.parse(readFileSync(new URL('../fixtures/analysis/expected.json', import.meta.url), 'utf8')) as {
  examples: number[][];
  cases: Record<string, { attention: number[][][]; activation: number[][]; soft_prompt?: number[]; prefix?: { keys: number[][]; values: number[][] } }>;
};

function recall(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function peftFolder(name: string, type: string, emb: Float32Array, n: number): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: type, num_virtual_tokens: n, task_type: 'CAUSAL_LM' }));
  writeSafetensors(join(dir, 'adapter_model.safetensors'), [{ name: 'prompt_embeddings', dtype: 'float32', shape: [n, emb.length / n], data: emb }]);
  return dir;
}

test('recall analyze: a model against itself prints similarity 1 per layer and writes the JSON file', () => {
  const texts = join(tmp, 'texts.txt');
  writeFileSync(texts, 'the cat sat on the mat.\n\nparis is the capital of france!\nthe zebra ran\n');
  const outFile = join(tmp, 'out.json');
  const r = recall('analyze', '--base', DIR, '--model', DIR, '--label', 'same', '--texts', texts, '--cka', '--out', outFile);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /3 examples/);
  assert.match(r.stdout, /^0 +1\.0000 ± 0\.0000 +1\.0000 ± 0\.0000 +1\.0000 ± 0\.0000$/m);
  assert.match(r.stdout, /^1 +1\.0000 ± 0\.0000/m);
  const json = JSON.parse(readFileSync(outFile, 'utf8')) as { models: { label: string; perExample: { attention: { shape: number[]; data: number[] } } }[] };
  assert.equal(json.models[0]!.label, 'same');
  assert.deepEqual(json.models[0]!.perExample.attention.shape, [3, 2, 4]);
});

test('recall analyze --task demo_mc --limit 3 --adapter (fixture LoRA) --json', () => {
  const r = recall('analyze', '--base', DIR, '--model', DIR, '--adapter', join(DIR, 'lora'), '--task', 'demo_mc', '--limit', '3', '--json');
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout) as { examples: number[][]; models: { label: string; attention: { mean: number[] } }[] };
  assert.equal(json.examples.length, 3);
  assert.equal(json.models[0]!.label, 'tiny-llama+lora');
  for (const v of json.models[0]!.attention.mean) assert.ok(v < 1 - 1e-4, `LoRA on q/v changes attention (${v})`);
});

test('task contexts: demo tasks through the eval loaders (METHODS.md 3), a .jsonl file read directly', () => {
  const mc = readTaskContexts('demo_mc');
  assert.equal(mc.length, 400);
  assert.equal(mc[0], 'Question: Which field was Laeskox Kokirmeind an expert in?\nAnswer:');
  assert.equal(readTaskContexts('demo_cloze')[0], 'The city where Laeskox Kokirmeind was born is');
  const file = join(tmp, 'mini.jsonl');
  writeFileSync(file, '{"question": {"stem": "Why?"}}\n\n{"text": "a b c"}\n');
  assert.deepEqual(readTaskContexts(file), ['Question: Why?\nAnswer:', 'a b']);
  assert.throws(() => readTaskContexts('arc_easy', [tmp]), /arc_easy is unavailable/);
});

test('recall analyze: usage errors exit 2 naming the flag', () => {
  const r = recall('analyze', '--base', DIR, '--model', DIR);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /give exactly one of --task or --texts/);
  const r2 = recall('analyze', '--base', DIR, '--model', DIR, '--model', DIR, '--label', 'x', '--task', 'demo_mc');
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /one --label per --model/);
});

test('PEFT prompt-tuning and prefix-tuning folders reproduce the oracle soft_prompt and prefix cases', async () => {
  const config = readDecoderConfig(DIR);
  const soft = readPeftAdapter(peftFolder('prompt', 'PROMPT_TUNING', Float32Array.from(oracle.cases.soft_prompt!.soft_prompt!), 3), config);
  // Prefix: lay the oracle's per-layer [kv, p, d] keys/values out as PEFT's [p, layers * 2 * kv * d].
  const { keys, values } = oracle.cases.prefix!.prefix!;
  const [L, KV, P, D] = [2, 2, 2, 16];
  const emb = new Float32Array(P * L * 2 * KV * D);
  for (let l = 0; l < L; l++) for (const [s, src] of [[2 * l, keys[l]!], [2 * l + 1, values[l]!]] as const) {
    for (let h = 0; h < KV; h++) for (let t = 0; t < P; t++) for (let d = 0; d < D; d++) emb[t * L * 2 * KV * D + (s * KV + h) * D + d] = src[(h * P + t) * D + d]!;
  }
  const prefix = readPeftAdapter(peftFolder('prefix', 'PREFIX_TUNING', emb, P), config);
  const r = await analyzeModels({ base: DIR, tokenIds: oracle.examples, models: [{ label: 'soft', dir: DIR, adapter: soft }, { label: 'prefix', dir: DIR, adapter: prefix }] });
  for (const [m, name] of [[r.models[0]!, 'soft_prompt'], [r.models[1]!, 'prefix']] as const) {
    assertClose(m.perExample.attention.data, oracle.cases[name]!.attention.flat(2), { atol: 1e-5, label: `${name} from a PEFT folder` });
    assertClose(m.perExample.activation.data, oracle.cases[name]!.activation.flat(), { atol: 1e-5, label: `${name} activation` });
  }
  const lora = readPeftAdapter(join(DIR, 'lora'), config).lora!;
  assert.deepEqual([lora.rank, lora.alpha, lora.targets.sort(), lora.weights!.size], [4, 8, ['q_proj', 'v_proj'], 4]);
  assert.deepEqual([lora.weights!.get('model.layers.1.self_attn.v_proj')!.A.length, lora.weights!.get('model.layers.1.self_attn.v_proj')!.B.length], [4 * 64, 32 * 4]);
});
