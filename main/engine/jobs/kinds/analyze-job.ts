// An analyze run: the variant (its 'input' parent: a compressed or recovered run) against the
// base model, layer by layer (main/engine/analysis). Every similarity array goes to the store
// (kinds from similarityArrays, label 'model'), the per-layer means become metrics
// (task 'analysis', metric 'attention-cos/layer.3'...), and <run>/analysis/summary.json keeps
// the spreads.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeModels, type AnalysisAdapter, type ModelAnalysis } from '../../analysis/analyze.ts';
import { readTaskContexts } from '../../analysis/inputs.ts';
import { readPeftAdapter } from '../../analysis/peft-adapter.ts';
import { similarityArrays } from '../../analysis/result.ts';
import { RecallError } from '../../errors.ts';
import { loadModelFolder } from '../../models/folder.ts';
import { type AnalyzeJobConfig, type JobContext, type JobKindRunner, inputParent } from '../job-context.ts';
import { recordArtifacts, resolveVariant } from '../run-files.ts';

function adapterFor(dir: string | undefined, modelDir: string): AnalysisAdapter | undefined {
  if (!dir) return undefined;
  const folder = loadModelFolder(modelDir);
  try {
    return readPeftAdapter(dir, folder.config);
  } finally {
    folder.weights.close();
  }
}

export const analyzeJob: JobKindRunner = {
  resumable: true,
  async run(ctx: JobContext) {
    const { run, store } = ctx;
    const config = run.config as AnalyzeJobConfig;
    const parent = inputParent(run);
    if (run.modelId === null || parent === undefined) throw new RecallError('E_INVALID_ARGUMENT', `analyze run ${run.id} needs a model and a variant run`, { runId: run.id });
    const v = resolveVariant(store, ctx.dataDir, run.modelId, parent);
    let texts = config.texts ?? readTaskContexts(config.task!, config.paths.dataDirs);
    if (config.limit !== null) texts = texts.slice(0, config.limit);
    const adapter = adapterFor(v.adapterDir, v.modelDir);
    const t0 = performance.now();
    const result = await analyzeModels({
      base: v.baseDir, models: [{ label: 'model', dir: v.modelDir, ...(adapter ? { adapter } : {}) }], texts,
      ...(config.maxTokens !== null ? { maxTokens: config.maxTokens } : {}), cka: config.cka, signal: ctx.signal, ...ctx.session,
      onProgress: (p) => {
        const s = (performance.now() - t0) / 1000;
        ctx.progress(p.examplesDone / p.examplesTotal, `examples ${p.examplesDone}/${p.examplesTotal}`, (s / p.examplesDone) * (p.examplesTotal - p.examplesDone));
      },
    }).catch((e: unknown) => { if (ctx.signal.aborted) return null; throw e; });
    if (result === null) return 'cancelled';
    for (const { kind, array } of similarityArrays(result)) store.similarity.put(run.id, kind, array.data, array.shape);
    const m: ModelAnalysis = result.models[0]!;
    // IDP: which prompt each example chose (METHODS 2: recorded so a user sees which prompt serves which questions).
    if (m.idp) store.similarity.put(run.id, 'idp/choices', Int32Array.from(m.idp.choices), [m.idp.choices.length]);
    const perLayer = (name: string, means: ArrayLike<number>) => Array.from(means, (value, l) => ({ task: 'analysis', metric: `${name}/layer.${l}`, value, n: texts.length }));
    store.metrics.upsert(run.id, [...perLayer('attention-cos', m.attention.mean), ...perLayer('activation-cos', m.activation.mean), ...(m.cka ? perLayer('cka', m.cka.mean) : [])].filter((x) => Number.isFinite(x.value)));
    mkdirSync(join(ctx.dir, 'analysis'), { recursive: true });
    writeFileSync(join(ctx.dir, 'analysis', 'summary.json'), `${JSON.stringify({ base: result.base, examples: texts.length, attention: m.attention, activation: m.activation, cka: m.cka ?? null, idp: m.idp ?? null }, null, 1)}\n`);
    store.runs.addTimings(run.id, { analyze: performance.now() - t0 });
    await recordArtifacts(store, ctx.dataDir, run.id, 'analysis', 'analysis');
    ctx.log(`mean attention similarity per layer: ${Array.from(m.attention.mean, (x) => x.toFixed(3)).join(' ')}`);
    return 'done';
  },
};
