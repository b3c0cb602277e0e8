// A compress run: compressModel into <run>/model, each module's log row written to the store
// as soon as the module is done (so nothing finished is lost to a crash), resumed per layer from
// the driver's checkpoints in <run>/model/.recall-compress.

import { join } from 'node:path';
import { compressModel } from '../../compress/compress-model.ts';
import { RecallError } from '../../errors.ts';
import type { CompressJobConfig, JobContext, JobKindRunner } from '../job-context.ts';
import { recordArtifacts, resolveVariant } from '../run-files.ts';

export const compressJob: JobKindRunner = {
  resumable: true,
  async run(ctx: JobContext) {
    const { run, store } = ctx;
    const config = run.config as CompressJobConfig;
    if (run.modelId === null) throw new RecallError('E_INVALID_ARGUMENT', `compress run ${run.id} has no model`, { runId: run.id });
    const { modelDir } = resolveVariant(store, ctx.dataDir, run.modelId);
    const t0 = performance.now();
    const r = await compressModel({
      model: modelDir, out: join(ctx.dir, 'model'), spec: config.spec, calib: config.paths.calibration,
      nsamples: config.calibration.nsamples, seqlen: config.calibration.seqlen, seed: run.seed ?? 0, resume: ctx.resume,
      ...ctx.session, signal: ctx.signal,
      onProgress: (p) => ctx.progress(p.fraction, `layer ${p.layer + 1}/${p.layers} ${p.stage}${p.module ? ` ${p.module}` : ''}`, p.etaSeconds),
      onModule: (m) => {
        store.compressionLogs.log(run.id, {
          layer: m.layer, module: m.module, rows: m.rows, cols: m.cols, bits: m.bits, sparsity: m.sparsity, damp: m.damp,
          loss: m.skipped ? null : m.loss, relError: m.skipped ? null : m.relError, seconds: m.seconds,
        });
        ctx.log(m.skipped ? `${m.path} kept dense` : `${m.path} ${m.rows}x${m.cols} loss ${m.loss.toPrecision(4)} rel. error ${m.relError.toExponential(2)}${m.sparsity !== null ? ` sparsity ${(100 * m.sparsity).toFixed(1)}%` : ''}`);
      },
    });
    if (r.resumedFromLayer !== undefined) ctx.log(`resumed at layer ${r.resumedFromLayer + 1} (the layers before it restored from checkpoints)`);
    if (r.status === 'cancelled') return 'cancelled';
    store.runs.addTimings(run.id, { compress: performance.now() - t0 });
    await recordArtifacts(store, ctx.dataDir, run.id, 'model', 'model');
    return 'done';
  },
};
