// From the engine's contract types (main/contract/runs.ts) to the views' types. Pure.

import type {
  CompressionLogRow, CurveRow, JobInfo, ModelEntry as ApiModel, ModelInspectionInfo, RunDetail as ApiRunDetail, RunSummary as ApiRunSummary,
} from '../../../main/contract/index.ts';
import type { ExperimentDraft, JobEntry, ModelDetails, ModelEntry, RecoveryChoice, RunDetail, RunSummary } from './workbench-types.ts';
import type { ExperimentSpecInput } from '../../../main/contract/experiment-spec.ts';
import { describeCompression, describeRecovery, recoveryOptions } from './experiment-plan.ts';

export function modelFromApi(m: ApiModel, info: ModelInspectionInfo | null): ModelEntry {
  return {
    id: m.source === 'demo' ? 'demo' : m.id !== null ? String(m.id) : m.dir,
    name: m.name,
    source: m.source === 'demo' ? 'demo' : 'folder',
    path: m.dir,
    available: m.available,
    details: info ? detailsFromInspection(info) : null,
  };
}

export function detailsFromInspection(i: ModelInspectionInfo): ModelDetails {
  return {
    architecture: i.architecture,
    parameters: i.parameters,
    layers: i.layers,
    hiddenSize: i.hiddenSize,
    heads: i.heads,
    vocabSize: i.vocabSize,
    dtype: i.dtype,
    sizeBytes: i.weightFiles.reduce((s, f) => s + f.bytes, 0),
  };
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** A short description of what a run did, from its config (best effort; the config is the engine's). */
export function describeRunConfig(kind: ApiRunSummary['kind'], config: unknown): { method: string; recovery: string | null; tasks: string[] } {
  const c = obj(config);
  const spec = obj(c.compression ?? c.spec ?? c);
  const method = typeof spec.method === 'string' ? spec.method : null;
  let description = kind === 'eval' || kind === 'analyze' ? 'evaluation' : kind;
  if (kind === 'compress' && method) {
    description = method === 'none' ? 'dense' : describeCompression({ method: method as 'gptq', bits: num(spec.bits), groupSize: num(spec.groupSize), sparsity: num(spec.sparsity), ...(Array.isArray(spec.nm) ? { nm: spec.nm as [number, number] } : {}) });
  }
  // A tune run's config holds the filled-in method spec ({ spec: { method, rank, alpha, targets... }, steps }).
  const rec = obj(c.recovery ?? (kind === 'tune' ? (c.spec ?? c) : {}));
  const recovery = kind === 'tune' && typeof rec.method === 'string' && rec.method !== 'none'
    ? describeRecovery(recoveryFromConfig(rec.method as RecoveryChoice['method'], num(c.steps) ?? num(rec.steps) ?? 0, { ...obj(rec.options), ...rec }))
    : null;
  const tasks = Array.isArray(c.tasks) ? c.tasks.filter((t): t is string => typeof t === 'string') : [];
  return { method: description, recovery, tasks };
}

/** A recovery's options as the engine holds them (an experiment's options, or a tune run's filled-in spec) in the builder's terms. */
export function recoveryFromConfig(method: RecoveryChoice['method'], steps: number, v: Record<string, unknown>): RecoveryChoice {
  const init = typeof v.init === 'string' ? v.init : typeof obj(v.init).kind === 'string' ? (obj(v.init).kind === 'text' ? `text:${String(obj(v.init).text ?? '')}` : String(obj(v.init).kind)) : 'random';
  return {
    method, steps,
    rank: num(v.rank), tokens: num(v.virtualTokens), alpha: num(v.alpha), dropout: num(v.dropout), prompts: num(v.prompts),
    ...(Array.isArray(v.targets) ? { targets: v.targets.map(String).join(',') } : {}),
    ...(v.reparam === true ? { reparam: true } : {}),
    ...(init === 'vocab' ? { init: 'vocab' as const } : init.startsWith('text:') ? { init: 'text' as const, initText: init.slice(5) } : {}),
  };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function runFromApi(r: ApiRunSummary, modelNames: Map<number, string>): RunSummary {
  const d = describeRunConfig(r.kind, r.config);
  return {
    id: String(r.id),
    name: r.name,
    kind: r.kind,
    status: r.status,
    model: r.modelId !== null ? (modelNames.get(r.modelId) ?? `model ${r.modelId}`) : '—',
    method: d.method,
    recovery: d.recovery,
    tasks: d.tasks,
    seed: r.seed ?? 0,
    createdAt: new Date(r.createdAt).toISOString(),
    durationSeconds: r.startedAt !== null && r.finishedAt !== null ? (r.finishedAt - r.startedAt) / 1000 : null,
    parentId: r.parents[0] ? String(r.parents[0].id) : null,
    experimentId: r.parents.find((p) => p.role === 'experiment')?.id.toString() ?? null,
    average: null,
  };
}

export function runDetailFromApi(r: ApiRunDetail, modelNames: Map<number, string>): RunDetail {
  const base = runFromApi(r, modelNames);
  const metrics = r.metrics.filter((m) => m.metric === 'acc' || m.metric === 'acc_norm' || !r.metrics.some((x) => x.task === m.task && x.metric === 'acc'));
  return {
    ...base,
    average: metrics.length ? metrics.reduce((s, m) => s + m.value, 0) / metrics.length : null,
    config: obj(r.config),
    metrics: r.metrics.map((m) => ({ task: m.task, metric: m.metric, value: m.value, stderr: m.stderr, items: m.n ?? 0 })),
    compressionLog: r.compressionLog.length ? compressionLogFromApi(r.compressionLog) : null,
    training: r.curve.length ? trainingFromApi(r.curve) : null,
    artifacts: r.artifacts.map((a) => ({ name: a.path.split('/').pop() ?? a.path, bytes: a.bytes })),
  };
}

export function compressionLogFromApi(rows: CompressionLogRow[]): RunDetail['compressionLog'] {
  return rows.map((r) => ({ layer: r.layer, module: r.module.split('.').pop() ?? r.module, relError: r.relError ?? NaN, skipped: r.relError === null }));
}

export function trainingFromApi(rows: CurveRow[]): RunDetail['training'] {
  return {
    train: rows.filter((r) => r.loss !== null).map((r) => ({ step: r.step, loss: r.loss! })),
    eval: rows.filter((r) => r.evalLoss !== null).map((r) => ({ step: r.step, loss: r.evalLoss! })),
  };
}

export function jobFromApi(j: JobInfo, runName: string | undefined, log: string[]): JobEntry {
  const status = j.state;
  return {
    id: j.jobId,
    runId: String(j.runId),
    label: runName ?? `${j.kind} run ${j.runId}`,
    kind: j.kind,
    status,
    // A remote step's stage ends with '@worker'; the badge names the worker already.
    stage: (j.remote && j.worker && j.progress ? j.progress.stage.replace(` @${j.worker}`, '') : j.progress?.stage) ?? (status === 'queued' ? 'waiting' : status),
    fraction: status === 'done' ? 1 : (j.progress?.fraction ?? 0),
    etaSeconds: j.progress?.etaSeconds ?? null,
    startedAt: new Date(j.startedAt ?? j.queuedAt).toISOString(),
    log,
    error: j.error,
    ...(j.remote ? { remote: { worker: j.worker ?? null } } : {}),
  };
}

/** A name the engine takes (letters, digits, '.', '_', '-'), cut at a word boundary to `max` characters. */
function slug(s: string, max = 60): string {
  const full = s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  if (full.length <= max) return full || 'x';
  const cut = full.slice(0, max);
  return (full[max] === '-' ? cut : cut.replace(/-[^-]*$/, '')).replace(/-+$/, '') || cut;
}

/** Recovery names may be longer than the experiment's (the engine takes 100 characters): their options are in them. */
const RECOVERY_NAME_MAX = 80;

/** The builder's draft as the engine's experiment spec (dense baseline and no-recovery included). */
export function draftToSpec(d: ExperimentDraft): ExperimentSpecInput {
  const recoveryNames = uniqueNames(d.recoveries.map((r) => slug(describeRecovery(r), RECOVERY_NAME_MAX)), ['none'], RECOVERY_NAME_MAX);
  return {
    name: slug(d.name || 'experiment'),
    models: [/^\d+$/.test(d.model) ? Number(d.model) : d.model],
    compressions: [
      { name: 'dense', method: 'none' },
      ...d.compressions.map((c) => ({
        name: slug(describeCompression(c)),
        method: c.method,
        ...(c.method === 'gptq' || c.method === 'rtn' ? { bits: c.bits ?? 4, groupSize: c.groupSize ? c.groupSize : -1 } : {}),
        ...(c.method === 'sparsegpt' || c.method === 'magnitude' ? (c.nm ? { nm: c.nm } : { sparsity: c.sparsity ?? 0.5 }) : {}),
      })),
    ],
    recoveries: [
      { name: 'none', method: 'none' },
      ...d.recoveries.map((r, i) => {
        // The recovery module's option names (main/engine/experiments/step-inputs.ts methodSpecOf), defaults left out.
        const options = recoveryOptions(r);
        return { name: recoveryNames[i]!, method: r.method, steps: r.steps, ...(options ? { options } : {}) };
      }),
    ],
    tasks: d.tasks,
    seeds: d.seeds,
    ...(d.limit ? { eval: { limit: d.limit } } : {}),
    ...calibrationOf(d),
    ...(d.analyze === false ? { analyze: false as const } : d.analyze?.limit ? { analyze: { limit: d.analyze.limit } } : {}),
  };
}

/** Names made unique with -2, -3...: two recoveries whose descriptions differ only past the cut. */
function uniqueNames(names: string[], taken: string[], max: number): string[] {
  const used = new Set(taken);
  return names.map((n) => {
    let name = n;
    for (let k = 2; used.has(name); k++) name = `${n.slice(0, max - String(k).length - 1)}-${k}`;
    used.add(name);
    return name;
  });
}

function calibrationOf(d: ExperimentDraft): Pick<ExperimentSpecInput, 'calibration'> {
  const c = d.calibration;
  if (!c?.nsamples && !c?.seqlen) return {};
  return { calibration: { ...(c.nsamples ? { nsamples: c.nsamples } : {}), ...(c.seqlen ? { seqlen: c.seqlen } : {}) } };
}
