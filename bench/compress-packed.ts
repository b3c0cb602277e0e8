// Bench: the packed execution path (quantized linears as com.microsoft MatMulNBits on the integer
// codes, main/engine/compress/packed-graph.ts) against the fake-quant float32 path, for the demo
// model (native-models/demo-model) and a ~29M-param random LLaMA (vocab 8000, hidden 512, 8 layers,
// 8/4 heads, intermediate 1536), each compressed with RTN (the execution cost does not depend on
// how the codes were found) at 4-bit, 3-bit and 2-bit, group 128. Printed as packed / fake-quant:
//   weight bytes  of the quantized linears (MatMulNBits B + scales + zero points vs float32), and
//                 of the whole graph's weights;
//   peak RSS      above the baseline (after ORT is loaded) of load + scoring + generation, measured
//                 in a fresh child process per run (VmHWM);
//   scoring tok/s one forward over a 4 x 128 block, median of --runs (after one warm-up);
//   greedy tok/s  16-token prompt + 32 new tokens with the KV cache (M = 1 rows: the memory-bound case).
// Greedy tokens of the two paths are compared. Options: --threads T (default all cores), --runs N
// (default 5), --models demo,29m, --bits 4,3,2.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compressModel } from '../main/engine/compress/compress-model.ts';
import { loadPackedModel, packedBytes, packedLinearWeights } from '../main/engine/compress/packed-graph.ts';
import { LanguageModel } from '../main/engine/models/language-model.ts';
import { readSafetensorsHeader } from '../main/engine/models/safetensors.ts';
import { float32 } from '../main/engine/runtime/tensors.ts';
import type { Bench } from './run.ts';
import { procStatus, stringOption } from './proc-memory.ts';
import { SIZES, writeRandomModel } from './random-llama.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const CALIB = join(ROOT, 'test/fixtures/train/tiny-corpus.txt');
const BATCH = 4, SEQ = 128, PROMPT = 16, NEW = 32;

interface ChildArgs { dir: string; packed: boolean; threads: number; runs: number }
interface ChildResult { baselineRss: number; peakRss: number; loadMs: number; scoreTokS: number; genTokS: number; greedy: number[] }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function child(a: ChildArgs): Promise<ChildResult> {
  await import('../main/engine/runtime/ort.ts');
  const baselineRss = procStatus('VmRSS');
  const t0 = performance.now();
  const o = { threads: a.threads, externalThreshold: Infinity };
  const lm = a.packed ? await loadPackedModel(a.dir, o) : await LanguageModel.load(a.dir, o);
  const loadMs = performance.now() - t0;
  const { numLayers, numKvHeads, headDim, vocabSize: V } = lm.config;
  const ids = Array.from({ length: BATCH }, (_, b) => Array.from({ length: SEQ }, (_, t) => (b * 131 + t * 17 + 5) % V));
  const empty = () => float32([BATCH, numKvHeads, 0, headDim]);
  const past = () => ({ keys: Array.from({ length: numLayers }, empty), values: Array.from({ length: numLayers }, empty), length: 0 });
  const times: number[] = [];
  for (let r = 0; r <= a.runs; r++) {
    const t = performance.now();
    await lm.runner.step(ids, past());
    if (r > 0) times.push(performance.now() - t);
  }
  const t1 = performance.now();
  const g = await lm.runner.generateGreedy(ids[0]!.slice(0, PROMPT), { maxTokens: NEW, stopTokens: [] });
  const genMs = performance.now() - t1;
  const peakRss = procStatus('VmHWM');
  await lm.release();
  return { baselineRss, peakRss, loadMs, scoreTokS: (BATCH * SEQ) / (median(times) / 1000), genTokS: NEW / (genMs / 1000), greedy: g.tokens };
}

function runChild(a: ChildArgs): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', JSON.stringify(a)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

export const bench: Bench = {
  description: 'packed MatMulNBits vs fake-quant float32 execution (demo model, ~29M random model; RTN 4/3/2-bit g128): weight bytes, peak RSS, scoring and greedy tokens/s',
  async run(args) {
    const threads = Number(stringOption(args, 'threads', String(availableParallelism())));
    const runs = Number(stringOption(args, 'runs', '5'));
    const models = stringOption(args, 'models', 'demo,29m').split(',');
    const bitsList = stringOption(args, 'bits', '4,3,2').split(',').map(Number);
    const tmp = mkdtempSync(join(tmpdir(), 'recall-bench-packed-'));
    try {
      console.log(`threads ${threads}, runs ${runs}; scoring ${BATCH} x ${SEQ}, greedy ${PROMPT} + ${NEW} tokens; ratios are packed / fake-quant\n`);
      console.log('model  bits  linear bytes fq -> packed (ratio)  graph weights ratio  peak RSS fq / packed (ratio)  scoring tok/s fq / packed (ratio)  greedy tok/s fq / packed (ratio)  same greedy');
      for (const name of models) {
        let dense = join(ROOT, 'native-models/demo-model');
        if (name === '29m') { dense = join(tmp, 'random-29m'); writeRandomModel(dense, SIZES['29m']); }
        else if (name !== 'demo' || !existsSync(join(dense, 'model.safetensors'))) throw new Error(`unknown or missing model '${name}' (demo, 29m)`);
        for (const bits of bitsList) {
          const out = join(tmp, `${name}-${bits}`);
          await compressModel({ model: dense, out, spec: { method: 'rtn', bits, groupSize: 128 }, calib: CALIB, nsamples: 4, seqlen: 64, seed: 0 });
          const packed = packedLinearWeights(out);
          const header = readSafetensorsHeader(join(out, 'model.safetensors'));
          let linear = 0, all = 0;
          for (const e of header.tensors.values()) {
            all += e.byteLength;
            if (packed.has(e.name.replace(/\.weight$/, ''))) linear += e.byteLength;
          }
          const pb = packedBytes(packed);
          const fq = runChild({ dir: out, packed: false, threads, runs });
          const pk = runChild({ dir: out, packed: true, threads, runs });
          const rss = (r: ChildResult) => r.peakRss - r.baselineRss;
          console.log([
            name.padEnd(5), String(bits).padEnd(4),
            `${mb(linear)} -> ${mb(pb)} (${(pb / linear).toFixed(3)})`.padEnd(34),
            ((all - linear + pb) / all).toFixed(3).padEnd(19),
            `${mb(rss(fq))} / ${mb(rss(pk))} (${(rss(pk) / rss(fq)).toFixed(2)})`.padEnd(28),
            `${fq.scoreTokS.toFixed(0)} / ${pk.scoreTokS.toFixed(0)} (${(pk.scoreTokS / fq.scoreTokS).toFixed(2)})`.padEnd(34),
            `${fq.genTokS.toFixed(1)} / ${pk.genTokS.toFixed(1)} (${(pk.genTokS / fq.genTokS).toFixed(2)})`.padEnd(32),
            fq.greedy.every((t, i) => t === pk.greedy[i]) ? 'yes' : 'NO',
          ].join('  '));
        }
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};

if (process.argv[1] === SELF && process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(JSON.parse(process.argv[3]!) as ChildArgs)));
}
