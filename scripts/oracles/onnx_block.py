#!/usr/bin/python3
"""Oracle for test/onnx/decoder-block.test.ts: one pre-norm decoder block in PyTorch 1.13.

Run with Debian's interpreter (the one with torch):  /usr/bin/python3 scripts/oracles/onnx_block.py
Writes test/fixtures/onnx/decoder-block.{json,bin}: the config, seeded float32 weights and input,
and the expected output computed in float64 from those exact float32 values. Weights are
[in, out] (x @ W), matching test/helpers/decoder-block.ts. Layout (LLaMA, no rotary):
  h = x + o_proj(softmax(q k^T / sqrt(d) + causal) v),  q/k/v from RMSNorm(x)
  y = h + down(silu(gate(n)) * up(n)),                   n = RMSNorm(h)
"""
import json
import math
import os

import numpy as np
import torch

CFG = {'batch': 2, 'seq': 8, 'hidden': 64, 'heads': 4, 'intermediate': 128, 'eps': 1e-6, 'seed': 20240611}
HERE = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'onnx')


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def block(x, w, cfg):
    B, S, H, nh = cfg['batch'], cfg['seq'], cfg['hidden'], cfg['heads']
    hd = H // nh
    n = rms_norm(x, w['ln1'], cfg['eps'])
    heads = lambda t: t.view(B, S, nh, hd).transpose(1, 2)  # [B, nh, S, hd]
    q, k, v = heads(n @ w['wq']), heads(n @ w['wk']), heads(n @ w['wv'])
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    causal = torch.ones(S, S, dtype=torch.bool).tril()
    probs = torch.softmax(scores.masked_fill(~causal, float('-inf')), dim=-1)
    ctx = (probs @ v).transpose(1, 2).reshape(B, S, H)
    h = x + ctx @ w['wo']
    n2 = rms_norm(h, w['ln2'], cfg['eps'])
    return h + (torch.nn.functional.silu(n2 @ w['w_gate']) * (n2 @ w['w_up'])) @ w['w_down']


def main():
    rng = np.random.RandomState(CFG['seed'])
    H, I = CFG['hidden'], CFG['intermediate']
    dims = {'ln1': [H], 'wq': [H, H], 'wk': [H, H], 'wv': [H, H], 'wo': [H, H], 'ln2': [H],
            'w_gate': [H, I], 'w_up': [H, I], 'w_down': [I, H]}
    arrays = {}
    for name, d in dims.items():
        if len(d) == 1:
            arrays[name] = (1 + rng.uniform(-0.1, 0.1, d)).astype(np.float32)
        else:
            arrays[name] = (rng.uniform(-1, 1, d) / math.sqrt(d[0])).astype(np.float32)
    arrays['x'] = rng.uniform(-1, 1, (CFG['batch'], CFG['seq'], H)).astype(np.float32)
    w = {k: torch.from_numpy(v.astype(np.float64)) for k, v in arrays.items()}
    with torch.no_grad():
        y = block(w['x'], w, CFG).numpy()  # float64
        # float32 torch vs float64, recorded to show the 1e-5 test tolerance has headroom.
        w32 = {k: torch.from_numpy(v) for k, v in arrays.items()}
        y32 = block(w32['x'], w32, CFG).numpy()
    tensors, blobs, offset = [], [], 0
    for name, a in [*arrays.items(), ('expected', y)]:
        raw = np.ascontiguousarray(a).astype('<f8' if name == 'expected' else '<f4').tobytes()
        tensors.append({'name': name, 'dtype': 'float64' if name == 'expected' else 'float32',
                        'dims': list(a.shape), 'offset': offset, 'bytes': len(raw)})
        blobs.append(raw)
        offset += len(raw)
    with open(os.path.join(HERE, 'decoder-block.bin'), 'wb') as f:
        f.write(b''.join(blobs))
    meta = {'generator': 'scripts/oracles/onnx_block.py', 'torch': torch.__version__, 'config': CFG,
            'torch_float32_vs_float64_max_abs': float(np.abs(y32 - y).max()), 'tensors': tensors}
    with open(os.path.join(HERE, 'decoder-block.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'wrote decoder-block.bin ({offset} bytes); torch float32 vs float64 max abs {meta["torch_float32_vs_float64_max_abs"]:.2e}')


if __name__ == '__main__':
    main()
