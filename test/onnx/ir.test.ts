// IR plumbing: serializer round trip through protobufjs, builder de-duplication and node
// repetition, validator messages, the graph text snapshot, external data (file and
// in-memory) and execution-provider fallback.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder } from '../../main/engine/onnx/builder.ts';
import { broadcastShapes } from '../../main/engine/onnx/infer.ts';
import type { Model } from '../../main/engine/onnx/ir.ts';
import { onnxType } from '../../main/engine/onnx/proto.ts';
import { saveModel, serializeModel } from '../../main/engine/onnx/serialize.ts';
import { snapshotModel } from '../../main/engine/onnx/snapshot.ts';
import { validateModel } from '../../main/engine/onnx/validate.ts';
import { createSession, openSessionFile } from '../../main/engine/runtime/session.ts';
import { float32 } from '../../main/engine/runtime/tensors.ts';
import { assertClose, randomFloats } from '../helpers/compare.ts';

/** y = softmax(x @ w + bias) * 0.5 with an RMSNorm-style scalar epsilon: every attr kind we emit. */
function smallModel(): { model: Model; w: Float32Array; bias: Float32Array } {
  const b = new GraphBuilder('small');
  const w = randomFloats(4 * 3, 7, 1);
  const bias = randomFloats(3, 8, 1);
  const x = b.input('x', 'float32', ['batch', 4]);
  b.scope('layer', () => {
    const wv = b.initializer('w', 'float32', [4, 3], w);
    const bv = b.initializer('bias', 'float32', [3], bias);
    const h = b.op1('Gemm', [x, wv, bv], { alpha: 1, transB: 0 });
    const p = b.op1('Softmax', [h], { axis: -1 });
    const y = b.op1('Mul', [p, b.scalar(0.5)]);
    b.output(y, 'y');
  });
  return { model: b.build({ purpose: 'test' }), w, bias };
}

test('serialize -> protobufjs decode keeps nodes, attributes, initializers and opsets', () => {
  const { model, w } = smallModel();
  const b = new GraphBuilder('attrs');
  const x = b.input('x', 'float32', [2]);
  const t = { name: 't', dtype: 'int64' as const, dims: [2], data: BigInt64Array.from([3n, -4n]) };
  b.output(b.op1('Identity', [x], {
    f: 0.25, i: -3, s: 'hello', fs: [0.5, 1.5], is: [1, -2, 3], ss: ['a', 'b'], tv: { kind: 'tensor', value: t },
  }, { name: 'attr_node' }));
  for (const m of [model, b.build()]) {
    const decoded = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(serializeModel(m).proto), { longs: Number, bytes: Array, defaults: false }) as {
      opsetImport: { domain?: string; version: number }[];
      graph: { node: { name: string; opType: string; input: string[]; output: string[]; attribute?: Record<string, unknown>[] }[]; initializer?: { name: string; dims: number[]; dataType: number; rawData: number[] }[] };
    };
    assert.deepEqual(Object.fromEntries(decoded.opsetImport.map((o) => [o.domain ?? '', o.version])), m.opsets);
    assert.deepEqual(decoded.graph.node.map((n) => [n.name, n.opType, n.input, n.output]), m.graph.nodes.map((n) => [n.name, n.opType, n.inputs, n.outputs]));
    assert.deepEqual((decoded.graph.initializer ?? []).map((i) => [i.name, i.dims ?? [], i.dataType]), m.graph.initializers.map((i) => [i.name, i.dims, { float32: 1, int64: 7 }[i.dtype as 'float32']]));
    if (m === model) {
      const wInit = decoded.graph.initializer!.find((i) => i.name === 'w')!;
      assertClose(new Float32Array(Uint8Array.from(wInit.rawData).buffer), w, { atol: 0, label: 'w bytes' });
      const gemm = decoded.graph.node.find((n) => n.opType === 'Gemm')!;
      assert.deepEqual(gemm.attribute!.map((a) => [a.name, a.type]), [['alpha', 1], ['transB', 2]]);
    } else {
      const attrs = Object.fromEntries(decoded.graph.node[0]!.attribute!.map((a) => [a.name as string, a]));
      assert.equal(attrs.f!.f, 0.25);
      assert.equal(attrs.i!.i, -3);
      assert.equal(Buffer.from(attrs.s!.s as number[]).toString(), 'hello');
      assert.deepEqual(attrs.fs!.floats, [0.5, 1.5]);
      assert.deepEqual(attrs.is!.ints, [1, -2, 3]);
      assert.deepEqual((attrs.ss!.strings as number[][]).map((s) => Buffer.from(s).toString()), ['a', 'b']);
      const tv = attrs.tv!.t as { dims: number[]; dataType: number; rawData: number[] };
      assert.deepEqual([tv.dims, tv.dataType], [[2], 7]);
      assert.deepEqual(Array.from(new BigInt64Array(Uint8Array.from(tv.rawData).buffer)), [3n, -4n]);
    }
  }
});

