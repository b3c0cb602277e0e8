#!/usr/bin/python3
"""PyTorch side of bench/models-forward.ts: a plain-torch LLaMA (float32, CPU, KV cache) over the
same safetensors weights, timing a scoring forward over a batch and greedy generation.

Usage: /usr/bin/python3 bench/torch_models.py '{"dir": "...", "threads": 2, "batch_ids": [[...]],
        "prompt": [...], "new_tokens": 32, "warmup": 2, "runs": 5}'
Prints one JSON line: {"score_ms": median, "generate_ms": median, "tokens": [greedy ids],
"last_logits": [first 8 logits of the last position of row 0], "torch": ..., "blas": ...}.
Weights are read with json + struct + numpy (no safetensors package); layout as HF LlamaForCausalLM.
"""
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        assert e['dtype'] == 'F32', f'{name}: only F32 weights are supported here'
        a, b = e['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data, dtype='<f4', count=(b - a) // 4, offset=a).reshape(e['shape']).copy())
    return out


class Llama:
    def __init__(self, cfg, w):
        self.c, self.w = cfg, w
        self.H, self.nh, self.kvh = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_key_value_heads']
        self.hd = self.H // self.nh
        self.eps = cfg['rms_norm_eps']
        self.inv_freq = 1.0 / (cfg.get('rope_theta', 10000.0) ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.lm_head = w.get('lm_head.weight', w['model.embed_tokens.weight'])
        # x @ W^T as torch.nn.Linear does; weights stay [out, in].
        self.lin = {k: v for k, v in w.items() if k.endswith('proj.weight')}

    def rms(self, x, name):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w[name]

    def rope(self, x, cos, sin):
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def forward(self, ids, past):
        B, S = ids.shape
        P = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(P, P + S, dtype=torch.float32)
        ang = pos[:, None] * self.inv_freq[None, :]
        cos, sin = ang.cos()[None, None], ang.sin()[None, None]
        mask = torch.ones(S, P + S, dtype=torch.bool).tril(diagonal=P)
        h = self.w['model.embed_tokens.weight'][ids]
        present = []
        for i in range(self.c['num_hidden_layers']):
            p = f'model.layers.{i}'
            x = self.rms(h, f'{p}.input_layernorm.weight')
            q = (x @ self.lin[f'{p}.self_attn.q_proj.weight'].T).view(B, S, self.nh, self.hd).transpose(1, 2)
            k = (x @ self.lin[f'{p}.self_attn.k_proj.weight'].T).view(B, S, self.kvh, self.hd).transpose(1, 2)
            v = (x @ self.lin[f'{p}.self_attn.v_proj.weight'].T).view(B, S, self.kvh, self.hd).transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            if past is not None:
                k, v = torch.cat([past[i][0], k], dim=2), torch.cat([past[i][1], v], dim=2)
            present.append((k, v))
            rep = self.nh // self.kvh
            kk, vv = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            scores = (q @ kk.transpose(-1, -2)) / math.sqrt(self.hd)
            probs = torch.softmax(scores.masked_fill(~mask, float('-inf')), dim=-1)
            ctx = (probs @ vv).transpose(1, 2).reshape(B, S, self.H)
            h = h + ctx @ self.lin[f'{p}.self_attn.o_proj.weight'].T
            y = self.rms(h, f'{p}.post_attention_layernorm.weight')
            g = torch.nn.functional.silu(y @ self.lin[f'{p}.mlp.gate_proj.weight'].T)
            h = h + (g * (y @ self.lin[f'{p}.mlp.up_proj.weight'].T)) @ self.lin[f'{p}.mlp.down_proj.weight'].T
        return self.rms(h, 'model.norm.weight') @ self.lm_head.T, present

    def generate(self, prompt, n):
        logits, past = self.forward(torch.tensor([prompt]), None)
        tokens = []
        for i in range(n):
            t = int(logits[0, -1].argmax())
            tokens.append(t)
            if i + 1 == n:
                break
            logits, past = self.forward(torch.tensor([[t]]), past)
        return tokens


def timed(fn, warmup, runs):
    times, out = [], None
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        out = fn()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c['threads'])
    cfg = json.load(open(os.path.join(c['dir'], 'config.json')))
    model = Llama(cfg, read_safetensors(os.path.join(c['dir'], 'model.safetensors')))
    ids = torch.tensor(c['batch_ids'])
    with torch.inference_mode():
        score_ms, (logits, _) = timed(lambda: model.forward(ids, None), c['warmup'], c['runs'])
        gen_ms, tokens = timed(lambda: model.generate(c['prompt'], c['new_tokens']), 1, max(1, c['runs'] // 2))
    cfg_text = torch.__config__.show()
    blas = [s.split('=')[1].split(',')[0] for s in cfg_text.replace(' ', ',').split(',') if s.startswith('BLAS_INFO=')]
    print(json.dumps({'score_ms': score_ms, 'generate_ms': gen_ms, 'tokens': tokens,
                      'last_logits': logits[0, -1, :8].tolist(), 'torch': torch.__version__, 'blas': blas}))


if __name__ == '__main__':
    main()
