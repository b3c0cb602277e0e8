// IR -> ONNX ModelProto bytes, with large initializers moved to an external-data file.
// Graphs over 2 GB are fine: the protobuf then holds only locations, and saveModel streams
// the tensor bytes to disk one tensor at a time (no buffer of the whole model is made).
// Initializers with an `external` location (written by an ExternalWeightSink while building)
// are referenced where they already lie.

import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ONNX_DTYPE, bytesOf } from './dtypes.ts';
import type { AttributeValue, Graph, Model, TensorData, ValueInfo } from './ir.ts';
import { ATTRIBUTE_TYPE, onnxType } from './proto.ts';

export interface ExternalDataOptions {
  /** File name of the data file, relative to the model file (e.g. 'model.onnx.data'). */
  fileName: string;
  /** Tensors at least this many bytes go to the data file (default 1024). */
  minBytes?: number;
  /** Offset alignment in bytes (default 64; use 4096 to let ORT memory-map each tensor). */
  align?: number;
}

export interface ExternalChunk { offset: number; data: Uint8Array }

export interface SerializedModel {
  /** The ModelProto bytes. */
  proto: Uint8Array;
  /** Tensor bytes bound for the external-data file, in file order. */
  external: ExternalChunk[];
  externalBytes: number;
  externalFileName?: string;
}

type Obj = Record<string, unknown>;

function tensorProto(t: TensorData, placement?: { fileName: string; offset: number }): Obj {
  const base: Obj = { name: t.name, dims: t.dims, dataType: ONNX_DTYPE[t.dtype] };
  if (t.external) return { ...base, dataLocation: 1, externalData: externalEntries(t.external.location, t.external.offset, t.external.length) };
  const raw = bytesOf(t.data);
  if (!placement) return { ...base, rawData: raw };
  return {
    ...base,
    dataLocation: 1,
    externalData: externalEntries(placement.fileName, placement.offset, raw.byteLength),
  };
}

/** TensorProto.external_data (onnx.proto: keys location, offset, length). */
function externalEntries(location: string, offset: number, length: number): Obj[] {
  return [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
    { key: 'length', value: String(length) },
  ];
}

function valueInfoProto(v: ValueInfo): Obj {
  const shape = v.shape === null ? undefined : {
    dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
  };
  return { name: v.name, type: { tensorType: { elemType: ONNX_DTYPE[v.dtype], ...(shape ? { shape } : {}) } } };
}

function attributeProto(name: string, a: AttributeValue): Obj {
  const type = ATTRIBUTE_TYPE[a.kind];
  switch (a.kind) {
    case 'float': return { name, type, f: a.value };
    case 'int': return { name, type, i: a.value };
    case 'string': return { name, type, s: Buffer.from(a.value, 'utf8') };
    case 'floats': return { name, type, floats: a.value };
    case 'ints': return { name, type, ints: a.value };
    case 'strings': return { name, type, strings: a.value.map((s) => Buffer.from(s, 'utf8')) };
    case 'tensor': return { name, type, t: tensorProto(a.value) };
    case 'graph': return { name, type, g: graphProto(a.value, () => undefined) };
  }
}

function graphProto(g: Graph, place: (t: TensorData) => { fileName: string; offset: number } | undefined): Obj {
  return {
    name: g.name,
    node: g.nodes.map((n) => ({
      name: n.name, opType: n.opType, domain: n.domain, input: n.inputs, output: n.outputs,
      attribute: Object.entries(n.attributes).map(([k, v]) => attributeProto(k, v)),
    })),
    initializer: g.initializers.map((t) => tensorProto(t, place(t))),
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
    valueInfo: g.valueInfo.map(valueInfoProto),
  };
}

export function serializeModel(model: Model, external?: ExternalDataOptions): SerializedModel {
  const chunks: ExternalChunk[] = [];
  let offset = 0;
  const minBytes = external?.minBytes ?? 1024;
  const align = external?.align ?? 64;
  const sinkFiles = new Set(model.graph.initializers.flatMap((t) => (t.external ? [t.external.location] : [])));
  if (external && sinkFiles.has(external.fileName)) {
    throw new Error(`external data file '${external.fileName}' already holds weights written while building; choose another file name`);
  }
  const place = (t: TensorData) => {
    // Weights written by an ExternalWeightSink keep their own location.
    if (!external || t.external || t.data.byteLength < minBytes) return undefined;
    offset = Math.ceil(offset / align) * align;
    const placed = { fileName: external.fileName, offset };
    chunks.push({ offset, data: bytesOf(t.data) });
    offset += t.data.byteLength;
    return placed;
  };
  const message = {
    irVersion: model.irVersion,
    producerName: model.producer,
    producerVersion: '0.1.0',
    opsetImport: Object.entries(model.opsets).map(([domain, version]) => ({ domain, version })),
    graph: graphProto(model.graph, place),
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
  };
  const type = onnxType('ModelProto');
  const err = type.verify(message);
  if (err) throw new Error(`ModelProto does not verify: ${err}`);
  const proto = type.encode(type.fromObject(message)).finish();
  return { proto, external: chunks, externalBytes: offset, ...(external ? { externalFileName: external.fileName } : {}) };
}

/** Whether any initializer's bytes live in a data file written while building (ExternalWeightSink). */
export function hasSinkWeights(model: Model): boolean {
  return model.graph.initializers.some((t) => t.external !== undefined);
}

/** Join the external chunks into one buffer (for ORT's in-memory `externalData` option, < 2 GB). */
export function externalBuffer(s: SerializedModel): Uint8Array {
  const out = new Uint8Array(s.externalBytes);
  for (const c of s.external) out.set(c.data, c.offset);
  return out;
}

/** Write `model.onnx` (+ its data file) into a folder, streaming tensor bytes one at a time. */
export function saveModel(model: Model, path: string, external?: ExternalDataOptions): SerializedModel {
  const s = serializeModel(model, external);
  mkdirSync(dirname(path), { recursive: true });
  writeAll(path, [{ offset: 0, data: s.proto }]);
  if (external) writeAll(join(dirname(path), external.fileName), s.external);
  return s;
}

function writeAll(path: string, chunks: ExternalChunk[]): void {
  const fd = openSync(path, 'w');
  try {
    for (const c of chunks) {
      let done = 0;
      while (done < c.data.byteLength) done += writeSync(fd, c.data, done, c.data.byteLength - done, c.offset + done);
    }
  } finally {
    closeSync(fd);
  }
}
