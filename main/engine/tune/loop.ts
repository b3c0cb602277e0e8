// The training loop around a caller's gradient function: micro-batches from a seeded
// sampler, token-weighted gradient accumulation, global-norm clipping, a scheduled
// optimizer step, periodic evaluation and atomic checkpoints. Everything a step depends on
// (params, optimizer buffers, sampler position, step count) is in the checkpoint, and
// nothing depends on wall time, so a resumed run repeats the uninterrupted one bit for bit.
// Cancellation is checked before every micro-batch and eval batch; a cancelled run drops the
// partial step, rewinds the sampler to that step's start and saves a checkpoint there.
import { RecallError } from '../errors.ts';
import { type CheckpointState, type EvalRecord, type RunConfig, type StepRecord, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, listCheckpoints, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { clipGradNorm, globalGradNorm } from './clip.ts';
import { BatchSampler, type TokenBatch, type TokenDataset } from './data.ts';
import { type Optimizer, type OptimizerSettings, type Params, createOptimizer } from './optimizer.ts';
import { type ScheduleKind, checkSchedule, lrMultiplier } from './schedule.ts';

export interface GradientResult {
  /** Mean loss over the batch's `tokens` predicted tokens. */
  loss: number;
  /** d(mean loss)/d(param) for every parameter. The loop may scale these in place (clipping). */
  grads: Map<string, Float32Array>;
  tokens: number;
}
export interface EvalResult { loss: number; tokens: number }

export interface ProgressEvent {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  etaSeconds: number;
  evalLoss?: number;
}

export interface TrainOptions {
  /** Trained in place. */
  params: Params;
  /** Shapes written to checkpoints (default: 1-D). */
  paramShapes?: Map<string, number[]>;
  data: TokenDataset;
  /** Sequences per micro-batch. */
  batchSize: number;
  gradient: (batch: TokenBatch, signal: AbortSignal) => Promise<GradientResult>;
  evaluate?: (batch: TokenBatch, signal: AbortSignal) => Promise<EvalResult>;
  optimizer: OptimizerSettings;
  schedule?: ScheduleKind; // default 'linear' (METHODS.md section 2)
  warmupSteps?: number;
  /** Exactly one of totalSteps and tokenBudget; a budget becomes ceil(budget / tokens per step). */
  totalSteps?: number;
  tokenBudget?: number;
  gradAccumSteps?: number;
  /** Max global gradient norm; default 1.0, null to never clip. */
  clipNorm?: number | null;
  evalEvery?: number;
  /** Held-out batches per evaluation (default all) and their size (default batchSize). */
  evalBatches?: number;
  evalBatchSize?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  keepCheckpoints?: number;
  seed?: number;
  /** Continue from the newest checkpoint in checkpointDir (starts fresh when there is none). */
  resume?: boolean;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  onCheckpoint?: (e: { step: number; dir: string }) => void;
}

export interface TrainResult {
  status: 'completed' | 'cancelled';
  step: number;
  totalSteps: number;
  tokensSeen: number;
  lossHistory: StepRecord[];
  evalHistory: EvalRecord[];
  /** The newest checkpoint written by this call. */
  checkpoint?: string;
  /** The step a resumed run started from, and newer checkpoints that failed to load. */
  resumedFrom?: number;
  skippedCheckpoints?: string[];
}

const invalid = (field: string, message: string, value: unknown) => new RecallError('E_INVALID_ARGUMENT', `train: ${message}`, { field, value });

function positiveInt(field: string, v: number | undefined, fallback: number, min = 1): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || x < min) throw invalid(field, `${field} must be an integer >= ${min}, got ${x}`, x);
  return x;
}

function resolveConfig(o: TrainOptions): RunConfig {
  const gradAccumSteps = positiveInt('gradAccumSteps', o.gradAccumSteps, 1);
  const tokensPerStep = o.batchSize * o.data.seqLen * gradAccumSteps;
  if ((o.totalSteps === undefined) === (o.tokenBudget === undefined)) throw invalid('totalSteps', 'give exactly one of totalSteps and tokenBudget', o.totalSteps);
  const totalSteps = o.totalSteps !== undefined ? positiveInt('totalSteps', o.totalSteps, 0) : Math.ceil(positiveInt('tokenBudget', o.tokenBudget, 0) / tokensPerStep);
  const clipNorm = o.clipNorm === undefined ? 1.0 : o.clipNorm;
  if (clipNorm !== null && !(clipNorm > 0)) throw invalid('clipNorm', `clipNorm must be > 0 or null, got ${clipNorm}`, clipNorm);
  const schedule = { kind: o.schedule ?? 'linear', warmupSteps: positiveInt('warmupSteps', o.warmupSteps, 0, 0), totalSteps };
  checkSchedule(schedule);
  const params: Record<string, number> = {};
  for (const [name, p] of o.params) params[name] = p.length;
  return { batchSize: o.batchSize, seqLen: o.data.seqLen, data: o.data.fingerprint(), gradAccumSteps, totalSteps, seed: o.seed ?? 0, optimizer: o.optimizer, schedule, clipNorm, params };
}

