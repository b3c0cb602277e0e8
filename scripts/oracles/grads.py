#!/usr/bin/python3
"""Gradient oracle: reference gradients of the next-token loss for the tiny model fixtures.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/oracles/grads.py
Reads   test/fixtures/models/<name>/{config.json, tokenizer.json, model.safetensors,
        lora/adapter_model.safetensors, expected.json, expected.bin}   (never writes them)
Writes  test/fixtures/models/<name>/{grads.json, grads.bin}

Loss (all cases): mean over valid positions of -log_softmax(logits)[b, t, labels[b, t]], where
labels[b, t] is the target of position t (already shifted): input_ids[b, t+1] for t < T-1, -100
(ignored) for the last position, for positions whose target is a padding position
(attention_mask[b, t+1] == 0) and for soft-prompt positions.

Cases: full (grads w.r.t. every weight), soft_prompt (w.r.t. P), lora (w.r.t. every lora_A/lora_B),
prefix (w.r.t. every past key/value). The stored float32 gradients are torch autograd through the
model oracle's own forward (models_llama.forward / models_opt.forward, float32) on the weights read
back from the committed model.safetensors. Self-checks (the script fails if any fails):
- the dtype-generic forward of grads_fwd.py (float32) reproduces the committed expected.json logits
  (plain, padded, soft_prompt, prefix, lora) and the models_*.py forward; float64 is close too;
- float32 loss == float64 loss (|diff| < 1e-5) for every case;
- float32 autograd (models_*.py forward) ~= float64 autograd (grads_fwd.py forward);
- central finite differences in float64 on 5 random coordinates == float64 autograd (rel err < 1e-6),
  for every case of every model.
See test/fixtures/models/README.md, section "Gradient cases".
"""
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import grads_fwd as gf  # noqa: E402
import models_io as io  # noqa: E402
import models_llama as llama  # noqa: E402
import models_opt as opt  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "models")

FORMAT = "recall-grad-oracle/1"
MODELS = [("tiny-llama", 5001), ("tiny-llama3", 5002), ("tiny-qwen2", 5003), ("tiny-opt", 5004),
          ("tiny-opt350", 5005)]
B, T = 2, 6
FIRST_WORD = 4
N_SOFT, SOFT_STD = 3, 0.5
N_PREFIX, PREFIX_STD = 2, 0.5
IGNORE = -100
FD_COORDS, FD_H, FD_TOL = 5, 1e-5, 1e-6
LOSS_TOL = 1e-5
FWD_TOL = 1e-5

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

CHECKS = []


def check(name, ok, detail=""):
    CHECKS.append((name, bool(ok), detail))
    if not ok:
        raise AssertionError(f"self-check failed: {name} {detail}")


def maxdiff(a, b):
    return float((a.double() - b.double()).abs().max())


# ----------------------------------------------------------------------------------------------
# loss
# ----------------------------------------------------------------------------------------------

def next_token_labels(input_ids, attention_mask):
    """labels[b, t] = input_ids[b, t+1] (t < T-1), IGNORE at t = T-1 and where the target is padding."""
    lab = torch.full_like(input_ids, IGNORE)
    lab[:, :-1] = input_ids[:, 1:]
    lab[:, :-1][attention_mask[:, 1:] == 0] = IGNORE
    return lab


def next_token_loss(logits, labels):
    lp = torch.log_softmax(logits, dim=-1)
    valid = labels != IGNORE
    nll = -torch.gather(lp, -1, labels.clamp(min=0)[..., None])[..., 0]
    return (nll * valid.to(lp.dtype)).sum() / valid.sum()


# ----------------------------------------------------------------------------------------------
# fixture reading
# ----------------------------------------------------------------------------------------------

