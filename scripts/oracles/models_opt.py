"""Reference forward pass for OPT (HF transformers modeling_opt semantics), written from the
architecture definition, float32. Covers pre-LN (opt-125m style) and post-LN with
project_in/project_out (opt-350m style).
"""
import torch

from models_llama import additive_mask, build_allowed, linear, lora_linear

POS_OFFSET = 2  # OPTLearnedPositionalEmbedding offset


def layer_norm(x, w, b, eps=1e-5):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def positions_from_mask(attention_mask, past_len):
    """HF OPT: pos = cumsum(mask) * mask - 1 over the full past+T mask, keep the last T, then +2.
    Masked positions therefore get -1 (+2 = row 1 of embed_positions)."""
    m = attention_mask.to(torch.int64)
    pos = torch.cumsum(m, dim=1) * m - 1
    return pos[:, past_len:]


def attention(params, cfg, li, x, allowed, past=None, lora=None):
    B, T, Hs = x.shape
    H = cfg["num_attention_heads"]
    d = Hs // H
    p = f"model.decoder.layers.{li}.self_attn."
    lora = lora or {}
    scaling = d ** -0.5
    # q is scaled after q_proj (bias and any LoRA delta included), keys are not.
    q = lora_linear(x, params[p + "q_proj.weight"], params.get(p + "q_proj.bias"), lora.get(f"{li}.q_proj")) * scaling
    k = lora_linear(x, params[p + "k_proj.weight"], params.get(p + "k_proj.bias"), lora.get(f"{li}.k_proj"))
    v = lora_linear(x, params[p + "v_proj.weight"], params.get(p + "v_proj.bias"), lora.get(f"{li}.v_proj"))
    q = q.view(B, T, H, d).transpose(1, 2)
    k = k.view(B, T, H, d).transpose(1, 2)
    v = v.view(B, T, H, d).transpose(1, 2)
    if past is not None:
        k = torch.cat([past[0], k], dim=2)
        v = torch.cat([past[1], v], dim=2)
    scores = q @ k.transpose(-1, -2) + additive_mask(allowed)[:, None]
    probs = torch.softmax(scores.to(torch.float32), dim=-1)
    o = (probs @ v).transpose(1, 2).reshape(B, T, Hs)
    o = lora_linear(o, params[p + "out_proj.weight"], params.get(p + "out_proj.bias"), lora.get(f"{li}.out_proj"))
    return o, probs, (k, v)


def forward(params, cfg, input_ids=None, inputs_embeds=None, attention_mask=None, past=None, lora=None):
    """inputs_embeds are in word_embed_proj_dim space (before project_in), like HF.
    Returns logits, layer_outputs (L+1: embeddings incl. positions, then each layer's output),
    final_hidden (input of lm_head: after final LN if any and after project_out if any),
    attentions, presents (k, v per layer, [B,H,past+T,d])."""
    pre = cfg["do_layer_norm_before"]
    if inputs_embeds is None:
        inputs_embeds = params["model.decoder.embed_tokens.weight"][input_ids]
    B, T, _ = inputs_embeds.shape
    past_len = 0 if past is None else past[0][0].shape[2]
    if attention_mask is None:
        attention_mask = torch.ones(B, past_len + T, dtype=torch.int64)
    pos = positions_from_mask(attention_mask, past_len)
    pos_embeds = params["model.decoder.embed_positions.weight"][pos + POS_OFFSET]
    if "model.decoder.project_in.weight" in params:
        inputs_embeds = linear(inputs_embeds, params["model.decoder.project_in.weight"])
    h = inputs_embeds + pos_embeds
    allowed = build_allowed(attention_mask, past_len, T)
    layer_outputs, attentions, presents = [h], [], []
    for li in range(cfg["num_hidden_layers"]):
        p = f"model.decoder.layers.{li}."
        residual = h
        x = layer_norm(h, params[p + "self_attn_layer_norm.weight"], params[p + "self_attn_layer_norm.bias"]) if pre else h
        a, probs, present = attention(params, cfg, li, x, allowed, None if past is None else past[li], lora)
        h = residual + a
        if not pre:
            h = layer_norm(h, params[p + "self_attn_layer_norm.weight"], params[p + "self_attn_layer_norm.bias"])
        residual = h
        x = layer_norm(h, params[p + "final_layer_norm.weight"], params[p + "final_layer_norm.bias"]) if pre else h
        x = torch.relu(linear(x, params[p + "fc1.weight"], params[p + "fc1.bias"]))
        x = linear(x, params[p + "fc2.weight"], params[p + "fc2.bias"])
        h = residual + x
        if not pre:
            h = layer_norm(h, params[p + "final_layer_norm.weight"], params[p + "final_layer_norm.bias"])
        layer_outputs.append(h)
        attentions.append(probs)
        presents.append(present)
    final = h
    if "model.decoder.final_layer_norm.weight" in params:
        final = layer_norm(final, params["model.decoder.final_layer_norm.weight"], params["model.decoder.final_layer_norm.bias"])
    if "model.decoder.project_out.weight" in params:
        final = linear(final, params["model.decoder.project_out.weight"])
    lm = params.get("lm_head.weight", params["model.decoder.embed_tokens.weight"])
    logits = final @ lm.t()
    return {"logits": logits, "layer_outputs": layer_outputs, "final_hidden": final,
            "attentions": attentions, "presents": presents}


