// Does an adapter fit a base? Checked before any graph is built, so an adapter made for
// another model fails with one error naming the field (hidden size, layer count, heads, rank,
// prompt length) instead of a shape error deep inside ONNX Runtime.
import { RecallError } from '../errors.ts';
import type { DecoderConfig } from '../models/types.ts';
import { type Adapter, moduleDims } from './adapter.ts';

function mismatch(dir: string, field: string, adapterValue: unknown, baseField: string, baseValue: unknown): RecallError {
  return new RecallError('E_SHAPE_MISMATCH', `${dir}: adapter ${field} is ${adapterValue} but the base model's ${baseField} is ${baseValue} (an adapter for a different base?)`, { file: dir, field, adapter: adapterValue, base: baseValue });
}

/** Throws E_SHAPE_MISMATCH / E_INVALID_ARGUMENT naming the first field that does not fit. */
export function checkAdapterFits(a: Adapter, config: DecoderConfig, dir: string): void {
  const b = a.base;
  if (b.hiddenSize !== undefined && b.hiddenSize !== config.hiddenSize) throw mismatch(dir, 'hidden_size', b.hiddenSize, 'hidden_size', config.hiddenSize);
  if (b.numLayers !== undefined && b.numLayers !== config.numLayers) throw mismatch(dir, 'num_layers', b.numLayers, 'num_hidden_layers', config.numLayers);
  const n = 'numVirtualTokens' in a ? a.numVirtualTokens : 0;
  if (n >= config.maxPositions) {
    throw new RecallError('E_INVALID_ARGUMENT', `${dir}: adapter num_virtual_tokens ${n} is longer than the base model's context (max_position_embeddings ${config.maxPositions})`, { file: dir, field: 'num_virtual_tokens', value: n });
  }
  switch (a.method) {
    case 'lora': {
      if (!(a.rank >= 1)) throw new RecallError('E_INVALID_ARGUMENT', `${dir}: adapter r must be >= 1 (got ${a.rank})`, { file: dir, field: 'r' });
      for (const [module, w] of a.weights) {
        const m = /layers\.(\d+)\..*?([a-z0-9_]+)$/.exec(module);
        if (!m) throw new RecallError('E_INVALID_ARGUMENT', `${dir}: LoRA module '${module}' is not a decoder-layer module`, { file: dir, tensor: module });
        if (Number(m[1]) >= config.numLayers) throw mismatch(dir, `layer of ${module}`, Number(m[1]), 'num_hidden_layers', config.numLayers);
        const [inp, out] = moduleDims(config, m[2]!);
        if (w.A.length !== a.rank * inp) throw mismatch(dir, `${module}.lora_A.weight input width`, w.A.length / a.rank, `${m[2]} input width (hidden_size ${config.hiddenSize})`, inp);
        if (w.B.length !== a.rank * out) throw mismatch(dir, `${module}.lora_B.weight output width`, w.B.length / a.rank, `${m[2]} output width`, out);
      }
      return;
    }
    case 'prompt':
    case 'idp': {
      const rows = a.method === 'prompt' ? a.embeddings : a.pool;
      const width = rows.length / (n * (a.method === 'idp' ? a.numPrompts : 1));
      if (width !== config.wordEmbedProjDim) throw mismatch(dir, 'token_dim', width, config.family === 'opt' ? 'word_embed_proj_dim' : 'hidden_size', config.wordEmbedProjDim);
      if (a.method === 'idp' && a.selLayer >= config.numLayers) throw mismatch(dir, 'sel_layer', a.selLayer, 'num_hidden_layers', config.numLayers);
      return;
    }
    case 'prefix': {
      if (b.numKvHeads !== undefined && b.numKvHeads !== config.numKvHeads) throw mismatch(dir, 'num_attention_heads', b.numKvHeads, 'num_key_value_heads', config.numKvHeads);
      const width = a.kv.length / n, want = config.numLayers * 2 * config.numKvHeads * config.headDim;
      if (width !== want) throw mismatch(dir, 'token_dim x 2 x num_layers', width, 'num_hidden_layers x 2 x kv_heads x head_dim', want);
    }
  }
}
