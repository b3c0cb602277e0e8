// Bench: whole-model compression memory and time. A random-weight LLaMA-style folder (float32,
// ~29M params by default: vocab 8000, hidden 512, 8 layers, 8/4 heads, intermediate 1536; --size
// 80m: hidden 768, 12 layers, 12/4 heads, intermediate 2048) is written with safetensors-write.ts
// and compressed with `recall compress --method gptq --bits 4 --group-size 128` (the CLI's own
// command function) in a fresh child process. Printed: peak RSS (VmHWM) above the child's baseline
// (after ORT and the CLI are loaded) divided by the model's weight bytes, and seconds.
// Measured (2 cores, busy machine), GPTQ 4-bit g128, 32 x 128 calibration tokens, with the
// solver's 2-3x speed-up and a garbage collection at each driver stage:
//   29m (8 layers, 112 MB):        peak 262 MB above baseline = 2.34x weight bytes, 15 s
//   104m-deep (32 layers, 400 MB): peak 278 MB above baseline = 0.69x weight bytes, 62 s
//   24 more layers add 16 MB to the peak: 0.06x the added weight bytes.
//   demo model (6.8 MB, GPTQ 3-bit g32, 64 x 128 tokens of its calibration split): 2.6 s, peak 131 MB
//   above baseline (all fixed cost at this size).
// (Without the collections: 314 / 323 MB; before the solver speed-up: 270-290 / 285-288 MB.)
// Traced on 29m: the peak is inside the solve of down_proj (1536 columns: float64 H, its
// Cholesky factors and U, ~50 MB), on top of ~125 MB held for the whole run (the solver's worker
// thread, which loads tsx when run from the sources, ~40 MB; ORT's freed session memory the
// allocator keeps) and the layer's Hessians and compressed weights.
// The peak does not grow with depth: nothing proportional to the model is held (the driver
// reads one cut's weights at a time from the model's files, opens that layer's session from
// disk, and checkpoints each finished layer; the output is written from the checkpoints).
// Reading weights per cut instead of copying the model into the state folder first: same peak
// (260 / 275 MB), byte-identical outputs.
// What remains is a fixed cost per run: ORT's layer session (weights, pre-packed copies,
// arena), the layer's Hessians and compressed weights, the solver's float64 working copies and
// worker threads, and freed memory the allocator keeps. On the 8-layer model one layer is 1/8
// of the weights, so the ratio is high there; at LLaMA's depth the 1.2x target is met.
// (Before: 4.9x on 29m, the dense graph and every compressed copy held to the end.)
// Options: --size NAME[,NAME] (demo, 29m, 80m, 104m-deep; default demo,29m,104m-deep), --nsamples N (default 32), --seqlen T (default 128), --threads T (ORT).
// Also runnable directly: node --import tsx bench/compress-model.ts [options].
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench } from './run.ts';
import { procStatus, stringOption } from './proc-memory.ts';
import { SIZES, writeRandomModel } from './random-llama.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const CALIB = join(ROOT, 'test/fixtures/train/tiny-corpus.txt');
const DEMO = join(ROOT, 'native-models/demo-model');



interface ChildResult { baselineRss: number; peakRss: number; seconds: number; exitCode: number }

async function child(argv: string[]): Promise<ChildResult> {
  await import('../main/engine/runtime/ort.ts');
  const { main } = await import('../main/cli/main.ts');
  const baselineRss = procStatus('VmRSS');
  const t0 = performance.now();
  const exitCode = await main(argv);
  return { baselineRss, peakRss: procStatus('VmHWM'), seconds: (performance.now() - t0) / 1000, exitCode };
}


/** `recall compress argv` in a fresh child process, with its memory and time. */
function runChild(argv: string[]): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', JSON.stringify(argv)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const c = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
  if (c.exitCode !== 0) throw new Error(`recall compress exited ${c.exitCode}: ${r.stdout.slice(-2000)}`);
  return c;
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

