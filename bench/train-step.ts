// Bench: one training step of whole LLaMA-style models against PyTorch on the same weights,
// the same [batch, seq] token batch and the same thread count:
//   Recall:  ModelGradient.gradient (the ORT session running forward + next-token loss + the
//            derived gradient graph) + AdamW.step in TypeScript over the Float32Array params;
//   PyTorch: the plain-torch LLaMA of bench/torch_models.py (bench/torch_train_step.py),
//            cross_entropy + loss.backward() + torch.optim.AdamW.step().
// Each side runs in its own fresh child process doing only that (load the model, then warm-up
// and timed steps), which reports the median step time and its peak RSS (VmHWM) above its own
// baseline taken after imports: over the whole run (load + steps) and over the timed steps alone
// (VmHWM reset through /proc/self/clear_refs after the warm-up). Printed per model: step time
// Recall/PyTorch (target <= 1.0), tokens/s of both, peak memory Recall/PyTorch (target <= 1.5),
// and the first step's loss of both (same weights and batch: must agree within 1e-4 relative).
// Models: the tiny-llama fixture, the demo model's shape (native-models/demo-model when it holds
// a trained model, else random weights of that shape) and a ~25M-parameter random model.
// Debian's torch 1.13 is built with BLAS_INFO=generic (no MKL/OpenBLAS), so its matmuls are far
// slower than a stock PyTorch's; ratios flatter Recall by that much (see ort-block.ts).
// Options: --threads T (default 2), --runs N (default 5 for tiny, 3 for demo, 1 for 25m: Debian's
// torch needs tens of seconds per step there), --warmup N (default 2 for tiny, else 1),
// --models tiny,demo,25m, --batch B (8), --seq T (128), --checkpoint (Recall recomputes each
// decoder layer in the backward pass: ModelGradient's checkpointLayers). `node --import tsx bench/train-step.ts`
// runs it without bench/run.ts.
import { mulberry32 } from '../main/engine/random.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TokenBatch } from '../main/engine/tune/data.ts';
import type { Bench } from './run.ts';

const PYTHON = '/usr/bin/python3'; // Debian's interpreter has torch; the one on PATH may not.
const LR = 1e-4, WEIGHT_DECAY = 0.01;
const HERE = fileURLToPath(import.meta.url);
const ROOT = resolve(HERE, '../..');

interface Shape { vocab: number; hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number }
interface ModelSpec { label: string; dir?: string; shape?: Shape; maxPositions: number; runs?: number; warmup?: number }

const DEMO_SHAPE: Shape = { vocab: 826, hidden: 192, intermediate: 512, layers: 4, heads: 4, kvHeads: 2 };
const BIG_SHAPE: Shape = { vocab: 8000, hidden: 512, intermediate: 1376, layers: 8, heads: 8, kvHeads: 4 };

function models(): Record<string, ModelSpec> {
  const demo = join(ROOT, 'native-models/demo-model');
  const trainedDemo = existsSync(join(demo, 'config.json')) && existsSync(join(demo, 'model.safetensors'));
  return {
    tiny: { label: 'tiny-llama fixture', dir: join(ROOT, 'test/fixtures/models/tiny-llama'), maxPositions: 128 },
    demo: trainedDemo
      ? { label: 'demo model (native-models/demo-model)', dir: demo, maxPositions: 0, runs: 3, warmup: 1 }
      : { label: 'demo-model shape, random init (native-models/demo-model has no model yet)', shape: DEMO_SHAPE, maxPositions: 512, runs: 3, warmup: 1 },
    // One timed step: Debian's torch takes tens of seconds per step at this size.
    '25m': { label: '~25M random init', shape: BIG_SHAPE, maxPositions: 512, runs: 1, warmup: 1 },
  };
}

