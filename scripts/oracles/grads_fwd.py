"""Dtype-generic forward passes for the gradient oracle (scripts/oracles/grads.py).

The model oracle's forwards (models_llama.py / models_opt.py) cast to float32 inside RMSNorm and
before the attention softmax, so they cannot run in float64. These functions implement the same
conventions (test/fixtures/models/README.md) in the dtype of the parameters, so the gradient oracle
can run float64 autograd and float64 central finite differences. grads.py checks that, in float32,
they reproduce both the committed expected.json logits and the models_*.py forward.

Only logits are returned (that is all the loss needs).
"""
import torch

import models_llama as llama
from models_opt import POS_OFFSET, positions_from_mask

MASK_MIN = torch.finfo(torch.float32).min  # additive mask value, as in the fixtures (also in float64)


def _additive(allowed, dtype):
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, MASK_MIN)


def _lin(x, w, b=None, lora=None):
    y = x @ w.t()
    if b is not None:
        y = y + b
    if lora is not None:
        a, bb, scale = lora
        y = y + scale * ((x @ a.t()) @ bb.t())
    return y


def _rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def llama_logits(params, cfg, input_ids=None, inputs_embeds=None, attention_mask=None, past=None, lora=None):
    emb = params["model.embed_tokens.weight"]
    dt = emb.dtype
    if inputs_embeds is None:
        inputs_embeds = emb[input_ids]
    B, T, _ = inputs_embeds.shape
    past_len = 0 if past is None else past[0][0].shape[2]
    if attention_mask is None:
        attention_mask = torch.ones(B, past_len + T, dtype=torch.int64)
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    d = llama.head_dim(cfg)
    eps = cfg["rms_norm_eps"]
    lora = lora or {}
    # inv_freq exactly as the model oracle computes it (float32), then the angles in dt
    inv = llama.rope_inv_freq(cfg).to(dt)
    pos = torch.arange(past_len, past_len + T)[None].expand(B, T).to(dt)
    fr = pos[:, :, None] * inv[None, None, :]
    ang = torch.cat([fr, fr], dim=-1)
    cos, sin = ang.cos()[:, None], ang.sin()[:, None]
    madd = _additive(llama.build_allowed(attention_mask, past_len, T), dt)[:, None]
    n_rep = H // KV

    def rope(x):
        h = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., h:], x[..., :h]], dim=-1) * sin

    h = inputs_embeds
    for li in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{li}."
        x = _rms(h, params[p + "input_layernorm.weight"], eps)
        a = p + "self_attn."
        q = _lin(x, params[a + "q_proj.weight"], params.get(a + "q_proj.bias"), lora.get(f"{li}.q_proj"))
        k = _lin(x, params[a + "k_proj.weight"], params.get(a + "k_proj.bias"), lora.get(f"{li}.k_proj"))
        v = _lin(x, params[a + "v_proj.weight"], params.get(a + "v_proj.bias"), lora.get(f"{li}.v_proj"))
        q = rope(q.view(B, T, H, d).transpose(1, 2))
        k = rope(k.view(B, T, KV, d).transpose(1, 2))
        v = v.view(B, T, KV, d).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[li][0], k], dim=2)
            v = torch.cat([past[li][1], v], dim=2)
        S = k.shape[2]
        k = k[:, :, None].expand(B, KV, n_rep, S, d).reshape(B, H, S, d)
        v = v[:, :, None].expand(B, KV, n_rep, S, d).reshape(B, H, S, d)
        probs = torch.softmax((q @ k.transpose(-1, -2)) * (d ** -0.5) + madd, dim=-1)
        o = (probs @ v).transpose(1, 2).reshape(B, T, H * d)
        h = h + _lin(o, params[a + "o_proj.weight"], params.get(a + "o_proj.bias"), lora.get(f"{li}.o_proj"))
        x = _rms(h, params[p + "post_attention_layernorm.weight"], eps)
        m = p + "mlp."
        g = _lin(x, params[m + "gate_proj.weight"])
        u = _lin(x, params[m + "up_proj.weight"])
        h = h + _lin(torch.nn.functional.silu(g) * u, params[m + "down_proj.weight"])
    final = _rms(h, params["model.norm.weight"], eps)
    return final @ params.get("lm_head.weight", emb).t()


def _ln(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, 1e-5)


def opt_logits(params, cfg, input_ids=None, inputs_embeds=None, attention_mask=None, past=None, lora=None):
    emb = params["model.decoder.embed_tokens.weight"]
    dt = emb.dtype
    pre = cfg["do_layer_norm_before"]
    if inputs_embeds is None:
        inputs_embeds = emb[input_ids]
    B, T, _ = inputs_embeds.shape
    past_len = 0 if past is None else past[0][0].shape[2]
    if attention_mask is None:
        attention_mask = torch.ones(B, past_len + T, dtype=torch.int64)
    H = cfg["num_attention_heads"]
    Hs = cfg["hidden_size"]
    d = Hs // H
    lora = lora or {}
    pos = positions_from_mask(attention_mask, past_len)
    x0 = inputs_embeds
    if "model.decoder.project_in.weight" in params:
        x0 = _lin(x0, params["model.decoder.project_in.weight"])
    h = x0 + params["model.decoder.embed_positions.weight"][pos + POS_OFFSET]
    madd = _additive(llama.build_allowed(attention_mask, past_len, T), dt)[:, None]
    for li in range(cfg["num_hidden_layers"]):
        p = f"model.decoder.layers.{li}."
        a = p + "self_attn."
        x = _ln(h, params[p + "self_attn_layer_norm.weight"], params[p + "self_attn_layer_norm.bias"]) if pre else h
        q = _lin(x, params[a + "q_proj.weight"], params[a + "q_proj.bias"], lora.get(f"{li}.q_proj")) * (d ** -0.5)
        k = _lin(x, params[a + "k_proj.weight"], params[a + "k_proj.bias"], lora.get(f"{li}.k_proj"))
        v = _lin(x, params[a + "v_proj.weight"], params[a + "v_proj.bias"], lora.get(f"{li}.v_proj"))
        q = q.view(B, T, H, d).transpose(1, 2)
        k = k.view(B, T, H, d).transpose(1, 2)
        v = v.view(B, T, H, d).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[li][0], k], dim=2)
            v = torch.cat([past[li][1], v], dim=2)
        probs = torch.softmax(q @ k.transpose(-1, -2) + madd, dim=-1)
        o = (probs @ v).transpose(1, 2).reshape(B, T, Hs)
        h = h + _lin(o, params[a + "out_proj.weight"], params[a + "out_proj.bias"], lora.get(f"{li}.out_proj"))
        if not pre:
            h = _ln(h, params[p + "self_attn_layer_norm.weight"], params[p + "self_attn_layer_norm.bias"])
        x = _ln(h, params[p + "final_layer_norm.weight"], params[p + "final_layer_norm.bias"]) if pre else h
        x = _lin(torch.relu(_lin(x, params[p + "fc1.weight"], params[p + "fc1.bias"])), params[p + "fc2.weight"],
                 params[p + "fc2.bias"])
        h = h + x
        if not pre:
            h = _ln(h, params[p + "final_layer_norm.weight"], params[p + "final_layer_norm.bias"])
    if "model.decoder.final_layer_norm.weight" in params:
        h = _ln(h, params["model.decoder.final_layer_norm.weight"], params["model.decoder.final_layer_norm.bias"])
    if "model.decoder.project_out.weight" in params:
        h = _lin(h, params["model.decoder.project_out.weight"])
    return h @ params.get("lm_head.weight", emb).t()
