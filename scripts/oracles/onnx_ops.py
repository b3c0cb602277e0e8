#!/usr/bin/python3
"""Oracle for test/onnx/ops*.test.ts: PyTorch 1.13 / NumPy references for single ONNX ops.

Run with Debian's interpreter (the one with torch):  /usr/bin/python3 scripts/oracles/onnx_ops.py
Writes test/fixtures/onnx/ops.json: {case: {inputs: {name: {dims, data}}, expected: {dims, data}}}.
Inputs are float32 values (written exactly); references are computed in float64 from them so
the oracle's own rounding stays far below the tests' float32 tolerances.
"""
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'onnx', 'ops.json')
rng = np.random.RandomState(1234)


def rand(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def enc(a):
    a = np.asarray(a)
    data = a.reshape(-1).tolist()
    if a.dtype == np.bool_:
        data = [int(v) for v in data]
    return {'dims': list(a.shape), 'data': data}


cases = {}


def case(name, inputs, expected):
    out = expected.numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    cases[name] = {'inputs': {k: enc(v) for k, v in inputs.items()}, 'expected': enc(out)}


# MatMul: plain, batched with broadcasting of both batch dims, and 1-D operands (ONNX = numpy.matmul).
a, b = rand(3, 5), rand(5, 4)
case('matmul_2d', {'a': a, 'b': b}, torch.matmul(t64(a), t64(b)))
a, b = rand(2, 1, 3, 5), rand(4, 5, 6)
case('matmul_batched_broadcast', {'a': a, 'b': b}, torch.matmul(t64(a), t64(b)))
a, b = rand(5), rand(2, 5, 3)
case('matmul_vector', {'a': a, 'b': b}, torch.matmul(t64(a), t64(b)))

# Gemm with transB=1, alpha=0.5, beta=2 and a broadcast bias row.
a, b, c = rand(3, 5), rand(4, 5), rand(4)
case('gemm', {'a': a, 'b': b, 'c': c}, torch.addmm(t64(c).expand(3, 4), t64(a), t64(b).T, beta=2.0, alpha=0.5))

x = rand(2, 3, 5, lo=-4, hi=4)
case('softmax_last', {'x': x}, torch.softmax(t64(x), dim=-1))
case('softmax_axis1', {'x': x}, torch.softmax(t64(x), dim=1))
case('logsoftmax_last', {'x': x}, torch.log_softmax(t64(x), dim=-1))

x = rand(2, 3, 4)
case('exp', {'x': x}, torch.exp(t64(x)))
case('tanh', {'x': x}, torch.tanh(t64(x)))
case('erf', {'x': x}, torch.erf(t64(x)))
case('sigmoid', {'x': x}, torch.sigmoid(t64(x)))
xp = rand(2, 3, 4, lo=0.1, hi=3.0)
case('log', {'x': xp}, torch.log(t64(xp)))
yp = rand(3, 4, lo=-2, hi=2)
case('pow', {'x': xp, 'y': yp}, torch.pow(t64(xp), t64(yp)))

x = rand(2, 3, 4)
case('reduce_mean_axis1_keep', {'x': x}, torch.mean(t64(x), dim=1, keepdim=True))
case('reduce_sum_axes02_drop', {'x': x}, torch.sum(t64(x), dim=(0, 2), keepdim=False))
case('reduce_max_last_keep', {'x': x}, torch.amax(t64(x), dim=-1, keepdim=True))
case('reduce_sum_all', {'x': x}, torch.sum(t64(x)).reshape(1, 1, 1))

x = rand(2, 3, 4)
case('transpose_021', {'x': x}, np.transpose(x, (0, 2, 1)))
case('transpose_default', {'x': x}, np.transpose(x))
a, b = rand(2, 1, 4), rand(2, 3, 4)
case('concat_axis1', {'a': a, 'b': b}, np.concatenate([a, b], axis=1))
x = rand(4, 6)
# Slice starts [1, -1], ends [100, -7] (clamped), axes [0, 1], steps [2, -2]
case('slice_steps', {'x': x}, x[1:100:2, -1:-7:-2])
x = rand(3, 4, 2)
idx = np.array([[2, 0], [-1, 1]], dtype=np.int64)
case('gather_axis1', {'x': x, 'idx': idx}, np.take(x, np.where(idx < 0, idx + 4, idx), axis=1))
x = rand(3, 4)
idx = np.array([[3, 0], [1, 1], [0, 2]], dtype=np.int64)
case('gather_elements_axis1', {'x': x, 'idx': idx}, torch.gather(t64(x), 1, torch.from_numpy(idx)))
x = rand(3, 1, 2)
case('expand', {'x': x}, np.broadcast_to(x, (2, 3, 4, 2)))

x = rand(5, 5)
case('trilu_lower', {'x': x}, torch.tril(t64(x)))
x = rand(2, 4, 4)
case('trilu_upper_k1', {'x': x}, torch.triu(t64(x), diagonal=1))

x, g, bb = rand(2, 3, 8), rand(8), rand(8)
case('layernorm', {'x': x, 'gamma': g, 'beta': bb},
     torch.nn.functional.layer_norm(t64(x), (8,), t64(g), t64(bb), eps=1e-5))
x, w = rand(2, 3, 8), rand(8)
# RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x^2) + eps) * w; torch 1.13 has no rms_norm op.
xt = t64(x)
case('rmsnorm', {'x': x, 'w': w}, xt * torch.rsqrt(xt.pow(2).mean(-1, keepdim=True) + 1e-6) * t64(w))

# float16 variants: inputs are float16 values; the reference is float64 on those exact values.
a, b = rand(2, 4, 32).astype(np.float16), rand(32, 8).astype(np.float16)
case('f16_matmul', {'a': a.astype(np.float32), 'b': b.astype(np.float32)}, torch.matmul(t64(a), t64(b)))
a, b = rand(3, 8).astype(np.float16), rand(8).astype(np.float16)
case('f16_add', {'a': a.astype(np.float32), 'b': b.astype(np.float32)}, t64(a) + t64(b))
x = rand(3, 16, lo=-6, hi=6).astype(np.float16)
case('f16_softmax', {'x': x.astype(np.float32)}, torch.softmax(t64(x), dim=-1))

with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/oracles/onnx_ops.py', 'torch': torch.__version__, 'cases': cases}, f, separators=(',', ':'))
print(f'wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)')
