// The typed repositories: runs (lineage, filters, lifecycle guard, delete, reuse by
// fingerprint), crash recovery's ownership rule, and the per-run data tables.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { canonicalJson, fingerprint, INTERRUPTED_ERROR, openStore, recoverInterruptedRuns, type CreateRunInput, type Store } from '../../main/engine/store/index.ts';
import { assertFails, tempDir } from './store-fixtures.ts';

const root = tempDir();
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let store: Store;
beforeEach(() => {
  store?.close();
  store = openStore(join(root, `case${n++}.db`));
});
after(() => store?.close());

const versions = { recall: '0.1.0', ort: '1.30.0', executionProvider: 'cpu' };
const create = (over: Partial<CreateRunInput> = {}) => store.runs.create({ kind: 'compress', config: { bits: 4 }, versions, ...over });
const modelInput = (fp: string) => ({ fingerprint: fp, name: `m-${fp}`, architecture: 'llama', sourcePath: `/models/${fp}` });

describe('fingerprints', () => {
  test('canonical JSON sorts keys at every depth and refuses what JSON would lose', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: null }], c: 'x' }, u: undefined }), '{"a":{"c":"x","d":[1,{"y":null,"z":0}]},"b":1}');
    assert.equal(fingerprint({ a: 1, b: 2 }), fingerprint({ b: 2, a: 1 }));
    assert.notEqual(fingerprint({ a: 1 }), fingerprint({ a: '1' }));
    assert.match(fingerprint({}), /^[0-9a-f]{64}$/);
    assertFails(() => canonicalJson({ lr: NaN }), 'E_INVALID_ARGUMENT', '$.lr', 'NaN');
    assertFails(() => canonicalJson({ x: [1, () => 0] }), 'E_INVALID_ARGUMENT', '$.x[1]', 'function');
  });

  test('findReusableRun returns the newest finished run with the same inputs and config', () => {
    const model = store.models.register(modelInput('m1'));
    const a = create({ modelId: model.id, config: { method: 'gptq', bits: 4 }, seed: 1 });
    const same = create({ modelId: model.id, config: { bits: 4, method: 'gptq' }, seed: 1 });
    assert.equal(a.fingerprint, same.fingerprint, 'key order does not matter');
    assert.notEqual(create({ modelId: model.id, config: { method: 'gptq', bits: 4 }, seed: 2 }).fingerprint, a.fingerprint, 'seed matters');
    assert.notEqual(create({ config: { method: 'gptq', bits: 4 }, seed: 1 }).fingerprint, a.fingerprint, 'model matters');
    const child1 = create({ kind: 'eval', config: {}, parents: [{ id: a.id }] });
    const child2 = create({ kind: 'eval', config: {}, parents: [{ id: a.id, role: 'base' }] });
    assert.notEqual(child1.fingerprint, child2.fingerprint, 'parent roles matter');

    assert.equal(store.runs.findReusableRun('compress', a.fingerprint), undefined, 'queued runs are not reusable');
    store.runs.start(a.id);
    store.runs.finish(a.id);
    store.runs.start(same.id);
    store.runs.fail(same.id, 'boom');
    assert.equal(store.runs.findReusableRun('compress', a.fingerprint)?.id, a.id);
    assert.equal(store.runs.findReusableRun('tune', a.fingerprint), undefined, 'kind matters');
  });
});

