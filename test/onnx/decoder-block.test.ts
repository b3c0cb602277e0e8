// One pre-norm decoder block (RMSNorm, causal multi-head attention, SwiGLU) built with the IR,
// saved with its weights in an external-data file and run by ORT, against the PyTorch float64
// reference from scripts/oracles/onnx_block.py. Tolerance: max abs diff <= 1e-5.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { saveModel } from '../../main/engine/onnx/serialize.ts';
import { snapshotModel } from '../../main/engine/onnx/snapshot.ts';
import { openSessionFile } from '../../main/engine/runtime/session.ts';
import { float32 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';
import { BLOCK_WEIGHT_NAMES, type BlockConfig, type BlockWeights, buildDecoderBlockModel } from '../helpers/decoder-block.ts';

interface FixtureMeta {
  config: { batch: number; seq: number; hidden: number; heads: number; intermediate: number; eps: number };
  tensors: { name: string; dtype: 'float32' | 'float64'; dims: number[]; offset: number; bytes: number }[];
}

function loadFixture() {
  const dir = new URL('../fixtures/onnx/', import.meta.url);
  const meta = JSON.parse(readFileSync(new URL('decoder-block.json', dir), 'utf8')) as FixtureMeta;
  const bin = readFileSync(new URL('decoder-block.bin', dir));
  const get = (name: string) => {
    const t = meta.tensors.find((v) => v.name === name);
    if (!t) throw new Error(`decoder-block fixture has no tensor '${name}'`);
    const bytes = bin.buffer.slice(bin.byteOffset + t.offset, bin.byteOffset + t.offset + t.bytes);
    return t.dtype === 'float64' ? new Float64Array(bytes) : new Float32Array(bytes);
  };
  const weights = Object.fromEntries(BLOCK_WEIGHT_NAMES.map((n) => [n, get(n)])) as BlockWeights;
  return { cfg: meta.config, weights, x: get('x') as Float32Array, expected: get('expected') };
}

for (const rmsnorm of ['decomposed', 'fused'] as const) {
  test(`decoder block (${rmsnorm} RMSNorm) with external-data weights matches PyTorch within 1e-5`, async () => {
    const { cfg, weights, x, expected } = loadFixture();
    const c: BlockConfig = { ...cfg, rmsnorm };
    const model = buildDecoderBlockModel(weights, c);
    const out = model.graph.outputs[0]!;
    assert.deepEqual(out.shape, [cfg.batch, cfg.seq, cfg.hidden], 'builder-inferred output shape');
    const dir = mkdtempSync(join(tmpdir(), 'recall-block-'));
    try {
      const path = join(dir, 'block.onnx');
      // minBytes 128: all nine weights (the smallest, the norms, are 256 B) go to the data file,
      // the 64 B mask and small constants stay inline.
      const s = saveModel(model, path, { fileName: 'block.onnx.data', minBytes: 128 });
      assert.equal(s.external.length, BLOCK_WEIGHT_NAMES.length, 'every weight is external');
      const session = await openSessionFile(path);
      const result = await session.run({ x: float32([cfg.batch, cfg.seq, cfg.hidden], x) });
      await session.release();
      assert.deepEqual(result.y!.dims, [cfg.batch, cfg.seq, cfg.hidden]);
      const d = assertClose(result.y!.data as Float32Array, expected, { atol: 1e-5, label: `block output (${rmsnorm})` });
      console.log(`# decoder block (${rmsnorm}): max abs diff vs PyTorch float64 ${d.maxAbs.toExponential(2)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('decoder block graph equals its committed snapshot', () => {
  const { cfg, weights } = loadFixture();
  const file = new URL('../fixtures/onnx/decoder-block.snap', import.meta.url);
  const text = snapshotModel(buildDecoderBlockModel(weights, { ...cfg, batch: 'batch' }));
  if (process.env.RECALL_UPDATE_SNAPSHOTS === '1') writeFileSync(file, text);
  assert.ok(existsSync(file), 'snapshot missing: run with RECALL_UPDATE_SNAPSHOTS=1 to write it');
  assert.equal(text, readFileSync(file, 'utf8'), 'decoder block graph changed; if intended, rerun with RECALL_UPDATE_SNAPSHOTS=1');
});
