#!/usr/bin/python3
"""PyTorch side of bench/train-step.ts: one training step (forward + next-token cross-entropy +
loss.backward() + torch.optim.AdamW.step()) of the plain-torch LLaMA of bench/torch_models.py over
the same safetensors weights and the same [batch, seq] inputs/labels, float32 on CPU.

Usage: /usr/bin/python3 bench/torch_train_step.py '{"dir": "...", "threads": 2, "inputs": [[...]],
        "labels": [[...]], "lr": 1e-4, "weight_decay": 0.01, "warmup": 2, "runs": 5}'
Prints one JSON line: {"step_ms": median, "steps_ms": [...], "first_loss": loss of step 1,
"baseline_kb": VmRSS after imports, "loaded_kb": VmRSS
with the model and optimizer ready, before the first step, "peak_kb": VmHWM over load + all steps,
"steps_peak_kb": VmHWM over the timed (warm) steps alone: the high-water mark is reset through
/proc/self/clear_refs after the warm-up (null if that is refused), "params": count, "torch", "blas"}.
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import Llama, read_safetensors  # noqa: E402


def status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'no {field} in /proc/self/status')


def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c['threads'])
    baseline = status_kb('VmRSS')
    cfg = json.load(open(os.path.join(c['dir'], 'config.json')))
    w = read_safetensors(os.path.join(c['dir'], 'model.safetensors'))
    for t in w.values():
        t.requires_grad_(True)
    model = Llama(cfg, w)  # tied embeddings: lm_head is the same leaf tensor as embed_tokens
    params = list(w.values())
    opt = torch.optim.AdamW(params, lr=c['lr'], weight_decay=c['weight_decay'])
    ids = torch.tensor(c['inputs'])
    labels = torch.tensor(c['labels'])
    V = cfg['vocab_size']
    loaded = status_kb('VmRSS')

    def step():
        opt.zero_grad(set_to_none=True)
        logits, _ = model.forward(ids, None)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
        loss.backward()
        opt.step()
        return float(loss)

    times, first_loss, setup_peak, reset = [], None, None, False
    for i in range(c['warmup'] + c['runs']):
        if i == c['warmup']:
            setup_peak = status_kb('VmHWM')  # load + warm-up steps
            reset = reset_peak()
        t0 = time.perf_counter()
        loss = step()
        if i >= c['warmup']:
            times.append((time.perf_counter() - t0) * 1000)
        if first_loss is None:
            first_loss = loss
    hwm = status_kb('VmHWM')
    steps_peak = hwm if reset else None
    cfg_text = torch.__config__.show()
    blas = [s.split('=')[1].split(',')[0] for s in cfg_text.replace(' ', ',').split(',') if s.startswith('BLAS_INFO=')]
    print(json.dumps({'step_ms': statistics.median(times), 'steps_ms': times, 'first_loss': first_loss,
                      'baseline_kb': baseline, 'loaded_kb': loaded, 'peak_kb': max(setup_peak, hwm),
                      'steps_peak_kb': steps_peak, 'params': sum(p.numel() for p in params),
                      'torch': torch.__version__, 'blas': blas}))


if __name__ == '__main__':
    main()
