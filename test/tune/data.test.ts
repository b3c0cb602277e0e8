// Token dataset and sampler: chunking with shifted labels, the held-out tail, seeded
// per-epoch shuffles that a saved state replays exactly, and errors that name the data.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isRecallError } from '../../main/engine/errors.ts';
import { BatchSampler, Mulberry32, TokenDataset } from '../../main/engine/tune/data.ts';

const root = mkdtempSync(join(tmpdir(), 'recall-tune-data-'));
after(() => rmSync(root, { recursive: true, force: true }));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('token dataset', () => {
  test('sequences of T+1 tokens at stride T: labels are the inputs shifted by one', () => {
    const ds = TokenDataset.fromTokens(range(22), { seqLen: 4 });
    assert.equal(ds.trainSize, 5); // floor((22 - 1) / 4)
    const b = ds.batch('train', [0, 3]);
    assert.deepEqual([...b.inputs], [0, 1, 2, 3, 12, 13, 14, 15]);
    assert.deepEqual([...b.labels], [1, 2, 3, 4, 13, 14, 15, 16]);
    assert.equal(b.batchSize, 2);
  });

  test('the held-out split is the tail, served in order', () => {
    const ds = TokenDataset.fromTokens(range(41), { seqLen: 4, heldOutFraction: 0.3 });
    assert.deepEqual([ds.trainSize, ds.heldOutSize], [7, 3]);
    const batches = [...ds.heldOutBatches(2)];
    assert.deepEqual(batches.map((b) => b.batchSize), [2, 1]);
    assert.deepEqual([...batches[0]!.inputs.subarray(0, 4)], [28, 29, 30, 31]);
    assert.deepEqual([...batches[1]!.labels], [37, 38, 39, 40]);
    assert.equal([...ds.heldOutBatches(2, 1)].length, 1);
  });

  test('from a text file with a tokenize function; errors name the file or token', () => {
    const file = join(root, 'a.txt');
    writeFileSync(file, 'abcdefghij');
    const ds = TokenDataset.fromTextFile(file, (t) => [...t].map((c) => c.charCodeAt(0) - 97), { seqLen: 3 });
    assert.deepEqual([...ds.batch('train', [2]).labels], [7, 8, 9]);
    assert.throws(() => TokenDataset.fromTextFile(join(root, 'none.txt'), () => [], { seqLen: 3 }), (e: unknown) => isRecallError(e, 'E_NOT_FOUND') && e.message.includes('none.txt'));
    assert.throws(() => TokenDataset.fromTextFile(file, () => [1, 2], { seqLen: 3 }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && e.message.includes('a.txt'));
    assert.throws(() => TokenDataset.fromTokens([1, -2, 3], { seqLen: 1 }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && e.message.includes('token 1'));
    assert.throws(() => TokenDataset.fromTokens(range(9), { seqLen: 2, heldOutFraction: 1 }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT'));
  });
});

describe('batch sampler', () => {
  const ds = TokenDataset.fromTokens(range(4 * 10 + 1), { seqLen: 4 }); // 10 sequences
  const seqs = (s: BatchSampler, n: number) => Array.from({ length: n }, () => s.next().sequences);

  test('each epoch is a permutation, full batches only, a new order per epoch and per seed', () => {
    const s = new BatchSampler(ds, 3, 5);
    const epoch0 = seqs(s, 3), epoch1 = seqs(s, 3);
    assert.deepEqual(epoch0.flat().length, 9); // one sequence per epoch is dropped (drop_last)
    assert.equal(new Set(epoch0.flat()).size, 9);
    assert.equal(s.state().epoch, 1);
    assert.notDeepEqual(epoch0, epoch1);
    assert.notDeepEqual(seqs(new BatchSampler(ds, 3, 6), 3), epoch0);
    assert.deepEqual(seqs(new BatchSampler(ds, 3, 5), 3), epoch0);
    const t = new BatchSampler(ds, 3, 5);
    assert.deepEqual(Array.from({ length: 4 }, () => t.next().epoch), [0, 0, 0, 1], 'each batch names its epoch');
  });

  test('a saved state (through JSON) replays the same batches, mid-epoch and at an epoch end', () => {
    for (const skip of [2, 3, 7]) {
      const a = new BatchSampler(ds, 3, 9);
      seqs(a, skip);
      const saved = JSON.parse(JSON.stringify(a.state()));
      const b = new BatchSampler(ds, 3, 9);
      b.restore(saved);
      assert.deepEqual(seqs(b, 8), seqs(a, 8), `after ${skip} batches`);
    }
    assert.throws(() => new BatchSampler(ds, 3, 1).restore({ epoch: -1, cursor: 0, rngState: 0 }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT'));
    assert.throws(() => new BatchSampler(ds, 11, 1), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && e.message.includes('batch size 11'));
  });

  test('mulberry32 state round-trips', () => {
    const r = new Mulberry32(42);
    r.next();
    const copy = new Mulberry32(0);
    copy.state = r.state;
    assert.deepEqual([r.nextUint32(), r.next()], [copy.nextUint32(), copy.next()]);
  });
});