def load_expected(folder):
    with open(os.path.join(folder, "expected.json")) as f:
        ex = json.load(f)
    with open(os.path.join(folder, ex["bin"]), "rb") as f:
        raw = f.read()

    def tensor(e):
        if e["dtype"] == "int64":
            return torch.tensor(e["data"], dtype=torch.int64).reshape(e["shape"])
        n = int(np.prod(e["shape"]))
        arr = np.frombuffer(raw[e["offset"]:e["offset"] + 4 * n], dtype="<f4").reshape(e["shape"])
        return torch.from_numpy(arr.copy())

    return ex, tensor


def bos_id(folder):
    with open(os.path.join(folder, "tokenizer.json")) as f:
        tj = json.load(f)
    post = tj["post_processor"]
    if post is None:
        return None
    tok = post["single"][0]["SpecialToken"]["id"]
    return post["special_tokens"][tok]["ids"][0]


# ----------------------------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------------------------

class Case:
    def __init__(self, name, inputs, train, labels, logits_fn):
        self.name = name
        self.inputs = inputs          # JSON-ready dict (fx entries), without labels
        self.train = train            # {grad name: float32 tensor} (insertion order = JSON order)
        self.labels = labels          # [B, S] int64
        self.logits_fn = logits_fn    # (fwd, params, train) -> logits


def ref_forward(mod):
    return lambda *a, **k: mod.forward(*a, **k)["logits"]


def run(case, fwd, params, dtype, grads=True):
    P = {k: v.to(dtype) for k, v in params.items()}
    tr = {k: v.to(dtype).clone().requires_grad_(grads) for k, v in case.train.items()}
    logits = case.logits_fn(fwd, P, tr)
    loss = next_token_loss(logits, case.labels)
    if not grads:
        return loss, logits, None
    g = torch.autograd.grad(loss, list(tr.values()))
    return loss.detach(), logits.detach(), {k: gi.detach() for k, gi in zip(tr, g)}


def finite_difference_check(model, case, fwd, params, g64, seed, per_tensor=False):
    """Central differences in float64 on FD_COORDS random coordinates whose |grad| >= 1% of the
    case's largest |grad| (so the relative error is meaningful); with per_tensor, also on the
    largest-|grad| coordinate of every trainable tensor."""
    gmax = max(float(g.abs().max()) for g in g64.values())
    cands = []
    for name, g in g64.items():
        idx = torch.nonzero(g.reshape(-1).abs() >= 0.01 * gmax)[:, 0]
        cands += [(name, int(i)) for i in idx]
    gen = torch.Generator().manual_seed(seed)
    pick = [cands[j] for j in torch.randperm(len(cands), generator=gen)[:FD_COORDS].tolist()]
    check(f"{model}/{case.name}: {FD_COORDS} FD coordinates available", len(pick) == FD_COORDS)
    n_random = len(pick)
    zero = []
    if per_tensor:
        for name, g in g64.items():
            if float(g.abs().max()) < 1e-12 * gmax:
                zero.append(name)  # analytically zero (OPT k_proj.bias: softmax shift invariance)
            else:
                pick.append((name, int(g.reshape(-1).abs().argmax())))
    P = {k: v.double() for k, v in params.items()}
    worst, worst_t, rows = 0.0, 0.0, []
    for n, (name, i) in enumerate(pick):
        vals = []
        for sgn in (1, -1):
            tr = {k: v.double().clone() for k, v in case.train.items()}
            tr[name].view(-1)[i] += sgn * FD_H
            with torch.no_grad():
                vals.append(float(next_token_loss(case.logits_fn(fwd, P, tr), case.labels)))
        fd = (vals[0] - vals[1]) / (2 * FD_H)
        ag = float(g64[name].reshape(-1)[i])
        rel = abs(fd - ag) / abs(ag)
        if n < n_random:
            worst = max(worst, rel)
            rows.append(f"{name}[{i}] ad {ag:+.6e} fd {fd:+.6e} rel {rel:.1e}")
        else:
            worst_t = max(worst_t, rel)
    check(f"{model}/{case.name}: float64 central FD (h={FD_H}) == autograd on {n_random} random coords",
          worst < FD_TOL, f"max rel err {worst:.2e}")
    for name in zero:
        vals = []
        for sgn in (1, -1):
            tr = {k: v.double().clone() for k, v in case.train.items()}
            tr[name].view(-1)[0] += sgn * FD_H
            with torch.no_grad():
                vals.append(float(next_token_loss(case.logits_fn(fwd, P, tr), case.labels)))
        fd = (vals[0] - vals[1]) / (2 * FD_H)
        check(f"{model}/{case.name}: {name} grad is zero (float64 max |grad| < 1e-12 * max) and so is FD",
              abs(fd) < 1e-9, f"fd {fd:.1e}")
        rows.append(f"{name}: zero gradient (float64 max |g| {float(g64[name].abs().max()):.1e}, FD {fd:.1e})")
    if per_tensor:
        check(f"{model}/{case.name}: float64 central FD == autograd at the max-|grad| coord of each of "
              f"{len(pick) - n_random} tensors", worst_t < FD_TOL, f"max rel err {worst_t:.2e}")
        rows.append(f"+ max-|grad| coordinate of each of the {len(pick) - n_random} tensors: max rel err {worst_t:.1e}")
    return max(worst, worst_t), rows