function option(args: string[], name: string): number | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} needs a whole number, got '${args[i + 1]}'`);
  return v;
}

/** A HF LLaMA folder of `shape` with transformers-style init (normal(0, 0.02), norms 1), float32, tied embeddings. */
async function writeRandomModel(dir: string, s: Shape, maxPositions: number): Promise<void> {
  const { readDecoderConfig } = await import('../main/engine/models/config.ts');
  const { initWeights } = await import('../main/engine/models/init-weights.ts');
  const { writeSafetensors } = await import('../main/engine/models/safetensors-write.ts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: s.hidden,
    intermediate_size: s.intermediate, num_attention_heads: s.heads, num_hidden_layers: s.layers,
    num_key_value_heads: s.kvHeads, rms_norm_eps: 1e-6, rope_theta: 10000, rope_scaling: null, max_position_embeddings: maxPositions,
    tie_word_embeddings: true, vocab_size: s.vocab, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  }));
  const w = initWeights(readDecoderConfig(dir), 7);
  writeSafetensors(join(dir, 'model.safetensors'), w.names().map((name) => ({ name, dtype: 'float32' as const, shape: w.info(name).shape, data: () => w.readFloat32(name) })));
}

/** B rows of T + 1 random ids in [3, vocab): inputs are the first T, labels the last T. */
function tokenBatch(B: number, T: number, vocab: number, seed: number): { inputs: number[][]; labels: number[][] } {
  const next = mulberry32(seed);
  const rows = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => 3 + Math.floor(next() * (vocab - 3))));
  return { inputs: rows.map((r) => r.slice(0, T)), labels: rows.map((r) => r.slice(1)) };
}

interface SideResult {
  stepMs: number; stepsMs: number[]; firstLoss: number; params: number;
  /** kB above the process's baseline after imports. */
  peakKb: number; stepsPeakKb: number | null;
  /** kB above baseline once the model is loaded and ready to train, before the first step. */
  loadedKb: number;
  /** Recall only: bytes in JS ArrayBuffers (process.memoryUsage) when loaded and after the last step, in kB. */
  arrayBuffersKb?: [number, number];
  torch?: string; blas?: string[];
}

interface ChildConfig { dir: string; threads: number; inputs: number[][]; labels: number[][]; lr: number; weight_decay: number; warmup: number; runs: number; checkpoint?: boolean }

function runRecall(c: ChildConfig): SideResult | string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', HERE, '--child', JSON.stringify(c)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error || r.status !== 0) return `Recall child failed: ${r.error?.message ?? r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as SideResult;
}

function runTorch(c: ChildConfig): SideResult | string {
  const script = fileURLToPath(new URL('./torch_train_step.py', import.meta.url));
  const r = spawnSync(PYTHON, [script, JSON.stringify(c)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error || r.status !== 0) return `PyTorch side failed: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    step_ms: number; steps_ms: number[]; first_loss: number; baseline_kb: number; loaded_kb: number; peak_kb: number; steps_peak_kb: number | null; params: number; torch: string; blas: string[];
  };
  return {
    stepMs: o.step_ms, stepsMs: o.steps_ms, firstLoss: o.first_loss, params: o.params,
    peakKb: o.peak_kb - o.baseline_kb, loadedKb: o.loaded_kb - o.baseline_kb, stepsPeakKb: o.steps_peak_kb === null ? null : o.steps_peak_kb - o.baseline_kb,
    torch: o.torch, blas: o.blas,
  };
}

// ---- the Recall child: load, then warm-up + timed steps, nothing else ----

function statusKb(field: string): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/self/status`);
  return Number(line.split(/\s+/)[1]);
}