export const bench: Bench = {
  description: 'whole-model GPTQ from the CLI: the demo model (seconds), random LLaMAs of 8 and 32 layers of one shape (peak RSS above baseline / weight bytes, growth per layer, seconds)',
  async run(args) {
    const sizeNames = stringOption(args, 'size', 'demo,29m,104m-deep').split(',');
    for (const n of sizeNames) if (n !== 'demo' && !(n in SIZES)) throw new Error(`--size must be one or more of demo, ${Object.keys(SIZES).join(', ')} (comma-separated)`);
    const nsamples = stringOption(args, 'nsamples', '32'), seqlen = stringOption(args, 'seqlen', '128'), threads = stringOption(args, 'threads', '2');
    const peaks: { name: string; layers: number; above: number; weightBytes: number }[] = [];
    for (const sizeName of sizeNames) {
      const tmp = mkdtempSync(join(tmpdir(), 'recall-bench-compress-model-'));
      try {
        if (sizeName === 'demo') {
          // The bundled demo model as the study compresses it: GPTQ 3-bit g32 on its calibration split.
          const argv = ['compress', '--model', DEMO, '--method', 'gptq', '--bits', '3', '--group-size', '32', '--calib', join(DEMO, '../demo/calibration.txt'),
            '--nsamples', '64', '--seqlen', '128', '--threads', threads, '--json', '--out', join(tmp, 'gptq')];
          const c = runChild(argv);
          const weightBytes = statSync(join(DEMO, 'model.safetensors')).size;
          console.log(`compress-model demo (${mb(weightBytes)} float32), GPTQ 3-bit g32, 64 x 128 calibration tokens, ORT threads ${threads}`);
          console.log(`  ${c.seconds.toFixed(1)} s; peak RSS above baseline ${mb(c.peakRss - c.baselineRss)} (a fixed cost at this size: ${((c.peakRss - c.baselineRss) / weightBytes).toFixed(1)} x its weights)`);
          continue;
        }
        const size = SIZES[sizeName as keyof typeof SIZES];
        const dense = join(tmp, 'dense');
        const weightBytes = writeRandomModel(dense, size);
        const argv = ['compress', '--model', dense, '--method', 'gptq', '--bits', '4', '--group-size', '128', '--calib', CALIB,
          '--nsamples', nsamples, '--seqlen', seqlen, '--threads', threads, '--json', '--out', join(tmp, 'gptq')];
        const c = runChild(argv);
        const above = c.peakRss - c.baselineRss;
        peaks.push({ name: sizeName, layers: size.layers, above, weightBytes });
        console.log(`compress-model ${sizeName} (${(weightBytes / 4 / 1e6).toFixed(1)}M params, ${size.layers} layers, ${mb(weightBytes)} float32), GPTQ 4-bit g128, ${nsamples} x ${seqlen} calibration tokens, ORT threads ${threads}`);
        console.log(`  peak RSS above baseline ${mb(above)} (baseline ${mb(c.baselineRss)}) = ${(above / weightBytes).toFixed(2)} x weight bytes; ${c.seconds.toFixed(1)} s`);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    // Same layer shapes at two depths: what the peak gains per extra layer is what the run holds per layer of the model.
    const [a, b] = peaks.filter((p) => p.name !== 'demo');
    if (a && b && a.layers !== b.layers && SIZES[a.name as keyof typeof SIZES].hidden === SIZES[b.name as keyof typeof SIZES].hidden) {
      const perLayerBytes = (b.weightBytes - a.weightBytes) / (b.layers - a.layers);
      console.log(`  ${a.name} -> ${b.name}: the peak grows ${mb(b.above - a.above)} for ${b.layers - a.layers} more layers (${mb(perLayerBytes)} of weights each) = ${((b.above - a.above) / (b.weightBytes - a.weightBytes)).toFixed(2)} x the added weight bytes`);
    }
  },
};

if (process.argv[1] === SELF && process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(JSON.parse(process.argv[3]!) as string[])));
} else if (process.argv[1] === SELF) {
  await bench.run(process.argv.slice(2));
}
