// `recall train` as a user runs it: kill -9 mid-run and --resume continues the loss curve
// exactly (same losses, bit-identical final weights as an uninterrupted run); bad input gives
// one clear error.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureDir } from '../helpers/model-fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));
const CORPUS = fileURLToPath(new URL('../fixtures/train/tiny-corpus.txt', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'recall-train-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const args = (out: string) => ['train', '--model', fixtureDir('tiny-llama'), '--data', CORPUS, '--out', out, '--steps', '30', '--lr', '3e-3',
  '--seq-len', '32', '--batch-size', '4', '--eval-every', '10', '--checkpoint-every', '5', '--seed', '3', '--json', '--threads', '1'];

const history = (dir: string) => JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));

test('kill -9 mid-run, then --resume: the loss curve and final weights equal an uninterrupted run', async () => {
  const whole = join(tmp, 'whole');
  const r = spawnSync(process.execPath, [BIN, ...args(whole)], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);

  const cut = join(tmp, 'cut');
  const child = spawn(process.execPath, [BIN, ...args(cut)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let killedAt = -1;
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n').slice(0, -1)) {
        const e = JSON.parse(line);
        if (e.event === 'progress' && e.step >= 13 && killedAt < 0) { killedAt = e.step; child.kill('SIGKILL'); }
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    child.on('exit', () => resolve());
    child.on('error', reject);
  });
  assert.ok(killedAt >= 13 && killedAt < 30, `killed at step ${killedAt}`);

  const resumed = spawnSync(process.execPath, [BIN, ...args(cut), '--resume'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(resumed.status, 0, resumed.stderr);
  const a = history(whole), b = history(cut);
  assert.ok(b.resumedFrom >= 10 && b.resumedFrom <= killedAt, `resumed from ${b.resumedFrom}`);
  assert.deepEqual(b.lossHistory, a.lossHistory, 'loss curve continues exactly');
  assert.deepEqual(b.evalHistory, a.evalHistory);
  assert.ok(readFileSync(join(cut, 'model.safetensors')).equals(readFileSync(join(whole, 'model.safetensors'))), 'final weights are bit-identical');
  assert.ok(a.lossHistory.at(-1).loss < a.lossHistory[0].loss * 0.6, 'training reduced the loss');
});

test('train: bad input gives one clear error', () => {
  const run = (...extra: string[]) => spawnSync(process.execPath, [BIN, 'train', '--model', fixtureDir('tiny-llama'), '--out', join(tmp, 'bad'), ...extra], { encoding: 'utf8' });
  const missing = run('--data', join(tmp, 'nope.txt'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.txt: training data not found/);
  const short = join(tmp, 'short.txt');
  writeFileSync(short, 'the cat sat .\n');
  const tooShort = run('--data', short, '--seq-len', '64');
  assert.equal(tooShort.status, 1);
  assert.match(tooShort.stderr, /short\.txt: .*too few to train on/);
  const long = run('--data', CORPUS, '--seq-len', '4096');
  assert.equal(long.status, 1);
  assert.match(long.stderr, /longer than the model's context \(128\)/);
  const both = run('--data', CORPUS, '--steps', '2', '--tokens', '100');
  assert.equal(both.status, 2);
});