describe('runs', () => {
  test('create records config, seed, versions and lineage', () => {
    const model = store.models.register({ ...modelInput('m1'), info: { params: 42 } });
    const base = create({ name: 'base', modelId: model.id, seed: 7 });
    const teacher = create({ name: 'teacher' });
    const tune = create({ kind: 'tune', name: 'repair', config: { rank: 8 }, parents: [{ id: base.id, role: 'base' }, { id: teacher.id, role: 'teacher' }] });
    const got = store.runs.require(tune.id);
    assert.equal(got.status, 'queued');
    assert.deepEqual(got.config, { rank: 8 });
    assert.deepEqual(got.versions, versions);
    assert.deepEqual(got.parents, [{ id: base.id, role: 'base' }, { id: teacher.id, role: 'teacher' }]);
    assert.equal(store.runs.require(base.id).seed, 7);
    assert.deepEqual(store.runs.children(base.id).map((r) => r.id), [tune.id]);
    assert.deepEqual(store.models.get(model.id)?.info, { params: 42 });
    assertFails(() => create({ parents: [{ id: 999 }] }), 'E_NOT_FOUND', 'parent run 999');
    assertFails(() => create({ modelId: 999 }), 'E_NOT_FOUND', 'model 999');
    assertFails(() => create({ kind: 'train' as never }), 'E_INVALID_ARGUMENT', "'train'");
    assertFails(() => create({ seed: 1.5 }), 'E_INVALID_ARGUMENT', 'seed');
    assert.equal(store.runs.list().length, 3, 'failed creates left nothing behind');
  });

  test('list filters by kind, status, model, parent and name, with paging', () => {
    const m1 = store.models.register(modelInput('m1'));
    const m2 = store.models.register(modelInput('m2'));
    const q4 = create({ name: 'GPTQ q4_k', modelId: m1.id });
    const q4x = create({ name: 'gptq q4xk', modelId: m2.id });
    const ev = create({ kind: 'eval', name: 'eval of q4', parents: [{ id: q4.id }] });
    store.runs.start(q4x.id);
    const ids = (f: Parameters<typeof store.runs.list>[0]) => store.runs.list(f).map((r) => r.id);
    assert.deepEqual(ids({}), [ev.id, q4x.id, q4.id], 'newest first');
    assert.deepEqual(ids({ order: 'oldest' }), [q4.id, q4x.id, ev.id]);
    assert.deepEqual(ids({ kind: 'eval' }), [ev.id]);
    assert.deepEqual(ids({ kind: ['eval', 'compress'], status: 'queued' }), [ev.id, q4.id]);
    assert.deepEqual(ids({ status: ['running'] }), [q4x.id]);
    assert.deepEqual(ids({ modelId: m2.id }), [q4x.id]);
    assert.deepEqual(ids({ parentId: q4.id }), [ev.id]);
    assert.deepEqual(ids({ text: 'q4_k' }), [q4.id], "'_' is literal, not a wildcard");
    assert.deepEqual(ids({ text: 'gptq' }), [q4x.id, q4.id], 'case-insensitive');
    assert.deepEqual(ids({ limit: 1, offset: 1 }), [q4x.id]);
    assertFails(() => store.runs.list({ status: 'paused' as never }), 'E_INVALID_ARGUMENT', "'paused'");
    assertFails(() => store.runs.list({ limit: -1 }), 'E_INVALID_ARGUMENT', 'limit');
  });

  test('status moves only along the lifecycle, with messages naming both ends', () => {
    const run = create();
    assertFails(() => store.runs.finish(run.id), 'E_RUN_TRANSITION', `run ${run.id}`, "'queued'", "'done'", "only 'running' can");
    const started = store.runs.start(run.id);
    assert.equal(started.status, 'running');
    assert.equal(started.ownerPid, process.pid);
    assertFails(() => store.runs.start(run.id), 'E_RUN_TRANSITION', "'running' and cannot become 'running'");
    const failed = store.runs.fail(run.id, 'CUDA out of memory', { resumable: true });
    assert.deepEqual([failed.status, failed.error, failed.resumable], ['failed', 'CUDA out of memory', true]);
    assert.ok(failed.finishedAt !== null);
    const resumed = store.runs.start(run.id);
    assert.deepEqual([resumed.status, resumed.error, resumed.resumable, resumed.finishedAt], ['running', null, false, null], 'resume clears the last attempt');
    store.runs.cancel(run.id);
    store.runs.start(run.id);
    assert.equal(store.runs.finish(run.id).status, 'done');
    for (const move of [() => store.runs.start(run.id), () => store.runs.fail(run.id, 'x'), () => store.runs.cancel(run.id)]) {
      assertFails(move, 'E_RUN_TRANSITION', "'done'");
    }
    assert.equal(store.runs.cancel(create().id).status, 'cancelled', 'a queued run can be cancelled');
    assertFails(() => store.runs.start(12345), 'E_NOT_FOUND', 'run 12345');
  });

  test('timings merge per phase', () => {
    const run = create();
    store.runs.addTimings(run.id, { load: 5 });
    assert.deepEqual(store.runs.addTimings(run.id, { quantize: 7, load: 6 }).timings, { load: 6, quantize: 7 });
    assertFails(() => store.runs.addTimings(run.id, { x: Infinity }), 'E_INVALID_ARGUMENT', "'x'");
  });

  test('delete removes the run and its rows, returns artifact paths, and refuses parents and running runs', () => {
    const parent = create();
    const child = create({ kind: 'eval', parents: [{ id: parent.id }] });
    store.artifacts.record(child.id, { path: 'runs/2/a.onnx', kind: 'onnx', bytes: 10, sha256: 'b'.repeat(64) });
    store.artifacts.record(child.id, { path: 'runs/2/b.bin', kind: 'weights', bytes: 20, sha256: 'c'.repeat(64) });
    store.metrics.upsert(child.id, { task: 't', metric: 'acc', value: 1 });
    store.records.insertMany(child.id, 't', [{ item: 0, payload: {} }]);
    assertFails(() => store.runs.delete(parent.id), 'E_RUN_IN_USE', `run ${parent.id} is a parent of run(s) ${child.id}`);
    store.runs.start(child.id);
    assertFails(() => store.runs.delete(child.id), 'E_RUN_IN_USE', 'is running');
    store.runs.cancel(child.id);
    assert.deepEqual(store.runs.delete(child.id), { artifactPaths: ['runs/2/a.onnx', 'runs/2/b.bin'] });
    assert.equal(store.runs.get(child.id), undefined);
    for (const table of ['metrics', 'records', 'artifacts', 'run_parents']) {
      assert.equal((store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n, 0, table);
    }
    assert.deepEqual(store.runs.delete(parent.id), { artifactPaths: [] }, 'a parent with no children left can go');
    assertFails(() => store.runs.delete(parent.id), 'E_NOT_FOUND');
  });

  test('a model used by runs cannot be deleted; a known fingerprint updates the path', () => {
    const m = store.models.register(modelInput('m1'));
    const moved = store.models.register({ ...modelInput('m1'), sourcePath: '/elsewhere' });
    assert.equal(moved.id, m.id);
    assert.equal(moved.sourcePath, '/elsewhere');
    const run = create({ modelId: m.id });
    assertFails(() => store.models.delete(m.id), 'E_RUN_IN_USE', `model ${m.id}`, '1 run');
    store.runs.delete(run.id);
    store.models.delete(m.id);
    assert.deepEqual(store.models.list(), []);
  });
});

describe('crash recovery', () => {
  test('only runs whose owner process is gone on this host become failed and resumable', () => {
    const dead = create(), alive = create(), remote = create(), mine = create(), done = create();
    store.runs.start(dead.id, { pid: 1001, host: 'here' });
    store.runs.start(alive.id, { pid: 1002, host: 'here' });
    store.runs.start(remote.id, { pid: 1001, host: 'gpu-box' });
    store.runs.start(mine.id, { pid: process.pid, host: 'here' });
    store.runs.start(done.id, { pid: 1001, host: 'here' });
    store.runs.finish(done.id);
    const recovered = recoverInterruptedRuns(store.db, { host: 'here', isAlive: (pid) => pid === 1002 });
    assert.deepEqual(recovered, [dead.id]);
    const r = store.runs.require(dead.id);
    assert.deepEqual([r.status, r.error, r.resumable], ['failed', INTERRUPTED_ERROR, true]);
    for (const id of [alive.id, remote.id, mine.id]) assert.equal(store.runs.require(id).status, 'running');
    assert.equal(store.runs.require(done.id).status, 'done');
    assert.equal(store.runs.start(dead.id).status, 'running', 'an interrupted run resumes');
  });

  test('openStore recovers runs left running by a process that is gone', () => {
    const file = join(root, 'recover.db');
    const a = openStore(file);
    const run = a.runs.create({ kind: 'eval', config: {}, versions });
    a.runs.start(run.id, { pid: 2 ** 22 + 7, host: 'elsewhere-or-dead' });
    a.db.prepare('UPDATE runs SET owner_host = NULL WHERE id = ?').run(run.id); // as if no owner was recorded
    a.close();
    const b = openStore(file);
    assert.deepEqual(b.recovered, [run.id]);
    assert.equal(b.runs.require(run.id).error, INTERRUPTED_ERROR);
    b.close();
  });
});

describe('per-run data', () => {
  test('metrics upsert per run, task and metric; bad values and unknown runs are refused', () => {
    const run = create();
    store.metrics.upsert(run.id, [{ task: 'arc', metric: 'acc', value: 0.5, stderr: 0.01, n: 100 }, { task: 'arc', metric: 'acc_norm', value: 0.6 }]);
    store.metrics.upsert(run.id, { task: 'arc', metric: 'acc', value: 0.55, stderr: 0.02, n: 100 });
    assert.deepEqual(store.metrics.list(run.id), [
      { runId: run.id, task: 'arc', metric: 'acc', value: 0.55, stderr: 0.02, n: 100 },
      { runId: run.id, task: 'arc', metric: 'acc_norm', value: 0.6, stderr: null, n: null },
    ]);
    assert.equal(store.metrics.forRuns([run.id, 999]).length, 2);
    assertFails(() => store.metrics.upsert(run.id, { task: 'arc', metric: 'ppl', value: NaN }), 'E_INVALID_ARGUMENT', 'arc/ppl', 'NaN');
    assertFails(() => store.metrics.upsert(999, { task: 'arc', metric: 'acc', value: 1 }), 'E_NOT_FOUND', 'run 999');
  });

  test('records are written in bulk and read back in pages', () => {
    const run = create({ kind: 'eval' });
    store.records.insertMany(run.id, 'hellaswag', Array.from({ length: 1000 }, (_, item) => ({ item, payload: { item, ok: item % 3 === 0 } })));
    store.records.insertMany(run.id, 'arc', [{ item: 0, payload: 'x' }]);
    assert.equal(store.records.count(run.id), 1001);
    assert.equal(store.records.count(run.id, 'hellaswag'), 1000);
    assert.deepEqual(store.records.tasks(run.id), ['arc', 'hellaswag']);
    assert.deepEqual(store.records.list(run.id, 'hellaswag', { offset: 10, limit: 2 }).map((r) => r.payload), [{ item: 10, ok: false }, { item: 11, ok: false }]);
    // A batch with a bad row is refused whole: the good rows before it are not written either.
    assertFails(() => store.records.insertMany(999, 't', [{ item: 0, payload: 1 }]), 'E_NOT_FOUND', 'run 999');
    assertFails(() => store.records.insertMany(run.id, 'bad', [{ item: 0, payload: 1 }, { item: 1, payload: undefined }]), 'E_INVALID_ARGUMENT', 'bad#1');
    assert.equal(store.records.count(run.id, 'bad'), 0);
  });

  test('compression logs and training curves round-trip, keyed so a resume replaces rows', () => {
    const run = create();
    store.compressionLogs.log(run.id, { layer: 1, module: 'mlp.up_proj', rows: 16, cols: 8, bits: 4, loss: 1 });
    store.compressionLogs.log(run.id, [{ layer: 0, module: 'self_attn.q_proj', rows: 8, cols: 8, sparsity: 0.5, damp: 0.01, relError: 0.1, seconds: 2 }, { layer: 1, module: 'mlp.up_proj', rows: 16, cols: 8, bits: 3, loss: 2 }]);
    const logs = store.compressionLogs.list(run.id);
    assert.deepEqual(logs.map((l) => [l.layer, l.module, l.bits, l.loss, l.relError]), [[0, 'self_attn.q_proj', null, null, 0.1], [1, 'mlp.up_proj', 3, 2, null]]);
    assertFails(() => store.compressionLogs.log(run.id, { layer: 2, module: 'm', rows: 1, cols: 1, loss: NaN }), 'E_INVALID_ARGUMENT', 'layer 2 m', 'loss');

    store.trainingCurves.append(run.id, [{ step: 0, loss: 3, lr: 1e-4, tokens: 0 }, { step: 5, loss: 2 }]);
    store.trainingCurves.append(run.id, [{ step: 5, loss: 1.5, evalLoss: 1.7, tokens: 80 }]);
    assert.deepEqual(store.trainingCurves.list(run.id), [
      { step: 0, loss: 3, lr: 1e-4, evalLoss: null, tokens: 0 },
      { step: 5, loss: 1.5, lr: null, evalLoss: 1.7, tokens: 80 },
    ]);
  });

  test('similarity arrays keep dtype, shape and bits exactly, including subarray views', () => {
    const run = create({ kind: 'analyze' });
    const big = Float64Array.from({ length: 10 }, (_, i) => Math.PI * i);
    store.similarity.put(run.id, 'cos', big.subarray(2, 8), [2, 3]);
    store.similarity.put(run.id, 'cka', new Float32Array([1, 0.25, 0.25, 1]), [2, 2]);
    const cos = store.similarity.get(run.id, 'cos')!;
    assert.equal(cos.dtype, 'float64');
    assert.deepEqual(cos.shape, [2, 3]);
    assert.deepEqual([...cos.data], [...big.subarray(2, 8)]);
    assert.deepEqual(store.similarity.kinds(run.id), ['cka', 'cos']);
    assert.equal(store.similarity.get(run.id, 'nope'), undefined);
    assertFails(() => store.similarity.put(run.id, 'bad', new Float32Array(5), [2, 3]), 'E_SHAPE_MISMATCH', "'bad'", '[2, 3]', '5 elements');
    store.db.prepare("UPDATE similarity_arrays SET shape_json = '[3, 3]' WHERE kind = 'cka'").run();
    assertFails(() => store.similarity.get(run.id, 'cka'), 'E_STORE_CORRUPT', "'cka'", '16 bytes');
  });

  test('artifacts record size and hash; re-recording a path replaces it', () => {
    const run = create();
    store.artifacts.record(run.id, { path: 'a.bin', kind: 'weights', bytes: 1, sha256: '0'.repeat(64) });
    const again = store.artifacts.record(run.id, { path: 'a.bin', kind: 'weights', bytes: 2, sha256: '1'.repeat(64) });
    assert.deepEqual(store.artifacts.list(run.id).map((a) => [a.id, a.bytes, a.sha256]), [[again.id, 2, '1'.repeat(64)]]);
    assertFails(() => store.artifacts.record(run.id, { path: 'b', kind: 'x', bytes: 1, sha256: 'XYZ' }), 'E_INVALID_ARGUMENT', "'b'", 'sha256');
  });

  test('a corrupted JSON column is reported with its run and column', () => {
    const run = create();
    store.db.prepare("UPDATE runs SET config_json = '{oops' WHERE id = ?").run(run.id);
    assertFails(() => store.runs.get(run.id), 'E_STORE_CORRUPT', `runs.config_json of run ${run.id}`);
  });
});
