"""Write test/fixtures/compress/: two fixture layers and the reference results of
compress_ref.py on them, for test/compress/oracle.test.ts.

  /usr/bin/python3 scripts/oracles/compress_fixtures.py

Layers: W [96, 256] and [64, 200] (float32), H = 2/N X^T X from N = 512 random calibration rows X
with correlated columns of varied scale and some all-zero (dead) columns; H is symmetrized in
float64 and stored as float32 (both sides read it back as float64). Per case: the reference codes
(uint8, gzip) and/or pruning mask, the GPTQ loss, and the layer output error
tr((W - Q) H (W - Q)^T) (= ||W X^T - Q X^T||^2 * 2/N).
"""
import gzip
import json
import os

import numpy as np
import torch

from compress_ref import OUT, gptq, magnitude, prepare, rtn, sparsegpt

LAYERS = {'a': (96, 256, [5, 77, 200]), 'b': (64, 200, [0, 131])}

CASES = [
    dict(name='rtn4_row', method='rtn', bits=4),
    dict(name='rtn4_g32', method='rtn', bits=4, groupSize=32),
    dict(name='rtn4_row_mse', method='rtn', bits=4, mse=True),
    dict(name='gptq2_g64', method='gptq', bits=2, groupSize=64),
    dict(name='gptq3_row', method='gptq', bits=3),
    dict(name='gptq3_g32_sym', method='gptq', bits=3, groupSize=32, sym=True),
    dict(name='gptq4_row', method='gptq', bits=4),
    dict(name='gptq4_row_sym', method='gptq', bits=4, sym=True),
    dict(name='gptq4_g32', method='gptq', bits=4, groupSize=32),
    dict(name='gptq4_g64_sym', method='gptq', bits=4, groupSize=64, sym=True),
    dict(name='gptq8_row', method='gptq', bits=8),
    dict(name='gptq4_row_act', method='gptq', bits=4, actOrder=True),
    dict(name='gptq4_g32_act', method='gptq', bits=4, groupSize=32, actOrder=True),
    dict(name='gptq4_g32_act_static', method='gptq', bits=4, groupSize=32, actOrder=True, staticGroups=True),
    dict(name='gptq4_g64_mse', method='gptq', bits=4, groupSize=64, mse=True),
    dict(name='gptq3_row_sym_mse', method='gptq', bits=3, sym=True, mse=True),
    dict(name='sparsegpt_50', method='sparsegpt', sparsity=0.5),
    dict(name='sparsegpt_2_4', method='sparsegpt', n=2, m=4),
    dict(name='sparsegpt_4_8', method='sparsegpt', n=4, m=8),
    dict(name='sparsegpt_50_q4', method='sparsegpt', sparsity=0.5, quant=dict(bits=4)),
    dict(name='magnitude_50', method='magnitude', sparsity=0.5),
    dict(name='magnitude_2_4', method='magnitude', n=2, m=4),
]


def make_layer(seed, rows, cols, dead):
    g = torch.Generator().manual_seed(seed)
    n = 512
    mix = torch.eye(cols, dtype=torch.float64) + 0.3 * torch.randn(cols, cols, generator=g, dtype=torch.float64) / cols ** 0.5
    colscale = torch.exp(torch.randn(cols, generator=g, dtype=torch.float64) * 0.7)
    X = (torch.randn(n, cols, generator=g, dtype=torch.float64) @ mix) * colscale
    X[:, dead] = 0
    H = 2 / n * X.T @ X
    H = ((H + H.T) / 2).float()
    W = torch.randn(rows, cols, generator=g) * 0.05
    W[torch.rand(rows, cols, generator=g) < 0.01] *= 8  # a few outliers, as real layers have
    return W, H


def output_error(W, Q, H):
    D = W - Q
    return float(torch.sum((D @ H) * D))


def run_case(c, W, H):
    W64, H64 = W.double(), H.double()
    out = {}
    if c['method'] in ('rtn', 'gptq'):
        kw = dict(gs=c.get('groupSize', -1), sym=c.get('sym', False), mse=c.get('mse', False))
        if c['method'] == 'rtn':
            Q, C, loss = rtn(W64, c['bits'], **kw)
        else:
            Q, C, loss = gptq(W64, H64, c['bits'], actorder=c.get('actOrder', False), static=c.get('staticGroups', False), **kw)
        out['codes'] = C.to(torch.uint8)
    elif c['method'] == 'sparsegpt':
        q = c.get('quant')
        Q, mask, C, loss = sparsegpt(W64, H64, sparsity=c.get('sparsity'), n=c.get('n', 0), m=c.get('m', 0),
                                     quant=(q['bits'], q.get('groupSize', -1), q.get('sym', False)) if q else None)
        out['mask'] = mask.to(torch.uint8)
        if q:
            out['codes'] = C.to(torch.uint8)
    else:
        Q, mask = magnitude(W64, sparsity=c.get('sparsity'), n=c.get('n', 0), m=c.get('m', 0))
        loss = 0.0
        out['mask'] = mask.to(torch.uint8)
    return out, {'loss': loss, 'error': output_error(W64, Q, H64)}


def write_gz(name, t):
    with open(os.path.join(OUT, name), 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=9, mtime=0) as f:
        f.write(t.contiguous().numpy().tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {'layers': {}, 'cases': CASES, 'results': {}, 'linalg': {}}
    for li, (key, (rows, cols, dead)) in enumerate(LAYERS.items()):
        W, H = make_layer(100 + li, rows, cols, dead)
        write_gz(f'{key}.W.f32.gz', W)
        write_gz(f'{key}.H.f32.gz', H)
        manifest['layers'][key] = {'rows': rows, 'cols': cols, 'dead': dead}
        for c in CASES:
            arrays, scalars = run_case(c, W, H)
            for kind, t in arrays.items():
                write_gz(f"{key}.{c['name']}.{kind}.u8.gz", t)
            manifest['results'][f"{key}.{c['name']}"] = scalars
            print(key, c['name'], scalars)
    # linalg: U of the damped 48 x 48 leading block of layer b's H, via GPTQ's three factorizations.
    _, H = make_layer(101, *LAYERS['b'][:2], LAYERS['b'][2])
    Hs = H.double()[1:49, 1:49]
    _, U, _, damp = prepare(torch.zeros(1, 48, dtype=torch.float64), Hs, 0.01, False)
    write_gz('linalg.U48.f64.gz', U)
    manifest['linalg'] = {'n': 48, 'offset': 1, 'damp': damp}
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


if __name__ == '__main__':
    main()
