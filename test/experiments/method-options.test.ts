// Recovery options in an experiment spec are checked against what each method takes: an
// unknown option or a value of the wrong type is one clear error naming `options.<key>`, at
// experiments.create (before any job runs), instead of being silently replaced by a default.
// Defaults stay out of the step spec, so existing steps keep their fingerprints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRecallError } from '../../main/engine/errors.ts';
import { methodSpecOf } from '../../main/engine/experiments/step-inputs.ts';
import { CALIB, TINY, call, testApi } from '../jobs/job-fixtures.ts';

const refused = (method: 'lora' | 'prompt' | 'prefix' | 'idp', options: Record<string, number | string | boolean | string[]>, field: string, message: RegExp) =>
  assert.throws(() => methodSpecOf({ method, options }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT') && (e.details as { field?: string }).field === field && message.test(e.message), `${method} ${JSON.stringify(options)}`);

test('each method refuses an option it does not take, naming it and listing what it takes', () => {
  refused('lora', { rnak: 8 }, 'options.rnak', /lora has no option 'rnak' \(it takes rank, alpha, targets, dropout\)/);
  refused('prompt', { reparam: true }, 'options.reparam', /prompt has no option 'reparam'/);
  refused('idp', { rank: 4 }, 'options.rank', /idp has no option 'rank'/);
});

test('a value of the wrong type is refused instead of becoming the default', () => {
  refused('lora', { rank: '8' }, 'options.rank', /must be a positive integer \(got "8"\)/);
  refused('lora', { rank: 2.5 }, 'options.rank', /positive integer/);
  refused('lora', { targets: [] }, 'options.targets', /non-empty list/);
  refused('lora', { dropout: 1 }, 'options.dropout', /\[0, 1\)/);
  refused('prefix', { reparam: 'yes' }, 'options.reparam', /true or false/);
  refused('prefix', { init: 5 }, 'options.init', /must be a string/);
  refused('idp', { training: 'joint' }, 'options.training', /joint-hard or independent/);
  refused('prompt', { virtualTokens: 0 }, 'options.virtualTokens', /positive integer/);
  refused('idp', { selLayer: -1 }, 'options.selLayer', /an integer >= 0/);
  assert.equal((methodSpecOf({ method: 'idp', options: { selLayer: 0 } }) as { selLayer: number }).selLayer, 0, 'layer 0 is a layer');
});

test('valid options: defaults filled, LoRA dropout carried (and left out at 0, so fingerprints are as before)', () => {
  assert.deepEqual(methodSpecOf({ method: 'lora', options: { rank: 4 } }), { method: 'lora', rank: 4, alpha: 4, targets: ['q_proj', 'v_proj'] });
  assert.deepEqual(methodSpecOf({ method: 'lora', options: { rank: 4, dropout: 0 } }), methodSpecOf({ method: 'lora', options: { rank: 4 } }));
  assert.deepEqual(methodSpecOf({ method: 'lora', options: { rank: 4, dropout: 0.1, targets: ['q_proj'] } }), { method: 'lora', rank: 4, alpha: 4, targets: ['q_proj'], dropout: 0.1 });
  assert.deepEqual(methodSpecOf({ method: 'idp', options: { prompts: 2, training: 'independent' } }), { method: 'idp', virtualTokens: 25, prompts: 2, selLayer: 0, training: 'independent', init: { kind: 'random' } });
});

test('experiments.create checks recovery settings against the model before any run exists: targets of its family, selLayer among its layers, prompt + sequence within its context, blank init text, alpha, a target named twice', async (t) => {
  const { api } = testApi(t);
  const base = { name: 'model-checks', models: [TINY], calibration: { file: CALIB, nsamples: 8, seqlen: 32 }, compressions: [{ name: 'rtn4', method: 'rtn' as const, bits: 4 }], tasks: ['demo_mc'] };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['lora', { targets: ['q_proj', 'fc1'] }, /options\.targets: LoRA target 'fc1' is not a module of a llama model/],
    ['lora', { targets: ['q_proj', 'q_proj'] }, /options\.targets: LoRA target 'q_proj' is named twice/],
    ['lora', { alpha: 0 }, /options\.alpha: alpha must be > 0/],
    ['idp', { selLayer: 9 }, /options\.selLayer: selLayer must be a layer of the model \(0\.\.1\)/],
    ['prompt', { init: 'text:   ' }, /options\.init: init text is blank/],
    ['prompt', { virtualTokens: 4000 }, /options\.virtualTokens: a prompt of 4000 virtual tokens .* longer than the model's context/],
  ];
  for (const [method, options, message] of cases) {
    const r = await api.call('experiments.create', { spec: { ...base, recoveries: [{ name: 'r', method, data: CALIB, steps: 2, options }] } });
    assert.equal(r.ok, false, `${method} ${JSON.stringify(options)} was accepted`);
    assert.match(JSON.stringify(r), message);
  }
  assert.equal((await call(api.call('runs.list', {}))).length, 0, 'no run was created');
});

test('experiments.create refuses a mistyped option before creating any run', async (t) => {
  const { api } = testApi(t);
  const spec = {
    name: 'bad-options', models: [TINY], calibration: { file: CALIB, nsamples: 8, seqlen: 32 }, compressions: [{ name: 'rtn4', method: 'rtn' as const, bits: 4 }],
    recoveries: [{ name: 'lora', method: 'lora' as const, data: CALIB, steps: 2, options: { rank: 'eight' } }], tasks: ['demo_mc'],
  };
  const r = await api.call('experiments.create', { spec });
  assert.equal(r.ok, false);
  assert.match(JSON.stringify(r), /options\.rank must be a positive integer/);
  assert.equal((await call(api.call('runs.list', {}))).length, 0, 'no run was created');
});
