#!/usr/bin/python3
"""Oracle for test/autodiff/ops.test.ts: PyTorch 1.13 autograd gradients of single ONNX ops.

Run with Debian's interpreter (the one with torch):  /usr/bin/python3 scripts/oracles/autodiff_ops.py
Writes test/fixtures/autodiff/ops.json:
  {cases: {name: {inputs: {name: {dtype, dims, data}}, R: [{dims, data}], loss, grads: {name: {dims, data}}}}}

Each case is one op (or the next-token loss path) applied to float32 inputs; the scalar loss is
  loss = sum_i sum(out_i * R_i)
with a fixed random R_i per output that feeds the loss, so every output element gets its own
upstream gradient. Inputs and R are float32 values (written exactly); torch runs in float64 on
those exact values, so the reference's own rounding is ~1e-16, far below the tests' float32
tolerances. `grads` holds d loss / d input for the inputs that require a gradient (the test
differentiates exactly those).
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'autodiff', 'ops.json')
rng = np.random.RandomState(20240601)


def rand(*shape, lo=-2.0, hi=2.0):
    return np.asarray(rng.uniform(lo, hi, size=shape), dtype=np.float32)


def away(*shape, lo=0.5, hi=2.0):
    """Values with |v| in [lo, hi] and random sign (divisors, kinks of Relu)."""
    return np.asarray(rand(*shape, lo=lo, hi=hi) * rng.choice([-1.0, 1.0], size=shape), dtype=np.float32)


def grid(*shape, step=2.0 ** -6):
    """Values on a 2^-6 grid in [-2, 2]: exact in float16, so a Cast roundtrip's finite differences are exact."""
    return np.asarray(np.round(rand(*shape) / step) * step, dtype=np.float32)


def enc(a):
    a = np.asarray(a)
    if a.dtype == np.bool_:
        dtype, data = 'bool', [int(v) for v in a.reshape(-1)]
    elif a.dtype == np.int64:
        dtype, data = 'int64', [int(v) for v in a.reshape(-1)]
    else:
        dtype, data = 'float32', [float(v) for v in a.reshape(-1)]
    return {'dtype': dtype, 'dims': list(a.shape), 'data': data}


cases = {}


def case(name, inputs, fn, wrt):
    """inputs: name -> numpy array; fn(dict of torch tensors) -> output or list of loss-feeding outputs."""
    assert name not in cases, name
    ts = {}
    for k, v in inputs.items():
        if v.dtype == np.float32:
            ts[k] = torch.from_numpy(v.astype(np.float64)).requires_grad_(k in wrt)
        else:
            ts[k] = torch.from_numpy(v)
    outs = fn(ts)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    rs = [rand(*o.shape) for o in outs]
    loss = sum((o * torch.from_numpy(r.astype(np.float64))).sum() for o, r in zip(outs, rs))
    loss.backward()
    grads = {}
    for k in wrt:
        g = ts[k].grad
        grads[k] = {'dims': list(g.shape), 'data': g.reshape(-1).tolist()}
    cases[name] = {
        'inputs': {k: enc(v) for k, v in inputs.items()},
        'R': [{'dims': list(r.shape), 'data': [float(v) for v in r.reshape(-1)]} for r in rs],
        'loss': float(loss),
        'grads': grads,
    }


# --- elementwise binary ops, broadcasting both ways --------------------------------------------
BINARY = {'add': torch.add, 'sub': torch.sub, 'mul': torch.mul, 'div': torch.div}
SHAPES = {
    'a_bcast_last': ((4,), (2, 3, 4)),      # first operand broadcast over leading axes
    'b_keepdims_1': ((2, 3, 4), (1, 3, 1)),  # second operand broadcast over size-1 axes
    'b_scalar': ((2, 3, 4), ()),             # rank-0 second operand
    'mutual': ((2, 1, 4), (3, 1)),           # both operands broadcast
}
for op, fn in BINARY.items():
    for tag, (sa, sb) in SHAPES.items():
        b = away(*sb) if op == 'div' else rand(*sb)
        case(f'{op}_{tag}', {'a': rand(*sa), 'b': b}, lambda t, fn=fn: fn(t['a'], t['b']), ['a', 'b'])
case('mul_b_frozen', {'a': rand(2, 3, 4), 'b': rand(4)}, lambda t: t['a'] * t['b'], ['a'])

