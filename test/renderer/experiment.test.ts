// The New experiment builder: its plan (what will run, what is wrong), seed parsing, and the
// spec it sends, checked against the engine's own schema (main/contract/experiment-spec.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { experimentSpecSchema } from '../../main/contract/experiment-spec.ts';
import { draftToSpec, describeRunConfig } from '../../renderer/src/lib/api-mapping.ts';
import { parseSeeds, planExperiment } from '../../renderer/src/lib/experiment-plan.ts';
import { filterRuns, lineage, sortRuns } from '../../renderer/src/lib/run-table.ts';
import type { ExperimentDraft } from '../../renderer/src/lib/workbench-types.ts';
import { SAMPLE_RUNS } from '../../renderer/src/fixtures/sample-data.ts';

const draft: ExperimentDraft = {
  name: 'My study #1',
  model: 'demo',
  compressions: [{ method: 'gptq', bits: 3, groupSize: 128 }, { method: 'sparsegpt', sparsity: 0.5 }, { method: 'rtn', bits: 4, groupSize: 0 }],
  recoveries: [{ method: 'lora', rank: 8, steps: 100 }, { method: 'prompt', tokens: 20, steps: 50 }],
  tasks: ['demo_mc', 'demo_cloze'],
  seeds: [1, 2],
  limit: 50,
};

test('plan: dense + compressions x (1 + recoveries), per seed, each on every task', () => {
  const plan = planExperiment(draft);
  assert.equal(plan.runs.length, 2 * (1 + 3 * 3));
  assert.equal(plan.evaluations, plan.runs.length * 2);
  assert.deepEqual(plan.problems, []);
  assert.deepEqual(planExperiment({ ...draft, compressions: [], tasks: [], seeds: [] }).problems, ['Add at least one compression.', 'Pick at least one task to evaluate on.', 'Give at least one seed (e.g. 1).']);
  assert.match(planExperiment({ ...draft, compressions: [{ method: 'gptq', bits: 5 }] }).problems[0]!, /bits must be 2, 3, 4 or 8/);
});

test('seeds: lists and ranges, junk refused', () => {
  assert.deepEqual(parseSeeds('1, 2 3'), [1, 2, 3]);
  assert.deepEqual(parseSeeds('0-3,3'), [0, 1, 2, 3]);
  assert.equal(parseSeeds('a'), null);
  assert.equal(parseSeeds('5-2'), null);
});

test('the spec the builder sends passes the engine schema', () => {
  const spec = draftToSpec(draft);
  const parsed = experimentSpecSchema.safeParse(spec);
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  assert.equal(spec.name, 'my-study-1');
  assert.deepEqual(spec.compressions[0], { name: 'dense', method: 'none' });
  assert.deepEqual(spec.compressions[3], { name: 'rtn-4-bit', method: 'rtn', bits: 4, groupSize: -1 });
  assert.deepEqual(spec.recoveries?.[1], { name: 'lora-r-8-100-steps', method: 'lora', steps: 100, options: { rank: 8 } });
  assert.deepEqual(draftToSpec({ ...draft, model: '7' }).models, [7], 'a store id goes as a number');
});

test('run config descriptions, and the runs table filter, sort and lineage', () => {
  assert.equal(describeRunConfig('compress', { method: 'gptq', bits: 3, groupSize: 32 }).method, 'GPTQ 3-bit g32');
  assert.equal(describeRunConfig('eval', { tasks: ['a'] }).tasks[0], 'a');
  assert.deepEqual(filterRuns(SAMPLE_RUNS, { text: 'lora', status: 'all', kind: 'all' }).map((r) => r.id), ['run-gptq3-lora']);
  const byAvg = sortRuns(SAMPLE_RUNS, 'average', 'desc');
  assert.equal(byAvg[0]!.id, 'run-dense');
  assert.equal(byAvg.at(-1)!.average, null, 'missing values last');
  assert.deepEqual(lineage(SAMPLE_RUNS.find((r) => r.id === 'run-gptq3-lora')!, SAMPLE_RUNS).map((r) => r.id), ['run-gptq3', 'run-dense']);
});
