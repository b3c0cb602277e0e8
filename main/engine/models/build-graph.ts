// One entry point for both families.
import type { Model } from '../onnx/ir.ts';
import type { DecoderConfig, WeightSource } from './types.ts';
import type { GraphOptions } from './graph-options.ts';
import { buildLlamaGraph } from './llama.ts';
import { buildOptGraph } from './opt.ts';

export function buildModelGraph(config: DecoderConfig, weights: WeightSource, options: GraphOptions = {}): Model {
  return config.family === 'opt' ? buildOptGraph(config, weights, options) : buildLlamaGraph(config, weights, options);
}
