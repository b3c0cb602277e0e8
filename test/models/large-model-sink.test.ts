// External-weight sink on the fixture models (small and fast): a graph whose weights went to
// the data file while it was built must give the logprobs of the in-memory graph, for both
// families and float16 storage; the cache folder is reused until a model file changes; the
// IR, validator and session refuse what would not load.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExternalWeightSink } from '../../main/engine/onnx/external-weights.ts';
import { GraphBuilder } from '../../main/engine/onnx/builder.ts';
import { validateModel } from '../../main/engine/onnx/validate.ts';
import { onnxType } from '../../main/engine/onnx/proto.ts';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { createSession } from '../../main/engine/runtime/session.ts';
import { assertClose } from '../helpers/compare.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

const IDS = [1, 7, 30, 12, 5, 60, 3];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'recall-sink-'));
}

for (const name of ['tiny-llama', 'tiny-opt350'] as const) {
  for (const weightDtype of ['float32', 'float16'] as const) {
    test(`${name} (${weightDtype}): external weights give the in-memory graph's logprobs`, async () => {
      const cacheDir = tempDir();
      try {
        const mem = await LanguageModel.load(fixtureDir(name), { weightDtype, externalThreshold: Infinity });
        const ext = await LanguageModel.load(fixtureDir(name), { weightDtype, externalThreshold: 0, cacheDir });
        assert.equal(mem.graphSource.kind, 'memory');
        assert.equal(ext.graphSource.kind, 'file');
        const a = await mem.logprobsOfIds(IDS), b = await ext.logprobsOfIds(IDS);
        assertClose(b.logprobs.slice(1) as number[], a.logprobs.slice(1) as number[], { atol: 1e-5, label: `${name} logprobs` });
        assert.deepEqual(b.greedy, a.greedy);
        const gen = await ext.runner.generateGreedy(IDS, { maxTokens: 4, stopTokens: [] });
        assert.deepEqual(gen.tokens, (await mem.runner.generateGreedy(IDS, { maxTokens: 4, stopTokens: [] })).tokens);
        await mem.release();
        await ext.release();
      } finally {
        rmSync(cacheDir, { recursive: true, force: true });
      }
    });
  }
}

test('the cached graph is reused, and rebuilt when a model file changes', async () => {
  const dir = tempDir();
  try {
    const model = join(dir, 'model');
    cpSync(fixtureDir('tiny-llama'), model, { recursive: true });
    const cacheDir = join(dir, 'cache');
    const load = async () => {
      const lm = await LanguageModel.load(model, { externalThreshold: 0, cacheDir });
      await lm.release();
      return lm.graphSource as { kind: 'file'; path: string; reused: boolean };
    };
    const first = await load();
    const second = await load();
    assert.deepEqual([first.reused, second.reused], [false, true]);
    assert.equal(second.path, first.path);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(model, 'model.safetensors'), later, later);
    const third = await load();
    assert.equal(third.reused, false, 'a newer weight file gives a new cache key');
    assert.notEqual(third.path, first.path);
    const lora = await LanguageModel.load(model, { externalThreshold: 0, cacheDir, graph: { lora: { targets: ['q_proj'], rank: 2, alpha: 4 } } });
    await lora.release();
    assert.equal((lora.graphSource as { reused: boolean }).reused, false, 'other graph options give another cache key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sink weights: 4096-aligned external_data entries, no bytes in the proto or the IR', async () => {
  const dir = tempDir();
  try {
    const folder = loadModelFolder(fixtureDir('tiny-llama'));
    const sink = new ExternalWeightSink(dir, { minBytes: 1 });
    const model = buildModelGraph(folder.config, folder.weights, { externalWeights: sink });
    sink.close();
    folder.weights.close();
    validateModel(model);
    const weights = model.graph.initializers.filter((t) => !t.name.startsWith('/'));
    assert.ok(weights.length > 10 && weights.every((t) => t.external && t.data.length === 0 && t.external.offset % 4096 === 0));
    assert.equal(sink.bytesWritten, weights.reduce((a, t) => a + t.external!.length, 0));
    // A transposed weight in the file equals the transpose of the stored one.
    const q = weights.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight.T')!;
    const file = readFileSync(join(dir, 'model.onnx.data'));
    const stored = loadModelFolder(fixtureDir('tiny-llama'));
    const w = stored.weights.readFloat32('model.layers.0.self_attn.q_proj.weight');
    stored.weights.close();
    const [inp, out] = q.dims as [number, number];
    const got = new Float32Array(file.buffer.slice(file.byteOffset + q.external!.offset, file.byteOffset + q.external!.offset + q.external!.length));
    for (let r = 0; r < out; r += 7) for (let c = 0; c < inp; c += 5) assert.equal(got[c * out + r], w[r * inp + c]);
    await assert.rejects(createSession(model), /external-data file while building/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('external initializers: the validator checks lengths, the serializer writes locations', async () => {
  const b = new GraphBuilder('ext');
  const x = b.input('x', 'float32', [2]);
  b.externalInitializer('w', 'float32', [2], { location: 'w.bin', offset: 4096, length: 8 });
  b.output(b.op1('Add', [x, 'w']), 'y');
  assert.throws(() => b.externalInitializer('v', 'float32', [3], { location: 'w.bin', offset: 0, length: 8 }), /8 external bytes for float32\[3\] \(expected 12\)/);
  const model = b.build();
  validateModel(model);
  const { serializeModel } = await import('../../main/engine/onnx/serialize.ts');
  const decoded = onnxType('ModelProto').decode(serializeModel(model).proto) as unknown as { graph: { initializer: { name: string; dataLocation: number; externalData: { key: string; value: string }[]; rawData?: Uint8Array }[] } };
  const w = decoded.graph.initializer.find((t) => t.name === 'w')!;
  assert.equal(w.dataLocation, 1);
  assert.deepEqual(w.externalData.map((e) => [e.key, e.value]), [['location', 'w.bin'], ['offset', '4096'], ['length', '8']]);
  assert.ok(!w.rawData || w.rawData.length === 0);
  assert.throws(() => serializeModel(model, { fileName: 'w.bin' }), /already holds weights/);
  model.graph.initializers.find((t) => t.name === 'w')!.external!.length = 4;
  assert.throws(() => validateModel(model), /initializer 'w': 4 bytes at w\.bin:4096 for float32\[2\] \(expected 8\)/);
});