def emb_name(family):
    return "model.embed_tokens.weight" if family == "llama" else "model.decoder.embed_tokens.weight"


def build_cases(model, family, cfg, params, folder, seed, fx):
    mod = llama if family == "llama" else opt
    bos = bos_id(folder)
    V = cfg["vocab_size"]
    H = cfg["num_attention_heads"]
    kvh = cfg.get("num_key_value_heads", H) if family == "llama" else H
    d = cfg["hidden_size"] // H
    E = cfg.get("word_embed_proj_dim", cfg["hidden_size"])
    ids = torch.randint(FIRST_WORD, V, (B, T), generator=torch.Generator().manual_seed(seed + 1))
    if bos is not None:
        ids[:, 0] = bos
    mask = torch.ones(B, T, dtype=torch.int64)
    labels = next_token_labels(ids, mask)
    base_inputs = {"input_ids": fx.ints(ids), "attention_mask": fx.ints(mask)}
    cases = []

    # full: every weight
    cases.append(Case("full", dict(base_inputs), dict(sorted(params.items())), labels,
                      lambda fwd, P, tr: fwd(tr, cfg, input_ids=ids)))

    # soft prompt: P [3, E] prepended (in the embed_tokens space); prompt positions ignored
    P0 = torch.randn(N_SOFT, E, generator=torch.Generator().manual_seed(seed + 2)) * SOFT_STD
    sp_mask = torch.ones(B, N_SOFT + T, dtype=torch.int64)
    sp_labels = torch.cat([torch.full((B, N_SOFT), IGNORE, dtype=torch.int64), labels], dim=1)

    def soft_logits(fwd, P, tr):
        e = torch.cat([tr["soft_prompt"][None].expand(B, N_SOFT, E), P[emb_name(family)][ids]], dim=1)
        return fwd(P, cfg, inputs_embeds=e, attention_mask=sp_mask)

    cases.append(Case("soft_prompt", {"soft_prompt": fx.f32(P0), "input_ids": fx.ints(ids),
                                      "attention_mask": fx.ints(sp_mask),
                                      "position_ids": fx.ints(torch.arange(N_SOFT + T)[None].expand(B, -1))},
                      {"soft_prompt": P0}, sp_labels, soft_logits))

    # lora: the committed PEFT adapter (r 4, alpha 8, q_proj + v_proj, std 0.1, non-zero A and B)
    lt = io.read_safetensors(os.path.join(folder, "lora", "adapter_model.safetensors"))
    with open(os.path.join(folder, "lora", "adapter_config.json")) as f:
        acfg = json.load(f)
    r, alpha = acfg["r"], acfg["lora_alpha"]
    scale = alpha / r
    mods = mod.lora_module_names(cfg)
    check(f"{model}: adapter tensors == q_proj/v_proj lora_A/lora_B of every layer",
          sorted(lt) == sorted(pn + f".lora_{x}.weight" for _, _, pn in mods for x in "AB")
          and all(float(t.abs().min()) > 0 for t in lt.values()))
    lora_train = dict(sorted(lt.items()))

    def lora_logits(fwd, P, tr):
        lo = {f"{li}.{m}": (tr[pn + ".lora_A.weight"], tr[pn + ".lora_B.weight"], scale) for li, m, pn in mods}
        return fwd(P, cfg, input_ids=ids, lora=lo)

    cases.append(Case("lora", dict(base_inputs, r=r, lora_alpha=alpha, scale=scale,
                                   adapter="lora/adapter_model.safetensors",
                                   tensors={k: fx.f32(v) for k, v in lora_train.items()}),
                      lora_train, labels, lora_logits))

    # prefix: random past keys/values (keys already rotated for LLaMA), positions 2..7
    pg = torch.Generator().manual_seed(seed + 3)
    L = cfg["num_hidden_layers"]
    past = [(torch.randn(B, kvh, N_PREFIX, d, generator=pg) * PREFIX_STD,
             torch.randn(B, kvh, N_PREFIX, d, generator=pg) * PREFIX_STD) for _ in range(L)]
    pf_mask = torch.ones(B, N_PREFIX + T, dtype=torch.int64)
    pf_train = {}
    for li, (k, v) in enumerate(past):
        pf_train[f"past_keys.{li}"] = k
        pf_train[f"past_values.{li}"] = v

    def prefix_logits(fwd, P, tr):
        pkv = [(tr[f"past_keys.{li}"], tr[f"past_values.{li}"]) for li in range(L)]
        return fwd(P, cfg, input_ids=ids, attention_mask=pf_mask, past=pkv)

    cases.append(Case("prefix", {"input_ids": fx.ints(ids), "attention_mask": fx.ints(pf_mask),
                                 "past_keys": [fx.f32(k) for k, _ in past],
                                 "past_values": [fx.f32(v) for _, v in past],
                                 "past_length": N_PREFIX,
                                 "position_ids": fx.ints(torch.arange(N_PREFIX, N_PREFIX + T)[None].expand(B, T))},
                      pf_train, labels, prefix_logits))
    return ids, cases


