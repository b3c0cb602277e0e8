"""Reference forward pass for the LLaMA family (LLaMA, LLaMA-3 rope scaling, Qwen2), written from
the architecture definition (HF transformers modeling_llama / modeling_qwen2 semantics), float32.

params: dict of HF tensor names -> float32 tensors (exactly what is written to model.safetensors).
"""
import math

import torch


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def rope_inv_freq(cfg):
    """inv_freq[i] = 1 / theta^(2i/d), i in [0, d/2); optional llama3 band scaling."""
    d = head_dim(cfg)
    base = float(cfg.get("rope_theta", 10000.0))
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).to(torch.float32) / d))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        assert kind == "llama3", kind
        factor = rs["factor"]
        low_ff = rs["low_freq_factor"]
        high_ff = rs["high_freq_factor"]
        old_ctx = rs["original_max_position_embeddings"]
        low_freq_wavelen = old_ctx / low_ff
        high_freq_wavelen = old_ctx / high_ff
        wavelen = 2 * math.pi / inv_freq
        # long wavelengths (low frequencies): divide by factor; short ones: keep
        scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        # in between: smooth interpolation between inv_freq/factor and inv_freq
        smooth = (old_ctx / wavelen - low_ff) / (high_ff - low_ff)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        inv_freq = torch.where(medium, smoothed, scaled)
    return inv_freq


def rope_cos_sin(cfg, position_ids):
    """position_ids [B, T] -> cos, sin [B, T, d]; emb = cat(freqs, freqs) (half-split layout)."""
    inv_freq = rope_inv_freq(cfg)
    freqs = position_ids.to(torch.float32)[:, :, None] * inv_freq[None, None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):
    """x [B, heads, T, d]; cos/sin [B, T, d]."""
    return x * cos[:, None] + rotate_half(x) * sin[:, None]


def rms_norm(x, w, eps):
    x32 = x.to(torch.float32)
    var = x32.pow(2).mean(-1, keepdim=True)
    return w * (x32 * torch.rsqrt(var + eps))


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def lora_linear(x, w, b, lora):
    """lora: None or (A [r, in], B [out, r], scale) -> W x + b + scale * B (A x)."""
    y = linear(x, w, b)
    if lora is not None:
        a, bb, scale = lora
        y = y + scale * ((x @ a.t()) @ bb.t())
    return y


def build_allowed(attention_mask, past_len, T):
    """attention_mask [B, past+T] (1 = real). allowed[b, i, j]: query i (absolute past+i) may see key j."""
    B, S = attention_mask.shape
    assert S == past_len + T
    q_abs = torch.arange(past_len, past_len + T)[:, None]
    k_abs = torch.arange(S)[None, :]
    causal = k_abs <= q_abs  # [T, S]
    return causal[None] & (attention_mask[:, None, :] != 0)


def additive_mask(allowed):
    """0 where allowed, finfo(float32).min elsewhere (HF convention; no -inf, so no NaN rows)."""
    m = torch.zeros(allowed.shape, dtype=torch.float32)
    return m.masked_fill(~allowed, torch.finfo(torch.float32).min)


def attention_core(q, k, v, allowed, n_rep):
    """q [B,H,T,d], k/v [B,KV,S,d] (k already rotated). Query head h uses kv head h // n_rep."""
    B, KV, S, d = k.shape
    H = KV * n_rep
    kr = k[:, :, None].expand(B, KV, n_rep, S, d).reshape(B, H, S, d)
    vr = v[:, :, None].expand(B, KV, n_rep, S, d).reshape(B, H, S, d)
    scores = (q @ kr.transpose(-1, -2)) * (d ** -0.5)
    scores = scores + additive_mask(allowed)[:, None]
    probs = torch.softmax(scores.to(torch.float32), dim=-1)
    return probs @ vr, probs


def attention_core_loop(q, k, v, allowed, n_rep):
    """Explicit per-(batch, head) loop, for the GQA self-check."""
    B, H, T, d = q.shape
    S = k.shape[2]
    out = torch.zeros(B, H, T, d)
    probs = torch.zeros(B, H, T, S)
    for b in range(B):
        for h in range(H):
            kvh = h // n_rep
            for i in range(T):
                s = torch.stack([(q[b, h, i] * k[b, kvh, j]).sum() / math.sqrt(d) for j in range(S)])
                ok = allowed[b, i]
                s = torch.where(ok, s, torch.full_like(s, -float("inf")))
                if not bool(ok.any()):
                    p = torch.full((S,), 1.0 / S)
                else:
                    e = torch.exp(s - s[ok].max())
                    p = e / e.sum()
                probs[b, h, i] = p
                out[b, h, i] = (p[:, None] * v[b, kvh]).sum(0)
    return out, probs