/** Refuse to continue a checkpoint made with different settings: the result would be neither run. */
function checkSameConfig(dir: string, saved: RunConfig, now: RunConfig): void {
  const diff = (Object.keys(now) as (keyof RunConfig)[]).filter((k) => stableJson(saved[k]) !== stableJson(now[k]));
  if (diff.length === 0) return;
  throw new RecallError('E_INVALID_ARGUMENT', `${dir}: checkpoint was made with different settings (${diff.join(', ')}); resume with the same settings or use a new checkpointDir`, { file: dir, fields: diff });
}

/** JSON with object keys sorted, so settings given in another key order still compare equal. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Token-weighted mean of micro-batch gradients (= the gradient of the mean loss over all their tokens). */
class Accumulator {
  private sums = new Map<string, Float64Array>();
  private loss = 0;
  tokens = 0;
  private only?: GradientResult;
  private count = 0;

  add(r: GradientResult): void {
    this.count++;
    this.loss += r.loss * r.tokens;
    this.tokens += r.tokens;
    if (this.count === 1) {
      this.only = r; // a single micro-batch is used as is, with no float64 round trip
      return;
    }
    if (this.count === 2) this.addToSums(this.only!);
    this.addToSums(r);
  }

  result(): { loss: number; grads: Map<string, Float32Array> } {
    const loss = this.loss / this.tokens;
    if (this.count === 1) return { loss: this.only!.loss, grads: this.only!.grads };
    const grads = new Map<string, Float32Array>();
    for (const [name, s] of this.sums) grads.set(name, Float32Array.from(s, (v) => v / this.tokens));
    return { loss, grads };
  }

  private addToSums(r: GradientResult): void {
    for (const [name, g] of r.grads) {
      let s = this.sums.get(name);
      if (!s) this.sums.set(name, (s = new Float64Array(g.length)));
      for (let i = 0; i < g.length; i++) s[i]! += g[i]! * r.tokens;
    }
  }
}

function checkGradient(r: GradientResult, params: Params, step: number): void {
  if (!(r.tokens > 0)) throw invalid('gradient', `gradient() at step ${step + 1} returned tokens ${r.tokens}; it must count the predicted tokens`, r.tokens);
  for (const [name, p] of params) {
    const g = r.grads.get(name);
    if (!g || g.length !== p.length) throw new RecallError('E_SHAPE_MISMATCH', `train: gradient() at step ${step + 1} returned ${g ? `${g.length} elements` : 'nothing'} for '${name}' (${p.length} elements)`, { tensor: name });
  }
}

interface Restored { st: CheckpointState; resumedFrom?: number; skippedCheckpoints?: string[] }

/** A fresh run's state, or the newest checkpoint's with params, optimizer and sampler restored from it. */
function startOrResume(o: TrainOptions, config: RunConfig, sampler: BatchSampler, optimizer: Optimizer): Restored {
  const fresh: CheckpointState = {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, step: 0, tokensSeen: 0, sampler: sampler.state(),
    pendingEval: false, config, lossHistory: [], evalHistory: [],
  };
  if (!o.checkpointDir) return { st: fresh };
  const latest = o.resume ? loadLatestCheckpoint(o.checkpointDir) : undefined;
  if (!latest) {
    if (!o.resume && listCheckpoints(o.checkpointDir).length) {
      throw invalid('checkpointDir', `${o.checkpointDir} already holds checkpoints; pass resume: true or use an empty folder`, o.checkpointDir);
    }
    return { st: fresh };
  }
  checkSameConfig(latest.dir, latest.state.config, config);
  for (const [name, p] of o.params) {
    const saved = latest.params.get(name);
    if (saved?.length !== p.length) throw invalid('params', `${latest.dir}: parameter '${name}' is missing or has another size`, name);
    p.set(saved);
  }
  optimizer.importState(latest.optimizer, o.params);
  sampler.restore(latest.state.sampler);
  return { st: latest.state, resumedFrom: latest.state.step, ...(latest.skipped.length ? { skippedCheckpoints: latest.skipped } : {}) };
}

