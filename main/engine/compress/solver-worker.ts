// Worker thread of solver-pool.ts: for each team message (a job on SharedArrayBuffers and this
// worker's part), run that part of every step the control array announces, until OP_END.
import { parentPort, workerData } from 'node:worker_threads';
import { collectGarbage as collect } from '../collect-garbage.ts';
import { blockScratch, runBlockRows } from './block-kernels.ts';
import { prepStep } from './linalg.ts';
import { C_DONE, C_ERR, C_GEN, C_OP, C_PARAM, OP_BLOCK, OP_END, type TeamMessage, blockRows } from './solver-pool.ts';

// This isolate rarely allocates, so it would rarely collect: the job's SharedArrayBuffers (the
// layer's float64 W and U) would stay referenced here long after the caller dropped them, one set
// per layer. A full collection after each layer's last team releases them.

parentPort!.on('message', (m: TeamMessage) => {
  const ctrl = new Int32Array(m.ctrl);
  const scratch = m.block ? blockScratch(m.block) : null;
  const [r0, r1] = m.block ? blockRows(m.block.rows, m.part, m.parts) : [0, 0];
  let gen = 0;
  for (;;) {
    Atomics.wait(ctrl, C_GEN, gen);
    gen = Atomics.load(ctrl, C_GEN);
    const op = Atomics.load(ctrl, C_OP), param = Atomics.load(ctrl, C_PARAM);
    if (op === OP_END) break;
    try {
      if (op === OP_BLOCK) runBlockRows(m.block!, param, r0, r1, scratch!);
      else prepStep(m.prep!, op, param, m.part, m.parts);
    } catch {
      Atomics.store(ctrl, C_ERR, 1);
    }
    Atomics.add(ctrl, C_DONE, 1);
    Atomics.notify(ctrl, C_DONE);
  }
  // The message, and with it the job's arrays, are garbage once this handler has returned.
  if (m.collect) setImmediate(collect);
});

const { up, upCount } = workerData as { up: SharedArrayBuffer; upCount: SharedArrayBuffer };
Atomics.store(new Int32Array(up), 0, 1);
const count = new Int32Array(upCount);
Atomics.add(count, 0, 1);
Atomics.notify(count, 0);
