// The scoring and generation paths agree with one another on random models: shared-context
// KV reuse gives the same log-probabilities as scoring each full sequence from scratch, and
// greedy generation with the KV cache gives the same tokens as recomputing every step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildModelGraph } from '../../main/engine/models/build-graph.ts';
import { ModelRunner } from '../../main/engine/models/runner.ts';
import { assertClose } from '../helpers/compare.ts';
import { randomWeights, tinyConfig } from '../helpers/random-model.ts';

for (const family of ['llama', 'opt'] as const) {
  describe(`ModelRunner (${family})`, () => {
    const config = tinyConfig(family);
    let runner: ModelRunner;
    before(async () => {
      runner = await ModelRunner.create(buildModelGraph(config, randomWeights(config), { pastKeyValues: true }), config);
    });
    after(() => runner.release());

    test('continuation scores with a shared context equal per-token logprobs of the whole sequence', async () => {
      const context = [1, 5, 9, 12];
      const continuations = [[7], [8, 3, 22], [30, 31]];
      const scores = await runner.scoreContinuations(continuations.map((c) => ({ context, continuation: c })));
      for (const [i, cont] of continuations.entries()) {
        const whole = await runner.tokenLogprobs([...context, ...cont]);
        const expected = whole.logprobs.slice(context.length - 1);
        assertClose(scores[i]!.tokenLogprobs, expected, { atol: 2e-5, label: `continuation ${i}` });
        const greedy = cont.every((tok, j) => whole.greedy[context.length - 1 + j] === tok);
        assert.equal(scores[i]!.greedy, greedy);
      }
    });

    test('a continuation equal to the greedy path is reported greedy', async () => {
      const context = [1, 4, 6];
      const gen = await runner.generateGreedy(context, { maxTokens: 3, stopTokens: [] });
      const [score] = await runner.scoreContinuations([{ context, continuation: gen.tokens }]);
      assert.equal(score!.greedy, true);
    });

    test('greedy generation with the KV cache equals recomputing the whole sequence each step', async () => {
      const prompt = [1, 3, 17, 25];
      const gen = await runner.generateGreedy(prompt, { maxTokens: 6, stopTokens: [] });
      const seq = [...prompt];
      for (let i = 0; i < 6; i++) {
        const { greedy } = await runner.tokenLogprobs(seq);
        seq.push(greedy[seq.length - 1]!);
      }
      assert.deepEqual(gen.tokens, seq.slice(prompt.length));
      assert.equal(gen.stoppedBy, 'max_tokens');
    });

    test('generation stops at a stop string and cuts it', async () => {
      const prompt = [1, 3, 17];
      const full = await runner.generateGreedy(prompt, { maxTokens: 5, stopTokens: [] });
      const decode = (ids: number[]) => ids.map((t) => `<${t}>`).join('');
      const stopAt = `<${full.tokens[2]}>`;
      const gen = await runner.generateGreedy(prompt, { maxTokens: 5, stopTokens: [], stop: [stopAt], decode });
      assert.equal(gen.stoppedBy, 'stop_string');
      assert.equal(gen.text, decode(full.tokens).slice(0, decode(full.tokens).indexOf(stopAt)));
    });
  });
}