# ----------------------------------------------------------------------------------------------
# forward self-check against the committed expected.json
# ----------------------------------------------------------------------------------------------

def forward_checks(model, family, cfg, params, folder):
    mod = llama if family == "llama" else opt
    gen_fwd = gf.llama_logits if family == "llama" else gf.opt_logits
    ex, tensor = load_expected(folder)
    c = ex["cases"]
    emb = params["model.embed_tokens.weight" if family == "llama" else "model.decoder.embed_tokens.weight"]
    runs = {
        "plain": dict(input_ids=tensor(c["plain"]["inputs"]["input_ids"])),
        "padded": dict(input_ids=tensor(c["padded"]["inputs"]["input_ids"]),
                       attention_mask=tensor(c["padded"]["inputs"]["attention_mask"])),
    }
    si = c["soft_prompt"]["inputs"]
    sp, sids = tensor(si["soft_prompt"]), tensor(si["input_ids"])
    runs["soft_prompt"] = dict(inputs_embeds=torch.cat([sp[None].expand(sids.shape[0], *sp.shape), emb[sids]], 1),
                               attention_mask=tensor(si["attention_mask"]))
    pi = c["prefix"]["inputs"]
    runs["prefix"] = dict(input_ids=tensor(pi["input_ids"]), attention_mask=tensor(pi["attention_mask"]),
                          past=[(tensor(k), tensor(v)) for k, v in zip(pi["past_keys"], pi["past_values"])])
    li = c["lora"]["inputs"]
    lt = {k: tensor(v) for k, v in li["tensors"].items()}
    runs["lora"] = dict(input_ids=tensor(li["input_ids"]),
                        lora={f"{l}.{m}": (lt[pn + ".lora_A.weight"], lt[pn + ".lora_B.weight"], li["scale"])
                              for l, m, pn in mod.lora_module_names(cfg)})
    worst = {}
    for name, kw in runs.items():
        want = tensor(c[name]["outputs"]["logits"])
        ref = mod.forward(params, cfg, **kw)["logits"]
        mine = gen_fwd(params, cfg, **kw)
        kw64 = dict(kw)
        for key in ("inputs_embeds",):
            if key in kw64:
                kw64[key] = kw64[key].double()
        if "past" in kw64:
            kw64["past"] = [(k.double(), v.double()) for k, v in kw64["past"]]
        if "lora" in kw64:
            kw64["lora"] = {k: (a.double(), b.double(), s) for k, (a, b, s) in kw64["lora"].items()}
        mine64 = gen_fwd({k: v.double() for k, v in params.items()}, cfg, **kw64)
        d_ref, d_mine, d_64 = maxdiff(ref, want), maxdiff(mine, want), maxdiff(mine64, want)
        check(f"{model}: models_{family}.forward == expected.json logits ({name})", d_ref < FWD_TOL, f"maxdiff {d_ref:.1e}")
        check(f"{model}: grads_fwd float32 == expected.json logits ({name})", d_mine < FWD_TOL, f"maxdiff {d_mine:.1e}")
        check(f"{model}: grads_fwd float64 ~= expected.json logits ({name})", d_64 < 1e-4, f"maxdiff {d_64:.1e}")
        worst[name] = (d_ref, d_mine, d_64)
    return worst


