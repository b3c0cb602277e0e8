// One timed run of Recall's GPTQ (4-bit, group 128) or SparseGPT (50%) on DIR/w.f32 and DIR/h.f64,
// in its own process so the peak RSS printed is this layer's alone (bench/compress-layer.ts).
//   node --import tsx bench/compress-layer-child.ts DIR ROWS COLS gptq|sparsegpt [THREADS]
// The time includes starting the solver's worker threads (once per process).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantizeGptq } from '../main/engine/compress/gptq.ts';
import { pruneSparseGpt } from '../main/engine/compress/sparsegpt.ts';

const [dir, rowsArg, colsArg, method, threadsArg] = process.argv.slice(2);
const rows = Number(rowsArg), cols = Number(colsArg), threads = Number(threadsArg ?? 1);
const read = (name: string) => { const b = readFileSync(join(dir!, name)); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); };
const w = new Float32Array(read('w.f32')), h = new Float64Array(read('h.f64'));
if (w.length !== rows * cols || h.length !== cols * cols) throw new Error(`inputs in ${dir} do not match ${rows} x ${cols}`);
const t0 = performance.now();
if (method === 'gptq') quantizeGptq(w, rows, cols, h, { bits: 4, groupSize: 128, threads });
else pruneSparseGpt(w, rows, cols, h, { sparsity: 0.5, threads });
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ seconds, peak_mb: process.resourceUsage().maxRSS / 1024 }));
