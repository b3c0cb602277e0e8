// Threads for GPTQ / SparseGPT (docs/METHODS.md 1.3, 1.4): the work is split between this thread
// and threads - 1 workers (solver-worker.ts), which read and write the same SharedArrayBuffers
// (W, U, Err, codes...) with no copies. The API stays synchronous: a "team" of workers gets the
// job's arrays once, then runs steps announced through Atomics on a small control array, the
// calling thread doing part 0 of each step and then waiting for the others. Steps are the rows of
// one block (between two blocks the caller does what pools rows: the loss sum, SparseGPT's
// unstructured mask) and the column passes of the Hessian preparation (linalg.ts). Every element's
// arithmetic is the same whatever the split, so the result is bit-identical to one thread
// (test/compress/threads.test.ts).
//
// Workers are started once per process and kept for every later layer, unref'd (they do not keep
// the process alive). A solve starts them without waiting (prestartWorkers) before its Hessian
// preparation, which uses those that are up by then; the block loop waits for all of them. From
// the sources they run TypeScript through tsx's register API (a worker's execArgv --import does
// not install tsx's hooks in Node 20); from a bundle, the solver-worker.js built beside it. If
// they fail to come up, the solver stays on one thread.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RecallError } from '../errors.ts';
import { type BlockJob, blockScratch, runBlockRows } from './block-kernels.ts';
import { type PrepArrays, type PrepTeam, prepStep } from './linalg.ts';

/** Layers with fewer weights (rows x cols) run on one thread: handing blocks over would cost more. */
export const PARALLEL_MIN_WORK = 1 << 18;
/** Seconds to wait for the workers to start (loading tsx and the kernels) before staying on one thread. */
const START_TIMEOUT_MS = 60_000;

// Control array slots, and the step codes in C_OP (prep steps are linalg's PREP_* codes, >= 1).
export const C_GEN = 0, C_OP = 1, C_PARAM = 2, C_DONE = 3, C_ERR = 4;
export const OP_END = -1, OP_BLOCK = 0;

/** What a worker gets once per team: the job's arrays, its part, and whether to collect garbage after it. */
export interface TeamMessage { block: BlockJob | null; prep: PrepArrays | null; ctrl: SharedArrayBuffer; part: number; parts: number; collect: boolean }

/** Rows [r0, r1) of part `part` of `parts` of a block job (part 0 is the calling thread's). */
export function blockRows(rows: number, part: number, parts: number): [number, number] {
  return [Math.floor((rows * part) / parts), Math.floor((rows * (part + 1)) / parts)];
}

/** Effective thread count for a layer: option (default min(2, cores)), 1 for small layers. */
export function solverThreads(threads: number | undefined, rows: number, cols: number): number {
  const t = threads ?? defaultThreads();
  if (!Number.isInteger(t) || t < 1) throw new RecallError('E_COMPRESS_CONFIG', `threads must be a positive integer, got ${t}`, { field: 'threads', value: t });
  if (rows * cols < PARALLEL_MIN_WORK) return 1;
  return Math.max(1, Math.min(t, Math.floor(rows / 8)));
}

function defaultThreads(): number {
  return Math.min(2, availableParallelism());
}

/** Float64 / Float32 / Uint8 arrays on a SharedArrayBuffer when shared, else ordinary ones. */
export function allocator(shared: boolean) {
  return {
    f64: (n: number) => (shared ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n)),
    f32: (n: number) => (shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n)),
    u8: (n: number) => (shared ? new Uint8Array(new SharedArrayBuffer(n)) : new Uint8Array(n)),
  };
}

interface PoolWorker { worker: Worker; up: Int32Array }
const workers: PoolWorker[] = [];
/** Workers that have signalled they are up (each also sets its own flag). */
const upCount = new Int32Array(new SharedArrayBuffer(4));
let broken = false;

/** Workers started so far in this process (tests check the threaded path really ran). */
export function startedWorkers(): number {
  return workers.length;
}

/**
 * What a worker runs: solver-worker.js beside this module when it was bundled (the Electron
 * build), as plain JavaScript; else the TypeScript source, through tsx registered in the worker.
 */
