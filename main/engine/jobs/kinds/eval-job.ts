// An eval run: each task scored as lm-evaluation-harness does (main/engine/eval), its
// per-example records and then its metrics written in transactions, task by task. A resumed
// run skips the tasks whose metrics are stored (a task is finished when its metrics are).
// Writes <run>/results.json in the harness's layout (with samples) at the end.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_TASKS_DIR } from '../../analysis/inputs.ts';
import { evaluateLoaded } from '../../eval/evaluate.ts';
import { modelScorer } from '../../eval/scorer.ts';
import { loadTask, unavailableMessage } from '../../eval/task-data.ts';
import { RecallError } from '../../errors.ts';
import { type EvalJobConfig, type JobContext, type JobKindRunner, inputParent } from '../job-context.ts';
import { harnessJson } from '../eval-results.ts';
import { recordArtifacts, resolveVariant } from '../run-files.ts';
import { loadVariantModel } from './variant-model.ts';

const RECORD_BATCH = 200;

export const evalJob: JobKindRunner = {
  resumable: true,
  async run(ctx: JobContext) {
    const { run, store } = ctx;
    const config = run.config as EvalJobConfig;
    if (run.modelId === null) throw new RecallError('E_INVALID_ARGUMENT', `eval run ${run.id} has no model`, { runId: run.id });
    const variant = resolveVariant(store, ctx.dataDir, run.modelId, inputParent(run));
    const seed = run.seed ?? 1234;
    const dataDirs = [...config.paths.dataDirs, DEMO_TASKS_DIR];
    const done = new Set(store.metrics.list(run.id).map((m) => m.task));
    const lm = await loadVariantModel(variant, ctx);
    const t0 = performance.now();
    try {
      const scorer = modelScorer(lm);
      for (const [i, name] of config.tasks.entries()) {
        const loaded = loadTask(name, dataDirs);
        if (!loaded.available) throw new RecallError('E_EVAL_TASK', unavailableMessage(loaded), { task: name, missing: loaded.missing });
        if (done.has(name)) {
          ctx.log(`${name}: already scored (resumed run)`);
          continue;
        }
        const started = performance.now();
        const r = await evaluateLoaded(scorer, loaded.data, {
          seed, shots: config.shots, signal: ctx.signal,
          ...(config.limit !== null ? { limit: config.limit } : {}), ...(config.maxGenTokens !== null ? { maxGenTokens: config.maxGenTokens } : {}),
          onProgress: (_task, k, total) => {
            const perItem = (performance.now() - started) / 1000 / k;
            ctx.progress((i + k / total) / config.tasks.length, `${name} ${k}/${total}`, perItem * (total - k));
          },
        }).catch((e: unknown) => { if (ctx.signal.aborted) return null; throw e; });
        if (r === null) return 'cancelled';
        for (let s = 0; s < r.samples.length; s += RECORD_BATCH) {
          store.records.insertMany(run.id, name, r.samples.slice(s, s + RECORD_BATCH).map((x) => ({ item: x.doc_id, payload: x })));
        }
        store.metrics.upsert(run.id, r.metrics.map((m) => ({ task: name, metric: m.name, value: m.value, stderr: Number.isFinite(m.stderr) ? m.stderr : null, n: r.samples.length })));
        ctx.log(`${name}: ${r.metrics.map((m) => `${m.name} ${m.value.toFixed(4)}`).join(', ')} (n=${r.samples.length})`);
      }
    } finally {
      await lm.release();
    }
    store.runs.addTimings(run.id, { eval: performance.now() - t0 });
    mkdirSync(join(ctx.dir, 'results'), { recursive: true });
    writeFileSync(join(ctx.dir, 'results', 'results.json'), `${JSON.stringify(harnessJson(store, store.runs.require(run.id), variant.modelDir), null, 1)}\n`);
    await recordArtifacts(store, ctx.dataDir, run.id, 'results', 'results');
    return 'done';
  },
};