# ----------------------------------------------------------------------------------------------
# one model
# ----------------------------------------------------------------------------------------------

def build_model(model, seed):
    t0 = time.time()
    folder = os.path.join(FIXTURES, model)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    family = "opt" if cfg["model_type"] == "opt" else "llama"
    params = io.read_safetensors(os.path.join(folder, "model.safetensors"))
    mod = llama if family == "llama" else opt
    ref = ref_forward(mod)
    gen_fwd = gf.llama_logits if family == "llama" else gf.opt_logits

    fwd_diffs = forward_checks(model, family, cfg, params, folder)

    fx = io.Fixture(bin_name="grads.bin")
    ids, cases = build_cases(model, family, cfg, params, folder, seed, fx)
    out_cases, summary = {}, []
    for ci, case in enumerate(cases):
        loss32, logits32, g32 = run(case, ref, params, torch.float32)
        loss32g, _, g32g = run(case, gen_fwd, params, torch.float32)
        loss64, _, g64 = run(case, gen_fwd, params, torch.float64)
        dl = abs(float(loss32) - float(loss64))
        check(f"{model}/{case.name}: float32 loss == float64 loss", dl < LOSS_TOL, f"|diff| {dl:.1e}")
        dg = max(maxdiff(g32[k], g32g[k]) for k in g32)
        gmax = max(float(g.abs().max()) for g in g64.values())
        check(f"{model}/{case.name}: float32 grads, models_*.py forward == grads_fwd forward",
              dg < 1e-6 * max(gmax, 1.0), f"maxdiff {dg:.1e}")
        d64 = max(maxdiff(g32[k], g64[k]) for k in g32) / gmax
        check(f"{model}/{case.name}: float32 autograd ~= float64 autograd", d64 < 1e-4,
              f"max |g32-g64| / max|g64| = {d64:.1e}")
        check(f"{model}/{case.name}: every trainable gets a gradient", set(g32) == set(case.train)
              and all(torch.isfinite(g).all() for g in g32.values()))
        fd_worst, fd_rows = finite_difference_check(model, case, gen_fwd, params, g64, seed + 100 + ci,
                                                    per_tensor=case.name == "full")
        if case.name == "full" and "lm_head.weight" not in params:
            # tied embeddings: the stored gradient is the sum of the input-embedding use and the
            # output-projection use; recompute with an untied copy and add the two parts
            untied = dict(params, **{"lm_head.weight": params[emb_name(family)].clone()})
            ucase = Case("untied", {}, dict(sorted(untied.items())), case.labels, case.logits_fn)
            _, _, gu = run(ucase, ref, untied, torch.float32)
            e = emb_name(family)
            dd = maxdiff(gu[e] + gu["lm_head.weight"], g32[e])
            check(f"{model}/full: tied embedding grad == embedding-use grad + lm_head-use grad", dd < 1e-7,
                  f"maxdiff {dd:.1e}; parts max|.| {float(gu[e].abs().max()):.1e} / "
                  f"{float(gu['lm_head.weight'].abs().max()):.1e}")
        n_valid = int((case.labels != IGNORE).sum())
        out_cases[case.name] = {
            "inputs": dict(case.inputs, labels=fx.ints(case.labels)),
            "n_valid": n_valid,
            "loss": float(loss32),
            "loss_float64": float(loss64),
            "logits": fx.f32(logits32),
            "grads": {k: fx.f32(g) for k, g in g32.items()},
        }
        summary.append((case.name, float(loss32), n_valid, len(g32), sum(g.numel() for g in g32.values()),
                        d64, fd_worst, fd_rows))

    tree = {
        "format": FORMAT,
        "model": model,
        "family": family,
        "model_type": cfg["model_type"],
        "generator": "scripts/oracles/grads.py",
        "seed": seed,
        "loss": "mean over labels != -100 of -log_softmax(logits)[b, t, labels[b, t]]; "
                "labels[b, t] = input_ids[b, t+1] (already shifted), -100 for the last position, "
                "padding targets and soft-prompt positions",
        "ignore_index": IGNORE,
        "cases": out_cases,
        "bin": fx.bin_name,
        "bin_bytes": len(fx.buf),
    }
    with open(os.path.join(folder, fx.bin_name), "wb") as f:
        f.write(bytes(fx.buf))
    with open(os.path.join(folder, "grads.json"), "w") as f:
        json.dump(tree, f, indent=1)
        f.write("\n")
    return {"name": model, "seconds": time.time() - t0, "ids": ids.tolist(), "cases": summary,
            "fwd": fwd_diffs, "bytes": len(fx.buf) + os.path.getsize(os.path.join(folder, "grads.json"))}


