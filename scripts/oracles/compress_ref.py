"""Reference compression numerics in PyTorch, written from docs/METHODS.md 1.2-1.4 (GPTQ's
quant.py / gptq.py and sparsegpt.py structure, vectorized over rows as they are). Independent of
main/engine/compress: it shares no code, only the spec.

  /usr/bin/python3 scripts/oracles/compress_ref.py            # write test/fixtures/compress/
  /usr/bin/python3 scripts/oracles/compress_ref.py bench CFG  # time one layer (bench/compress-layer.ts)

Precision: float64 throughout for the fixtures (so the only disagreements with Recall are rounding
ties and near-ties), float32 for the bench (as GPTQ runs). Deterministic choices the spec leaves
open, matched by Recall: act-order argsort is stable (ties keep column order); pruning masks take
exactly floor(numel * s) entries, ties to the lower index (stable argsort); every fitted scale is
rounded to float32.
"""
import os

import numpy as np
import torch

GRID, MAXSHRINK, NORM = 100, 0.8, 2.4
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'compress')


def f32(t):
    return t.float().to(t.dtype) if t.dtype != torch.float32 else t


def qparams(x, bits, sym, mse):
    """METHODS 1.2 on each row of x [rows, k]: (scale, zero) [rows]."""
    maxq = 2 ** bits - 1
    z0 = torch.zeros(x.shape[0], dtype=x.dtype)
    xmin = torch.minimum(x.min(1).values, z0)
    xmax = torch.maximum(x.max(1).values, z0)
    if sym:
        xmax = torch.maximum(xmin.abs(), xmax)
        neg = xmin < 0
        xmin[neg] = -xmax[neg]
    both = (xmin == 0) & (xmax == 0)
    xmin[both] = -1
    xmax[both] = 1

    def fit(lo, hi):
        scale = f32((hi - lo) / maxq)
        zero = torch.full_like(scale, (maxq + 1) / 2) if sym else torch.round(-lo / scale)
        return scale, zero

    scale, zero = fit(xmin, xmax)
    if mse:
        best = torch.full_like(scale, float('inf'))
        for i in range(int(MAXSHRINK * GRID)):
            p = 1 - i / GRID
            s1, z1 = fit(p * xmin, p * xmax)
            q = fake(x, s1[:, None], z1[:, None], maxq)
            err = (q - x).abs().pow(NORM).sum(1)
            better = err < best
            best[better] = err[better]
            scale[better] = s1[better]
            zero[better] = z1[better]
    return scale, zero


def codes_of(x, scale, zero, maxq):
    return torch.clamp(torch.round(x / scale) + zero, 0, maxq)


def fake(x, scale, zero, maxq):
    return scale * (codes_of(x, scale, zero, maxq) - zero)


def prepare(W, H, percdamp, actorder):
    H = H.clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    perm = None
    if actorder:
        perm = torch.from_numpy(np.argsort(-torch.diag(H).numpy(), kind='stable'))
        W = W[:, perm]
        H = H[perm][:, perm]
    damp = percdamp * torch.mean(torch.diag(H))
    idx = torch.arange(H.shape[0])
    H[idx, idx] += damp
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    return W, U, perm, float(damp)


