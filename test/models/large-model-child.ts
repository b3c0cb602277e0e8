// Child process of large-model.test.ts (and bench/models-forward.ts): loads a model folder
// through LanguageModel, runs one forward on the given ids and reports peak RSS above the
// baseline taken after ORT is loaded, so the measurement holds nothing but this load.
// argv[2]: JSON { dir, cacheDir, ids, logitsOut?, threads?, externalThreshold?, weightDtype? }.
// stdout (last line): JSON { baselineRss, peakRss, source, loadMs, forwardMs, vocab }.
import { readFileSync, writeFileSync } from 'node:fs';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { float32 } from '../../main/engine/runtime/tensors.ts';
import '../../main/engine/runtime/ort.ts';

interface Args { dir: string; cacheDir: string; ids: number[]; logitsOut?: string; threads?: number; externalThreshold?: number; weightDtype?: 'float32' | 'float16' }

/** A field of /proc/self/status in bytes (VmRSS, VmHWM). */
function procStatus(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]) * 1024;
}

const args = JSON.parse(process.argv[2]!) as Args;
const baselineRss = procStatus('VmRSS');
const t0 = performance.now();
const lm = await LanguageModel.load(args.dir, {
  cacheDir: args.cacheDir, ...(args.threads ? { threads: args.threads } : {}), ...(args.weightDtype ? { weightDtype: args.weightDtype } : {}),
  ...(args.externalThreshold !== undefined ? { externalThreshold: args.externalThreshold } : {}),
});
const t1 = performance.now();
const { numLayers, numKvHeads, headDim, vocabSize } = lm.config;
const empty = () => float32([1, numKvHeads, 0, headDim]);
const past = { keys: Array.from({ length: numLayers }, empty), values: Array.from({ length: numLayers }, empty), length: 0 };
const { logits } = await lm.runner.step([args.ids], past);
const t2 = performance.now();
const peakRss = procStatus('VmHWM');
if (args.logitsOut) writeFileSync(args.logitsOut, new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
const source = lm.graphSource;
await lm.release();
console.log(JSON.stringify({ baselineRss, peakRss, source, loadMs: t1 - t0, forwardMs: t2 - t1, vocab: vocabSize }));
