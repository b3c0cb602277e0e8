// The layer-sequential driver's memory design, checked by what it leaves on disk and what it
// computes: one layer's dense weights in the state folder mid-run (never the model's), one
// checkpoint file per finished layer (compressed weights + packed tensors), nothing kept after a run, files of a layer past the commit
// point (a crash after writing them) redone on resume with the same result, the logged
// relative output error (ORT MatMul, float32) equal to the float64 definition, and the
// default batch size of a 7B model one sequence.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CompressSpec, compressModel } from '../../main/engine/compress/compress-model.ts';
import { defaultBatchSize, outputErrorRatio, relativeOutputError } from '../../main/engine/compress/driver.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import type { DecoderConfig } from '../../main/engine/models/types.ts';
import { SafetensorsWeights } from '../../main/engine/models/safetensors.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

const CALIB = fileURLToPath(new URL('../fixtures/train/tiny-corpus.txt', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'recall-driver-state-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const base = { calib: CALIB, nsamples: 8, seqlen: 32, seed: 3, model: fixtureDir('tiny-llama') };
const spec: CompressSpec = { method: 'gptq', bits: 4, groupSize: 32, skip: ['layers\\.0\\.self_attn\\.q_proj'] };

test('state folder: one checkpoint per finished layer with its compressed weights and packed tensors; a crash past the commit point is redone; nothing left after the run', async () => {
  const whole = join(tmp, 'whole');
  await compressModel({ ...base, out: whole, spec });
  assert.ok(!existsSync(join(whole, '.recall-compress')), 'the state folder (and its copy of the weights) is removed at the end');

  const cut = join(tmp, 'cut');
  const controller = new AbortController();
  let graphFiles: [string, number][] = [];
  const r = await compressModel({
    ...base, out: cut, spec, signal: controller.signal,
    onProgress: (e) => {
      if (e.layer !== 1 || e.stage !== 'compress') return;
      const g = join(cut, '.recall-compress', 'graph');
      graphFiles = readdirSync(g).map((f) => [f, statSync(join(g, f)).size]);
      controller.abort();
    },
  });
  // Mid-run, the state folder holds one layer's dense weights (and the embedding's, from the capture), never the model's.
  const folder = loadModelFolder(fixtureDir('tiny-llama'));
  const layerBytes = folder.weights.names().filter((n) => n.startsWith('model.layers.1.')).reduce((a, n) => a + 4 * folder.weights.info(n).shape.reduce((x, y) => x * y, 1), 0);
  folder.weights.close();
  const data = Object.fromEntries(graphFiles.filter(([f]) => f.endsWith('.data')));
  assert.ok(data['layer.onnx.data']! > 0.9 * layerBytes && data['layer.onnx.data']! < layerBytes + 64 * 4096, // tensors under 1 KB stay in the graph; tensors are page-aligned
     `layer.onnx.data ${data['layer.onnx.data']} bytes for a layer of ${layerBytes}`);
  assert.deepEqual(Object.keys(data).sort(), ['embed.onnx.data', 'layer.onnx.data', 'overrides.onnx.data'].filter((f) => f in data).sort());
  assert.ok(!('weights.onnx.data' in data));
  assert.equal(r.status, 'cancelled');
  const state = join(cut, '.recall-compress');
  const files = readdirSync(state).sort();
  assert.deepEqual(files.filter((f) => /^(layer|hidden)-/.test(f)), ['hidden-0.bin', 'layer-0.safetensors'], files.join(', '));
  assert.ok(!files.includes('graph'), 'the streamed dense weights are removed when the run stops');
  const ck = new SafetensorsWeights([join(state, 'layer-0.safetensors')]);
  try {
    const names = ck.names();
    assert.ok(!names.includes('model.layers.0.self_attn.q_proj.weight'), 'a skipped module has no checkpoint entry');
    for (const m of ['self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) {
      assert.ok(names.includes(`model.layers.0.${m}.weight`), m);
      for (const t of ['codes', 'scales', 'zeros', 'g_idx']) assert.ok(names.includes(`packed/model.layers.0.${m}/${t}`), `${m} ${t}`);
    }
    assert.ok(names.every((n) => n.startsWith('model.layers.0.') || n.startsWith('packed/model.layers.0.')), 'only layer 0');
  } finally {
    ck.close();
  }
  // A crash after layer 1's checkpoint was written but before state.json named it: those files are redone.
  copyFileSync(join(state, 'layer-0.safetensors'), join(state, 'layer-1.safetensors'));
  copyFileSync(join(state, 'hidden-0.bin'), join(state, 'hidden-1.bin'));
  const resumed = await compressModel({ ...base, out: cut, spec, resume: true });
  assert.equal(resumed.resumedFromLayer, 1);
  assert.ok(readFileSync(join(cut, 'model.safetensors')).equals(readFileSync(join(whole, 'model.safetensors'))), 'weights differ from the uninterrupted run');
  for (const f of ['packed.bin', 'packed.json']) assert.ok(readFileSync(join(cut, 'compression', f)).equals(readFileSync(join(whole, 'compression', f))), `${f} differs`);
});

test('a resume over checkpoints of the older layout (no format in state.json) is refused with what to do', async () => {
  const out = join(tmp, 'old-layout');
  const controller = new AbortController();
  await compressModel({ ...base, out, spec, signal: controller.signal, onProgress: (e) => { if (e.layer === 1 && e.stage === 'compress') controller.abort(); } });
  const statePath = join(out, '.recall-compress', 'state.json');
  const { format: _f, ...old } = JSON.parse(readFileSync(statePath, 'utf8')) as Record<string, unknown>;
  writeFileSync(statePath, JSON.stringify(old));
  await assert.rejects(compressModel({ ...base, out, spec, resume: true }), /written by an older Recall \(layout 1, this one reads 2\); start again without --resume/);
});

test('the relative output error the driver logs (ORT, float32) equals trace(D H D^T) / trace(W H W^T) in float64 (rtol 1e-4)', async () => {
  // A synthetic module through the driver's ORT path, against the float64 definition.
  const rows = 48, cols = 40;
  let s = 7;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const w = Float32Array.from({ length: rows * cols }, rand);
  const q = Float32Array.from(w, (v) => Math.round(v * 4) / 4);
  const x = Array.from({ length: 64 * cols }, rand);
  const H = new Float64Array(cols * cols);
  for (let t = 0; t < 64; t++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 / 64) * x[t * cols + i]! * x[t * cols + j]!;
  const ref = relativeOutputError(w, q, rows, cols, H);
  const got = await outputErrorRatio(w, q, rows, cols, H);
  assert.ok(Math.abs(got - ref) <= 1e-4 * ref, `ORT ${got} vs float64 ${ref} (diff ${Math.abs(got - ref)})`);
  const out = join(tmp, 'err');
  const logged: number[] = [];
  await compressModel({ ...base, out, spec: { method: 'rtn', bits: 4, groupSize: 32 }, onModule: (m) => logged.push(m.relError) });
  assert.ok(logged.length > 0 && logged.every((e) => e > 0 && e < 1), `relative errors in (0, 1): ${logged.slice(0, 5).join(', ')}`);
});

test('default batch: one sequence for a 7B model at T = 2048; more for a small model at short T', () => {
  const llama7b = { hiddenSize: 4096, intermediateSize: 11008, numHeads: 32, numKvHeads: 32, headDim: 128 } as DecoderConfig;
  assert.equal(defaultBatchSize(llama7b, 2048), 1);
  const folder = loadModelFolder(fixtureDir('tiny-llama'));
  try {
    assert.ok(defaultBatchSize(folder.config, 4) > 1, `tiny model, T = 4: ${defaultBatchSize(folder.config, 4)}`);
  } finally {
    folder.weights.close();
  }
});
