// GPTQ checkpoint export (main/engine/compress/export-gptq.ts) round-tripped through Recall's own
// loader: compress tiny-llama (fake-quant) -> export -> loadModelFolder dequantizes qweight /
// qzeros / scales / g_idx. Tolerances: each dequantized weight equals the codes times the float16
// rounding of their scales exactly, hence |w_gptq - w_fakequant| <= 2^-11 |w_fakequant| (half a
// float16 ulp, relative; the scales here are normal float16 numbers); unquantized tensors are
// bit-equal with --export-dtype float32; per-token log-probabilities agree within 5e-3 (float32
// rest) and 3e-2 (float16 rest). Also: checkpoint_format v1 vs v2, act-order g_idx, mixed bits in
// `dynamic`, the CLI paths, and one clear error for what cannot be exported.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CompressSpec, compressModel } from '../../main/engine/compress/compress-model.ts';
import { exportGptq } from '../../main/engine/compress/export-gptq.ts';
import { GptqWeights } from '../../main/engine/compress/load-gptq.ts';
import { openRecallPacked } from '../../main/engine/compress/packed-graph.ts';
import { dequantize } from '../../main/engine/compress/quantizer.ts';
import { isRecallError } from '../../main/engine/errors.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { readSafetensorsHeader } from '../../main/engine/models/safetensors.ts';
import { writeSafetensors } from '../../main/engine/models/safetensors-write.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../main/engine/onnx/dtypes.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

const CALIB = fileURLToPath(new URL('../fixtures/train/tiny-corpus.txt', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));
const TEXT = 'the cat sat on the mat . the dog ran to the park and the bird sang';
const tmp = mkdtempSync(join(tmpdir(), 'recall-export-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function compress(name: string, spec: CompressSpec, model = fixtureDir('tiny-llama')): Promise<string> {
  const out = join(tmp, name);
  await compressModel({ model, out, spec, calib: CALIB, nsamples: 8, seqlen: 32, seed: 1 });
  return out;
}

async function logprobs(dir: string): Promise<number[]> {
  const lm = await LanguageModel.load(dir);
  try { return (await lm.logprobsOfText(TEXT)).logprobs.slice(1) as number[]; } finally { await lm.release(); }
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
const half = (x: number) => float16BitsToFloat32(float32ToFloat16Bits(x));

/** Every tensor of the export, loaded by Recall, against the fake-quant folder (tolerances in the header). */
function checkWeights(fakeQuant: string, gptq: string, denseExact: boolean): void {
  const a = loadModelFolder(fakeQuant), b = loadModelFolder(gptq), packed = openRecallPacked(fakeQuant);
  try {
    const quantized = new Set(packed.modules());
    assert.deepEqual(new Set(b.weights.names()), new Set(a.weights.names()), 'same tensor names once dequantized');
    for (const name of a.weights.names()) {
      const x = a.weights.readFloat32(name), y = b.weights.readFloat32(name);
      const m = name.slice(0, -'.weight'.length);
      if (!quantized.has(m)) {
        if (denseExact) assert.deepEqual(y, x, name);
        else assert.deepEqual(y, Float32Array.from(x, half), `${name} (float16)`);
        continue;
      }
      const q = packed.get(m);
      assert.deepEqual(y, dequantize(q.codes, Float32Array.from(q.scales, half), q.zeros, q.gIdx, q.rows, q.cols), `${name}: codes x float16 scales`);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i]! - x[i]!) <= 2 ** -11 * Math.abs(x[i]!), `${name}[${i}]: ${y[i]} vs ${x[i]}`);
    }
  } finally {
    a.weights.close(); b.weights.close(); packed.close();
  }
}

for (const bits of [2, 3, 4, 8]) {
  test(`${bits}-bit GPTQ g32: export -> Recall's loader gives the fake-quant weights (float16 scales) and the same log-probabilities`, async () => {
    const fq = await compress(`gptq${bits}`, { method: 'gptq', bits, groupSize: 32 });
    const out = join(tmp, `gptq${bits}-export`);
    const r = exportGptq({ model: fq, out, dtype: 'float32' });
    assert.equal(r.bits, bits);
    assert.equal(r.modules, 14);
    const header = readSafetensorsHeader(join(out, 'model.safetensors')).tensors;
    const p = 'model.layers.0.mlp.down_proj';
    assert.deepEqual([p, 'qweight', 'qzeros', 'scales', 'g_idx'].slice(1).map((s) => [header.get(`${p}.${s}`)!.storedDtype, header.get(`${p}.${s}`)!.shape]),
      [['I32', [(160 * bits) / 32, 64]], ['I32', [5, (64 * bits) / 32]], ['F16', [5, 64]], ['I32', [160]]]);
    assert.ok(!header.has(`${p}.weight`));
    const qc = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config;
    assert.deepEqual({ ...qc, meta: undefined }, { quant_method: 'gptq', bits, group_size: 32, desc_act: false, sym: false, static_groups: false, damp_percent: 0.01, true_sequential: false, checkpoint_format: r.format, meta: undefined });
    assert.equal(JSON.parse(readFileSync(join(out, 'quantize_config.json'), 'utf8')).bits, bits);
    checkWeights(fq, out, true);
    const d = maxDiff(await logprobs(fq), await logprobs(out));
    console.log(`# ${bits}-bit: export ${r.format}, ${r.bytes} bytes; max |logprob diff| GPTQ folder vs fake-quant ${d.toExponential(2)}`);
    assert.ok(d <= 5e-3, `logprobs differ by ${d}`);
  });
}

