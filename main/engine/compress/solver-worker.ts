// Worker thread of solver-pool.ts: for each job message (a BlockJob on SharedArrayBuffers and a row
// range), run that range of every block the control array announces, until it announces i1 = -1.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { type BlockJob, blockScratch, runBlockRows } from './block-kernels.ts';
import { C_DONE, C_ERR, C_GEN, C_I1 } from './solver-pool.ts';

// This isolate rarely allocates, so it would rarely collect: the job's SharedArrayBuffers (the
// layer's float64 W and U) would stay referenced here long after the caller dropped them, one set
// per layer. A full collection after each job releases them (gc exposed in a fresh context only).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

interface JobMessage { job: BlockJob; ctrl: SharedArrayBuffer; r0: number; r1: number }

parentPort!.on('message', ({ job, ctrl: buf, r0, r1 }: JobMessage) => {
  const ctrl = new Int32Array(buf);
  const scratch = blockScratch(job);
  let gen = 0;
  for (;;) {
    Atomics.wait(ctrl, C_GEN, gen);
    gen = Atomics.load(ctrl, C_GEN);
    const i1 = Atomics.load(ctrl, C_I1);
    if (i1 < 0) break;
    try {
      runBlockRows(job, i1, r0, r1, scratch);
    } catch {
      Atomics.store(ctrl, C_ERR, 1);
    }
    Atomics.add(ctrl, C_DONE, 1);
    Atomics.notify(ctrl, C_DONE);
  }
  // The message, and with it the job's arrays, are garbage once this handler has returned.
  setImmediate(collect);
});

const ready = new Int32Array((workerData as { ready: SharedArrayBuffer }).ready);
Atomics.add(ready, 0, 1);
Atomics.notify(ready, 0);
