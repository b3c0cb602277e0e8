// IDP adapters in the analysis (METHODS.md 2 and 4): readPeftAdapter reads Recall's IDP folder,
// analyzeModels runs IDP's selection per example (the recover module's selector, as inference
// does), records the chosen prompt per example, and analyses each example after its chosen
// prompt's KV: every example's similarities equal those of a plain prefix analysis with that
// prompt's KV, and the choices equal the ones IDP inference (LanguageModel + adapter) makes.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { join } from 'node:path';
import { type ModelAnalysis, analyzeModels } from '../../main/engine/analysis/analyze.ts';
import { readPeftAdapter } from '../../main/engine/analysis/peft-adapter.ts';
import { loadModelFolder } from '../../main/engine/models/folder.ts';
import { LanguageModel } from '../../main/engine/models/language-model.ts';
import { openAdapter, promptPasts } from '../../main/engine/recover/model-adapter.ts';
import { tuneModel } from '../../main/engine/recover/tune.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';
import { CORPUS, tempDir } from '../recover/helpers.ts';

const tmp = tempDir('idp-analysis');
after(() => rmSync(tmp, { recursive: true, force: true }));

const ROWS = [[1, 7, 83, 56, 48, 7], [1, 63, 17, 89], [1, 5, 5, 5, 9, 12, 40], [1, 22, 31], [1, 90, 2, 14, 14]];

for (const name of ['tiny-llama', 'tiny-opt']) {
  test(`IDP adapter analysed per example after its chosen prompt: ${name}`, async () => {
    const model = fixtureDir(name);
    const out = join(tmp, name);
    const r = await tuneModel({ model, data: CORPUS, out, method: { method: 'idp', virtualTokens: 3, prompts: 3, selLayer: 1, training: 'joint-hard', init: { kind: 'random' } }, steps: 3, lr: 3e-2, seqLen: 16, batchSize: 4, threads: 2 });
    assert.equal(r.status, 'completed');
    const folder = loadModelFolder(model);
    const adapter = readPeftAdapter(out, folder.config);
    assert.ok(adapter.idp);
    assert.equal(adapter.idp.numPrompts, 3);
    const prefixes = (await promptPasts(folder, adapter.idp.pool, 3, 3, { threads: 2 }))
      .map((p) => ({ keys: p.keys.map((t) => t.data as Float32Array), values: p.values.map((t) => t.data as Float32Array) }));
    folder.weights.close();

    const result = await analyzeModels({ base: model, models: [{ label: 'idp', dir: model, adapter }], tokenIds: ROWS, batchSize: 2, threads: 2 });
    const m = result.models[0] as ModelAnalysis;
    assert.equal(m.prefixLength, 3);
    assert.equal(m.idp!.choices.length, ROWS.length);
    assert.ok(m.idp!.choices.every((c) => Number.isInteger(c) && c >= 0 && c < 3));
    assert.ok(new Set(m.idp!.choices).size > 1, "the examples choose different prompts (the test needs a real mix)");

    // The same choices as IDP inference makes for each sequence.
    const runtime = openAdapter(out);
    const lm = await LanguageModel.load(model, { adapter: runtime, threads: 2 });
    try {
      for (const row of ROWS) await lm.logprobsOfIds(row);
      assert.deepEqual(runtime.choices.map((c) => c.prompt), m.idp!.choices);
    } finally {
      await lm.release();
    }

    // Each example's similarities equal a prefix analysis with the chosen prompt's KV.
    const perPrompt = await analyzeModels({ base: model, models: prefixes.map((prefix, i) => ({ label: `p${i}`, dir: model, adapter: { prefix } })), tokenIds: ROWS, batchSize: 2, threads: 2 });
    const perEx = (x: ModelAnalysis, key: 'attention' | 'activation', e: number) => {
      const a = x.perExample[key], size = a.shape.slice(1).reduce((s, d) => s * d, 1);
      return Array.from(a.data.slice(e * size, (e + 1) * size));
    };
    m.idp!.choices.forEach((c, e) => {
      for (const key of ['attention', 'activation'] as const) assert.deepEqual(perEx(m, key, e), perEx(perPrompt.models[c]!, key, e), `example ${e} ${key}`);
    });
  });
}