function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function child(c: ChildConfig): Promise<void> {
  const { loadModelFolder } = await import('../main/engine/models/folder.ts');
  const { ModelGradient } = await import('../main/engine/tune/model-gradient.ts');
  const { AdamW } = await import('../main/engine/tune/optimizer.ts');
  const B = c.inputs.length, T = c.inputs[0]!.length;
  const batch: TokenBatch = { inputs: Int32Array.from(c.inputs.flat()), labels: Int32Array.from(c.labels.flat()), batchSize: B, seqLen: T, sequences: Array.from({ length: B }, (_, b) => b) };
  const baseline = statusKb('VmRSS');

  const folder = loadModelFolder(c.dir);
  const mg = await ModelGradient.create(folder.config, folder.weights, { trainable: 'all', threads: c.threads, ...(c.checkpoint ? { checkpointLayers: true } : {}) });
  folder.weights.close();
  const opt = new AdamW({ weightDecay: c.weight_decay });
  const loaded = statusKb('VmRSS');
  const buffersLoaded = process.memoryUsage().arrayBuffers;
  const times: number[] = [];
  let firstLoss: number | undefined, setupPeak = 0, reset = false;
  for (let i = 0; i < c.warmup + c.runs; i++) {
    if (i === c.warmup) {
      setupPeak = statusKb('VmHWM');
      reset = resetPeak();
    }
    const t0 = performance.now();
    const g = await mg.gradient(batch);
    opt.step(mg.params, g.grads, c.lr);
    if (i >= c.warmup) times.push(performance.now() - t0);
    firstLoss ??= g.loss;
  }
  const hwm = statusKb('VmHWM');
  const buffersEnd = process.memoryUsage().arrayBuffers;
  const params = [...mg.params.values()].reduce((a, p) => a + p.length, 0);
  await mg.release();
  const s = [...times].sort((a, b) => a - b);
  const median = s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  const out: SideResult = { stepMs: median, stepsMs: times, firstLoss: firstLoss!, params, peakKb: Math.max(setupPeak, hwm) - baseline, stepsPeakKb: reset ? hwm - baseline : null, loadedKb: loaded - baseline, arrayBuffersKb: [buffersLoaded / 1024, buffersEnd / 1024] };
  console.log(JSON.stringify(out));
}

// ---- the bench ----

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

