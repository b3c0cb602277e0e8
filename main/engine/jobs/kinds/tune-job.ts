// A tune run: one recovery method trained on its input (a compressed run's model, or the base)
// by the recovery module (main/engine/recover/tune.ts), the adapter written to <run>/adapter in
// PEFT's layout, the training curve written to the store as it goes, resumed per step from the
// trainer's checkpoints in <run>/adapter/checkpoints.

import { join } from 'node:path';
import { RecallError } from '../../errors.ts';
import { tuneModel } from '../../recover/tune.ts';
import { inputParent, type JobContext, type JobKindRunner, type TuneJobConfig } from '../job-context.ts';
import { recordArtifacts, resolveVariant } from '../run-files.ts';

export const tuneJob: JobKindRunner = {
  resumable: true,
  async run(ctx: JobContext) {
    const { run, store } = ctx;
    const config = run.config as TuneJobConfig;
    if (run.modelId === null) throw new RecallError('E_INVALID_ARGUMENT', `tune run ${run.id} has no model`, { runId: run.id });
    const v = resolveVariant(store, ctx.dataDir, run.modelId, inputParent(run));
    if (v.adapterDir) throw new RecallError('E_INVALID_ARGUMENT', `tune run ${run.id}: its input is already a recovered run`, { runId: run.id });
    const t0 = performance.now();
    const r = await tuneModel({
      model: v.modelDir, data: config.paths.data, out: join(ctx.dir, 'adapter'), method: config.spec, steps: config.steps,
      ...(config.lr !== null ? { lr: config.lr } : {}), ...(config.batchSize !== null ? { batchSize: config.batchSize } : {}),
      ...(config.seqLen !== null ? { seqLen: config.seqLen } : {}),
      evalEvery: Math.max(1, Math.floor(config.steps / 4)), checkpointEvery: Math.max(1, Math.floor(config.steps / 4)),
      seed: run.seed ?? 0, resume: ctx.resume, signal: ctx.signal, ...ctx.session, onFallback: (m) => ctx.log(m, 'warn'),
      onProgress: (e) => {
        store.trainingCurves.append(run.id, [{ step: e.step, loss: e.loss, lr: e.lr, ...(e.evalLoss !== undefined ? { evalLoss: e.evalLoss } : {}) }]);
        const stage = `${e.run !== undefined ? `prompt ${e.run + 1} ` : ''}step ${e.step}/${e.totalSteps}`;
        ctx.progress(e.step / e.totalSteps, stage, e.etaSeconds);
        if (e.evalLoss !== undefined) ctx.log(`${stage} loss ${e.loss.toFixed(4)} held-out ${e.evalLoss.toFixed(4)}`);
      },
    });
    if (r.status === 'cancelled') return 'cancelled';
    // The trainer's own records carry tokens seen; they replace the progress points step by step.
    if (r.runs.length === 1) {
      const evals = new Map(r.runs[0]!.evalHistory.map((x) => [x.step, x.loss]));
      store.trainingCurves.append(run.id, r.runs[0]!.lossHistory.map((s) => ({ step: s.step, loss: s.loss, lr: s.lr, tokens: s.tokens, evalLoss: evals.get(s.step) ?? null })));
    }
    if (r.heldOut.before !== null) store.metrics.upsert(run.id, { task: 'training', metric: 'heldout-loss-before', value: r.heldOut.before });
    if (r.heldOut.after !== null) store.metrics.upsert(run.id, { task: 'training', metric: 'heldout-loss-after', value: r.heldOut.after });
    ctx.log(`held-out loss ${r.heldOut.before?.toFixed(4) ?? '-'} -> ${r.heldOut.after?.toFixed(4) ?? '-'}`);
    store.runs.addTimings(run.id, { tune: performance.now() - t0 });
    await recordArtifacts(store, ctx.dataDir, run.id, 'adapter', 'adapter', ['checkpoints', 'merged']);
    return 'done';
  },
};