test('float16 export (the default), act-order g_idx, sym: loads with its float16 weights', async () => {
  const fq = await compress('actorder', { method: 'gptq', bits: 4, groupSize: 16, actOrder: true, sym: true });
  const out = join(tmp, 'actorder-export');
  const r = exportGptq({ model: fq, out });
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.torch_dtype, 'float16');
  assert.equal(cfg.quantization_config.desc_act, true);
  assert.equal(r.format, 'gptq', 'sym zero points are 8, never 0');
  const w = loadModelFolder(out).weights as GptqWeights;
  const gIdx = w.quantizedModule('model.layers.1.self_attn.q_proj').gIdx;
  w.close();
  assert.ok(gIdx.some((g, c) => g !== Math.floor(c / 16)), 'act-order g_idx is not contiguous');
  checkWeights(fq, out, false);
  const d = maxDiff(await logprobs(fq), await logprobs(out));
  assert.ok(d <= 3e-2, `logprobs differ by ${d}`);
});

test('a zero point of 0 selects checkpoint_format gptq_v2; forcing v1 is refused; mixed bits go to dynamic', async () => {
  // Make every weight of layer 0's q_proj non-negative: asymmetric RTN then fits zero point 0.
  const model = join(tmp, 'positive');
  cpSync(fixtureDir('tiny-llama'), model, { recursive: true });
  const src = loadModelFolder(fixtureDir('tiny-llama'));
  const names = src.weights.names();
  const tensors = names.map((n) => ({ name: n, dtype: 'float32' as const, shape: src.weights.info(n).shape, data: n === 'model.layers.0.self_attn.q_proj.weight' ? src.weights.readFloat32(n).map(Math.abs) : src.weights.readFloat32(n) }));
  writeSafetensors(join(model, 'model.safetensors'), tensors);
  src.weights.close();
  const fq = await compress('zero0', { method: 'rtn', bits: 4, groupSize: 32, overrides: [{ pattern: 'down_proj', bits: 8 }] }, model);
  const r = exportGptq({ model: fq, out: join(tmp, 'zero0-v2'), dtype: 'float32' });
  assert.equal(r.format, 'gptq_v2');
  assert.deepEqual(r.dynamic, { '+:^model\\.layers\\.0\\.mlp\\.down_proj$': { bits: 8 }, '+:^model\\.layers\\.1\\.mlp\\.down_proj$': { bits: 8 } });
  checkWeights(fq, join(tmp, 'zero0-v2'), true);
  assert.throws(() => exportGptq({ model: fq, out: join(tmp, 'zero0-v1'), format: 'gptq' }), (e) => isRecallError(e, 'E_COMPRESS_EXPORT') && /cannot hold the zero point 0.*use 'gptq_v2'/.test(e.message));
});

test('recall compress --export gptq (compress then export; export-only without --method) and clear errors', async () => {
  const out = join(tmp, 'cli');
  const recall = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  let r = recall('compress', '--model', fixtureDir('tiny-llama'), '--method', 'rtn', '--bits', '4', '--group-size', '32', '--calib', CALIB, '--nsamples', '4', '--seqlen', '32', '--out', out, '--export', 'gptq');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /exported GPTQ checkpoint \(4-bit, group 32, checkpoint_format gptq, 14 modules\) to .*cli-gptq/);
  r = recall('compress', '--model', out, '--export', 'gptq', '--export-format', 'gptq_v2', '--out', join(tmp, 'cli-v2'), '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim()).format, 'gptq_v2');
  checkWeights(out, join(tmp, 'cli-v2'), false);
  r = recall('compress', '--model', join(tmp, 'cli-gptq'), '--export', 'gptq', '--out', join(tmp, 'again'));
  assert.match(r.stderr, /already a GPTQ checkpoint/);
  r = recall('compress', '--model', out, '--export', 'awq', '--out', join(tmp, 'x'));
  assert.match(r.stderr, /--export must be gptq/);
  const sparse = await compress('sparse', { method: 'sparsegpt', sparsity: 0.5 });
  assert.throws(() => exportGptq({ model: sparse, out: join(tmp, 'sparse-x') }), (e) => isRecallError(e, 'E_COMPRESS_EXPORT') && /no quantized modules/.test(e.message));
});