def gptq(W, H, bits, gs=-1, sym=False, mse=False, actorder=False, static=False, blocksize=128, percdamp=0.01):
    """METHODS 1.3. Returns (Q, codes) in original column order and the GPTQ loss."""
    W = W.clone()
    rows, cols = W.shape
    maxq = 2 ** bits - 1
    if gs >= cols:
        gs = -1
    if gs == -1:
        scale, zero = qparams(W, bits, sym, mse)
    Hd = H.clone()
    W[:, torch.diag(Hd) == 0] = 0
    if static and gs != -1:
        groups = [qparams(W[:, i:i + gs], bits, sym, mse) for i in range(0, cols, gs)]
    W, U, perm, _ = prepare(W, H, percdamp, actorder)
    Q = torch.zeros_like(W)
    C = torch.zeros_like(W)
    loss = 0.0
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        W1 = W[:, i1:i2].clone()
        Err1 = torch.zeros_like(W1)
        U1 = U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            if gs != -1:
                if static:
                    scale, zero = groups[int(perm[col] if perm is not None else col) // gs]
                elif col % gs == 0:
                    scale, zero = qparams(W[:, col:col + gs], bits, sym, mse)
            w = W1[:, i]
            c = codes_of(w, scale, zero, maxq)
            q = scale * (c - zero)
            Q[:, col], C[:, col] = q, c
            err = (w - q) / U1[i, i]
            loss += float((err ** 2).sum()) / 2
            W1[:, i:] -= err[:, None] @ U1[i, i:][None, :]
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    if perm is not None:
        inv = torch.argsort(perm)
        Q, C = Q[:, inv], C[:, inv]
    return Q, C, loss


def rtn(W, bits, gs=-1, sym=False, mse=False):
    rows, cols = W.shape
    maxq = 2 ** bits - 1
    span = cols if gs == -1 or gs >= cols else gs
    Q = torch.zeros_like(W)
    C = torch.zeros_like(W)
    for a in range(0, cols, span):
        s, z = qparams(W[:, a:a + span], bits, sym, mse)
        C[:, a:a + span] = codes_of(W[:, a:a + span], s[:, None], z[:, None], maxq)
        Q[:, a:a + span] = s[:, None] * (C[:, a:a + span] - z[:, None])
    return Q, C, 0.0


def smallest(keys, k):
    """Indices of the k smallest keys (1-D numpy), ties to the lower index."""
    return np.argsort(keys, kind='stable')[:k]


def sparsegpt(W, H, sparsity=None, n=0, m=0, quant=None, blocksize=128, percdamp=0.01):
    """METHODS 1.4. quant = (bits, gs, sym) or None. Returns (Q, mask, codes, loss)."""
    W = W.clone()
    rows, cols = W.shape
    if quant:
        bits, gs, sym = quant
        maxq = 2 ** bits - 1
        if gs == -1:
            scale, zero = qparams(W, bits, sym, False)
    W, U, _, _ = prepare(W, H, percdamp, False)
    Q = torch.zeros_like(W)
    C = torch.zeros_like(W)
    mask = torch.zeros(rows, cols, dtype=torch.bool)
    loss = 0.0
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Err1 = torch.zeros_like(W1)
        U1 = U[i1:i2, i1:i2]
        d1 = torch.diag(U1)
        mask1 = torch.zeros_like(W1, dtype=torch.bool)
        if sparsity is not None:
            sal = (W1 ** 2 / d1[None, :] ** 2).flatten().numpy()
            flat = mask1.view(-1)
            flat[torch.from_numpy(smallest(sal, int(sal.size * sparsity)))] = True
        for i in range(count):
            col = i1 + i
            if m and i % m == 0:
                sal = (W1[:, i:i + m] ** 2 / d1[None, i:i + m] ** 2).numpy()
                idx = np.argsort(sal, axis=1, kind='stable')[:, :n]
                mask1.scatter_(1, i + torch.from_numpy(idx), True)
            if quant and gs != -1 and col % gs == 0:
                scale, zero = qparams(W[:, col:col + gs], bits, sym, False)
            w = W1[:, i]
            q = w.clone()
            q[mask1[:, i]] = 0
            if quant:
                C[:, col] = codes_of(q, scale, zero, maxq)
                q = scale * (C[:, col] - zero)
            Q[:, col] = q
            err = (w - q) / U1[i, i]
            loss += float((err ** 2).sum()) / 2
            W1[:, i:] -= err[:, None] @ U1[i, i:][None, :]
            Err1[:, i] = err
        mask[:, i1:i2] = mask1
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    return Q, mask, C, loss


def magnitude(W, sparsity=None, n=0, m=0):
    a = W.abs().numpy()
    mask = np.zeros(a.size, dtype=bool)
    if sparsity is not None:
        mask[smallest(a.flatten(), int(a.size * sparsity))] = True
    else:
        g = a.reshape(-1, m)
        idx = np.argsort(g, axis=1, kind='stable')[:, :n]
        mask = np.zeros_like(g, dtype=bool)
        np.put_along_axis(mask, idx, True, axis=1)
    mask = torch.from_numpy(mask.reshape(W.shape))
    return torch.where(mask, torch.zeros_like(W), W), mask
