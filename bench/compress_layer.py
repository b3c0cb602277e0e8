"""PyTorch side of bench/compress-layer.ts: the reference GPTQ / SparseGPT of
scripts/oracles/compress_ref.py (float32, as GPTQ runs), timed on the same inputs as Recall.

  compress_layer.py gen DIR ROWS COLS SEED   # write DIR/w.f32 [rows, cols] and DIR/h.f64 [cols, cols]
  compress_layer.py run DIR ROWS COLS METHOD THREADS   # print one JSON line: seconds, peak RSS
"""
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts', 'oracles'))
from compress_ref import gptq, sparsegpt  # noqa: E402


def gen(d, rows, cols, seed):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(rows, cols, generator=g) * 0.02
    # A calibration-like Hessian: low rank (256) plus a varied diagonal, H = 2/N X^T X style scale.
    V = torch.randn(cols, 256, generator=g, dtype=torch.float64) * torch.exp(torch.randn(cols, 1, generator=g, dtype=torch.float64) * 0.5)
    H = V @ V.T / 256 + torch.diag(torch.rand(cols, generator=g, dtype=torch.float64) * 0.1 + 0.01)
    H = (H + H.T) / 2
    W.numpy().tofile(os.path.join(d, 'w.f32'))
    H.numpy().tofile(os.path.join(d, 'h.f64'))


def run(d, rows, cols, method, threads):
    torch.set_num_threads(threads)
    import numpy as np
    W = torch.from_numpy(np.fromfile(os.path.join(d, 'w.f32'), dtype=np.float32).reshape(rows, cols))
    H = torch.from_numpy(np.fromfile(os.path.join(d, 'h.f64'), dtype=np.float64).reshape(cols, cols)).float()
    t0 = time.perf_counter()
    if method == 'gptq':
        gptq(W, H, 4, gs=128)
    else:
        sparsegpt(W, H, sparsity=0.5)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'seconds': seconds, 'peak_mb': peak_mb, 'torch': torch.__version__, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    if sys.argv[1] == 'gen':
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
