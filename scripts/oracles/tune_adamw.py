#!/usr/bin/python3
"""Oracle for test/tune/optimizer.test.ts: torch 1.13 optimizers, clip_grad_norm_ and
transformers' lr schedules.

Run with Debian's interpreter (the one with torch):  /usr/bin/python3 scripts/oracles/tune_adamw.py
Writes test/fixtures/tune/optim.json. Parameters and gradients are float32 values written
exactly (JSON floats of float32 numbers round-trip); the optimizers run in float32 as in
training, so the TS side must follow torch's float32 op order to match to ~1e-7.
transformers is not installed: its schedule formulas (optimization.py) are restated below.
"""
import json
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'tune', 'optim.json')
rng = np.random.RandomState(20240)
SHAPES = {'w': (3, 5), 'b': (5,), 'embed.weight': (4, 3)}


def rand(shape, scale):
    return (rng.uniform(-1, 1, size=shape) * scale).astype(np.float32)


def enc(t):
    return np.asarray(t, dtype=np.float32).reshape(-1).tolist()


def run_optimizer(make, steps=3):
    params = {n: torch.tensor(rand(s, 1.0), requires_grad=True) for n, s in SHAPES.items()}
    start = {n: enc(p.detach()) for n, p in params.items()}
    opt = make(list(params.values()))
    grads, after = [], []
    for k in range(steps):
        # Gradients of varied scale per step, including a large one to exercise the second moment.
        g = {n: rand(s, [0.1, 3.0, 0.01][k % 3]) for n, s in SHAPES.items()}
        for n, p in params.items():
            p.grad = torch.from_numpy(g[n].copy())
        opt.step()
        grads.append({n: enc(v) for n, v in g.items()})
        after.append({n: enc(p.detach()) for n, p in params.items()})
    state = {}
    for n, p in params.items():
        for key, v in opt.state[p].items():
            if key != 'step':
                state[f'{key}.{n}'] = enc(v)
    return {'start': start, 'grads': grads, 'after': after, 'state': state}


cases = {}
cases['adamw'] = {'settings': {'lr': 1e-3, 'weightDecay': 0.01, 'betas': [0.9, 0.999], 'eps': 1e-8},
                  **run_optimizer(lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))}
# A large lr and strong decay make every term of the update visible at float32 precision.
cases['adamw_big_lr'] = {'settings': {'lr': 0.1, 'weightDecay': 0.5, 'betas': [0.8, 0.99], 'eps': 1e-6},
                         **run_optimizer(lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.5))}
cases['sgd_momentum'] = {'settings': {'lr': 0.05, 'momentum': 0.9, 'weightDecay': 0.01},
                         **run_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01))}
cases['sgd_nesterov'] = {'settings': {'lr': 0.05, 'momentum': 0.9, 'weightDecay': 0.0, 'nesterov': True},
                         **run_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True))}
cases['sgd_dampening'] = {'settings': {'lr': 0.05, 'momentum': 0.5, 'dampening': 0.3, 'weightDecay': 0.1},
                          **run_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1))}


def clip_case(max_norm, scale):
    grads = [torch.from_numpy(rand(s, scale)) for s in SHAPES.values()]
    ps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    return {'maxNorm': max_norm, 'grads': [enc(g) for g in grads], 'norm': float(total), 'clipped': [enc(p.grad) for p in ps]}


clip = {'clipped': clip_case(1.0, 2.0), 'unclipped': clip_case(100.0, 2.0), 'tiny_max': clip_case(1e-3, 0.5)}


# transformers/optimization.py (v4.x), restated.
def constant_with_warmup(step, warmup):
    return step / max(1.0, warmup) if step < warmup else 1.0


def linear_with_warmup(step, warmup, total):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    return max(0.0, float(total - step) / float(max(1, total - warmup)))


def cosine_with_warmup(step, warmup, total, num_cycles=0.5):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    progress = float(step - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


steps = [0, 1, 5, 9, 10, 11, 37, 50, 99, 100, 120]
schedules = []
for warmup, total in [(10, 100), (0, 100), (1, 7)]:
    for s in steps:
        schedules.append({'warmup': warmup, 'total': total, 'step': s,
                          'constant': constant_with_warmup(s, warmup),
                          'linear': linear_with_warmup(s, warmup, total),
                          'cosine': cosine_with_warmup(s, warmup, total)})

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as fh:
    json.dump({'torch': torch.__version__, 'optimizers': cases, 'clip': clip, 'schedules': schedules}, fh)
print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)')
