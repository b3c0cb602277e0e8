// The graph IR: plain data that the builder produces, the validator checks, the autodiff
// pass extends and the serializer turns into an ONNX ModelProto.

import type { AnyTypedArray, DType } from './dtypes.ts';

/** A dimension: a size, a symbolic name (e.g. 'batch'), or null when unknown. */
export type Dim = number | string | null;
export type Shape = Dim[];

export interface ValueInfo {
  name: string;
  dtype: DType;
  /** null when the rank itself is unknown. */
  shape: Shape | null;
}

/** Where an initializer's bytes lie in an external-data file (ONNX external_data entries). */
export interface ExternalLocation {
  /** File name relative to the model file. */
  location: string;
  offset: number;
  length: number;
}

/**
 * A constant tensor. `data` holds the elements (4-bit types: packed bytes), or is empty
 * when `external` is set: the bytes were already written to an external-data file
 * (large models, see external-weights.ts) and the IR keeps only their location.
 */
export interface TensorData {
  name: string;
  dtype: DType;
  dims: number[];
  data: AnyTypedArray;
  external?: ExternalLocation;
}

export type AttributeValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; value: TensorData }
  | { kind: 'graph'; value: Graph };

export interface Node {
  name: string;
  opType: string;
  /** '' is the default ai.onnx domain. */
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

export interface Graph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  initializers: TensorData[];
  /** Known dtype/shape of intermediate values (filled by the builder's inference). */
  valueInfo: ValueInfo[];
}

export interface Model {
  graph: Graph;
  /** domain -> opset version; '' is ai.onnx. */
  opsets: Record<string, number>;
  irVersion: number;
  producer: string;
  metadata: Record<string, string>;
}

export const DEFAULT_OPSETS: Readonly<Record<string, number>> = { '': 21, 'com.microsoft': 1 };
/** IR version 10 is the first with INT4/UINT4 (ONNX 1.16). */
export const DEFAULT_IR_VERSION = 10;

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function formatShape(shape: Shape | null): string {
  if (shape === null) return '?';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}