def main():
    t0 = time.time()
    results = [build_model(m, s) for m, s in MODELS]
    print("gradient oracle summary")
    total = 0
    for r in results:
        total += r["bytes"]
        print(f"  {r['name']}  {r['seconds']:.1f}s  grads.json+grads.bin {r['bytes'] / 1024:.0f} KiB  input_ids {r['ids']}")
        fw = ", ".join(f"{k} {v[1]:.1e}/{v[2]:.1e}" for k, v in r["fwd"].items())
        print(f"    forward vs expected.json (grads_fwd f32/f64 maxdiff): {fw}")
        for name, loss, nv, nt, nel, d64, fdw, rows in r["cases"]:
            print(f"    {name:12s} loss {loss:.6f} ({nv} targets)  {nt} grad tensors / {nel} values"
                  f"  |g32-g64|/max {d64:.1e}  FD max rel err {fdw:.1e}")
            for row in rows:
                print(f"      {row}")
    print(f"self-checks: {sum(ok for _, ok, _ in CHECKS)}/{len(CHECKS)} passed")
    if "-v" in sys.argv:
        for n, ok, det in CHECKS:
            print(f"  [{'ok' if ok else 'FAIL'}] {n} {det}")
    print(f"total grads size {total / 1024:.0f} KiB, {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
