// IDP joint-hard "update P_i* only", strictly (METHODS.md 2): the optimizer leaves a prompt that
// was not chosen exactly as it was (AdamW skipUnused / the step's skip set, as torch skips a
// parameter whose .grad is None), with its own step count for bias correction; the state
// round-trips through export/import; and in a real IDP run every unselected prompt is
// bit-identical after each step.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { Tokenizer } from '../../main/engine/models/tokenizer.ts';
import { createMethodTrainer } from '../../main/engine/recover/method-trainers.ts';
import { TokenDataset } from '../../main/engine/tune/data.ts';
import { train } from '../../main/engine/tune/loop.ts';
import { AdamW, Sgd } from '../../main/engine/tune/optimizer.ts';
import { tokenizeCorpus } from '../../main/engine/tune/train-model.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';
import { CORPUS } from './helpers.ts';

const vec = (...v: number[]) => Float32Array.from(v);

test('AdamW skipUnused: a zero-gradient parameter is untouched; its later update uses its own step count', () => {
  const opt = new AdamW({ weightDecay: 0.1, skipUnused: true });
  const params = new Map([['a', vec(1, 2)], ['b', vec(3, -1)]]);
  const g1 = { a: vec(0.5, -0.2), b: vec(0.1, 0.3) }, g3b = vec(-0.4, 0.2);
  opt.step(params, new Map([['a', g1.a], ['b', g1.b]]), 0.01);
  const b1 = Float32Array.from(params.get('b')!), a1 = Float32Array.from(params.get('a')!);
  opt.step(params, new Map([['a', vec(0.3, 0.1)], ['b', vec(0, 0)]]), 0.01);
  assert.deepEqual(params.get('b'), b1, 'b not chosen: bit-identical');
  assert.notDeepEqual(params.get('a'), a1);
  // Round trip through the exported state, then b's second update.
  const state = opt.exportState();
  assert.deepEqual(state.tensors.get('step.b'), vec(1));
  assert.equal(state.tensors.has('step.a'), false);
  const resumed = new AdamW({ weightDecay: 0.1, skipUnused: true });
  resumed.importState(state, params);
  resumed.step(params, new Map([['a', vec(0.1, 0.1)], ['b', g3b]]), 0.01);
  // Reference: b alone, updated at its own steps 1 and 2.
  const alone = new Map([['b', vec(3, -1)]]);
  const ref = new AdamW({ weightDecay: 0.1 });
  ref.step(alone, new Map([['b', g1.b]]), 0.01);
  ref.step(alone, new Map([['b', g3b]]), 0.01);
  assert.deepEqual(params.get('b'), alone.get('b'));
  assert.equal(resumed.exportState().tensors.has('step.b'), true);
});

test('without skipping, a zero gradient still moves a parameter (momentum), and no step.* state is written', () => {
  const opt = new AdamW({ weightDecay: 0 });
  const params = new Map([['b', vec(3, -1)]]);
  opt.step(params, new Map([['b', vec(0.1, 0.3)]]), 0.01);
  const b1 = Float32Array.from(params.get('b')!);
  opt.step(params, new Map([['b', vec(0, 0)]]), 0.01);
  assert.notDeepEqual(params.get('b'), b1);
  assert.deepEqual([...opt.exportState().tensors.keys()].sort(), ['exp_avg.b', 'exp_avg_sq.b']);
});

test('explicit skip set: AdamW and SGD leave the named parameter untouched', () => {
  for (const opt of [new AdamW(), new Sgd({ momentum: 0.9, weightDecay: 0.1 })]) {
    const params = new Map([['a', vec(1, 2)], ['b', vec(3, -1)]]);
    const grads = new Map([['a', vec(0.5, -0.2)], ['b', vec(0.1, 0.3)]]);
    opt.step(params, grads, 0.01);
    const b1 = Float32Array.from(params.get('b')!);
    opt.step(params, grads, 0.01, new Set(['b']));
    assert.deepEqual(params.get('b'), b1, opt.kind);
  }
});

test('IDP joint-hard training: after every step the unselected prompts are bit-identical', async () => {
  const model = fixtureDir('tiny-llama');
  const folder = loadModelFolder(model);
  const tokenizer = Tokenizer.fromFolder(model);
  const data = TokenDataset.fromTokens(tokenizeCorpus(tokenizer, readFileSync(CORPUS, 'utf8')), { seqLen: 16, heldOutFraction: 0.05 });
  const t = await createMethodTrainer({ method: 'idp', virtualTokens: 4, prompts: 3, selLayer: 0, training: 'joint-hard', init: { kind: 'random' } }, folder, tokenizer, { seed: 2, session: { threads: 2 } });
  try {
    const snap = () => new Map([...t.params].map(([k, v]) => [k, Float32Array.from(v)]));
    let prev = snap(), checked = 0;
    const r = await train({
      params: t.params, paramShapes: t.paramShapes, data, batchSize: 4, gradient: t.gradient,
      optimizer: { kind: 'adamw', lr: 3e-2, weightDecay: 1e-2, skipUnused: true }, totalSteps: 6, warmupSteps: 0, seed: 2,
      onProgress: (e) => {
        const chosen = t.choices![e.step - 1]!;
        for (const [name, v] of t.params) {
          if (name === `idp.prompt.${chosen}`) assert.notDeepEqual(v, prev.get(name), `step ${e.step}: chosen ${name} moves`);
          else { assert.deepEqual(v, prev.get(name), `step ${e.step}: unselected ${name} bit-identical`); checked++; }
        }
        prev = snap();
      },
    });
    assert.equal(r.status, 'completed');
    assert.equal(checked, 6 * 2);
  } finally {
    await t.release();
    folder.weights.close();
  }
});
