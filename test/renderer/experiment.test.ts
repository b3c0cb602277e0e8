// The New experiment builder: its plan (what will run, what is wrong), seed parsing, and the
// spec it sends, checked against the engine's own schema (main/contract/experiment-spec.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { experimentSpecSchema } from '../../main/contract/experiment-spec.ts';
import { draftToSpec, describeRunConfig } from '../../renderer/src/lib/api-mapping.ts';
import { describeRecovery, newRecovery, parseSeeds, planExperiment, recoveryOptions, recoveryProblems } from '../../renderer/src/lib/experiment-plan.ts';
import { filterRuns, lineage, sortRuns } from '../../renderer/src/lib/run-table.ts';
import type { ExperimentDraft, RecoveryChoice } from '../../renderer/src/lib/workbench-types.ts';
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

const specOf = (r: RecoveryChoice) => draftToSpec({ ...draft, recoveries: [r] }).recoveries![1]!;

test('recoveries left at their defaults are sent as before: LoRA rank and prompt / prefix tokens, nothing else', () => {
  assert.deepEqual(specOf(newRecovery('lora', 400)), { name: 'lora-r-8-400-steps', method: 'lora', steps: 400, options: { rank: 8 } });
  assert.deepEqual(specOf(newRecovery('prompt', 400)), { name: 'prompt-tuning-20-tok-400-steps', method: 'prompt', steps: 400, options: { virtualTokens: 20 } });
  assert.deepEqual(specOf(newRecovery('prefix', 400)), { name: 'prefix-tuning-20-tok-400-steps', method: 'prefix', steps: 400, options: { virtualTokens: 20 } });
  assert.deepEqual(specOf(newRecovery('idp', 400)), { name: 'idp-400-steps', method: 'idp', steps: 400 });
  // The choices as older drafts held them (no init, no options), and options typed at their default values, or emptied.
  assert.deepEqual(specOf({ method: 'prompt', tokens: 20, steps: 400 }), specOf(newRecovery('prompt', 400)));
  assert.deepEqual(specOf({ method: 'lora', rank: 8, alpha: 8, dropout: 0, targets: ' q_proj, v_proj ', steps: 400 }), specOf(newRecovery('lora', 400)));
  assert.deepEqual(specOf({ method: 'lora', rank: null, alpha: null, dropout: null, targets: '', steps: 400 }), specOf(newRecovery('lora', 400)));
  assert.deepEqual(specOf({ method: 'idp', tokens: 25, prompts: 4, init: 'random', initText: 'unused', steps: 400 }), specOf(newRecovery('idp', 400)));
  assert.deepEqual(specOf({ method: 'prefix', tokens: 20, reparam: false, init: 'random', steps: 400 }), specOf(newRecovery('prefix', 400)));
});

test('recovery options map to the engine option names; descriptions name what differs from the defaults', () => {
  const lora: RecoveryChoice = { method: 'lora', rank: 16, alpha: 32, dropout: 0.1, targets: 'q_proj, k_proj,v_proj', steps: 200 };
  assert.deepEqual(specOf(lora), {
    name: 'lora-r-16-alpha-32-dropout-0.1-on-q_proj-k_proj-v_proj-200-steps', method: 'lora', steps: 200,
    options: { rank: 16, alpha: 32, dropout: 0.1, targets: ['q_proj', 'k_proj', 'v_proj'] },
  });
  assert.equal(describeRecovery(lora), 'LoRA r=16 alpha=32 dropout=0.1 on q_proj+k_proj+v_proj, 200 steps');
  assert.deepEqual(specOf({ method: 'lora', rank: 16, alpha: 16, steps: 200 }).options, { rank: 16 }, 'alpha = rank is the default');

  const prompt: RecoveryChoice = { method: 'prompt', tokens: 8, init: 'text', initText: ' Question: answer ', steps: 50 };
  assert.deepEqual(specOf(prompt).options, { virtualTokens: 8, init: 'text:Question: answer' });
  assert.equal(describeRecovery(prompt), 'Prompt tuning 8 tok init "Question: answer", 50 steps');
  assert.deepEqual(specOf({ method: 'prompt', tokens: 8, init: 'vocab', steps: 50 }).options, { virtualTokens: 8, init: 'vocab' });

  assert.deepEqual(specOf({ method: 'prefix', tokens: 10, reparam: true, steps: 50 }).options, { virtualTokens: 10, reparam: true });
  assert.equal(describeRecovery({ method: 'prefix', tokens: 10, reparam: true, steps: 50 }), 'Prefix tuning 10 tok reparam, 50 steps');
  assert.deepEqual(specOf({ method: 'prefix', tokens: 10, init: 'text', initText: 'The answer is', steps: 50 }).options, { virtualTokens: 10, init: 'text:The answer is' });

  const idp: RecoveryChoice = { method: 'idp', tokens: 10, prompts: 6, init: 'vocab', steps: 50 };
  assert.deepEqual(specOf(idp), { name: 'idp-10-tok-6-prompts-vocab-init-50-steps', method: 'idp', steps: 50, options: { virtualTokens: 10, prompts: 6, init: 'vocab' } });
  assert.equal(describeRecovery({ method: 'idp', prompts: 2, steps: 50 }), 'IDP 2 prompts, 50 steps');

  // Every one passes the engine's schema; two of one method get different names.
  const spec = draftToSpec({ ...draft, recoveries: [newRecovery('lora', 100), lora, prompt, { method: 'prompt', tokens: 8, steps: 50 }, idp, newRecovery('idp', 50)] });
  const parsed = experimentSpecSchema.safeParse(spec);
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  assert.equal(new Set(spec.recoveries!.map((r) => r.name)).size, 7);
});

