// Bench: whole random-weight LLaMA-style models at a few sizes (up to ~100M parameters),
// loaded through LanguageModel, against the same weights in plain PyTorch
// (bench/torch_models.py, same ids, same thread count):
//   (a) scoring: one forward over a [batch, seq] block of ids, tokens/s;
//   (b) greedy generation with the KV cache (prefill + new tokens), tokens/s;
// printed as "Recall/PyTorch tokens/s" (> 1: Recall is faster), for the graph held in memory
// and for the graph with external, memory-mapped weights (the large-model path, which turns
// off ORT's weight pre-packing to keep one copy of the weights). (c) For the largest size,
// peak RSS of build + session + one forward above the process baseline, / weight bytes, in a
// child process (test/models/large-model-child.ts), for both paths.
// Debian's torch 1.13 is built with BLAS_INFO=generic (no MKL/OpenBLAS), so its matmuls are
// slower than a stock PyTorch's; the ratios flatter Recall by that much (see ort-block.ts).
// Options: --threads T (default: all cores), --runs N (default 5), --sizes S,M,L, --new-tokens N.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LanguageModel } from '../main/engine/models/language-model.ts';
import { writeSafetensors } from '../main/engine/models/safetensors-write.ts';
import { readSafetensorsHeader } from '../main/engine/models/safetensors.ts';
import { float32 } from '../main/engine/runtime/tensors.ts';
import { randomFloats } from '../test/helpers/compare.ts';
import { fixtureDir } from '../test/helpers/model-fixtures.ts';
import type { Bench } from './run.ts';
import { numberOption } from './proc-memory.ts';

const PYTHON = '/usr/bin/python3'; // Debian's interpreter has torch; the one on PATH may not.
const WARMUP = 2;
const BATCH = 4, SEQ = 128, PROMPT = 16;

interface Size { vocab: number; hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number }
const SIZES: Record<string, Size> = {
  S: { vocab: 8000, hidden: 256, intermediate: 688, layers: 4, heads: 4, kvHeads: 2 },
  M: { vocab: 16000, hidden: 512, intermediate: 1376, layers: 6, heads: 8, kvHeads: 4 },
  L: { vocab: 32000, hidden: 768, intermediate: 2048, layers: 12, heads: 12, kvHeads: 4 },
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Write a random-weight LLaMA folder (float32, tied embeddings); returns its parameter count. */
function writeModel(dir: string, s: Size): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: s.hidden,
    intermediate_size: s.intermediate, num_attention_heads: s.heads, num_hidden_layers: s.layers,
    num_key_value_heads: s.kvHeads, rms_norm_eps: 1e-6, rope_theta: 10000, rope_scaling: null, max_position_embeddings: 512,
    tie_word_embeddings: true, vocab_size: s.vocab, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  }));
  copyFileSync(join(fixtureDir('tiny-llama'), 'tokenizer.json'), join(dir, 'tokenizer.json'));
  const H = s.hidden, kv = (s.kvHeads * H) / s.heads, I = s.intermediate;
  let seed = 1, params = 0;
  const t = (name: string, shape: number[], scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1), sd = seed++;
    params += n;
    return { name, dtype: 'float32' as const, shape, data: () => randomFloats(n, sd, scale).map((v) => v + offset) };
  };
  const tensors = [t('model.embed_tokens.weight', [s.vocab, H], 1)];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`, r = 1 / Math.sqrt(H);
    tensors.push(t(`${p}.self_attn.q_proj.weight`, [H, H], r), t(`${p}.self_attn.k_proj.weight`, [kv, H], r),
      t(`${p}.self_attn.v_proj.weight`, [kv, H], r), t(`${p}.self_attn.o_proj.weight`, [H, H], r),
      t(`${p}.mlp.gate_proj.weight`, [I, H], r), t(`${p}.mlp.up_proj.weight`, [I, H], r),
      t(`${p}.mlp.down_proj.weight`, [H, I], 1 / Math.sqrt(I)),
      t(`${p}.input_layernorm.weight`, [H], 0.1, 1), t(`${p}.post_attention_layernorm.weight`, [H], 0.1, 1));
  }
  tensors.push(t('model.norm.weight', [H], 0.1, 1));
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return params;
}

function ids(n: number, vocab: number, seed: number): number[] {
  return Array.from(randomFloats(n, seed, 1), (v) => 3 + Math.floor(((v + 1) / 2) * (vocab - 4)));
}

interface Timing { scoreMs: number; generateMs: number; tokens: number[] }

async function timeRecall(dir: string, cacheDir: string, external: boolean, threads: number, runs: number, batchIds: number[][], prompt: number[], newTokens: number): Promise<Timing> {
  const lm = await LanguageModel.load(dir, { threads, cacheDir, externalThreshold: external ? 0 : Infinity });
  const { numLayers, numKvHeads, headDim } = lm.config;
  const empty = () => float32([batchIds.length, numKvHeads, 0, headDim]);
  const past = { keys: Array.from({ length: numLayers }, empty), values: Array.from({ length: numLayers }, empty), length: 0 };
  const score: number[] = [], gen: number[] = [];
  let tokens: number[] = [];
  for (let i = 0; i < WARMUP + runs; i++) {
    const t0 = performance.now();
    await lm.runner.step(batchIds, past);
    if (i >= WARMUP) score.push(performance.now() - t0);
  }
  for (let i = 0; i < 1 + Math.max(1, runs >> 1); i++) {
    const t0 = performance.now();
    tokens = (await lm.runner.generateGreedy(prompt, { maxTokens: newTokens, stopTokens: [] })).tokens;
    if (i >= 1) gen.push(performance.now() - t0);
  }
  await lm.release();
  return { scoreMs: median(score), generateMs: median(gen), tokens };
}

function timeTorch(dir: string, threads: number, runs: number, batchIds: number[][], prompt: number[], newTokens: number): (Timing & { torch: string; blas: string[] }) | string {
  const script = fileURLToPath(new URL('./torch_models.py', import.meta.url));
  const cfg = JSON.stringify({ dir, threads, batch_ids: batchIds, prompt, new_tokens: newTokens, warmup: WARMUP, runs });
  const r = spawnSync(PYTHON, [script, cfg], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error || r.status !== 0) return `PyTorch side failed: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as { score_ms: number; generate_ms: number; tokens: number[]; torch: string; blas: string[] };
  return { scoreMs: o.score_ms, generateMs: o.generate_ms, tokens: o.tokens, torch: o.torch, blas: o.blas };
}

