// GraphBuilder: emits nodes with hierarchical names (/model/layers.0/attn/q_proj/MatMul),
// de-duplicated constants, and dtype/shape inference on every value. Creating a node whose
// name already exists with the same definition returns the existing outputs, so builder
// helpers are safe to call twice (the onnxruntime-genai builder's rule).

import { createHash } from 'node:crypto';
import { type AnyTypedArray, type DType, allocate, byteLength, bytesOf } from './dtypes.ts';
import { inferOutputs } from './infer.ts';
import {
  type AttributeValue, type ExternalLocation, type Graph, type Model, type Node, type Shape, type TensorData, type ValueInfo,
  DEFAULT_IR_VERSION, DEFAULT_OPSETS, numel,
} from './ir.ts';

export type AttrInput = AttributeValue | number | string | number[] | string[];

/** Attributes ONNX defines as floats; plain numbers given for these become float attributes. */
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'gamma', 'ratio', 'min', 'max', 'bias', 'lambd', 'scale']);

function toAttribute(key: string, v: AttrInput): AttributeValue {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v;
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'number') return FLOAT_ATTRS.has(key) || !Number.isInteger(v) ? { kind: 'float', value: v } : { kind: 'int', value: v };
  if (v.length > 0 && typeof v[0] === 'string') return { kind: 'strings', value: v as string[] };
  return (v as number[]).every(Number.isInteger) && !FLOAT_ATTRS.has(key)
    ? { kind: 'ints', value: v as number[] }
    : { kind: 'floats', value: v as number[] };
}

