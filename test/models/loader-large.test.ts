// Lazy reading of a large checkpoint: a ~1.5 GB safetensors file (sparse: the header and one
// small tensor are real bytes, the rest is a hole made by ftruncate, so it costs no disk or
// time) must serve one tensor while the process's RSS grows by about that tensor, not the file.
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSafetensors } from '../../main/engine/models/safetensors.ts';
import { randomFloats } from '../helpers/compare.ts';

const MB = 1 << 20;

test('reading one tensor of a 1.5 GB file grows RSS by about that tensor only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'recall-large-'));
  const file = join(dir, 'model.safetensors');
  try {
    const fillerBytes = 375 * 1_000_000 * 4; // 1.5e9
    const mediumBytes = 16 * MB * 2; // bf16, 32 MiB stored, 64 MiB as float32
    const small = randomFloats(1024 * 256, 7); // 1 MiB
    const header = {
      filler: { dtype: 'F32', shape: [375, 1_000_000], data_offsets: [0, fillerBytes] },
      medium: { dtype: 'BF16', shape: [16 * MB], data_offsets: [fillerBytes, fillerBytes + mediumBytes] },
      small: { dtype: 'F32', shape: [1024, 256], data_offsets: [fillerBytes + mediumBytes, fillerBytes + mediumBytes + small.byteLength] },
    };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
    const dataStart = 8 + json.length;
    const fd = openSync(file, 'w');
    writeSync(fd, len, 0, 8, 0);
    writeSync(fd, json, 0, json.length, 8);
    writeSync(fd, new Uint8Array(small.buffer), 0, small.byteLength, dataStart + fillerBytes + mediumBytes);
    ftruncateSync(fd, dataStart + fillerBytes + mediumBytes + small.byteLength);
    closeSync(fd);
    const fileSize = statSync(file).size;
    assert.ok(fileSize > 1.5e9);

    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const w = openSafetensors(file);
    const got = w.readFloat32('small');
    const rss1 = process.memoryUsage().rss;
    assert.deepEqual(got, small);
    const medium = w.readFloat32('medium'); // converted bf16 -> f32 through a bounded staging buffer
    const rss2 = process.memoryUsage().rss;
    assert.equal(medium.length, 16 * MB);
    assert.equal(medium[12345], 0); // a hole reads as zeros
    w.close();

    const grow1 = (rss1 - rss0) / MB, grow2 = (rss2 - rss0) / MB;
    t.diagnostic(`file ${(fileSize / MB).toFixed(0)} MiB; RSS +${grow1.toFixed(1)} MiB after the 1 MiB tensor, +${grow2.toFixed(1)} MiB after the 64 MiB (f32) tensor`);
    // Far below the file: a whole-file read would add ~1430 MiB.
    assert.ok(grow1 < 48, `RSS grew ${grow1.toFixed(1)} MiB reading a 1 MiB tensor`);
    assert.ok(grow2 < 64 + 16 + 48, `RSS grew ${grow2.toFixed(1)} MiB reading a 64 MiB tensor`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