test('constants are stored once however often they are asked for', () => {
  const b = new GraphBuilder();
  const a = b.scalar(2);
  assert.equal(b.scalar(2), a);
  assert.notEqual(b.scalar(3), a);
  assert.notEqual(b.scalar(2, 'int64'), a, 'same value, other dtype is another constant');
  assert.equal(b.int64s([1, 2]), b.int64s([1, 2]));
  assert.equal(b.build().graph.initializers.length, 4);
});

test('repeating a named node returns its outputs; a conflicting definition throws', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [3]);
  const first = b.op('Relu', [x], {}, { name: 'act' });
  assert.deepEqual(b.op('Relu', [x], {}, { name: 'act' }), first);
  assert.equal(b.build().graph.nodes.length, 1);
  assert.throws(() => b.op('Sigmoid', [x], {}, { name: 'act' }), /node '\/act' already exists with a different definition/);
  assert.throws(() => b.op('Softmax', [x], { axis: 0 }, { name: 'act' }), /already exists/);
});

/** A copy of smallModel with `edit` applied to its graph. */
function broken(edit: (m: Model) => void): Model {
  const { model } = smallModel();
  const m = structuredClone(model);
  edit(m);
  return m;
}

test('validator messages name the offending node or tensor', () => {
  const cases: [string, (m: Model) => void, RegExp][] = [
    ['undefined input', (m) => { m.graph.nodes[1]!.inputs[0] = 'nowhere'; }, /node '\/layer\/Softmax' \(Softmax\): input 0 'nowhere' is not defined/],
    ['duplicate output', (m) => { m.graph.nodes[2]!.outputs[0] = m.graph.nodes[1]!.outputs[0]!; }, /value '\/layer\/Softmax\/output_0' is defined twice: by node '\/layer\/Softmax' \(Softmax\) and by node '\/layer\/Mul' \(Mul\)/],
    ['bad initializer size', (m) => { m.graph.initializers[0]!.data = new Float32Array(5); }, /initializer 'w': 20 bytes of data for float32\[4,3\] \(expected 48\)/],
    ['missing opset domain', (m) => { m.graph.nodes[1]!.domain = 'com.example'; }, /node '\/layer\/Softmax' \(com\.example\.Softmax\): domain 'com\.example' has no opset import/],
    ['wrong arity', (m) => { m.graph.nodes[2]!.inputs.push(m.graph.inputs[0]!.name); }, /node '\/layer\/Mul' \(Mul\): 3 inputs, expected 2\.\.2/],
  ];
  validateModel(smallModel().model); // the unedited model is valid
  for (const [label, edit, message] of cases) {
    assert.throws(() => validateModel(broken(edit)), (e: Error) => {
      assert.equal(e.name, 'GraphValidationError', label);
      assert.match(e.message, message, label);
      return true;
    });
  }
});

test('snapshot text of a small graph equals the committed snapshot', () => {
  const file = new URL('../fixtures/onnx/small-graph.snap', import.meta.url);
  const text = snapshotModel(smallModel().model);
  if (process.env.RECALL_UPDATE_SNAPSHOTS === '1') writeFileSync(file, text);
  assert.ok(existsSync(file), 'snapshot missing: run with RECALL_UPDATE_SNAPSHOTS=1 to write it');
  assert.equal(text, readFileSync(file, 'utf8'), 'graph snapshot changed; if intended, rerun with RECALL_UPDATE_SNAPSHOTS=1');
});