def make_params(cfg, gen):
    V, Hs, F = cfg["vocab_size"], cfg["hidden_size"], cfg["ffn_dim"]
    E = cfg["word_embed_proj_dim"]
    P = cfg["max_position_embeddings"] + POS_OFFSET

    def rnd(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    p = {
        "model.decoder.embed_tokens.weight": rnd(V, E, std=0.1),
        "model.decoder.embed_positions.weight": rnd(P, Hs, std=0.1),
    }
    if E != Hs:
        p["model.decoder.project_in.weight"] = rnd(Hs, E, std=0.15)
        p["model.decoder.project_out.weight"] = rnd(E, Hs, std=0.15)
    for li in range(cfg["num_hidden_layers"]):
        a = f"model.decoder.layers.{li}.self_attn."
        for m, std in (("q_proj", 0.1), ("k_proj", 0.1), ("v_proj", 0.08), ("out_proj", 0.06)):
            p[a + m + ".weight"] = rnd(Hs, Hs, std=std)
            p[a + m + ".bias"] = rnd(Hs, std=0.02)
        l = f"model.decoder.layers.{li}."
        p[l + "self_attn_layer_norm.weight"] = 1.0 + rnd(Hs, std=0.1)
        p[l + "self_attn_layer_norm.bias"] = rnd(Hs, std=0.05)
        p[l + "fc1.weight"] = rnd(F, Hs, std=0.08)
        p[l + "fc1.bias"] = rnd(F, std=0.02)
        p[l + "fc2.weight"] = rnd(Hs, F, std=0.06)
        p[l + "fc2.bias"] = rnd(Hs, std=0.02)
        p[l + "final_layer_norm.weight"] = 1.0 + rnd(Hs, std=0.1)
        p[l + "final_layer_norm.bias"] = rnd(Hs, std=0.05)
    if cfg["do_layer_norm_before"] and not cfg.get("_remove_final_layer_norm", False):
        p["model.decoder.final_layer_norm.weight"] = 1.0 + rnd(Hs, std=0.1)
        p["model.decoder.final_layer_norm.bias"] = rnd(Hs, std=0.05)
    if not cfg.get("tie_word_embeddings", True):
        p["lm_head.weight"] = rnd(V, E, std=0.1)
    return {k: v.to(torch.float32).contiguous() for k, v in p.items()}


def lora_module_names(cfg):
    return [(li, m, f"base_model.model.model.decoder.layers.{li}.self_attn.{m}")
            for li in range(cfg["num_hidden_layers"]) for m in ("q_proj", "v_proj")]


def proj_shape(params, li, m):
    return params[f"model.decoder.layers.{li}.self_attn.{m}.weight"].shape
