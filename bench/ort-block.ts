// Bench: one pre-norm decoder block (test/helpers/decoder-block.ts) at realistic small-model
// shapes. (a) ORT session creation time, as a multiple of one forward; (b) median warm forward
// time through ORT vs the same block in PyTorch (bench/torch_block.py, same shapes, same
// thread count), printed as the ratio "ORT/PyTorch time" (< 1: ORT is faster).
// Options: --runs N (default 20), --threads T (default: all cores), --batch/--seq/--hidden/--heads/--intermediate.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createSession } from '../main/engine/runtime/session.ts';
import { float32 } from '../main/engine/runtime/tensors.ts';
import { randomFloats } from '../test/helpers/compare.ts';
import { type BlockConfig, buildDecoderBlockModel, randomBlockWeights } from '../test/helpers/decoder-block.ts';
import type { Bench } from './run.ts';
import { numberOption } from './proc-memory.ts';

const PYTHON = '/usr/bin/python3'; // Debian's interpreter has torch; the one on PATH may not.
const WARMUP = 3;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function timeOrt(c: BlockConfig, threads: number, runs: number): Promise<{ createMs: number; forwardMs: number }> {
  const model = buildDecoderBlockModel(randomBlockWeights(c, 1), c);
  const x = float32([c.batch as number, c.seq, c.hidden], randomFloats((c.batch as number) * c.seq * c.hidden, 2, 1));
  const creates: number[] = [];
  let session = await createSession(model, { threads, optimization: 'all' });
  for (let i = 0; i < 4; i++) {
    await session.release();
    const t0 = performance.now();
    session = await createSession(model, { threads, optimization: 'all' });
    creates.push(performance.now() - t0);
  }
  const times: number[] = [];
  for (let i = 0; i < WARMUP + runs; i++) {
    const t0 = performance.now();
    await session.run({ x });
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  await session.release();
  return { createMs: median(creates), forwardMs: median(times) };
}

function timeTorch(c: BlockConfig, threads: number, runs: number): { forwardMs: number; blas: string[]; torch: string } | string {
  const script = fileURLToPath(new URL('./torch_block.py', import.meta.url));
  const cfg = JSON.stringify({ batch: c.batch, seq: c.seq, hidden: c.hidden, heads: c.heads, intermediate: c.intermediate, eps: c.eps, threads, warmup: WARMUP, runs });
  const r = spawnSync(PYTHON, [script, cfg], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `PyTorch side failed: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { median_ms: number; blas: string[]; torch: string };
  return { forwardMs: out.median_ms, blas: out.blas, torch: out.torch };
}

export const bench: Bench = {
  description: 'decoder block: ORT vs PyTorch',
  async run(args) {
    const threads = numberOption(args, 'threads', availableParallelism());
    const runs = numberOption(args, 'runs', 20);
    const base = {
      batch: numberOption(args, 'batch', 4), seq: numberOption(args, 'seq', 128), hidden: numberOption(args, 'hidden', 512),
      heads: numberOption(args, 'heads', 8), intermediate: numberOption(args, 'intermediate', 1408), eps: 1e-6,
    };
    console.log(`ort-block: batch ${base.batch}, seq ${base.seq}, hidden ${base.hidden}, heads ${base.heads}, intermediate ${base.intermediate}; ` +
      `${threads} threads; median of ${runs} warm runs after ${WARMUP} warm-up`);
    const torch = timeTorch(base, threads, runs);
    if (typeof torch === 'string') console.log(`  ${torch}; ratios to PyTorch omitted`);
    else console.log(`  PyTorch ${torch.torch} forward: ${torch.forwardMs.toFixed(2)} ms (BLAS: ${torch.blas.join(', ') || 'unknown'})`);
    for (const rmsnorm of ['decomposed', 'fused'] as const) {
      const ort = await timeOrt({ ...base, rmsnorm }, threads, runs);
      console.log(`  ORT, ${rmsnorm} RMSNorm: forward ${ort.forwardMs.toFixed(2)} ms; session create ${ort.createMs.toFixed(1)} ms`);
      console.log(`    session create / ORT forward = ${(ort.createMs / ort.forwardMs).toFixed(2)}`);
      if (typeof torch !== 'string') console.log(`    ORT/PyTorch time = ${(ort.forwardMs / torch.forwardMs).toFixed(3)}`);
    }
  },
};
