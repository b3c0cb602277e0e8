// Bench: seconds to GPTQ-quantize (4-bit, group 128) and SparseGPT-prune (50%) one linear layer
// from a given Hessian, Recall (main/engine/compress, TypeScript, rows split over T threads) vs the
// PyTorch reference (scripts/oracles/compress_ref.py in float32, as GPTQ runs; Debian torch, the
// same T threads), on the same W and H; printed as ratios "Recall/PyTorch time" (< 1: Recall is faster),
// with each side's peak RSS (each run in its own process).
// Shapes rows x cols (out x in features): 1024x1024, 4096x4096, 11008x4096 (LLaMA-7B up/gate_proj).
// Options: --quick (1024x1024 only), --threads T (both sides, default 2).
// Also runnable directly: node --import tsx bench/compress-layer.ts [--quick].
// Each Recall time is one cold call in a fresh process: it includes starting the worker thread and
// V8 compiling the kernels (a whole-model run pays those once, for hundreds of modules).
// Measured (2-core VM shared with other work, 2 threads each, Recall/PyTorch time, range of runs):
//   before the register-blocked kernels / column-parallel Hessian preparation / prestarted workers:
//     1024x1024 gptq 1.13-1.15, sparsegpt 1.09-1.15; 4096x4096 0.51-0.71, 0.66; 11008x4096 0.54-0.62, 0.57
//     (Recall 0.56-0.57 s, 0.60-0.65 s; 23.9 s, 32.4 s; 63.3 s, 61.2 s)
//   after: 1024x1024 gptq 0.55-0.68, sparsegpt 0.63-0.68; 4096x4096 0.22-0.23, 0.25; 11008x4096 0.24-0.27, 0.27-0.28
//     (Recall 0.30-0.36 s, 0.36-0.40 s; 7.8-8.1 s, 8.9-9.1 s; 15.1-15.5 s, 17.8-18.1 s; peak RSS 912, 903,
//     1469, 1499 MB vs PyTorch's 753, 712, 1300, 1306 MB). PyTorch's times swing by 30%+ when the machine is busy.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench } from './run.ts';

const PYTHON = '/usr/bin/python3'; // Debian's interpreter has torch; the one on PATH may not.
const SHAPES: [number, number][] = [[1024, 1024], [4096, 4096], [11008, 4096]];
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

interface Timing { seconds: number; peak_mb: number; torch?: string }

function runJson(cmd: string, args: string[]): Timing | string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error || r.status !== 0) return `failed: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Timing;
}

export const bench: Bench = {
  description: 'one linear layer: GPTQ 4-bit g128 and SparseGPT 50%, Recall vs PyTorch',
  async run(args) {
    const quick = args.includes('--quick');
    const ti = args.indexOf('--threads');
    const threads = ti >= 0 ? Number(args[ti + 1]) : 2;
    console.log(`compress-layer: Recall and PyTorch ${threads} thread(s) each; ratios are Recall/PyTorch time`);
    for (const [rows, cols] of quick ? SHAPES.slice(0, 1) : SHAPES) {
      const dir = mkdtempSync(join(tmpdir(), 'recall-compress-bench-'));
      try {
        const gen = spawnSync(PYTHON, [here('./compress_layer.py'), 'gen', dir, `${rows}`, `${cols}`, '1'], { encoding: 'utf8' });
        if (gen.status !== 0) { console.log(`  ${rows}x${cols}: input generation failed: ${gen.stderr.trim().split('\n').pop()}`); continue; }
        for (const method of ['gptq', 'sparsegpt']) {
          const ours = runJson(process.execPath, ['--import', 'tsx', here('./compress-layer-child.ts'), dir, `${rows}`, `${cols}`, method, `${threads}`]);
          const ref = runJson(PYTHON, [here('./compress_layer.py'), 'run', dir, `${rows}`, `${cols}`, method, `${threads}`]);
          const fmt = (t: Timing | string) => (typeof t === 'string' ? t : `${t.seconds.toFixed(2)} s, peak ${t.peak_mb.toFixed(0)} MB`);
          const ratio = typeof ours !== 'string' && typeof ref !== 'string' ? `Recall/PyTorch time = ${(ours.seconds / ref.seconds).toFixed(2)}` : 'ratio omitted';
          console.log(`  ${`${rows}x${cols}`.padEnd(10)} ${method.padEnd(9)} Recall ${fmt(ours)}; PyTorch ${fmt(ref)}; ${ratio}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  },
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await bench.run(process.argv.slice(2));
