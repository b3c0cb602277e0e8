// Scoring against independent computations on the PyTorch-oracle fixture models: a hand-made
// item whose words are in the WordLevel vocabulary gets exactly the oracle's log-probabilities
// (test/fixtures/models/*/expected.json, case "logprobs"), through shared-context scoring and
// through one full forward per pair; acc / acc_norm / greedy follow from those numbers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { scoreDoc } from '../../main/engine/eval/score-doc.ts';
import { type EvalScorer, modelScorer, truncateForScoring } from '../../main/engine/eval/scorer.ts';
import { findTask } from '../../main/engine/eval/tasks.ts';
import type { EvalDoc } from '../../main/engine/eval/types.ts';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { OracleFixture, fixtureDir } from '../helpers/model-fixtures.ts';

const close = (a: number, b: number, tol: number, label: string) => assert.ok(Math.abs(a - b) <= tol, `${label}: ${a} vs ${b} (diff ${Math.abs(a - b)})`);

test('truncateForScoring keeps the last max_length + 1 - |continuation| context tokens (HFLM)', () => {
  assert.deepEqual(truncateForScoring([1, 2, 3, 4, 5], [6, 7], 5), [2, 3, 4, 5]);
  assert.deepEqual(truncateForScoring([1, 2], [6, 7], 5), [1, 2]);
  assert.throws(() => truncateForScoring([1], [1, 2, 3, 4, 5, 6, 7], 5), /does not fit the model's context of 5 tokens/);
});

for (const name of ['tiny-llama', 'tiny-opt'] as const) {
  describe(`scoring on ${name} (oracle logits)`, () => {
    const fx = new OracleFixture(name);
    const c = fx.case('logprobs');
    const ids = fx.ints(c.inputs.input_ids).slice(0, 7); // row 0: BOS + 6 word ids
    const lps = Array.from(fx.floats(c.outputs.token_logprobs).slice(0, 6)); // log p(ids[t+1] | ids[<=t])
    const argmax = fx.ints(c.outputs.argmax).slice(0, 7);
    let lm: LanguageModel;
    let words: string[];
    let shared: EvalScorer, separate: EvalScorer;
    before(async () => {
      lm = await LanguageModel.load(fixtureDir(name));
      words = ids.slice(1).map((t) => lm.tokenizer.idToToken(t)!);
      shared = modelScorer(lm);
      separate = modelScorer(lm, { shareContext: false });
    });
    after(() => lm.release());

    test('a (context, continuation) pair: LL = sum of the oracle token logprobs; greedy = oracle argmax', async () => {
      const pair = { context: words.slice(0, 3).join(' '), continuation: ` ${words.slice(3).join(' ')}` };
      const enc = lm.tokenizer.encodePair(pair.context, pair.continuation);
      assert.deepEqual(enc, { context: ids.slice(0, 4), continuation: ids.slice(4) });
      const expected = lps[3]! + lps[4]! + lps[5]!;
      const greedy = [4, 5, 6].every((t) => argmax[t - 1] === ids[t]);
      for (const [label, scorer] of [['shared context', shared], ['full forward per pair', separate]] as const) {
        const [s] = await scorer.scorePairs([pair]);
        close(s!.logprob, expected, 1e-4, label);
        assert.equal(s!.greedy, greedy, label);
        assert.equal(s!.tokens, 3);
      }
    });

    test('a multiple-choice item: shared-context and per-pair scoring agree; acc and acc_norm from the LLs by hand', async () => {
      const choices = [words.slice(3).join(' '), words[5]!, `${words[1]} ${words[0]}`, words.slice(2, 6).join(' ')];
      const doc: EvalDoc = { index: 0, doc: {}, contexts: [words.slice(0, 3).join(' ')], choices, gold: [1] };
      const task = findTask('arc_easy')!;
      const a = await scoreDoc(task, doc, shared);
      const b = await scoreDoc(task, doc, separate);
      a.choice_loglikelihoods!.forEach((ll, i) => close(ll, b.choice_loglikelihoods![i]!, 1e-4, `choice ${i}`));
      close(a.choice_loglikelihoods![0]!, lps[3]! + lps[4]! + lps[5]!, 1e-4, 'choice 0 vs oracle');
      const lls = b.choice_loglikelihoods!;
      const best = lls.indexOf(Math.max(...lls));
      const norm = lls.map((ll, i) => ll / choices[i]!.length);
      const bestNorm = norm.indexOf(Math.max(...norm));
      assert.equal(a.prediction, best);
      assert.deepEqual(a.values, { acc: best === 1 ? 1 : 0, acc_norm: bestNorm === 1 ? 1 : 0 });
      assert.equal(a.correct, best === 1);
      assert.deepEqual(a.arguments[2], [doc.contexts[0], ` ${choices[2]}`]);
    });

    test('a LAMBADA-style item: the sample carries LL for perplexity and greedy as acc', async () => {
      const doc = findTask('lambada_openai')!.toDoc({ index: 3, line: 4, value: { text: words.join(' ') } });
      const s = await scoreDoc(findTask('lambada_openai')!, doc, shared);
      close(s.values.perplexity!, lps[5]!, 1e-4, 'target LL');
      assert.equal(s.values.acc, argmax[5] === ids[6] ? 1 : 0);
      assert.equal(s.target, ` ${words[5]}`);
    });

    test('generation equals the oracle greedy tokens (stop strings cut, leading space removed before matching)', async () => {
      const g = fx.case('greedy');
      const expected = fx.ints(g.outputs.generated_ids);
      const text = await shared.generate(g.inputs.prompt_text as string, { maxTokens: 6, until: [] });
      const eos = expected.findIndex((t) => lm.config.eosTokenIds.includes(t));
      assert.equal(text, lm.tokenizer.decode(expected.slice(0, eos < 0 ? 6 : eos), { skipSpecialTokens: true }));
      const first = lm.tokenizer.decode(expected.slice(0, 1), { skipSpecialTokens: true });
      const doc: EvalDoc = { index: 0, doc: {}, contexts: [g.inputs.prompt_text as string], choices: ['nothing like it', first.toUpperCase()], gold: [0, 1] };
      const s = await scoreDoc({ ...findTask('triviaqa')!, until: [' '] }, doc, shared, { maxGenTokens: 6 });
      assert.equal(s.filtered_resps[0], first);
      assert.deepEqual(s.values, { exact_match: 1 });
    });

    test('a context longer than the model window is left-truncated to the last max_length + 1 tokens (HFLM)', async () => {
      const long = Array.from({ length: 300 }, (_, i) => words[i % 6]).join(' ');
      const pair = { context: long, continuation: ` ${words[0]} ${words[1]}` };
      const [s] = await shared.scorePairs([pair]);
      const enc = lm.tokenizer.encodePair(pair.context, pair.continuation);
      const kept = truncateForScoring(enc.context, enc.continuation, lm.config.maxPositions);
      assert.equal(kept.length + enc.continuation.length - 1, lm.config.maxPositions);
      assert.deepEqual(kept, enc.context.slice(enc.context.length - kept.length));
      const [direct] = await lm.runner.scoreContinuations([{ context: kept, continuation: enc.continuation }]);
      close(s!.logprob, direct!.logprob, 1e-6, 'truncated LL');
      // The full-forward path fits one token fewer of context, and still scores.
      const [f] = await separate.scorePairs([pair]);
      assert.ok(Number.isFinite(f!.logprob));
    });
  });
}