# --- unary ops ------------------------------------------------------------------------------
case('identity', {'x': rand(2, 3, 4)}, lambda t: t['x'], ['x'])
case('neg', {'x': rand(2, 3, 4)}, lambda t: -t['x'], ['x'])
case('sqrt', {'x': rand(2, 3, 4, lo=0.2, hi=3.0)}, lambda t: torch.sqrt(t['x']), ['x'])
case('reciprocal', {'x': away(2, 3, 4)}, lambda t: torch.reciprocal(t['x']), ['x'])
case('exp', {'x': rand(2, 3, 4)}, lambda t: torch.exp(t['x']), ['x'])
case('log', {'x': rand(2, 3, 4, lo=0.2, hi=3.0)}, lambda t: torch.log(t['x']), ['x'])
case('tanh', {'x': rand(2, 3, 4)}, lambda t: torch.tanh(t['x']), ['x'])
case('sigmoid', {'x': rand(2, 3, 4, lo=-4, hi=4)}, lambda t: torch.sigmoid(t['x']), ['x'])
case('relu', {'x': away(2, 3, 4, lo=0.1, hi=2.0)}, lambda t: torch.relu(t['x']), ['x'])
case('erf', {'x': rand(2, 3, 4)}, lambda t: torch.erf(t['x']), ['x'])
case('sin', {'x': rand(2, 3, 4, lo=-3, hi=3)}, lambda t: torch.sin(t['x']), ['x'])
case('cos', {'x': rand(2, 3, 4, lo=-3, hi=3)}, lambda t: torch.cos(t['x']), ['x'])
case('pow_scalar_exp', {'x': rand(2, 3, 4, lo=0.5, hi=2.0), 'p': np.array(2.5, dtype=np.float32)},
     lambda t: torch.pow(t['x'], t['p']), ['x'])
case('pow_vector_exp', {'x': rand(2, 3, 4, lo=0.5, hi=2.0), 'p': np.array([2.0, 3.0, 0.5, -1.5], dtype=np.float32)},
     lambda t: torch.pow(t['x'], t['p']), ['x'])
case('pow_int_exp_negative_base', {'x': rand(3, 4), 'p': np.array(3, dtype=np.int64)},
     lambda t: torch.pow(t['x'], 3), ['x'])

# --- MatMul ---------------------------------------------------------------------------------
mm = lambda t: torch.matmul(t['a'], t['b'])  # noqa: E731
case('matmul_2d', {'a': rand(3, 5), 'b': rand(5, 4)}, mm, ['a', 'b'])
case('matmul_batched_4d', {'a': rand(2, 3, 4, 5), 'b': rand(2, 3, 5, 2)}, mm, ['a', 'b'])
case('matmul_3d_weight', {'a': rand(2, 3, 5), 'b': rand(5, 4)}, mm, ['a', 'b'])
case('matmul_2d_batched_b', {'a': rand(3, 5), 'b': rand(2, 5, 4)}, mm, ['a', 'b'])
# Attention's grouped-query product: [B, kv, rep, S, D] @ [B, kv, 1, D, T].
case('matmul_5d_broadcast', {'a': rand(2, 2, 3, 4, 5), 'b': rand(2, 2, 1, 5, 3)}, mm, ['a', 'b'])

# --- Softmax / LogSoftmax -------------------------------------------------------------------
for axis, tag in ((-1, 'last'), (1, 'axis1')):
    case(f'softmax_{tag}', {'x': rand(2, 3, 5, lo=-3, hi=3)}, lambda t, a=axis: torch.softmax(t['x'], dim=a), ['x'])
    case(f'logsoftmax_{tag}', {'x': rand(2, 3, 5, lo=-3, hi=3)}, lambda t, a=axis: torch.log_softmax(t['x'], dim=a), ['x'])

# --- reductions -----------------------------------------------------------------------------
REDUCE = {'reducesum': torch.sum, 'reducemean': torch.mean}
AXES = {'axes02_drop': ((0, 2), False), 'axis1_keep': ((1,), True), 'last_drop': ((-1,), False), 'all_keep': ((0, 1, 2), True), 'all_drop': ((0, 1, 2), False)}
for op, fn in REDUCE.items():
    for tag, (axes, keep) in AXES.items():
        case(f'{op}_{tag}', {'x': rand(2, 3, 4)}, lambda t, fn=fn, axes=axes, keep=keep: fn(t['x'], dim=axes, keepdim=keep), ['x'])