export interface OpOptions {
  /** Node name relative to the current scope; defaults to the op type. */
  name?: string;
  domain?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Explicit output value names (default `${nodeName}/output_${i}`). */
  outputNames?: string[];
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly nodeByName = new Map<string, Node>();
  private readonly values = new Map<string, ValueInfo>();
  private readonly constants = new Map<string, AnyTypedArray>();
  private readonly constByHash = new Map<string, string>();
  private readonly initializers: TensorData[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly scopes: string[] = [];
  /** Shape(v) outputs -> v's inferred shape, so ops fed by a run-time shape still infer one. */
  private readonly shapeSources = new Map<string, Shape | null>();
  private readonly autoNames = new Map<string, number>();
  readonly opsets: Record<string, number> = { ...DEFAULT_OPSETS };

  constructor(readonly name = 'recall') {}

  /**
   * A builder holding an existing model's graph, to append to it (the autodiff pass extends
   * a forward graph this way). Values keep their recorded dtype/shape; initializers stay
   * constants for inference of later ops.
   */
  static fromModel(model: Model): GraphBuilder {
    const b = new GraphBuilder(model.graph.name);
    Object.assign(b.opsets, model.opsets);
    for (const i of model.graph.inputs) b.input(i.name, i.dtype, i.shape ?? []);
    for (const t of model.graph.initializers) {
      if (t.external) {
        b.externalInitializer(t.name, t.dtype, t.dims, t.external);
        continue;
      }
      b.initializer(t.name, t.dtype, t.dims, t.data);
      if (t.name.startsWith('/const/')) b.constByHash.set(constantHash(t.dtype, t.dims, t.data), t.name);
    }
    for (const v of [...model.graph.valueInfo, ...model.graph.outputs]) b.values.set(v.name, v);
    for (const n of model.graph.nodes) {
      b.nodes.push(n);
      b.nodeByName.set(n.name, n);
      for (const o of n.outputs) if (o !== '' && !b.values.has(o)) b.values.set(o, { name: o, dtype: 'float32', shape: null });
    }
    for (const o of model.graph.outputs) b.outputs.push(o);
    return b;
  }

  /** Remove a graph output declaration (the value stays). */
  dropOutput(name: string): void {
    const i = this.outputs.findIndex((o) => o.name === name);
    if (i >= 0) this.outputs.splice(i, 1);
  }

  /** Turn an initializer into a graph input of the same dtype and shape (for trainable parameters). */
  promoteToInput(name: string): void {
    const i = this.initializers.findIndex((t) => t.name === name);
    if (i < 0) throw new Error(`'${name}' is not an initializer`);
    const [t] = this.initializers.splice(i, 1);
    this.constants.delete(name);
    this.inputs.push({ name, dtype: t!.dtype, shape: t!.dims });
  }

  /** Initializer data by name (undefined for non-initializers). */
  initializerData(name: string): TensorData | undefined {
    return this.initializers.find((t) => t.name === name);
  }

  /** Run `fn` with `name` appended to the node-name scope. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try { return fn(); } finally { this.scopes.pop(); }
  }

  get scopePath(): string { return `/${this.scopes.join('/')}`; }

  input(name: string, dtype: DType, shape: Shape): string {
    if (this.values.has(name)) throw new Error(`graph input '${name}' is already defined`);
    const info = { name, dtype, shape };
    this.inputs.push(info);
    this.values.set(name, info);
    return name;
  }

  /** Mark a value as a graph output, renaming it through Identity when `as` differs. */
  output(value: string, as = value): string {
    let name = value;
    if (as !== value) name = this.op('Identity', [value], {}, { name: `/output/${as}`, outputNames: [as] })[0]!;
    const info = this.info(name);
    if (this.outputs.some((o) => o.name === name)) throw new Error(`graph output '${name}' is declared twice`);
    this.outputs.push({ ...info, name });
    return name;
  }

  /** A named weight (not de-duplicated: weights are distinct parameters even when equal). */
  initializer(name: string, dtype: DType, dims: number[], data: AnyTypedArray): string {
    if (this.values.has(name)) throw new Error(`initializer '${name}' is already defined`);
    const expected = dtype === 'int4' || dtype === 'uint4' ? Math.ceil(numel(dims) / 2) : numel(dims);
    if (data.length !== expected) throw new Error(`initializer '${name}': ${data.length} elements for dims [${dims}] (expected ${expected})`);
    this.initializers.push({ name, dtype, dims, data });
    this.values.set(name, { name, dtype, shape: dims });
    this.constants.set(name, data);
    return name;
  }

  /**
   * A named weight whose bytes already lie in an external-data file (external-weights.ts).
   * The builder keeps only its location: no data, and no constant value for inference.
   */
  externalInitializer(name: string, dtype: DType, dims: number[], at: ExternalLocation): string {
    if (this.values.has(name)) throw new Error(`initializer '${name}' is already defined`);
    const want = byteLength(dtype, numel(dims));
    if (at.length !== want) throw new Error(`initializer '${name}': ${at.length} external bytes for ${dtype}[${dims}] (expected ${want})`);
    this.initializers.push({ name, dtype, dims, data: allocate(dtype, 0), external: { ...at } });
    this.values.set(name, { name, dtype, shape: dims });
    return name;
  }

  /** A constant, stored once however many times it is asked for. */
  constant(dtype: DType, dims: number[], data: AnyTypedArray): string {
    const hash = constantHash(dtype, dims, data);
    const found = this.constByHash.get(hash);
    if (found) return found;
    const name = `/const/${dtype}_${dims.join('x') || 'scalar'}_${hash.slice(0, 8)}`;
    this.initializer(name, dtype, dims, data);
    this.constByHash.set(hash, name);
    return name;
  }

  scalar(value: number, dtype: DType = 'float32'): string {
    return this.constant(dtype, [], typedOf(dtype, [value]));
  }

  /** A 1-D int64 constant, the form of shapes, axes and slice bounds. */
  int64s(values: number[]): string {
    return this.constant('int64', [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): string[] {
    const domain = opts.domain ?? defaultDomain(opType);
    const name = this.nodeName(opts.name ?? opType, opts.name !== undefined);
    const attributes: Record<string, AttributeValue> = {};
    for (const [k, v] of Object.entries(attrs)) attributes[k] = toAttribute(k, v);
    const nOut = opts.outputNames?.length ?? opts.outputs ?? 1;
    const outputs = opts.outputNames ?? Array.from({ length: nOut }, (_, i) => `${name}/output_${i}`);
    const node: Node = { name, opType, domain, inputs, outputs, attributes };
    const existing = this.nodeByName.get(name);
    if (existing) {
      if (JSON.stringify(existing) === JSON.stringify(node)) return existing.outputs;
      throw new Error(`node '${name}' already exists with a different definition`);
    }
    for (const i of inputs) if (i !== '' && !this.values.has(i)) throw new Error(`node '${name}' (${opType}): input '${i}' is not defined`);
    const ins = inputs.map((i) => ({ info: this.values.get(i), value: this.constants.get(i), shapeOf: this.shapeSources.get(i) }));
    const inferred = inferOutputs(opType, ins, attributes, outputs.length);
    outputs.forEach((o, i) => {
      if (o === '') return;
      if (this.values.has(o)) throw new Error(`node '${name}': output '${o}' is already defined`);
      this.values.set(o, { name: o, ...inferred[i]! });
    });
    this.nodes.push(node);
    this.nodeByName.set(name, node);
    if (opType === 'Shape' && !attributes.start && !attributes.end) this.shapeSources.set(outputs[0]!, this.values.get(inputs[0]!)?.shape ?? null);
    return outputs;
  }

  /** Single-output shorthand of op(). */
  op1(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): string {
    return this.op(opType, inputs, attrs, opts)[0]!;
  }

  info(name: string): ValueInfo {
    const v = this.values.get(name);
    if (!v) throw new Error(`value '${name}' is not defined`);
    return v;
  }

  has(name: string): boolean { return this.values.has(name); }

  /** Record a shape the caller knows better than inference (e.g. a run-time reduction back to a known shape). */
  refineShape(name: string, shape: Shape): void {
    const v = this.info(name);
    this.values.set(name, { ...v, shape });
  }

  build(metadata: Record<string, string> = {}): Model {
    const io = new Set([...this.inputs, ...this.outputs].map((v) => v.name));
    const inits = new Set(this.initializers.map((t) => t.name));
    const valueInfo = [...this.values.values()].filter((v) => !io.has(v.name) && !inits.has(v.name));
    const graph: Graph = {
      name: this.name, inputs: [...this.inputs], outputs: [...this.outputs], nodes: [...this.nodes],
      initializers: [...this.initializers], valueInfo,
    };
    return { graph, opsets: { ...this.opsets }, irVersion: DEFAULT_IR_VERSION, producer: 'recall', metadata };
  }

  private nodeName(base: string, explicit: boolean): string {
    const full = base.startsWith('/') ? base : `${this.scopes.length ? this.scopePath + '/' : '/'}${base}`;
    if (explicit) return full;
    const n = this.autoNames.get(full) ?? 0;
    this.autoNames.set(full, n + 1);
    return n === 0 ? full : `${full}_${n}`;
  }
}

/**
 * Domain of ORT's contrib ops. SimplifiedLayerNormalization is an ORT contrib op but ORT
 * registers it (schema and CPU kernel) in the ai.onnx domain, not com.microsoft:
 * 'com.microsoft:SimplifiedLayerNormalization is not a registered function/op' otherwise.
 */
const MICROSOFT_OPS = new Set(['MatMulNBits', 'SkipSimplifiedLayerNormalization', 'RotaryEmbedding', 'GroupQueryAttention', 'MultiHeadAttention']);

function defaultDomain(opType: string): string {
  return MICROSOFT_OPS.has(opType) ? 'com.microsoft' : '';
}

function constantHash(dtype: DType, dims: number[], data: AnyTypedArray): string {
  return createHash('sha1').update(`${dtype}|${dims.join(',')}|`).update(bytesOf(data)).digest('hex').slice(0, 16);
}

export function typedOf(dtype: DType, values: number[]): AnyTypedArray {
  switch (dtype) {
    case 'float32': return Float32Array.from(values);
    case 'float64': return Float64Array.from(values);
    case 'int64': return BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v))));
    case 'int32': return Int32Array.from(values);
    case 'int8': return Int8Array.from(values);
    case 'uint8': case 'bool': return Uint8Array.from(values);
    default: throw new Error(`typedOf: cannot build a ${dtype} constant from numbers`);
  }
}
