// Threads for GPTQ / SparseGPT (docs/METHODS.md 1.3, 1.4): the rows of a block are split between
// this thread and threads - 1 workers (solver-worker.ts), which read and write the same
// SharedArrayBuffers (W, U, Err, codes...) with no copies. The API stays synchronous: the blocks
// are driven through Atomics on a small control array, the calling thread working on its own
// share of rows and then waiting for the others; between two blocks it does what pools rows (the
// loss sum, SparseGPT's unstructured mask). Rows run the same arithmetic whatever the split, so
// the result is bit-identical to one thread (test/compress/threads.test.ts).
//
// Workers are started once per process, on first use, and unref'd (they do not keep it alive).
// They run TypeScript through tsx's register API (a worker's execArgv --import does not install
// tsx's hooks in Node 20). If they fail to come up, the solver stays on one thread.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RecallError } from '../errors.ts';
import { type BlockJob, blockScratch, runBlockRows } from './block-kernels.ts';

/** Layers with fewer weights (rows x cols) run on one thread: handing blocks over would cost more. */
export const PARALLEL_MIN_WORK = 1 << 18;
/** Seconds to wait for the workers to start (loading tsx and the kernels) before staying on one thread. */
const START_TIMEOUT_MS = 60_000;

// Control array slots.
export const C_GEN = 0, C_I1 = 1, C_DONE = 2, C_ERR = 3;

/** Effective thread count for a layer: option (default min(2, cores)), 1 for small layers. */
export function solverThreads(threads: number | undefined, rows: number, cols: number): number {
  const t = threads ?? Math.min(2, availableParallelism());
  if (!Number.isInteger(t) || t < 1) throw new RecallError('E_COMPRESS_CONFIG', `threads must be a positive integer, got ${t}`, { field: 'threads', value: t });
  if (rows * cols < PARALLEL_MIN_WORK) return 1;
  return Math.max(1, Math.min(t, Math.floor(rows / 8)));
}

/** Float64 / Float32 / Uint8 arrays on a SharedArrayBuffer when shared, else ordinary ones. */
export function allocator(shared: boolean) {
  return {
    f64: (n: number) => (shared ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n)),
    f32: (n: number) => (shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n)),
    u8: (n: number) => (shared ? new Uint8Array(new SharedArrayBuffer(n)) : new Uint8Array(n)),
  };
}

const workers: Worker[] = [];
let broken = false;

/** Workers started so far in this process (tests check the threaded path really ran). */
export function startedWorkers(): number {
  return workers.length;
}

/** n started workers, or null when they could not be started. */
function acquireWorkers(n: number): Worker[] | null {
  if (broken) return null;
  if (workers.length >= n) return workers.slice(0, n);
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./solver-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  const fresh: Worker[] = [];
  const ready = new Int32Array(new SharedArrayBuffer(4));
  for (let k = workers.length; k < n; k++) {
    const w = new Worker(boot, { eval: true, workerData: { ready: ready.buffer } });
    w.unref();
    // A worker that dies between jobs must not take the process with it; the next job would wait
    // on it, so mark the pool broken (seen only when the event loop runs, between layers).
    w.on('error', () => { broken = true; });
    fresh.push(w);
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  let seen: number;
  while ((seen = Atomics.load(ready, 0)) < fresh.length) {
    const left = deadline - Date.now();
    if (left <= 0 || Atomics.wait(ready, 0, seen, left) === 'timed-out') {
      for (const w of fresh) void w.terminate();
      broken = true;
      return null;
    }
  }
  workers.push(...fresh);
  return workers.slice(0, n);
}

/**
 * Run every block of job: before(i1, i2) on this thread, then the rows split over threads, then
 * after(i1, i2) on this thread. threads must come from solverThreads; with 1 (or workers that
 * failed to start) everything runs here, in the same order.
 */
export function runBlocks(job: BlockJob, threads: number, before: (i1: number, i2: number) => void, after: (i1: number, i2: number) => void): void {
  const scratch = blockScratch(job);
  const pool = threads > 1 ? acquireWorkers(threads - 1) : null;
  if (!pool) {
    for (let i1 = 0; i1 < job.cols; i1 += job.blockSize) {
      const i2 = Math.min(i1 + job.blockSize, job.cols);
      before(i1, i2);
      runBlockRows(job, i1, 0, job.rows, scratch);
      after(i1, i2);
    }
    return;
  }
  const parts = pool.length + 1;
  const bound = (p: number) => Math.floor((job.rows * p) / parts);
  const ctrl = new Int32Array(new SharedArrayBuffer(16));
  pool.forEach((w, k) => w.postMessage({ job, ctrl: ctrl.buffer, r0: bound(k + 1), r1: bound(k + 2) }));
  try {
    for (let i1 = 0; i1 < job.cols; i1 += job.blockSize) {
      const i2 = Math.min(i1 + job.blockSize, job.cols);
      before(i1, i2);
      Atomics.store(ctrl, C_I1, i1);
      Atomics.store(ctrl, C_DONE, 0);
      Atomics.add(ctrl, C_GEN, 1);
      Atomics.notify(ctrl, C_GEN);
      runBlockRows(job, i1, 0, bound(1), scratch);
      let done: number;
      while ((done = Atomics.load(ctrl, C_DONE)) < pool.length) Atomics.wait(ctrl, C_DONE, done);
      if (Atomics.load(ctrl, C_ERR)) throw new Error(`a compression worker thread failed on the block at column ${i1}`);
      after(i1, i2);
    }
  } finally {
    // Release the workers (after a throw too: they finish the block at hand, then return).
    Atomics.store(ctrl, C_I1, -1);
    Atomics.add(ctrl, C_GEN, 1);
    Atomics.notify(ctrl, C_GEN);
  }
}
