// Child process for the kill test in loop.test.ts: trains the shared problem, slowly, with
// checkpoints every 3 steps, printing "checkpoint <step>" after each is on disk, so the
// parent can kill -9 it mid-run. Usage: node --import tsx test/tune/train-child.ts <dir>
import { train } from '../../main/engine/tune/loop.ts';
import { problemOptions } from './problem.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: train-child.ts <checkpointDir>');
const result = await train(problemOptions({
  checkpointDir: dir,
  checkpointEvery: 3,
  delayMs: 15,
  onCheckpoint: ({ step }) => process.stdout.write(`checkpoint ${step}\n`),
}));
process.stdout.write(`done ${result.step}\n`);
