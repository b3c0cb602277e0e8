// The Electron build's bundle runs the engine's child processes without tsx: the job process
// and the compression solver's worker threads are bundled beside main.js and found there. Here
// the bundle is built into a temporary folder and exercised under plain Node (the Electron
// binary is not on this machine): a compression job runs in the bundled job-process.js to a
// finished run, and a bundled GPTQ call on two threads starts its worker from the bundled
// solver-worker.js and gives the result of the TypeScript sources bit for bit.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApi } from '../../main/engine/api.ts';
import { quantizeGptq } from '../../main/engine/compress/gptq.ts';
import { workerSource } from '../../main/engine/compress/solver-pool.ts';
import { forkLauncher, jobProcessEntry } from '../../main/engine/jobs/launcher.ts';
import { packageRoot } from '../../main/engine/package-root.ts';
import { randomFloats } from '../helpers/compare.ts';
import { TINY_COMPRESS, call, nextEvent } from '../jobs/job-fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Inside the repository, two levels down as the real build (dist-electron/app), so the bundle's
// external packages resolve from its node_modules as beside a packaged app, and a path fixed
// relative to the sources (three levels down) would miss, as it would in the app.
mkdirSync(join(ROOT, 'dist-electron'), { recursive: true });
const tmp = mkdtempSync(join(ROOT, 'dist-electron', 'test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const out = tmp;
const built = (async () => {
  const { buildElectron } = (await import(join(ROOT, 'scripts/build.mjs'))) as { buildElectron: (o: { outDir: string }) => Promise<unknown> };
  await buildElectron({ outDir: out });
})();

test('the bundle holds main, preload, the job process, the solver worker and onnx.proto; entries resolve to them', async () => {
  await built;
  for (const f of ['main.js', 'preload.cjs', 'job-process.js', 'solver-worker.js', 'onnx.proto']) assert.ok(existsSync(join(out, f)), f);
  const base = new URL(`file://${join(out, 'main.js')}`);
  assert.deepEqual(jobProcessEntry(base), { file: join(out, 'job-process.js'), execArgv: [] });
  assert.deepEqual(workerSource(base), { source: new URL(`file://${join(out, 'solver-worker.js')}`), eval: false });
  // From the sources: the TypeScript entries through tsx.
  assert.match(jobProcessEntry().file, /job-process\.ts$/);
  assert.deepEqual(jobProcessEntry().execArgv.slice(0, 1), ['--import']);
  assert.equal(workerSource().eval, true);
});

test('a compression job runs to done in the bundled job-process.js (plain Node, no tsx)', async (t) => {
  await built;
  const home = mkdtempSync(join(tmp, 'home-'));
  const api = createApi({ home, jobs: { launcher: forkLauncher({ entry: { file: join(out, 'job-process.js'), execArgv: [] } }) } });
  t.after(() => api.close());
  const ticket = await call(api.call('compress.start', TINY_COMPRESS));
  const end = await nextEvent(api, 'jobs.done', (p) => p.jobId === ticket.jobId, 120_000);
  assert.equal(end.status, 'done', end.error ?? '');
  const run = await call(api.call('runs.get', { runId: ticket.runId }));
  assert.equal(run.compressionLog.length, 14, 'both layers of the tiny model, 7 modules each');
});

test('an evaluation job on the bundled demo tasks runs in the bundled job process (the package root is found from the bundle)', async (t) => {
  await built;
  const home = mkdtempSync(join(tmp, 'home-'));
  const api = createApi({ home, jobs: { launcher: forkLauncher({ entry: { file: join(out, 'job-process.js'), execArgv: [] } }) } });
  t.after(() => api.close());
  const ticket = await call(api.call('eval.start', { model: TINY_COMPRESS.model, tasks: ['demo_mc'], limit: 4 }));
  const end = await nextEvent(api, 'jobs.done', (p) => p.jobId === ticket.jobId, 120_000);
  assert.equal(end.status, 'done', end.error ?? '');
});

test('packageRoot walks up to the folder with package.json and native-models/, and says where it looked when there is none', () => {
  const root = mkdtempSync(join(tmp, 'root-'));
  mkdirSync(join(root, 'native-models'));
  writeFileSync(join(root, 'package.json'), '{}');
  mkdirSync(join(root, 'dist-electron', 'app'), { recursive: true });
  assert.equal(packageRoot(join(root, 'dist-electron', 'app')), root);
  assert.equal(packageRoot(), ROOT.replace(/\/$/, ''));
  assert.throws(() => packageRoot('/'), /no package root .* above \//);
});

test('bundled GPTQ on two threads starts its worker from solver-worker.js and equals the sources bit for bit', async () => {
  await built;
  const rows = 300, cols = 1001;
  const harness = join(tmp, 'gptq-harness.ts');
  writeFileSync(harness, `
import { createHash } from 'node:crypto';
import { quantizeGptq } from ${JSON.stringify(join(ROOT, 'main/engine/compress/gptq.ts'))};
import { startedWorkers } from ${JSON.stringify(join(ROOT, 'main/engine/compress/solver-pool.ts'))};
import { randomFloats } from ${JSON.stringify(join(ROOT, 'test/helpers/compare.ts'))};
const rows = ${rows}, cols = ${cols};
const w = randomFloats(rows * cols, 0.05, 3);
const h = new Float64Array(cols * cols);
const x = randomFloats(cols * cols, 1, 4);
for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) { let s = 0; for (let k = 0; k < 64; k++) s += x[k * cols + i] * x[k * cols + j]; h[i * cols + j] = s / 32 + (i === j ? 0.5 : 0); }
const r = quantizeGptq(w, rows, cols, h, { bits: 4, groupSize: 128, threads: 2 });
console.log(JSON.stringify({ workers: startedWorkers(), sha: createHash('sha256').update(Buffer.from(r.weight.buffer)).update(Buffer.from(r.codes.buffer)).digest('hex') }));
`);
  const { build } = await import('esbuild');
  await build({ entryPoints: [harness], outfile: join(out, 'gptq-harness.js'), bundle: true, platform: 'node', format: 'esm', logLevel: 'warning', external: ['onnxruntime-node'] });
  const res = JSON.parse(execFileSync(process.execPath, [join(out, 'gptq-harness.js')], { encoding: 'utf8' }).trim().split('\n').at(-1)!) as { workers: number; sha: string };
  assert.equal(res.workers, 1, 'one worker thread for two threads');
  // The same layer through the TypeScript sources, here.
  const w = randomFloats(rows * cols, 0.05, 3);
  const h = new Float64Array(cols * cols);
  const x = randomFloats(cols * cols, 1, 4);
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) { let s = 0; for (let k = 0; k < 64; k++) s += x[k * cols + i]! * x[k * cols + j]!; h[i * cols + j] = s / 32 + (i === j ? 0.5 : 0); }
  const r = quantizeGptq(w, rows, cols, h, { bits: 4, groupSize: 128, threads: 1 });
  assert.equal(res.sha, createHash('sha256').update(Buffer.from(r.weight.buffer)).update(Buffer.from(r.codes.buffer)).digest('hex'));
});
