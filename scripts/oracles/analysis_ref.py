#!/usr/bin/python3
"""Oracle for the per-layer similarity analysis (METHODS.md section 4; main/engine/analysis/).

Run with Debian's PyTorch:  /usr/bin/python3 scripts/oracles/analysis_ref.py
Writes test/fixtures/analysis/expected.json (deterministic; about a second).

Reads the committed tiny-llama fixture (test/fixtures/models/tiny-llama/model.safetensors,
parsed with struct + json + numpy by models_io.read_safetensors), applies each case's
perturbation or adapter, runs models_llama.forward (the model oracle's own forward, which
returns every layer's output and attention probabilities) on each example ALONE (batch 1, no
padding), and computes the similarities in float64 with formulas written independently of the
TypeScript:
  attention[e, l, h] = cos(vec(A_h^M[in, in]), vec(A_h^M0[in, in])), in = the input tokens
                       (query rows n.., key columns p+n.. for a soft prompt of n / prefix of p)
  activation[e, l]   = mean over input tokens t of cos(h_t^M, h_t^M0), h = output of layer l
  cka[e, l]          = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) (Kornblith et al. 2019,
                       feature-space form; Xc, Yc column-centered token representations)
and the per-layer summary over examples of the head-mean attention, the activation and CKA:
mean, sample std (ddof 1), min, quartiles (numpy linear), max.

Cases (the TypeScript test rebuilds each from the same description):
  self         M = M0
  scaled_q1    model.layers.1.self_attn.q_proj.weight * 1.5          (layer 0 stays identical)
  noised_mlp0  model.layers.0.mlp.down_proj.weight + 0.05 * sin(0.37 * i), i = flat row-major
               index, added in float64 and rounded to float32         (layer 0 attention stays 1)
  soft_prompt  P [3, 64] = float32(0.5 * sin(1.3 * i + 0.1)) before the input embeddings
  prefix       past keys/values per layer l: [kv_heads 2, p 2, 16],
               key = float32(0.5 * cos(0.9 * i + l)), value = float32(0.5 * sin(0.7 * i - l))
"""
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import models_io as io  # noqa: E402
import models_llama as llama  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODEL = os.path.join(ROOT, "test", "fixtures", "models", "tiny-llama")
OUT = os.path.join(ROOT, "test", "fixtures", "analysis")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

# Four examples of different lengths (BOS 1 first), so a batch of them is padded.
EXAMPLES = [
    [1, 7, 83, 56, 48, 7, 30],
    [1, 63, 17, 89, 41],
    [1, 12, 44, 90, 5, 61, 22, 9],
    [1, 40, 71],
]


def pattern(n, fn):
    return torch.tensor([fn(i) for i in range(n)], dtype=torch.float64).to(torch.float32)


def cases(params, cfg):
    L = cfg["num_hidden_layers"]
    kv, d = cfg["num_key_value_heads"], cfg["hidden_size"] // cfg["num_attention_heads"]
    q = dict(params)
    q["model.layers.1.self_attn.q_proj.weight"] = params["model.layers.1.self_attn.q_proj.weight"] * 1.5
    n_ = dict(params)
    w = params["model.layers.0.mlp.down_proj.weight"]
    noise = torch.tensor([0.05 * math.sin(0.37 * i) for i in range(w.numel())], dtype=torch.float64).view(w.shape)
    n_["model.layers.0.mlp.down_proj.weight"] = (w.to(torch.float64) + noise).to(torch.float32)
    prompt = pattern(3 * cfg["hidden_size"], lambda i: 0.5 * math.sin(1.3 * i + 0.1)).view(3, cfg["hidden_size"])
    keys = [pattern(kv * 2 * d, lambda i, l=l: 0.5 * math.cos(0.9 * i + l)).view(1, kv, 2, d) for l in range(L)]
    values = [pattern(kv * 2 * d, lambda i, l=l: 0.5 * math.sin(0.7 * i - l)).view(1, kv, 2, d) for l in range(L)]
    return {
        "self": {"params": params},
        "scaled_q1": {"params": q},
        "noised_mlp0": {"params": n_},
        "soft_prompt": {"params": params, "prompt": prompt},
        "prefix": {"params": params, "past": list(zip(keys, values))},
    }