/** Peak RSS above baseline of load + one forward in a fresh process, / weight bytes. */
function rssRatio(dir: string, cacheDir: string, external: boolean, threads: number, prompt: number[], weightBytes: number): string {
  const child = fileURLToPath(new URL('../test/models/large-model-child.ts', import.meta.url));
  const args = JSON.stringify({ dir, cacheDir, ids: prompt, threads, externalThreshold: external ? 0 : Infinity });
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, args], { encoding: 'utf8' });
  if (r.status !== 0) return `failed: ${r.stderr.trim().split('\n').pop()}`;
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as { baselineRss: number; peakRss: number };
  return ((o.peakRss - o.baselineRss) / weightBytes).toFixed(3);
}

export const bench: Bench = {
  description: 'whole models: scoring and greedy generation tokens/s vs PyTorch; build+session peak RSS',
  async run(args) {
    const threads = numberOption(args, 'threads', availableParallelism());
    const runs = numberOption(args, 'runs', 5);
    const newTokens = numberOption(args, 'new-tokens', 32);
    const si = args.indexOf('--sizes');
    const names = si >= 0 ? args[si + 1]!.split(',') : Object.keys(SIZES);
    const root = mkdtempSync(join(tmpdir(), 'recall-bench-models-'));
    console.log(`models-forward: scoring batch ${BATCH} x seq ${SEQ}; generation ${newTokens} tokens after a ${PROMPT}-token prompt; ` +
      `${threads} threads; median of ${runs} runs after ${WARMUP} warm-up`);
    console.log('  note: Debian\'s torch uses BLAS_INFO=generic (no MKL/OpenBLAS), slower than a stock PyTorch build; read ratios > 1 with that in mind');
    try {
      let last: { dir: string; weightBytes: number; prompt: number[] } | undefined;
      for (const name of names) {
        const size = SIZES[name];
        if (!size) throw new Error(`unknown size '${name}' (known: ${Object.keys(SIZES).join(', ')})`);
        const dir = join(root, name);
        const params = writeModel(dir, size);
        const weightBytes = [...readSafetensorsHeader(join(dir, 'model.safetensors')).tensors.values()].reduce((a, e) => a + e.byteLength, 0);
        const batchIds = Array.from({ length: BATCH }, (_, b) => ids(SEQ, size.vocab, 100 + b));
        const prompt = ids(PROMPT, size.vocab, 99);
        console.log(`  ${name}: ${(params / 1e6).toFixed(1)}M params (vocab ${size.vocab}, hidden ${size.hidden}, ${size.layers} layers)`);
        const torch = timeTorch(dir, threads, runs, batchIds, prompt, newTokens);
        if (typeof torch === 'string') console.log(`    ${torch}; ratios omitted`);
        else console.log(`    PyTorch ${torch.torch} (BLAS ${torch.blas.join(', ') || 'unknown'}): score ${(BATCH * SEQ / torch.scoreMs * 1000).toFixed(0)} tok/s, generate ${(newTokens / torch.generateMs * 1000).toFixed(1)} tok/s`);
        for (const external of [false, true]) {
          const r = await timeRecall(dir, join(root, 'cache'), external, threads, runs, batchIds, prompt, newTokens);
          const label = external ? 'external weights (mmap, no pre-pack)' : 'in-memory graph';
          let line = `    Recall, ${label}: score ${(BATCH * SEQ / r.scoreMs * 1000).toFixed(0)} tok/s, generate ${(newTokens / r.generateMs * 1000).toFixed(1)} tok/s`;
          if (typeof torch !== 'string') {
            const same = r.tokens.every((t, i) => t === torch.tokens[i]);
            line += `; Recall/PyTorch tokens/s: score ${(torch.scoreMs / r.scoreMs).toFixed(2)}, generate ${(torch.generateMs / r.generateMs).toFixed(2)}; greedy tokens ${same ? 'match' : 'DIFFER'}`;
          }
          console.log(line);
        }
        last = { dir, weightBytes, prompt };
      }
      if (last) {
        const cache = join(root, 'rss-cache');
        console.log(`  peak RSS of build + session + one forward above baseline / weight bytes (${(last.weightBytes / 1e6).toFixed(0)} MB, target <= 1.2): ` +
          `in-memory graph ${rssRatio(last.dir, cache, false, threads, last.prompt, last.weightBytes)}, ` +
          `external weights ${rssRatio(last.dir, cache, true, threads, last.prompt, last.weightBytes)}`);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};