# --- shape ops ------------------------------------------------------------------------------
case('reshape', {'x': rand(2, 3, 4)}, lambda t: t['x'].reshape(6, -1), ['x'])
case('unsqueeze', {'x': rand(2, 3, 4)}, lambda t: t['x'].unsqueeze(0).unsqueeze(3), ['x'])
case('squeeze_axis', {'x': rand(2, 1, 4, 1)}, lambda t: t['x'].squeeze(1), ['x'])
case('squeeze_all', {'x': rand(2, 1, 4, 1)}, lambda t: t['x'].squeeze(), ['x'])
case('expand_rank_up', {'x': rand(3, 1)}, lambda t: t['x'].expand(2, 3, 4), ['x'])
case('expand_same_rank', {'x': rand(1, 3, 1)}, lambda t: t['x'].expand(2, 3, 4), ['x'])
case('transpose_perm', {'x': rand(2, 3, 4)}, lambda t: t['x'].permute(2, 0, 1), ['x'])
case('transpose_default', {'x': rand(2, 3, 4)}, lambda t: t['x'].permute(2, 1, 0), ['x'])
case('concat_3_inputs', {'a': rand(2, 1, 4), 'b': rand(2, 3, 4), 'c': rand(2, 2, 4)},
     lambda t: torch.cat([t['a'], t['b'], t['c']], dim=1), ['a', 'c'])
case('split_middle_unused', {'x': rand(2, 6)}, lambda t: [torch.split(t['x'], [2, 3, 1], dim=1)[i] for i in (0, 2)], ['x'])
case('split_last_unused', {'x': rand(2, 6, 2)}, lambda t: torch.split(t['x'], [4, 2], dim=-2)[0], ['x'])
case('where', {'cond': rng.rand(2, 3, 4) > 0.5, 'a': rand(2, 3, 4), 'b': rand(4)},
     lambda t: torch.where(t['cond'], t['a'], t['b']), ['a', 'b'])
case('cast_f64_roundtrip', {'x': grid(2, 3, 4)}, lambda t: t['x'].double().float().double(), ['x'])
case('cast_f16_roundtrip', {'x': grid(2, 3, 4)}, lambda t: t['x'].half().float().double(), ['x'])

# --- gathers (scatter-add gradients) -----------------------------------------------------------
case('gather_embedding', {'table': rand(5, 3), 'ids': np.array([[1, 3, 1, 0], [3, 3, 4, 1]], dtype=np.int64)},
     lambda t: F.embedding(t['ids'], t['table']), ['table'])
case('gather_elements_axis1', {'x': rand(3, 4), 'idx': np.array([[3, 0, 3, 3, 1], [1, 1, 2, 0, 1], [0, 2, 2, 2, 3]], dtype=np.int64)},
     lambda t: torch.gather(t['x'], 1, t['idx']), ['x'])
case('gather_elements_axis0', {'x': rand(3, 4), 'idx': np.array([[2, 0, 2, 1], [2, 0, 0, 1]], dtype=np.int64)},
     lambda t: torch.gather(t['x'], 0, t['idx']), ['x'])

# Negative indices count from the end (ONNX Gather/GatherElements); torch.gather wants them normalised.
case('gather_negative_ids', {'table': rand(5, 3), 'ids': np.array([-1, 0, -1, 4, -5], dtype=np.int64)},
     lambda t: t['table'][t['ids']], ['table'])
neg = np.array([[-1, 0, -1], [-4, -4, 2], [3, -2, -1]], dtype=np.int64)
case('gather_elements_negative', {'x': rand(3, 4), 'idx': neg},
     lambda t: torch.gather(t['x'], 1, torch.where(t['idx'] < 0, t['idx'] + 4, t['idx'])), ['x'])

# --- LayerNormalization ---------------------------------------------------------------------
case('layernorm', {'x': rand(2, 3, 8), 'w': rand(8), 'b': rand(8)},
     lambda t: F.layer_norm(t['x'], (8,), t['w'], t['b'], eps=1e-5), ['x', 'w', 'b'])

# --- next-token loss: LogSoftmax + GatherElements + mask (ignore_index -100), mean over valid ---
labels = np.array([[2, -100, 5, 0], [5, 5, -100, -100]], dtype=np.int64)
case('next_token_loss', {'logits': rand(2, 4, 6, lo=-3, hi=3), 'labels': labels},
     lambda t: F.cross_entropy(t['logits'].reshape(-1, 6), t['labels'].reshape(-1), ignore_index=-100), ['logits'])

# --- a value used twice (x*x + x): gradients summed --------------------------------------------
case('used_twice', {'x': rand(2, 3)}, lambda t: t['x'] * t['x'] + t['x'], ['x'])

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/oracles/autodiff_ops.py', 'torch': torch.__version__, 'cases': cases}, f, separators=(',', ':'))
print(f'wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)')