def run(params, cfg, ids, prompt=None, past=None):
    x = torch.tensor([ids], dtype=torch.int64)
    emb = llama.embed(params, x)
    if prompt is not None:
        emb = torch.cat([prompt[None], emb], dim=1)
    out = llama.forward(params, cfg, inputs_embeds=emb, past=past)
    return out["layer_outputs"][1:], out["attentions"]


def cos(a, b):
    a, b = a.reshape(-1), b.reshape(-1)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def cka(x, y):
    xc, yc = x - x.mean(0, keepdims=True), y - y.mean(0, keepdims=True)
    num = np.linalg.norm(yc.T @ xc, "fro") ** 2
    return float(num / (np.linalg.norm(xc.T @ xc, "fro") * np.linalg.norm(yc.T @ yc, "fro")))


def summary(v):
    """v [examples, layers] -> per layer stats over examples."""
    return {
        "mean": v.mean(0).tolist(), "std": v.std(0, ddof=1).tolist(), "min": v.min(0).tolist(),
        "q1": np.quantile(v, 0.25, axis=0).tolist(), "median": np.quantile(v, 0.5, axis=0).tolist(),
        "q3": np.quantile(v, 0.75, axis=0).tolist(), "max": v.max(0).tolist(),
    }


def main():
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    params = io.read_safetensors(os.path.join(MODEL, "model.safetensors"))
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    base = [run(params, cfg, ids) for ids in EXAMPLES]
    out = {"format": "recall-analysis-oracle/1", "model": "tiny-llama", "examples": EXAMPLES, "cases": {}}
    for name, c in cases(params, cfg).items():
        prompt, past = c.get("prompt"), c.get("past")
        n = 0 if prompt is None else prompt.shape[0]
        p = 0 if past is None else past[0][0].shape[2]
        att = np.zeros((len(EXAMPLES), L, H))
        act = np.zeros((len(EXAMPLES), L))
        ck = np.zeros((len(EXAMPLES), L))
        for e, ids in enumerate(EXAMPLES):
            T = len(ids)
            hs, ats = run(c["params"], cfg, ids, prompt, past)
            bh, ba = base[e]
            for l in range(L):
                A = ats[l][0, :, n:n + T, p + n:p + n + T].double().numpy()
                B = ba[l][0, :, :T, :T].double().numpy()
                # the dropped key columns must carry attention mass for a prompt/prefix case
                for h in range(H):
                    att[e, l, h] = cos(A[h], B[h])
                X = hs[l][0, n:n + T].double().numpy()
                Y = bh[l][0, :T].double().numpy()
                act[e, l] = float(np.mean([cos(X[t], Y[t]) for t in range(T)]))
                ck[e, l] = cka(X, Y)
        entry = {
            "prompt_length": n, "prefix_length": p,
            "attention": att.tolist(), "activation": act.tolist(), "cka": ck.tolist(),
            "summary": {"attention": summary(att.mean(2)), "activation": summary(act), "cka": summary(ck)},
        }
        if prompt is not None:
            entry["soft_prompt"] = prompt.reshape(-1).tolist()
        if past is not None:
            entry["prefix"] = {"keys": [k.reshape(-1).tolist() for k, _ in past], "values": [v.reshape(-1).tolist() for _, v in past]}
        out["cases"][name] = entry
    # self-checks
    assert np.allclose(out["cases"]["self"]["attention"], 1, atol=1e-12)
    assert np.all(np.array(out["cases"]["scaled_q1"]["attention"])[:, 0] > 1 - 1e-12)
    assert np.all(np.array(out["cases"]["scaled_q1"]["attention"])[:, 1] < 1 - 1e-4)
    assert np.all(np.array(out["cases"]["noised_mlp0"]["attention"])[:, 0] > 1 - 1e-12)
    assert np.all(np.array(out["cases"]["noised_mlp0"]["activation"])[:, 0] < 1 - 1e-6)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for name, entry in out["cases"].items():
        s = entry["summary"]
        print(f"{name:12s} attention {['%.6f' % v for v in s['attention']['mean']]} "
              f"activation {['%.6f' % v for v in s['activation']['mean']]} cka {['%.6f' % v for v in s['cka']['mean']]}")


if __name__ == "__main__":
    main()
