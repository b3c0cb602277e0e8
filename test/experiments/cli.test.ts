// The CLI faces of experiments and runs: `recall run SPEC` prints the method x task table and a
// second run reuses everything; `recall runs list/show/export/import/rm`; `recall serve` refuses a
// non-loopback host without --allow-remote; a bad spec is one clear error line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CALIB, TINY } from '../jobs/job-fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'recall-cli-exp-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const recall = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

const spec = `name: cli
models: [${TINY}]
calibration: { file: ${CALIB}, nsamples: 8, seqlen: 32 }
compressions:
  - { name: dense, method: none }
  - { name: rtn4, method: rtn, bits: 4 }
tasks: [demo_mc]
eval: { limit: 3 }
analyze: false
`;

test('recall run SPEC: the method x task table; again: every step reused; runs list/show/export/import/rm', () => {
  const home = join(tmp, 'home');
  const file = join(tmp, 'spec.yaml');
  writeFileSync(file, spec);
  const first = recall('run', file, '--home', home);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /3 steps \(0 reused, 0 to resume, 3 new\)/);
  assert.match(first.stdout, /compression\s+recovery\s+seed\s+demo_mc/);
  assert.match(first.stdout, /rtn4\s+none\s+0\s+\d+\.\d/);
  const second = recall('run', file, '--home', home, '--json');
  assert.equal(second.status, 0, second.stderr);
  const j = JSON.parse(second.stdout) as { status: string; steps: { origin: string }[]; table: unknown[] };
  assert.deepEqual([j.status, j.steps.map((s) => s.origin)], ['done', ['reused', 'reused', 'reused']]);
  assert.equal(j.table.length, 2);

  const list = recall('runs', 'list', '--home', home, '--kind', 'eval');
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /eval\s+done\s+eval rtn4/);
  const show = recall('runs', 'show', '1', '--home', home);
  assert.match(show.stdout, /run 1: compress 'rtn4'\s+done/);
  assert.match(show.stdout, /model\/model\.safetensors\s+model/);
  const bundle = join(tmp, 'b.gz');
  assert.equal(recall('runs', 'export', '3', '--out', bundle, '--home', home).status, 0);
  const other = join(tmp, 'other');
  const imported = recall('runs', 'import', bundle, '--home', other);
  assert.match(imported.stdout, /imported 2 runs \(0 already here\)/);
  const refused = recall('runs', 'rm', '1', '--home', home);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^recall: error: run 1 is a parent of run\(s\) 3; delete those first\n$/);
  assert.match(recall('runs', 'rm', '1', '--recursive', '--home', home).stdout, /deleted runs 3, 1/);
});

test('recall run: a bad spec is one error line naming the field; serve refuses a non-loopback host', () => {
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, JSON.stringify({ name: 'bad', models: [TINY], compressions: [{ name: 'q', method: 'gptq', bits: 12 }], tasks: ['demo_mc'] }));
  const r = recall('run', bad, '--home', join(tmp, 'h2'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^recall: error: experiments\.create: spec\.compressions\.0\.bits: must be in 2\.\.8\n$/);
  const s = recall('serve', '--host', '0.0.0.0', '--home', join(tmp, 'h3'));
  assert.equal(s.status, 2);
  assert.match(s.stderr, /refusing to listen on non-loopback host '0\.0\.0\.0'.*--allow-remote/);
});
