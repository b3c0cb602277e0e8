// The packed execution path (main/engine/compress/packed-graph.ts, GraphOptions.packedLinear):
// every quantized linear runs as com.microsoft MatMulNBits on the integer codes, and the logits
// equal those of the fake-quant float32 graph within 1e-4 (absolute), at 2, 3 (in the 4-bit
// layout), 4 and 8 bits, per group (including a ragged last block: K = 160 with group 64) and per
// whole row, with bias (tiny-opt), from Recall's packed artifacts and from a GPTQ export, and
// through LanguageModel with the graph's weights in an external-data file. Act-order without
// static groups is refused with a clear message.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CompressSpec, compressModel } from '../../main/engine/compress/compress-model.ts';
import { exportGptq } from '../../main/engine/compress/export-gptq.ts';
import { loadPackedModel, packedBytes, packedGraphOptions, packedLinearWeights } from '../../main/engine/compress/packed-graph.ts';
import { isRecallError } from '../../main/engine/errors.ts';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import type { GraphOptions } from '../../main/engine/models/graph-options.ts';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { int64 } from '../../main/engine/runtime/tensors.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

const CALIB = fileURLToPath(new URL('../fixtures/train/tiny-corpus.txt', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'recall-packed-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function compress(name: string, spec: CompressSpec, fixture = 'tiny-llama'): Promise<string> {
  const out = join(tmp, name);
  await compressModel({ model: fixtureDir(fixture), out, spec, calib: CALIB, nsamples: 8, seqlen: 32, seed: 1 });
  return out;
}

/** Logits [2, 12, vocab] of the folder's graph built with `options`. */
async function logits(dir: string, options: GraphOptions): Promise<{ data: Float32Array; ops: string[] }> {
  const folder = loadModelFolder(dir);
  const model = buildModelGraph(folder.config, folder.weights, options);
  folder.weights.close();
  const session = await createSession(model);
  try {
    const B = 2, T = 12, V = folder.config.vocabSize;
    const ids = Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % V);
    const out = await session.run({
      input_ids: int64([B, T], ids), position_ids: int64([B, T], ids.map((_, i) => i % T)), attention_mask: int64([B, T], ids.map(() => 1)),
    }, ['logits']);
    return { data: out.logits!.data as Float32Array, ops: model.graph.nodes.map((n) => n.opType) };
  } finally {
    await session.release();
  }
}

async function checkPacked(dir: string, label: string, modules: number): Promise<void> {
  const fq = await logits(dir, {});
  const packed = await logits(dir, packedGraphOptions(dir));
  assert.equal(packed.ops.filter((o) => o === 'MatMulNBits').length, modules, `${label}: MatMulNBits nodes`);
  assert.equal(fq.ops.filter((o) => o === 'MatMulNBits').length, 0);
  let d = 0;
  for (let i = 0; i < fq.data.length; i++) d = Math.max(d, Math.abs(fq.data[i]! - packed.data[i]!));
  console.log(`# ${label}: max |logit diff| packed vs fake-quant ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4, `${label}: logits differ by ${d}`);
}

const CASES: [string, CompressSpec][] = [
  ['gptq 2-bit g32', { method: 'gptq', bits: 2, groupSize: 32 }],
  ['gptq 3-bit g32', { method: 'gptq', bits: 3, groupSize: 32 }],
  ['gptq 4-bit g64 (ragged last block of down_proj)', { method: 'gptq', bits: 4, groupSize: 64 }],
  ['rtn 8-bit g32', { method: 'rtn', bits: 8, groupSize: 32 }],
  ['gptq 4-bit whole rows', { method: 'gptq', bits: 4 }],
  ['gptq 3-bit act-order + static groups', { method: 'gptq', bits: 3, groupSize: 32, actOrder: true, staticGroups: true }],
];

CASES.forEach(([label, spec], i) => {
  test(`packed MatMulNBits logits equal the fake-quant logits: tiny-llama ${label}`, async () => {
    await checkPacked(await compress(`c${i}`, spec), label, 14);
  });
});

test('packed path with bias (tiny-opt 4-bit g32) and from a GPTQ export (3-bit codes in the 4-bit layout)', async () => {
  await checkPacked(await compress('opt4', { method: 'gptq', bits: 4, groupSize: 32 }, 'tiny-opt'), 'tiny-opt 4-bit g32', 12);
  const fq = await compress('g3', { method: 'gptq', bits: 3, groupSize: 32 });
  const out = join(tmp, 'g3-gptq');
  exportGptq({ model: fq, out, dtype: 'float32' });
  const p = packedLinearWeights(out);
  assert.equal(p.get('model.layers.0.self_attn.q_proj')!.bits, 4);
  // 4 bits per code in the 4-bit layout + float32 scales and packed zero points per block of 32.
  assert.equal(packedBytes(p), [...p.values()].reduce((n, w) => n + (w.N * w.K) / 2 + w.N * (w.K / 32) * 4 + w.N * Math.ceil(w.K / 32 / 2), 0));
  await checkPacked(out, 'GPTQ export 3-bit g32', 14);
});

test('LanguageModel on the packed path (graph weights in an external-data file) scores like the fake-quant model', async () => {
  const fq = await compress('lm', { method: 'gptq', bits: 4, groupSize: 32 });
  const text = 'the cat sat on the mat . the dog ran';
  const a = await LanguageModel.load(fq);
  const b = await loadPackedModel(fq, { externalThreshold: 0, cacheDir: join(tmp, 'cache') });
  try {
    assert.equal(b.graphSource.kind, 'file');
    const [x, y] = [await a.logprobsOfText(text), await b.logprobsOfText(text)];
    const d = Math.max(...x.logprobs.slice(1).map((v, i) => Math.abs(v! - y.logprobs[i + 1]!)));
    assert.ok(d <= 1e-4, `logprobs differ by ${d}`);
    assert.deepEqual(y.greedy, x.greedy);
  } finally {
    await a.release(); await b.release();
  }
});

test('act-order without static groups is refused on the packed path, naming the module and the way out', async () => {
  const dir = await compress('actorder', { method: 'gptq', bits: 4, groupSize: 16, actOrder: true });
  assert.throws(() => packedGraphOptions(dir), (e) => isRecallError(e, 'E_COMPRESS_EXPORT') && /model\.layers\.0\.self_attn\.q_proj.*act-order without static groups.*--static-groups/.test(e.message));
  const sparse = await compress('sparse', { method: 'magnitude', sparsity: 0.5 });
  assert.throws(() => packedGraphOptions(sparse), /no quantized modules to pack/);
});
