// `recall eval` and `recall compare` as a user runs them (a real process through
// bin/recall.js) on the fixture models and the real data files: numbers printed, the results
// JSON in lm-evaluation-harness's layout, paired statistics, one clear error line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureDir } from '../helpers/model-fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/recall.js', import.meta.url));
const DATASETS = fileURLToPath(new URL('../../../shared/datasets', import.meta.url));
const DEMO_TASKS = fileURLToPath(new URL('../../native-models/demo/tasks', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'recall-eval-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function recall(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Results = {
  results: Record<string, Record<string, unknown>>; configs: Record<string, Record<string, unknown>>; versions: Record<string, number>;
  'n-samples': Record<string, { original: number; effective: number }>; 'n-shot': Record<string, number>;
  samples: Record<string, Record<string, unknown>[]>; recall: { seed: number; tasks: Record<string, { item_indices: number[] }> };
};
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Results;

const outA = join(tmp, 'a.json'), outB = join(tmp, 'b.json'), outC = join(tmp, 'c.json');

test('recall eval --tasks arc_easy --data-dir ../shared/datasets --limit 5 prints a table of numbers', () => {
  const r = recall('eval', '--model', fixtureDir('tiny-llama'), '--tasks', 'arc_easy', '--data-dir', DATASETS, '--limit', '5', '--out', outA);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /task\s+metric\s+value\s+stderr\s+n/);
  assert.match(r.stdout, /arc_easy\s+acc\s+\d\.\d{4}\s+\d\.\d{4}\s+5\n/);
  assert.match(r.stdout, /arc_easy\s+acc_norm\s+\d\.\d{4}\s+\d\.\d{4}\s+5\n/);
});

test('the results JSON has the harness layout: results, configs, versions, n-samples, samples; seed and item indices recorded', () => {
  const j = read(outA);
  const res = j.results.arc_easy!;
  assert.equal(typeof res['acc,none'], 'number');
  assert.equal(typeof res['acc_stderr,none'], 'number');
  assert.equal(typeof res['acc_norm,none'], 'number');
  assert.equal(j.versions.arc_easy, 1);
  assert.deepEqual(j['n-samples'].arc_easy, { original: 2376, effective: 5 });
  assert.equal(j['n-shot'].arc_easy, 0);
  assert.equal(j.configs.arc_easy!.output_type, 'multiple_choice');
  assert.equal(j.samples.arc_easy!.length, 5);
  const s = j.samples.arc_easy![0]!;
  for (const key of ['doc_id', 'doc', 'target', 'arguments', 'resps', 'filtered_resps', 'acc', 'acc_norm', 'prediction', 'gold', 'correct', 'choice_loglikelihoods']) assert.ok(key in s, key);
  assert.deepEqual(s.metrics, ['acc', 'acc_norm']);
  const ids = j.recall.tasks.arc_easy!.item_indices;
  assert.deepEqual(ids, j.samples.arc_easy!.map((x) => x.doc_id));
  assert.equal(j.recall.seed, 1234);
  // Same seed, same subset.
  const again = recall('eval', '--model', fixtureDir('tiny-opt'), '--tasks', 'arc_easy', '--data-dir', DATASETS, '--limit', '5', '--out', outB);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(read(outB).recall.tasks.arc_easy!.item_indices, ids);
});

test('recall compare prints paired statistics and flip counts; --json gives the numbers', () => {
  const r = recall('compare', outA, outB);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /arc_easy\s+acc\s+5\s+\d\.\d{4}\s+\d\.\d{4}\s+-?\d\.\d{4}\s+\[-?\d\.\d{4}, -?\d\.\d{4}\]\s+\d\.\d{4}/);
  assert.match(r.stdout, /lost by B\s+gained by B\s+never known\s+always known/);
  const j = JSON.parse(recall('compare', outA, outB, '--json').stdout) as { task: string; paired: number; mcnemar: { p: number }; flips: { items: number } }[];
  assert.equal(j[0]!.task, 'arc_easy');
  assert.equal(j[0]!.paired, 5);
  assert.equal(j[0]!.flips.items, 5);
  assert.ok(j[0]!.mcnemar.p > 0 && j[0]!.mcnemar.p <= 1);
});

test('demo tasks from a second data folder, with few-shot prompts; three-way compare', () => {
  const r = recall('eval', '--model', fixtureDir('tiny-qwen2'), '--tasks', 'demo', '--data-dir', DATASETS, '--data-dir', DEMO_TASKS, '--limit', '3', '--shots', '2', '--seed', '7', '--out', outC);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /demo_cloze\s+perplexity\s+\d+\.\d{4}/);
  const j = read(outC);
  assert.equal(j['n-shot'].demo_mc, 2);
  const ctx = (j.samples.demo_mc![0]!.arguments as string[][])[0]![0]!;
  assert.equal(ctx.split('\n\n').length, 3, ctx);
  const eval2 = recall('eval', '--model', fixtureDir('tiny-llama3'), '--tasks', 'demo', '--data-dir', DEMO_TASKS, '--limit', '3', '--shots', '2', '--seed', '7', '--out', join(tmp, 'd.json'));
  assert.equal(eval2.status, 0, eval2.stderr);
  const eval3 = recall('eval', '--model', fixtureDir('tiny-opt350'), '--tasks', 'demo', '--data-dir', DEMO_TASKS, '--limit', '3', '--shots', '2', '--seed', '7', '--out', join(tmp, 'e.json'));
  assert.equal(eval3.status, 0, eval3.stderr);
  const c = recall('compare', outC, join(tmp, 'd.json'), join(tmp, 'e.json'));
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /regained by C\s+newly wrong in C/);
  assert.match(c.stdout, /demo_mc\s+acc\s+3\s/);
});

test('errors are one line: unknown task (usage, 2), missing data (1, with the path), unreadable results (1)', () => {
  const u = recall('eval', '--model', fixtureDir('tiny-llama'), '--tasks', 'arc_medium', '--data-dir', DATASETS);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /^recall: error: eval: unknown task 'arc_medium'/);
  const m = recall('eval', '--model', fixtureDir('tiny-llama'), '--tasks', 'hellaswag', '--data-dir', DATASETS);
  assert.equal(m.status, 1);
  assert.ok(m.stderr.startsWith(`recall: error: [E_EVAL_TASK] task hellaswag is unavailable: missing ${join(DATASETS, 'hellaswag/hellaswag_val.jsonl')}`), m.stderr);
  assert.equal(m.stderr.trim().split('\n').length, 1);
  const c = recall('compare', outA, join(tmp, 'nope.json'));
  assert.equal(c.status, 1);
  assert.match(c.stderr, /^recall: error: \[E_NOT_FOUND\] .*nope\.json: cannot read results file/);
  assert.equal(c.stderr.trim().split('\n').length, 1);
});