test('long names are cut at a word and stay unique', () => {
  const long = (w: string): RecoveryChoice => ({ method: 'prompt', tokens: 20, init: 'text', initText: `a rather long text to start the prompt from, long enough to be cut, ending in ${w}`, steps: 400 });
  const spec = draftToSpec({ ...draft, recoveries: [long('one'), long('two'), long('three')] });
  const names = spec.recoveries!.map((r) => r.name);
  assert.equal(names[1], 'prompt-tuning-20-tok-init-a-rather-long-text-to-start-the-prompt-from-long');
  assert.equal(names[2], `${names[1]}-2`);
  assert.equal(names[3], `${names[1]}-3`);
  assert.ok(experimentSpecSchema.safeParse(spec).success);
  assert.equal(draftToSpec({ ...draft, name: 'a study whose name is longer than sixty characters, which is cut' }).name, 'a-study-whose-name-is-longer-than-sixty-characters-which-is');
});

test('recovery options are checked as the engine checks them, the message beside its field', () => {
  const problemsOf = (r: RecoveryChoice, architecture?: string) => recoveryProblems(r, architecture);
  assert.deepEqual(problemsOf(newRecovery('lora', 400)), {});
  assert.deepEqual(problemsOf({ method: 'lora', rank: 0, alpha: -1, dropout: 1, steps: 0 }), {
    steps: 'steps must be a positive integer', rank: 'rank must be a positive integer', alpha: 'alpha must be greater than 0', dropout: 'dropout must be in [0, 1)',
  });
  assert.equal(problemsOf({ method: 'lora', rank: 2.5, steps: 10 }).rank, 'rank must be a positive integer');
  assert.deepEqual(problemsOf({ method: 'lora', dropout: 0.99, steps: 10 }), {});
  assert.equal(problemsOf({ method: 'lora', targets: 'q_proj,fc1', steps: 10 }, 'LlamaForCausalLM').targets, 'fc1 is not a module of a LLaMA-family model (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)');
  assert.deepEqual(problemsOf({ method: 'lora', targets: 'q_proj,fc1', steps: 10 }, 'OPTForCausalLM'), {});
  assert.match(problemsOf({ method: 'lora', targets: 'q_proj,attn', steps: 10 }).targets!, /^attn is not a module LoRA can target/);
  assert.equal(problemsOf({ method: 'lora', targets: 'q_proj, q_proj', steps: 10 }).targets, 'q_proj is named twice');

  assert.equal(problemsOf({ method: 'prompt', tokens: 0, steps: 10 }).tokens, 'virtual tokens must be a positive integer');
  assert.equal(problemsOf({ method: 'prompt', tokens: 5, init: 'text', initText: '  ', steps: 10 }).init, 'init text is empty: type the words to start from');
  assert.equal(problemsOf({ method: 'idp', prompts: 0, steps: 10 }).prompts, 'prompts must be a positive integer');
  assert.equal(problemsOf({ method: 'prefix', tokens: 5, reparam: true, init: 'text', initText: 'words', steps: 10 }).init, 'text init needs reparam off');
  assert.equal(problemsOf({ method: 'prefix', tokens: 5, init: 'vocab', steps: 10 }).init, 'prefix init must be random or text');
  assert.deepEqual(problemsOf({ method: 'prefix', tokens: 5, init: 'text', initText: 'words', steps: 10 }), {});

  // The plan lists them (the Start button is disabled while it does), and the same recovery twice.
  const plan = planExperiment({ ...draft, recoveries: [{ method: 'lora', dropout: 1.5, steps: 10 }, newRecovery('lora', 100), { method: 'lora', rank: 8, alpha: 8, steps: 100 }] });
  assert.deepEqual(plan.problems, ['LoRA r=8 dropout=1.5, 10 steps: dropout must be in [0, 1).', 'LoRA r=8, 100 steps is listed twice: change an option of one, or remove it.']);
  assert.match(planExperiment({ ...draft, recoveries: [{ method: 'lora', targets: 'fc1', steps: 10 }] }, { architecture: 'LlamaForCausalLM' }).problems[0]!, /fc1 is not a module of a LLaMA-family model/);
});