def attention(params, cfg, li, x, cos, sin, allowed, past=None, lora=None, loop=False):
    B, T, _ = x.shape
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    d = head_dim(cfg)
    p = f"model.layers.{li}.self_attn."
    lora = lora or {}
    q = lora_linear(x, params[p + "q_proj.weight"], params.get(p + "q_proj.bias"), lora.get(f"{li}.q_proj"))
    k = lora_linear(x, params[p + "k_proj.weight"], params.get(p + "k_proj.bias"), lora.get(f"{li}.k_proj"))
    v = lora_linear(x, params[p + "v_proj.weight"], params.get(p + "v_proj.bias"), lora.get(f"{li}.v_proj"))
    q = q.view(B, T, H, d).transpose(1, 2)
    k = k.view(B, T, KV, d).transpose(1, 2)
    v = v.view(B, T, KV, d).transpose(1, 2)
    q = apply_rope(q, cos, sin)
    k = apply_rope(k, cos, sin)
    if past is not None:
        k = torch.cat([past[0], k], dim=2)
        v = torch.cat([past[1], v], dim=2)
    core = attention_core_loop if loop else attention_core
    o, probs = core(q, k, v, allowed, H // KV)
    o = o.transpose(1, 2).reshape(B, T, H * d)
    o = lora_linear(o, params[p + "o_proj.weight"], params.get(p + "o_proj.bias"), lora.get(f"{li}.o_proj"))
    return o, probs, (k, v)


def mlp(params, li, x):
    p = f"model.layers.{li}.mlp."
    g = linear(x, params[p + "gate_proj.weight"])
    u = linear(x, params[p + "up_proj.weight"])
    return linear(torch.nn.functional.silu(g) * u, params[p + "down_proj.weight"])


def embed(params, ids):
    return params["model.embed_tokens.weight"][ids]


def forward(params, cfg, input_ids=None, inputs_embeds=None, attention_mask=None, past=None, lora=None):
    """Returns dict: logits [B,T,V], layer_outputs (L+1 x [B,T,h], pre-final-norm), final_hidden,
    attentions (L x [B,H,T,past+T]), presents (L x (k [B,KV,past+T,d] rotated, v))."""
    if inputs_embeds is None:
        inputs_embeds = embed(params, input_ids)
    B, T, _ = inputs_embeds.shape
    past_len = 0 if past is None else past[0][0].shape[2]
    if attention_mask is None:
        attention_mask = torch.ones(B, past_len + T, dtype=torch.int64)
    # HF LlamaModel default (no position_ids given): positions = arange(past, past + T) for every row.
    position_ids = torch.arange(past_len, past_len + T)[None].expand(B, T)
    cos, sin = rope_cos_sin(cfg, position_ids)
    allowed = build_allowed(attention_mask, past_len, T)
    eps = cfg["rms_norm_eps"]
    h = inputs_embeds
    layer_outputs, attentions, presents = [h], [], []
    for li in range(cfg["num_hidden_layers"]):
        x = rms_norm(h, params[f"model.layers.{li}.input_layernorm.weight"], eps)
        a, probs, present = attention(params, cfg, li, x, cos, sin, allowed,
                                      None if past is None else past[li], lora)
        h = h + a
        x = rms_norm(h, params[f"model.layers.{li}.post_attention_layernorm.weight"], eps)
        h = h + mlp(params, li, x)
        layer_outputs.append(h)
        attentions.append(probs)
        presents.append(present)
    final = rms_norm(h, params["model.norm.weight"], eps)
    lm = params.get("lm_head.weight", params["model.embed_tokens.weight"])
    logits = final @ lm.t()
    return {"logits": logits, "layer_outputs": layer_outputs, "final_hidden": final,
            "attentions": attentions, "presents": presents}


def make_params(cfg, gen, qkv_bias=False):
    """Random float32 weights with HF names."""
    V, Hs, I = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    d = head_dim(cfg)

    def rnd(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    p = {"model.embed_tokens.weight": rnd(V, Hs, std=0.1)}
    for li in range(cfg["num_hidden_layers"]):
        a = f"model.layers.{li}.self_attn."
        m = f"model.layers.{li}.mlp."
        p[a + "q_proj.weight"] = rnd(H * d, Hs, std=0.1)
        p[a + "k_proj.weight"] = rnd(KV * d, Hs, std=0.1)
        p[a + "v_proj.weight"] = rnd(KV * d, Hs, std=0.08)
        p[a + "o_proj.weight"] = rnd(Hs, H * d, std=0.06)
        if qkv_bias:
            p[a + "q_proj.bias"] = rnd(H * d, std=0.1)
            p[a + "k_proj.bias"] = rnd(KV * d, std=0.1)
            p[a + "v_proj.bias"] = rnd(KV * d, std=0.05)
        p[m + "gate_proj.weight"] = rnd(I, Hs, std=0.08)
        p[m + "up_proj.weight"] = rnd(I, Hs, std=0.08)
        p[m + "down_proj.weight"] = rnd(Hs, I, std=0.05)
        p[f"model.layers.{li}.input_layernorm.weight"] = 1.0 + rnd(Hs, std=0.1)
        p[f"model.layers.{li}.post_attention_layernorm.weight"] = 1.0 + rnd(Hs, std=0.1)
    p["model.norm.weight"] = 1.0 + rnd(Hs, std=0.1)
    if not cfg.get("tie_word_embeddings", False):
        p["lm_head.weight"] = rnd(V, Hs, std=0.1)
    return {k: v.to(torch.float32).contiguous() for k, v in p.items()}


def lora_module_names(cfg):
    """(layer, module) pairs for LoRA on q_proj and v_proj, and the PEFT tensor-name prefix."""
    return [(li, m, f"base_model.model.model.layers.{li}.self_attn.{m}")
            for li in range(cfg["num_hidden_layers"]) for m in ("q_proj", "v_proj")]


def proj_shape(params, li, m):
    return params[f"model.layers.{li}.self_attn.{m}.weight"].shape  # [out, in]