/** Token-weighted mean loss over the held-out batches; 'cancelled' when the signal fires first. */
async function evaluateHeldOut(o: TrainOptions, step: number, signal: AbortSignal): Promise<EvalRecord | undefined | 'cancelled'> {
  let loss = 0, tokens = 0;
  for (const batch of o.data.heldOutBatches(o.evalBatchSize ?? o.batchSize, o.evalBatches)) {
    if (signal.aborted) return 'cancelled';
    const r = await o.evaluate!(batch, signal);
    loss += r.loss * r.tokens;
    tokens += r.tokens;
  }
  if (signal.aborted) return 'cancelled';
  return tokens > 0 ? { step, loss: loss / tokens, tokens } : undefined;
}

/** One step's micro-batches; undefined when cancelled, with the sampler rewound to the step's start. */
async function accumulateStep(o: TrainOptions, config: RunConfig, sampler: BatchSampler, step: number, signal: AbortSignal): Promise<Accumulator | undefined> {
  const stepStart = sampler.state();
  const acc = new Accumulator();
  for (let k = 0; k < config.gradAccumSteps; k++) {
    if (signal.aborted) {
      sampler.restore(stepStart); // drop the partial step: the resumed run redoes it whole
      return undefined;
    }
    const r = await o.gradient(sampler.next(), signal);
    checkGradient(r, o.params, step);
    acc.add(r);
  }
  return acc;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const config = resolveConfig(o);
  const evalEvery = o.evalEvery === undefined ? 0 : positiveInt('evalEvery', o.evalEvery, 0);
  const checkpointEvery = o.checkpointEvery === undefined ? 0 : positiveInt('checkpointEvery', o.checkpointEvery, 0);
  const sampler = new BatchSampler(o.data, o.batchSize, config.seed);
  const optimizer = createOptimizer(o.optimizer);
  const signal = o.signal ?? new AbortController().signal;
  const { st, ...result } = startOrResume(o, config, sampler, optimizer) as Restored & { checkpoint?: string };

  let savedStep = -1;
  const save = () => {
    if (!o.checkpointDir) return;
    st.sampler = sampler.state();
    const dir = saveCheckpoint(o.checkpointDir, { state: st, params: o.params, optimizer: optimizer.exportState() }, o.paramShapes, o.keepCheckpoints ?? 2);
    savedStep = st.step;
    result.checkpoint = dir;
    o.onCheckpoint?.({ step: st.step, dir });
  };
  const finish = (status: TrainResult['status']): TrainResult => {
    if (savedStep !== st.step || status === 'cancelled') save();
    const { step, tokensSeen, lossHistory, evalHistory } = st;
    return { status, step, totalSteps: config.totalSteps, tokensSeen, lossHistory, evalHistory, ...result };
  };
  /** Runs the eval due at st.step; false when cancelled (it stays pending in the checkpoint). */
  const runEval = async (): Promise<boolean> => {
    st.pendingEval = true;
    const r = await evaluateHeldOut(o, st.step, signal);
    if (r === 'cancelled') return false;
    if (r) st.evalHistory.push(r);
    st.pendingEval = false;
    return true;
  };
  const evalDue = (step: number) => Boolean(o.evaluate) && o.data.heldOutSize > 0 && evalEvery > 0 && (step % evalEvery === 0 || step === config.totalSteps);

  if (st.pendingEval && !(await runEval())) return finish('cancelled');
  const t0 = performance.now(), step0 = st.step, tokens0 = st.tokensSeen;
  while (st.step < config.totalSteps) {
    const acc = await accumulateStep(o, config, sampler, st.step, signal);
    if (!acc) return finish('cancelled');
    const { loss, grads } = acc.result();
    const gradNorm = config.clipNorm === null ? globalGradNorm(grads.values()) : clipGradNorm(grads, config.clipNorm);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new RecallError('E_INVALID_ARGUMENT', `train: step ${st.step + 1} has loss ${loss} and gradient norm ${gradNorm}; training diverged (lower the lr?)`, { step: st.step + 1, loss, gradNorm });
    }
    const lr = o.optimizer.lr * lrMultiplier(config.schedule, st.step);
    optimizer.step(o.params, grads, lr);
    st.step++;
    st.tokensSeen += acc.tokens;
    st.lossHistory.push({ step: st.step, loss, lr, gradNorm, tokens: acc.tokens });

    if (evalDue(st.step) && !(await runEval())) return finish('cancelled');
    if (checkpointEvery > 0 && st.step % checkpointEvery === 0) save();
    if (o.onProgress) {
      const seconds = (performance.now() - t0) / 1000;
      const lastEval = st.evalHistory.at(-1);
      o.onProgress({
        step: st.step, totalSteps: config.totalSteps, loss, lr, gradNorm,
        tokensPerSecond: seconds > 0 ? (st.tokensSeen - tokens0) / seconds : 0,
        etaSeconds: ((config.totalSteps - st.step) * seconds) / (st.step - step0),
        ...(lastEval?.step === st.step ? { evalLoss: lastEval.loss } : {}),
      });
    }
  }
  return finish('completed');
}
