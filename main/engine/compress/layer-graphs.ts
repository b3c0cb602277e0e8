// Per-layer graphs for the layer-sequential compression driver (METHODS 1.1): cut decoder
// layer i out of the model graph, with its input hidden state as a graph input, and add for
// every linear module the Gram matrix X^T X of the rows that module actually sees (computed
// by ORT's MatMul, accumulated by the driver into the Hessian).

import { GraphBuilder } from '../onnx/builder.ts';
import type { Model } from '../onnx/ir.ts';
import { extractSubgraph } from '../onnx/subgraph.ts';
import type { DecoderConfig } from '../models/types.ts';

export interface LinearModule {
  /** HF module path, e.g. model.layers.3.self_attn.q_proj */
  path: string;
  /** PEFT-style short name: q_proj, o_proj, gate_proj, fc1... */
  name: string;
  /** The graph initializer holding W^T ([in, out]). */
  weightT: string;
  /** The value the module's MatMul reads (its input rows). */
  input: string;
  /** Output features (rows of the HF weight) and input features (columns). */
  rows: number;
  cols: number;
}

export interface ModuleRef { name: string; path: string; scope: string }

/** The linear modules of a layer, in trueSequential groups (METHODS 1.1). */
export function layerGroups(config: DecoderConfig, layer: number): ModuleRef[][] {
  if (config.family === 'opt') {
    const p = `model.decoder.layers.${layer}`;
    return [
      ['q_proj', 'k_proj', 'v_proj'].map((n) => ({ name: n, path: `${p}.self_attn.${n}`, scope: `attn/${n}` })),
      [{ name: 'out_proj', path: `${p}.self_attn.out_proj`, scope: 'attn/out_proj' }],
      [{ name: 'fc1', path: `${p}.fc1`, scope: 'mlp/fc1' }],
      [{ name: 'fc2', path: `${p}.fc2`, scope: 'mlp/fc2' }],
    ];
  }
  const p = `model.layers.${layer}`;
  return [
    ['q_proj', 'k_proj', 'v_proj'].map((n) => ({ name: n, path: `${p}.self_attn.${n}`, scope: `attn/${n}` })),
    [{ name: 'o_proj', path: `${p}.self_attn.o_proj`, scope: 'attn/o_proj' }],
    ['gate_proj', 'up_proj'].map((n) => ({ name: n, path: `${p}.mlp.${n}`, scope: `mlp/${n}` })),
    [{ name: 'down_proj', path: `${p}.mlp.down_proj`, scope: 'mlp/down_proj' }],
  ];
}

export interface LayerGraph {
  model: Model;
  modules: LinearModule[];
  /** Graph input: the hidden state entering the layer. */
  input: string;
  /** Graph output: the hidden state leaving the layer. */
  output: string;
  /** Graph output name of the Gram matrix of each module input value. */
  gramOf: Map<string, string>;
}

function findNode(full: Model, name: string) {
  const n = full.graph.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`compress: the model graph has no node '${name}'`);
  return n;
}

/**
 * Layer i of `full` (a graph built with exposeHiddenStates) as its own graph:
 * inputs hidden_in (+ position_ids, attention_mask), outputs hidden_out and the Gram
 * matrix of every distinct module input.
 */
export function buildLayerGraph(full: Model, config: DecoderConfig, layer: number): LayerGraph {
  const scope = `/model/layers.${layer}`;
  const input = findNode(full, `${scope}/attn_residual/Add`).inputs[0]!;
  const output = findNode(full, `/output/hidden_states.${layer}`).inputs[0]!;
  const modules: LinearModule[] = layerGroups(config, layer).flat().map((m) => {
    const mm = findNode(full, `${scope}/${m.scope}/MatMul`);
    const w = full.graph.initializers.find((t) => t.name === mm.inputs[1]);
    if (!w) throw new Error(`compress: ${m.path} has no weight initializer '${mm.inputs[1]}'`);
    const [cols, rows] = w.dims as [number, number];
    return { path: m.path, name: m.name, weightT: w.name, input: mm.inputs[0]!, rows, cols };
  });
  const inputs = [...new Set(modules.map((m) => m.input))];
  const cut = extractSubgraph(full, { inputs: [input], outputs: [output, ...inputs], name: `layer-${layer}` });
  const b = GraphBuilder.fromModel(cut);
  for (const v of inputs) b.dropOutput(v);
  const gramOf = new Map<string, string>();
  b.scope(`gram/layers.${layer}`, () => {
    inputs.forEach((v, k) => {
      const cols = modules.find((m) => m.input === v)!.cols;
      const x2 = b.op1('Reshape', [v, b.int64s([-1, cols])]);
      const gram = b.op1('MatMul', [b.op1('Transpose', [x2], { perm: [1, 0] }), x2]);
      gramOf.set(v, b.output(gram, `gram.${k}`));
    });
  });
  return { model: b.build(full.metadata), modules, input, output, gramOf };
}