export function workerSource(base: string | URL = import.meta.url): { source: string | URL; eval: boolean } {
  const built = new URL('./solver-worker.js', base);
  if (existsSync(fileURLToPath(built))) return { source: built, eval: false };
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./solver-worker.ts', base).href;
  return { source: `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, eval: true };
}

/**
 * Start workers until there are n (or none, if they failed before), without waiting for them:
 * they load while this thread goes on (a solve calls it before preparing the Hessian).
 */
export function prestartWorkers(n: number): void {
  if (broken || workers.length >= n) return;
  const { source, eval: isEval } = workerSource();
  while (workers.length < n) {
    const up = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(source, { eval: isEval, workerData: { up: up.buffer, upCount: upCount.buffer } });
    worker.unref();
    // A worker that dies between jobs must not take the process with it; the next job would wait
    // on it, so mark the pool broken (seen only when the event loop runs, between layers).
    worker.on('error', () => { broken = true; });
    workers.push({ worker, up });
  }
}

/**
 * Start the solver's workers for a run that will compress with `threads` threads (default
 * min(2, cores)) without waiting: a whole-model run can call it before its first layer, so the
 * workers' start-up overlaps calibration instead of the first module's solve.
 */
export function prestartSolverThreads(threads?: number): void {
  const t = threads ?? defaultThreads();
  if (Number.isInteger(t) && t > 1) prestartWorkers(t - 1);
}

/** The first n workers that are up now (no waiting). */
function readyWorkers(n: number): Worker[] {
  const out: Worker[] = [];
  if (broken) return out;
  for (let k = 0; k < Math.min(n, workers.length); k++) if (Atomics.load(workers[k]!.up, 0) === 1) out.push(workers[k]!.worker);
  return out;
}

/** n workers that are up, waiting for them to start; null when they could not be started. */
function acquireWorkers(n: number): Worker[] | null {
  prestartWorkers(n);
  if (broken) return null;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const seen = Atomics.load(upCount, 0);
    const ready = readyWorkers(n);
    if (ready.length === n) return ready;
    const left = deadline - Date.now();
    if (left <= 0 || Atomics.wait(upCount, 0, seen, left) === 'timed-out') {
      for (const w of workers) void w.worker.terminate();
      broken = true;
      return null;
    }
  }
}

interface Team { parts: number; step(op: number, param: number, here: () => void): void; close(): void }

/** Hand the job to the workers (parts = workers + 1, this thread being part 0). */
function openTeam(pool: Worker[], job: Pick<TeamMessage, 'block' | 'prep' | 'collect'>): Team {
  const parts = pool.length + 1;
  const ctrl = new Int32Array(new SharedArrayBuffer(32));
  pool.forEach((w, k) => w.postMessage({ ...job, ctrl: ctrl.buffer, part: k + 1, parts } satisfies TeamMessage));
  let open = true;
  return {
    parts,
    step(op, param, here) {
      Atomics.store(ctrl, C_OP, op);
      Atomics.store(ctrl, C_PARAM, param);
      Atomics.store(ctrl, C_DONE, 0);
      Atomics.add(ctrl, C_GEN, 1);
      Atomics.notify(ctrl, C_GEN);
      here();
      let done: number;
      while ((done = Atomics.load(ctrl, C_DONE)) < pool.length) Atomics.wait(ctrl, C_DONE, done);
      if (Atomics.load(ctrl, C_ERR)) throw new Error(`a compression worker thread failed (step ${op}, ${param})`);
    },
    close() {
      // Release the workers (after a throw too: they finish the step at hand, then return).
      if (!open) return;
      open = false;
      Atomics.store(ctrl, C_OP, OP_END);
      Atomics.add(ctrl, C_GEN, 1);
      Atomics.notify(ctrl, C_GEN);
    },
  };
}

/**
 * For upperCholeskyOfInverse: a team of the workers (up to threads - 1) that are up at the time
 * it is asked, or null (then the pass runs here). x must be on SharedArrayBuffers.
 */
export function prepTeams(threads: number): (x: PrepArrays) => PrepTeam | null {
  return (x) => {
    if (threads < 2 || !(x.r.buffer instanceof SharedArrayBuffer) || !(x.m.buffer instanceof SharedArrayBuffer)) return null;
    const pool = readyWorkers(threads - 1);
    if (pool.length === 0) return null;
    const team = openTeam(pool, { block: null, prep: x, collect: false });
    return {
      step: (op, param) => team.step(op, param, () => prepStep(x, op, param, 0, team.parts)),
      close: () => team.close(),
    };
  };
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
  // The workers drop their references to this layer's arrays (a full collection) after it.
  const team = openTeam(pool, { block: job, prep: null, collect: true });
  const [r0, r1] = blockRows(job.rows, 0, team.parts);
  try {
    for (let i1 = 0; i1 < job.cols; i1 += job.blockSize) {
      const i2 = Math.min(i1 + job.blockSize, job.cols);
      before(i1, i2);
      team.step(OP_BLOCK, i1, () => runBlockRows(job, i1, r0, r1, scratch));
      after(i1, i2);
    }
  } finally {
    team.close();
  }
}
