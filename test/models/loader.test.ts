// safetensors reader/writer and model folder loading on synthetic files in os.tmpdir().
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isRecallError, type RecallErrorCode } from '../../main/engine/errors.ts';
import { checkShapes, inspectModel, loadModelFolder } from '../../main/engine/models/folder.ts';
import { openSafetensors, openSafetensorsIndex, readSafetensorsHeader } from '../../main/engine/models/safetensors.ts';
import { writeSafetensors } from '../../main/engine/models/safetensors-write.ts';
import { float16BitsToFloat32, toFloat16 } from '../../main/engine/onnx/dtypes.ts';
import { randomFloats } from '../helpers/compare.ts';
import { TINY_LLAMA, TINY_OPT, tempDir, writeModelFolder, writeRawSafetensors } from './loader-fixtures.ts';

const root = tempDir();
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A new empty folder under the test's temp root. */
const fresh = () => {
  const d = join(root, `case${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** Assert fn throws a RecallError with this code whose message contains every fragment. */
function assertFails(fn: () => unknown, code: RecallErrorCode, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isRecallError(e), `expected a RecallError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

describe('safetensors round trip', () => {
  test('F32, F16 and BF16 read back exactly, in both output forms', () => {
    const dir = fresh();
    const file = join(dir, 'a.safetensors');
    const f32 = randomFloats(6 * 5, 1, 3);
    const f16 = toFloat16(randomFloats(7, 2));
    const bf16 = Uint16Array.from(new Uint32Array(randomFloats(9, 3, 100).buffer), (u) => u >>> 16);
    writeSafetensors(file, [
      { name: 'w.f32', dtype: 'float32', shape: [6, 5], data: f32 },
      { name: 'w.f16', dtype: 'float16', shape: [7], data: f16 },
      { name: 'w.bf16', dtype: 'bfloat16', shape: [3, 3], data: () => bf16 },
    ], { format: 'pt' });
    const w = openSafetensors(file);
    try {
      assert.deepEqual(w.names().sort(), ['w.bf16', 'w.f16', 'w.f32']);
      assert.deepEqual(w.info('w.f32'), { name: 'w.f32', dtype: 'float32', shape: [6, 5], file });
      assert.deepEqual(w.info('w.bf16').dtype, 'bfloat16');
      assert.deepEqual(w.readFloat32('w.f32'), f32);
      assert.deepEqual(w.readFloat16('w.f16'), f16);
      assert.deepEqual(w.readFloat32('w.f16'), Float32Array.from(f16, float16BitsToFloat32));
      // bf16 -> f32 is exact: the bits are the top half of a float32.
      assert.deepEqual(new Uint32Array(w.readFloat32('w.bf16').buffer), Uint32Array.from(bf16, (b) => (b << 16) >>> 0));
      // f32 -> f16 rounds to nearest even, as toFloat16 does.
      assert.deepEqual(w.readFloat16('w.f32'), toFloat16(f32));
      assert.deepEqual(w.readFloat16('w.bf16'), toFloat16(w.readFloat32('w.bf16')));
      assert.deepEqual(w.metadata().get(file), { format: 'pt' });
    } finally {
      w.close();
    }
    const h = readSafetensorsHeader(file);
    // The writer pads the header so tensor data starts 8-byte aligned.
    assert.equal(h.tensors.get('w.f32')!.start % 8, 0);
  });

  test('writer refuses data that does not match the shape, and leaves no file', () => {
    const file = join(fresh(), 'bad.safetensors');
    assertFails(() => writeSafetensors(file, [{ name: 'x', dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }]), 'E_INVALID_ARGUMENT', "'x'", '3 elements');
    assertFails(() => openSafetensors(file), 'E_NOT_FOUND', file);
  });

  test('sharded checkpoint through model.safetensors.index.json', () => {
    const dir = fresh();
    const a = randomFloats(4, 5), b = randomFloats(6, 6);
    writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [{ name: 'a', dtype: 'float32', shape: [4], data: a }]);
    writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [{ name: 'b', dtype: 'float32', shape: [2, 3], data: b }]);
    const index = join(dir, 'model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({ metadata: { total_size: 40 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
    const w = openSafetensorsIndex(index);
    assert.deepEqual(w.names().sort(), ['a', 'b']);
    assert.deepEqual(w.readFloat32('b'), b);
    assert.equal(w.info('a').file, join(dir, 'model-00001-of-00002.safetensors'));
    assertFails(() => w.readFloat32('c'), 'E_MISSING_TENSOR', index, "'c'");
    w.close();

    writeFileSync(index, JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors' } }));
    assertFails(() => openSafetensorsIndex(index), 'E_SAFETENSORS_INDEX', index, "'b'", 'model-00001-of-00002.safetensors');
    writeFileSync(index, JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00003-of-00003.safetensors' } }));
    assertFails(() => openSafetensorsIndex(index), 'E_MISSING_SHARD', index, 'model-00003-of-00003.safetensors');
    writeFileSync(index, '{"weight_map": ');
    assertFails(() => openSafetensorsIndex(index), 'E_SAFETENSORS_INDEX', index, 'JSON');
  });
});

describe('malformed safetensors files: one error code each, naming the file', () => {
  const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const file = () => join(fresh(), 'm.safetensors');

  test('missing file', () => {
    const p = join(root, 'nope.safetensors');
    assertFails(() => openSafetensors(p), 'E_NOT_FOUND', p);
  });

  test('shorter than the 8-byte length', () => {
    const p = file();
    writeFileSync(p, new Uint8Array(5));
    assertFails(() => openSafetensors(p), 'E_SAFETENSORS_TRUNCATED', p, '5 bytes');
  });

  test('shorter than the header it announces', () => {
    const p = file();
    writeRawSafetensors(p, { x: f32([1], 0, 4) }, new Uint8Array(4), 5000);
    assertFails(() => openSafetensors(p), 'E_SAFETENSORS_TRUNCATED', p, '5000');
  });

  test('header is not JSON', () => {
    const p = file();
    writeRawSafetensors(p, '{"x": {"dtype": "F32",');
    assertFails(() => openSafetensors(p), 'E_SAFETENSORS_HEADER', p, 'not valid JSON');
  });

  test('data_offsets past the end of the file', () => {
    const p = file();
    writeRawSafetensors(p, { x: f32([4], 0, 16) }, new Uint8Array(8));
    assertFails(() => openSafetensors(p), 'E_SAFETENSORS_OFFSETS', p, "'x'", 'past the end');
  });

  test('overlapping tensors', () => {
    const p = file();
    writeRawSafetensors(p, { x: f32([2], 0, 8), y: f32([2], 4, 12) }, new Uint8Array(12));
    assertFails(() => openSafetensors(p), 'E_SAFETENSORS_OFFSETS', p, "'x'", "'y'", 'overlap');
  });

  test('byte span that does not match numel * itemsize', () => {
    const p = file();
    writeRawSafetensors(p, { x: f32([3], 0, 8) }, new Uint8Array(8));
    assertFails(() => openSafetensors(p), 'E_SAFETENSORS_OFFSETS', p, "'x'", 'needs 12');
  });

  test('unknown dtype fails at open; a known but unsupported one when the tensor is used', () => {
    const p = file();
    writeRawSafetensors(p, { x: { dtype: 'Q4', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
    assertFails(() => openSafetensors(p), 'E_SAFETENSORS_DTYPE', p, "'x'", 'Q4');
    writeRawSafetensors(p, { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, w: f32([1], 16, 20) }, new Uint8Array(20));
    const w = openSafetensors(p);
    assert.equal(w.readFloat32('w').length, 1);
    assertFails(() => w.readFloat32('ids'), 'E_SAFETENSORS_DTYPE', p, "'ids'", 'I64');
    assertFails(() => w.info('ids'), 'E_SAFETENSORS_DTYPE', p);
    w.close();
  });

  test('missing tensor suggests near names', () => {
    const p = file();
    writeRawSafetensors(p, { 'model.layers.0.mlp.up_proj.weight': f32([1], 0, 4) }, new Uint8Array(4));
    const w = openSafetensors(p);
    assertFails(() => w.readFloat16('model.layers.1.mlp.up_proj.weight'), 'E_MISSING_TENSOR', p, 'model.layers.1.mlp.up_proj.weight', 'similar: model.layers.0.mlp.up_proj.weight');
    w.close();
    assertFails(() => w.readFloat32('model.layers.0.mlp.up_proj.weight'), 'E_INVALID_ARGUMENT', 'closed');
  });
});

describe('model folders', () => {
  test('a LLaMA folder loads and its shapes check', () => {
    const dir = fresh();
    const written = writeModelFolder(dir, TINY_LLAMA);
    const m = loadModelFolder(dir);
    try {
      assert.equal(m.config.numKvHeads, 2);
      assert.equal(m.config.headDim, 2);
      assert.deepEqual(m.files, ['config.json', 'model.safetensors']);
      assert.equal(m.tokenizerPath, undefined);
      assert.equal(m.weights.names().length, written.length);
      // untied: lm_head.weight is required and was written
      assert.deepEqual(m.weights.info('lm_head.weight').shape, [11, 8]);
    } finally {
      m.weights.close();
    }
  });

  test('checkShapes names the tensor, the expected and the actual shape', () => {
    const dir = fresh();
    writeModelFolder(dir, TINY_LLAMA, { reshape: { 'model.layers.1.self_attn.k_proj.weight': [8, 8] } });
    assertFails(() => loadModelFolder(dir), 'E_SHAPE_MISMATCH', "'model.layers.1.self_attn.k_proj.weight'", 'has shape [8, 8], expected [4, 8]', join(dir, 'model.safetensors'));
  });

  test('an untied LLaMA without lm_head.weight is missing a tensor; a tied one is not', () => {
    const dir = fresh();
    writeModelFolder(dir, TINY_LLAMA, { omit: ['lm_head.weight'] });
    assertFails(() => loadModelFolder(dir), 'E_MISSING_TENSOR', "'lm_head.weight'", '[11, 8]');
    writeModelFolder(dir, { ...TINY_LLAMA, tie_word_embeddings: true }, { omit: ['lm_head.weight'] });
    loadModelFolder(dir).weights.close();
  });

  test('qwen2 q/k/v biases are required', () => {
    const dir = fresh();
    writeModelFolder(dir, { ...TINY_LLAMA, model_type: 'qwen2' }, { omit: ['model.layers.0.self_attn.v_proj.bias'] });
    assertFails(() => loadModelFolder(dir), 'E_MISSING_TENSOR', "'model.layers.0.self_attn.v_proj.bias'");
  });

  test('OPT without the "model." prefix, with project_in/out, tied lm_head', () => {
    const dir = fresh();
    writeModelFolder(dir, TINY_OPT, { rename: (s) => s.replace(/^model\./, ''), dtype: 'bfloat16' });
    const m = loadModelFolder(dir);
    try {
      assert.ok(m.weights.has('model.decoder.embed_tokens.weight'));
      assert.ok(!m.weights.has('decoder.embed_tokens.weight'));
      // max_position_embeddings 6 + the 2 offset rows
      assert.deepEqual(m.weights.info('model.decoder.embed_positions.weight').shape, [8, 8]);
      assert.deepEqual(m.weights.info('model.decoder.project_in.weight').shape, [8, 4]);
      assert.equal(m.weights.info('model.decoder.project_in.weight').name, 'model.decoder.project_in.weight');
      assert.equal(m.weights.readFloat32('model.decoder.final_layer_norm.bias').length, 8);
    } finally {
      m.weights.close();
    }
  });

  test('post-LayerNorm OPT (opt-350m style) has no decoder final_layer_norm', () => {
    const dir = fresh();
    writeModelFolder(dir, { ...TINY_OPT, do_layer_norm_before: false });
    const m = loadModelFolder(dir);
    assert.ok(!m.weights.has('model.decoder.final_layer_norm.weight'));
    m.weights.close();
  });

  test('folder errors: missing folder, missing config.json, no weights', () => {
    const gone = join(root, 'gone');
    assertFails(() => loadModelFolder(gone), 'E_NOT_FOUND', gone);
    const dir = fresh();
    assertFails(() => loadModelFolder(dir), 'E_NOT_FOUND', join(dir, 'config.json'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(TINY_LLAMA));
    writeFileSync(join(dir, 'pytorch_model.bin'), '');
    assertFails(() => loadModelFolder(dir), 'E_NO_WEIGHTS', dir, 'pytorch_model.bin');
  });

  test('checkShapes can be called on its own', () => {
    const dir = fresh();
    writeModelFolder(dir, TINY_LLAMA);
    const m = loadModelFolder(dir, { checkShapes: false });
    assertFails(() => checkShapes({ ...m.config, intermediateSize: 13 }, m.weights), 'E_SHAPE_MISMATCH', 'mlp.gate_proj.weight', 'expected [13, 8]');
    m.weights.close();
  });

  test('inspectModel counts parameters from headers', () => {
    const dir = fresh();
    writeModelFolder(dir, TINY_LLAMA);
    const r = inspectModel(dir);
    // per layer: q 8x8 + k 4x8 + v 4x8 + o 8x8 + 3 mlp 12x8 + 2 norms 8 = 64+32+32+64+288+16 = 496
    // embed 11x8 + lm_head 11x8 + norm 8 = 184; total 2*496 + 184 = 1176
    assert.equal(r.parameters, 1176);
    assert.equal(r.configParameters, 1176);
    assert.deepEqual(r.memory, { float32: 1176 * 4, float16: 1176 * 2 });
    assert.equal(r.architecture, 'LlamaForCausalLM');
    assert.equal(r.dtype, 'F32');
    assert.deepEqual([r.layers, r.heads, r.kvHeads, r.vocabSize], [2, 4, 2, 11]);
    assert.equal(r.hasTokenizer, false);
  });
});
