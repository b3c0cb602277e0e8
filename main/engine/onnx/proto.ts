// Loads the ONNX message definitions (onnx.proto beside this file) with protobufjs.
// All wire encoding goes through these generated types; none is written by hand.

import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

let root: protobuf.Root | undefined;

function load(): protobuf.Root {
  root ??= protobuf.loadSync(fileURLToPath(new URL('./onnx.proto', import.meta.url)));
  return root;
}

export function onnxType(name: 'ModelProto' | 'TensorProto' | 'GraphProto'): protobuf.Type {
  return load().lookupType(`onnx.${name}`);
}

export const ATTRIBUTE_TYPE = {
  float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8,
} as const;
