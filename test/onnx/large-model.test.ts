// A model whose initializers total just over 2 GiB, past protobuf's 2 GB message limit, so
// it only works if every weight goes to the external-data file: saveModel streams the tensors
// to disk one at a time, ORT opens the file, and Gather/Slice read rows on both sides of the
// 2 GiB file offset. To keep memory low, the five weights are views into one shared buffer,
// each shifted by one element, so they hold distinct values yet cost 435 MB of RAM, not 2.2 GB.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder } from '../../main/engine/onnx/builder.ts';
import { saveModel } from '../../main/engine/onnx/serialize.ts';
import { openSessionFile } from '../../main/engine/runtime/session.ts';
import { int64 } from '../../main/engine/runtime/tensors.ts';
import { assertClose } from '../helpers/compare.ts';

const COLS = 64;
const ROWS = 1_700_000;
const TENSORS = 5; // 5 x 1.7M x 64 x 4 B = 2.176 GB > 2 GiB (2.147 GB)
const GIB2 = 2 ** 31;

/** Integer-valued hash below 2^24, so float32 holds it exactly. */
const valueAt = (i: number) => (Math.imul(i, 2654435761) >>> 8) & 0xffffff;

test('model with > 2 GiB of external initializers runs Gather and Slice through openSessionFile', { timeout: 180_000 }, async () => {
  const t0 = Date.now();
  const perTensor = ROWS * COLS;
  const base = new Float32Array(perTensor + TENSORS);
  for (let i = 0; i < base.length; i++) base[i] = valueAt(i);
  const b = new GraphBuilder('large');
  const idx = b.input('idx', 'int64', [4]);
  const weights = Array.from({ length: TENSORS }, (_, j) => b.initializer(`w${j}`, 'float32', [ROWS, COLS], base.subarray(j, j + perTensor)));
  weights.forEach((w, j) => b.output(b.op1('Gather', [w, idx], { axis: 0 }), `rows${j}`));
  const last = b.op1('Slice', [weights[TENSORS - 1]!, b.int64s([-2]), b.int64s([ROWS]), b.int64s([0])]);
  b.output(last, 'tail');
  const model = b.build();
  const dir = mkdtempSync(join(tmpdir(), 'recall-2gb-'));
  try {
    const path = join(dir, 'model.onnx');
    // align 4096 lets ORT memory-map each tensor instead of copying it.
    const s = saveModel(model, path, { fileName: 'model.onnx.data', align: 4096 });
    const tSaved = Date.now();
    assert.ok(s.externalBytes > GIB2, `external data is ${s.externalBytes} bytes, not over 2 GiB`);
    assert.equal(statSync(join(dir, 'model.onnx.data')).size, s.externalBytes);
    assert.ok(s.proto.byteLength < 1 << 20, 'the ModelProto itself holds no weight bytes');
    const lastOffset = s.external[TENSORS - 1]!.offset;
    assert.ok(lastOffset < GIB2 && lastOffset + perTensor * 4 > GIB2, 'the last weight straddles the 2 GiB offset');

    const session = await openSessionFile(path, { optimization: 'disabled', threads: 1 });
    const tOpened = Date.now();
    const rows = [0, 1, ROWS >> 1, ROWS - 1];
    const out = await session.run({ idx: int64([4], rows) });
    await session.release();
    for (let j = 0; j < TENSORS; j++) {
      const want = rows.flatMap((r) => Array.from({ length: COLS }, (_, c) => valueAt(j + r * COLS + c)));
      assert.deepEqual(out[`rows${j}`]!.dims, [4, COLS]);
      assertClose(out[`rows${j}`]!.data as Float32Array, want, { atol: 0, label: `Gather rows of w${j}` });
    }
    const tail = [ROWS - 2, ROWS - 1].flatMap((r) => Array.from({ length: COLS }, (_, c) => valueAt(TENSORS - 1 + r * COLS + c)));
    assertClose(out.tail!.data as Float32Array, tail, { atol: 0, label: 'Slice of the last rows (file offset past 2 GiB)' });
    const rssGb = (process.resourceUsage().maxRSS * 1024) / 1e9;
    console.log(`# >2GiB model: ${(s.externalBytes / 1e9).toFixed(3)} GB external; save ${((tSaved - t0) / 1000).toFixed(1)} s, ` +
      `open ${((tOpened - tSaved) / 1000).toFixed(1)} s, total ${((Date.now() - t0) / 1000).toFixed(1)} s; peak RSS ${rssGb.toFixed(2)} GB`);
    assert.ok(rssGb < 8, `peak RSS ${rssGb.toFixed(2)} GB exceeds the 8 GB budget`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