test('a tune run is described with its options, from the filled-in spec the engine keeps', () => {
  const run = (spec: Record<string, unknown>) => describeRunConfig('tune', { spec, steps: 100 }).recovery;
  assert.equal(run({ method: 'lora', rank: 8, alpha: 8, targets: ['q_proj', 'v_proj'] }), 'LoRA r=8, 100 steps');
  assert.equal(run({ method: 'lora', rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'], dropout: 0.1 }), 'LoRA r=8 alpha=16 dropout=0.1, 100 steps');
  assert.equal(run({ method: 'prompt', virtualTokens: 20, init: { kind: 'random' } }), 'Prompt tuning 20 tok, 100 steps');
  assert.equal(run({ method: 'prompt', virtualTokens: 20, init: { kind: 'text', text: 'Answer:' } }), 'Prompt tuning 20 tok init "Answer:", 100 steps');
  assert.equal(run({ method: 'prefix', virtualTokens: 25, reparam: true }), 'Prefix tuning 25 tok reparam, 100 steps');
  assert.equal(run({ method: 'idp', virtualTokens: 25, prompts: 4, selLayer: 0, training: 'joint-hard', init: { kind: 'vocab' } }), 'IDP vocab init, 100 steps');
});

test('the engine takes every option the builder sends, and fills in what it leaves out', async () => {
  const { methodSpecOf } = await import('../../main/engine/experiments/step-inputs.ts');
  const recoveries: RecoveryChoice[] = [
    newRecovery('lora', 10), { method: 'lora', rank: 4, alpha: 8, dropout: 0.1, targets: 'q_proj,k_proj,v_proj,o_proj', steps: 10 },
    newRecovery('prompt', 10), { method: 'prompt', tokens: 4, init: 'text', initText: 'Question:', steps: 10 }, { method: 'prompt', tokens: 4, init: 'vocab', steps: 10 },
    newRecovery('prefix', 10), { method: 'prefix', tokens: 4, reparam: true, steps: 10 }, { method: 'prefix', tokens: 4, init: 'text', initText: 'The answer', steps: 10 },
    newRecovery('idp', 10), { method: 'idp', tokens: 6, prompts: 3, init: 'text', initText: 'Answer', steps: 10 },
  ];
  const specs = draftToSpec({ ...draft, recoveries }).recoveries!.slice(1).map((r) => methodSpecOf({ method: r.method, options: r.options }));
  assert.deepEqual(specs, [
    { method: 'lora', rank: 8, alpha: 8, targets: ['q_proj', 'v_proj'] },
    { method: 'lora', rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], dropout: 0.1 },
    { method: 'prompt', virtualTokens: 20, init: { kind: 'random' } },
    { method: 'prompt', virtualTokens: 4, init: { kind: 'text', text: 'Question:' } },
    { method: 'prompt', virtualTokens: 4, init: { kind: 'vocab' } },
    { method: 'prefix', virtualTokens: 20, reparam: false },
    { method: 'prefix', virtualTokens: 4, reparam: true },
    { method: 'prefix', virtualTokens: 4, reparam: false, init: { kind: 'text', text: 'The answer' } },
    { method: 'idp', virtualTokens: 25, prompts: 4, selLayer: 0, training: 'joint-hard', init: { kind: 'random' } },
    { method: 'idp', virtualTokens: 6, prompts: 3, selLayer: 0, training: 'joint-hard', init: { kind: 'text', text: 'Answer' } },
  ]);
  // What the view refuses, the engine refuses too (a text init with reparam; a dropout of 1).
  assert.throws(() => methodSpecOf({ method: 'prefix', options: recoveryOptions({ method: 'prefix', reparam: true, init: 'text', initText: 'x', steps: 1 }) }), /needs reparam off/);
  assert.throws(() => methodSpecOf({ method: 'lora', options: recoveryOptions({ method: 'lora', dropout: 1, steps: 1 }) }), /dropout must be in \[0, 1\)/);
});
