// The tensors a Hugging Face checkpoint of each family holds, with the shapes its config
// implies (PyTorch nn.Linear stores weight as [out_features, in_features]). One table per
// family, read by checkShapes and by anyone who needs the canonical names.
import type { DecoderConfig } from './types.ts';

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** May be absent (lm_head when tied). */
  optional?: boolean;
}

export function expectedTensors(c: DecoderConfig): ExpectedTensor[] {
  return c.family === 'opt' ? optTensors(c) : llamaTensors(c);
}

function llamaTensors(c: DecoderConfig): ExpectedTensor[] {
  const H = c.hiddenSize, I = c.intermediateSize, V = c.vocabSize;
  const q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [V, H] }];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      { name: `${p}self_attn.q_proj.weight`, shape: [q, H] },
      { name: `${p}self_attn.k_proj.weight`, shape: [kv, H] },
      { name: `${p}self_attn.v_proj.weight`, shape: [kv, H] },
      { name: `${p}self_attn.o_proj.weight`, shape: [H, q] },
    );
    if (c.attentionBias) {
      out.push(
        { name: `${p}self_attn.q_proj.bias`, shape: [q] },
        { name: `${p}self_attn.k_proj.bias`, shape: [kv] },
        { name: `${p}self_attn.v_proj.bias`, shape: [kv] },
      );
    }
    if (c.outputBias) out.push({ name: `${p}self_attn.o_proj.bias`, shape: [H] });
    out.push(
      { name: `${p}mlp.gate_proj.weight`, shape: [I, H] },
      { name: `${p}mlp.up_proj.weight`, shape: [I, H] },
      { name: `${p}mlp.down_proj.weight`, shape: [H, I] },
    );
    if (c.mlpBias) {
      out.push(
        { name: `${p}mlp.gate_proj.bias`, shape: [I] },
        { name: `${p}mlp.up_proj.bias`, shape: [I] },
        { name: `${p}mlp.down_proj.bias`, shape: [H] },
      );
    }
    out.push({ name: `${p}input_layernorm.weight`, shape: [H] }, { name: `${p}post_attention_layernorm.weight`, shape: [H] });
  }
  out.push({ name: 'model.norm.weight', shape: [H] }, { name: 'lm_head.weight', shape: [V, H], optional: c.tieWordEmbeddings });
  return out;
}

function optTensors(c: DecoderConfig): ExpectedTensor[] {
  const H = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize, E = c.wordEmbedProjDim;
  const d = 'model.decoder.';
  // OPTLearnedPositionalEmbedding keeps 2 extra rows: positions are offset by 2 (fairseq legacy).
  const out: ExpectedTensor[] = [
    { name: `${d}embed_tokens.weight`, shape: [V, E] },
    { name: `${d}embed_positions.weight`, shape: [c.maxPositions + 2, H] },
  ];
  const linear = (name: string, o: number, i: number, bias: boolean) => {
    out.push({ name: `${name}.weight`, shape: [o, i] });
    if (bias) out.push({ name: `${name}.bias`, shape: [o] });
  };
  const norm = (name: string) => out.push({ name: `${name}.weight`, shape: [H] }, { name: `${name}.bias`, shape: [H] });
  if (E !== H) {
    linear(`${d}project_in`, H, E, false);
    linear(`${d}project_out`, E, H, false);
  }
  for (let l = 0; l < c.numLayers; l++) {
    const p = `${d}layers.${l}.`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj']) linear(`${p}self_attn.${proj}`, H, H, c.attentionBias);
    linear(`${p}self_attn.out_proj`, H, H, c.outputBias);
    norm(`${p}self_attn_layer_norm`);
    linear(`${p}fc1`, F, H, c.mlpBias);
    linear(`${p}fc2`, H, F, c.mlpBias);
    norm(`${p}final_layer_norm`);
  }
  if (c.doLayerNormBefore) norm(`${d}final_layer_norm`);
  out.push({ name: 'lm_head.weight', shape: [V, E], optional: c.tieWordEmbeddings });
  return out;
}

/** Parameter count implied by the config (tied lm_head counted once). */
export function configParameterCount(c: DecoderConfig): number {
  return expectedTensors(c)
    .filter((t) => !(t.optional && t.name === 'lm_head.weight'))
    .reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}
