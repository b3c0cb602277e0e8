#!/usr/bin/python3
"""PyTorch side of bench/ort-block.ts: time one pre-norm decoder block forward (float32, CPU).

Usage: /usr/bin/python3 bench/torch_block.py '{"batch":4,"seq":128,"hidden":512,"heads":8,
        "intermediate":1408,"eps":1e-6,"threads":2,"warmup":3,"runs":20}'
Prints one JSON line: {"median_ms": ..., "times_ms": [...], "threads": ..., "torch": ...}.
Same layout as test/helpers/decoder-block.ts and scripts/oracles/onnx_block.py.
"""
import json
import math
import statistics
import sys
import time

import torch


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def block(x, w, c, causal):
    B, S, H, nh = x.shape[0], x.shape[1], c['hidden'], c['heads']
    hd = H // nh
    n = rms_norm(x, w['ln1'], c['eps'])
    heads = lambda t: t.view(B, S, nh, hd).transpose(1, 2)
    q, k, v = heads(n @ w['wq']), heads(n @ w['wk']), heads(n @ w['wv'])
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    probs = torch.softmax(scores.masked_fill(~causal, float('-inf')), dim=-1)
    h = x + (probs @ v).transpose(1, 2).reshape(B, S, H) @ w['wo']
    n2 = rms_norm(h, w['ln2'], c['eps'])
    return h + (torch.nn.functional.silu(n2 @ w['w_gate']) * (n2 @ w['w_up'])) @ w['w_down']


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c['threads'])
    torch.manual_seed(0)
    H, I = c['hidden'], c['intermediate']
    dims = {'ln1': [H], 'wq': [H, H], 'wk': [H, H], 'wv': [H, H], 'wo': [H, H], 'ln2': [H],
            'w_gate': [H, I], 'w_up': [H, I], 'w_down': [I, H]}
    w = {k: (torch.rand(d) * 2 - 1) / math.sqrt(d[0]) if len(d) == 2 else 1 + 0.1 * torch.rand(d) for k, d in dims.items()}
    x = torch.rand(c['batch'], c['seq'], H) * 2 - 1
    causal = torch.ones(c['seq'], c['seq'], dtype=torch.bool).tril()
    times = []
    with torch.inference_mode():
        for i in range(c['warmup'] + c['runs']):
            t0 = time.perf_counter()
            block(x, w, c, causal)
            if i >= c['warmup']:
                times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({'median_ms': statistics.median(times), 'times_ms': times, 'threads': torch.get_num_threads(),
                      'torch': torch.__version__, 'blas': blas_libraries()}))


def blas_libraries():
    # Debian's torch is built with BLAS_INFO=generic: speed depends on which libblas is loaded.
    try:
        with open('/proc/self/maps') as f:
            return sorted({line.split()[-1].rsplit('/', 1)[-1] for line in f if 'blas' in line.lower()})
    except OSError:
        return []


if __name__ == '__main__':
    main()