export const bench: Bench = {
  description: 'one training step (forward + backward + AdamW) vs PyTorch: step time, tokens/s, peak RSS, first loss',
  async run(args) {
    const threads = option(args, 'threads') ?? 2;
    const B = option(args, 'batch') ?? 8, T = option(args, 'seq') ?? 128;
    const checkpoint = args.includes('--checkpoint');
    const mi = args.indexOf('--models');
    const all = models();
    const names = mi >= 0 ? args[mi + 1]!.split(',') : Object.keys(all);
    const root = mkdtempSync(join(tmpdir(), 'recall-bench-train-'));
    console.log(`train-step: one step = forward + next-token loss + backward + AdamW (lr ${LR}, wd ${WEIGHT_DECAY}); batch ${B} x seq ${T}; ` +
      `${threads} thread${threads === 1 ? '' : 's'}; ${checkpoint ? 'Recall recomputes each layer in the backward pass (--checkpoint); ' : ''}each side in a fresh child process; median of the timed steps after warm-up`);
    console.log('  note: Debian\'s torch uses BLAS_INFO=generic (no MKL/OpenBLAS), slower than a stock PyTorch build; read step-time ratios < 1 with that in mind');
    console.log('  peak RSS = VmHWM above the process baseline after imports; "all" = load + every step, "steps" = the timed steps alone');
    const busy = () => {
      const load = loadavg()[0]!;
      if (load > availableParallelism() - threads + 0.5) {
        console.log(`  WARNING: load average ${load.toFixed(1)} on ${availableParallelism()} cores: other processes compete for the cores, so timings are noisy; ` +
          'torch\'s OpenMP regions stall badly when a worker thread is descheduled (compare --threads 1)');
      }
    };
    busy();
    try {
      for (const name of names) {
        const spec = all[name];
        if (!spec) throw new Error(`unknown model '${name}' (known: ${Object.keys(all).join(', ')})`);
        let dir = spec.dir;
        if (!dir) {
          dir = join(root, name);
          await writeRandomModel(dir, spec.shape!, spec.maxPositions);
        }
        const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number; max_position_embeddings: number };
        if (T > cfg.max_position_embeddings) throw new Error(`${name}: --seq ${T} is longer than the model's context (${cfg.max_position_embeddings})`);
        const warmup = option(args, 'warmup') ?? spec.warmup ?? 2, runs = option(args, 'runs') ?? spec.runs ?? 5;
        if (runs < 1) throw new Error('--runs must be at least 1');
        const { inputs, labels } = tokenBatch(B, T, cfg.vocab_size, 17);
        const c: ChildConfig = { dir, threads, inputs, labels, lr: LR, weight_decay: WEIGHT_DECAY, warmup, runs, ...(checkpoint ? { checkpoint } : {}) };
        const torch = runTorch(c);
        const ours = runRecall(c);
        const params = typeof ours === 'string' ? (typeof torch === 'string' ? NaN : torch.params) : ours.params;
        console.log(`  ${name}: ${spec.label}, ${(params / 1e6).toFixed(2)}M params (${(params * 4 / 1e6).toFixed(1)} MB float32); ${warmup} warm-up + ${runs} timed steps`);
        if (typeof torch === 'string') console.log(`    ${torch}`);
        if (typeof ours === 'string') console.log(`    ${ours}`);
        if (typeof torch === 'string' || typeof ours === 'string') continue;
        const tps = (ms: number) => (B * T / ms * 1000).toFixed(0);
        console.log(`    PyTorch ${torch.torch} (BLAS ${torch.blas?.join(', ') || 'unknown'}): ${torch.stepMs.toFixed(1)} ms/step, ${tps(torch.stepMs)} tok/s; ` +
          `RSS loaded ${mb(torch.loadedKb)}, peak all ${mb(torch.peakKb)}, steps ${torch.stepsPeakKb === null ? '?' : mb(torch.stepsPeakKb)}`);
        console.log(`    Recall: ${ours.stepMs.toFixed(1)} ms/step, ${tps(ours.stepMs)} tok/s; ` +
          `RSS loaded ${mb(ours.loadedKb)}, peak all ${mb(ours.peakKb)}, steps ${ours.stepsPeakKb === null ? '?' : mb(ours.stepsPeakKb)}` +
          (ours.arrayBuffersKb ? ` (JS ArrayBuffers: ${mb(ours.arrayBuffersKb[0])} loaded, ${mb(ours.arrayBuffersKb[1])} after the last step)` : ''));
        const rel = Math.abs(ours.firstLoss - torch.firstLoss) / Math.abs(torch.firstLoss);
        const stepsMem = ours.stepsPeakKb !== null && torch.stepsPeakKb !== null ? (ours.stepsPeakKb / torch.stepsPeakKb).toFixed(2) : '?';
        console.log(`    Recall/PyTorch: step time ${(ours.stepMs / torch.stepMs).toFixed(3)} (target <= 1.0), ` +
          `peak RSS all ${(ours.peakKb / torch.peakKb).toFixed(2)}, steps ${stepsMem} (target <= 1.5); ` +
          `first loss ${ours.firstLoss.toPrecision(9)} vs ${torch.firstLoss.toPrecision(9)}, rel diff ${rel.toExponential(1)} ${rel <= 1e-4 ? '(agree, <= 1e-4)' : '(DIFFER, > 1e-4)'}`);
        busy();
        if (params !== torch.params) console.log(`    WARNING: parameter counts differ (Recall ${params}, PyTorch ${torch.params})`);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};

if (process.argv[1] && resolve(process.argv[1]) === HERE && process.argv[2] === '--child') {
  await child(JSON.parse(process.argv[3]!) as ChildConfig);
} else if (process.argv[1] && resolve(process.argv[1]) === HERE) {
  // `node --import tsx bench/train-step.ts [args]` works too, without bench/run.ts.
  await bench.run(process.argv.slice(2));
}