/** Reference for smallModel: softmax(x @ w + bias) * 0.5. */
function smallReference(x: Float32Array, w: Float32Array, bias: Float32Array): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / 4; r++) {
    const h = [0, 1, 2].map((j) => bias[j]! + [0, 1, 2, 3].reduce((p, k) => p + x[r * 4 + k]! * w[k * 3 + j]!, 0));
    const m = Math.max(...h);
    const z = h.reduce((p, v) => p + Math.exp(v - m), 0);
    out.push(...h.map((v) => (Math.exp(v - m) / z) * 0.5));
  }
  return out;
}

test('external data: saveModel to a folder, then openSessionFile runs', async () => {
  const { model, w, bias } = smallModel();
  const dir = mkdtempSync(join(tmpdir(), 'recall-ext-'));
  try {
    const path = join(dir, 'model.onnx');
    const s = saveModel(model, path, { fileName: 'model.onnx.data', minBytes: 16 });
    // Both w (48 B) and bias (12 B < 16) exist; only w may go external.
    assert.equal(s.external.length, 1);
    assert.equal(statSync(join(dir, 'model.onnx.data')).size, 48);
    const session = await openSessionFile(path);
    const x = randomFloats(8, 9, 1);
    const out = await session.run({ x: float32([2, 4], x) });
    await session.release();
    assertClose(out.y!.data as Float32Array, smallReference(x, w, bias), { atol: 1e-6, label: 'file model' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('external data handed to ORT as an in-memory buffer runs', async () => {
  const { model, w, bias } = smallModel();
  const ext = { fileName: 'weights.bin', minBytes: 1 };
  assert.equal(serializeModel(model, ext).external.length, 3, 'w, bias and the 0.5 scalar all go external');
  const session = await createSession(model, {}, ext);
  const x = randomFloats(12, 10, 1);
  const out = await session.run({ x: float32([3, 4], x) });
  await session.release();
  assertClose(out.y!.data as Float32Array, smallReference(x, w, bias), { atol: 1e-6, label: 'in-memory external data' });
});

test('asking for an absent provider (coreml on this build) falls back to CPU and says why', async () => {
  const messages: string[] = [];
  const s = await createSession(smallModel().model, { ep: 'coreml', onFallback: (m) => messages.push(m) });
  assert.equal(s.ep, 'cpu');
  assert.equal(messages.length, 1);
  assert.match(messages[0]!, /execution provider 'coreml' is not in this onnxruntime-node build \(has: .*cpu.*\); running on CPU instead/);
  assert.equal(s.fallbackReason, messages[0]);
  await s.release();
});

test('asking for cuda without a usable CUDA falls back to CPU with the reason (or runs on cuda where present)', async () => {
  const messages: string[] = [];
  const s = await createSession(smallModel().model, { ep: 'cuda', onFallback: (m) => messages.push(m) });
  const x = randomFloats(4, 11, 1);
  const out = await s.run({ x: float32([1, 4], x) });
  await s.release();
  const { w, bias } = smallModel();
  assertClose(out.y!.data as Float32Array, smallReference(x, w, bias), { atol: 1e-5, label: `output on ${s.ep}` });
  if (s.ep === 'cuda') {
    assert.equal(messages.length, 0, 'no fallback message when CUDA started');
  } else {
    assert.equal(s.ep, 'cpu');
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /execution provider 'cuda' (failed to start: .+|is not in this onnxruntime-node build.*); running on CPU instead/);
  }
});

test('shape inference: a size broadcast against a symbol gives the size', () => {
  // A size other than 1 wins over a symbol (the symbol must be 1 or equal to it); symbol vs
  // symbol or unknown keeps the first known one (optimistic, as ONNX's inference).
  assert.deepEqual(broadcastShapes([['batch', 3], [4, 3]]), [4, 3]);
  assert.deepEqual(broadcastShapes([[4, 3], ['batch', 3]]), [4, 3]);
  assert.deepEqual(broadcastShapes([['a', 3], ['b', 1]]), ['a', 3]);
  assert.deepEqual(broadcastShapes([[null, 3], ['seq', 1]]), ['seq', 3]);
  assert.deepEqual(broadcastShapes([['batch', 1, 8], [8, 8]]), ['batch', 8, 8]);
  assert.deepEqual(broadcastShapes([['a'], [null]]), ['a']);
  assert.throws(() => broadcastShapes([[2], [3]]), /do not broadcast/);
});
