// Optimizers over named float32 parameters, updated in place. They follow torch 1.13's
// single-tensor code paths (torch/optim/adamw.py `_single_tensor_adamw`, sgd.py
// `_single_tensor_sgd`) op by op, rounding to float32 (Math.fround) after each tensor op as
// torch's float32 kernels do, so one step matches torch to ~1 ulp rather than drifting.
// Scalars torch computes in Python (bias corrections, step size) stay float64 here too and
// are rounded to float32 where torch hands them to a float32 kernel.
import { RecallError } from '../errors.ts';

const f = Math.fround;

export type Params = Map<string, Float32Array>;

export interface AdamWSettings {
  kind: 'adamw';
  lr: number;
  /** (beta1, beta2); torch's default (0.9, 0.999). */
  betas?: [number, number];
  /** Added after the square root of the bias-corrected second moment; default 1e-8. */
  eps?: number;
  /** Decoupled (Loshchilov & Hutter 2019): p -= lr * wd * p before the Adam update. Default 0.01 as torch. */
  weightDecay?: number;
  /**
   * Leave a parameter whose whole gradient is zero this step untouched, as torch does for a
   * parameter whose .grad is None: no weight decay, no moment update, and its own step count
   * (bias correction) does not advance. IDP joint-hard uses it so unselected prompts stay put
   * (METHODS.md 2: "update P_i* only"). Default false (a zero gradient still moves a parameter
   * through its momentum, as torch does for a zero .grad).
   */
  skipUnused?: boolean;
}

export interface SgdSettings {
  kind: 'sgd';
  lr: number;
  momentum?: number;
  dampening?: number;
  /** Coupled L2: the gradient gets wd * p added, as torch.optim.SGD does. */
  weightDecay?: number;
  nesterov?: boolean;
}

export type OptimizerSettings = AdamWSettings | SgdSettings;

/** Everything needed to continue an optimizer exactly: the step count and per-parameter buffers. */
export interface OptimizerState {
  kind: 'adamw' | 'sgd';
  /** Optimizer steps taken so far. */
  step: number;
  /**
   * Buffers named `<buffer>.<param name>` (exp_avg., exp_avg_sq., momentum_buffer.); after a
   * skipped parameter (step's `skip`, AdamW's skipUnused) also `step.<param name>` [1], that
   * parameter's own step count (absent: the global `step`).
   */
  tensors: Map<string, Float32Array>;
}

export interface Optimizer {
  readonly kind: 'adamw' | 'sgd';
  /** Steps taken so far. */
  readonly stepCount: number;
  /**
   * One update of every parameter in place, with this step's learning rate (the schedule's).
   * Parameters named in `skip` are left untouched this step (value, buffers and their own step
   * count), as torch skips a parameter whose .grad is None.
   */
  step(params: Params, grads: Params, lr: number, skip?: ReadonlySet<string>): void;
  exportState(): OptimizerState;
  importState(state: OptimizerState, params: Params): void;
}

function checkGrads(params: Params, grads: Params): void {
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) throw new RecallError('E_MISSING_TENSOR', `optimizer: no gradient for parameter '${name}'`, { tensor: name });
    if (g.length !== p.length) {
      throw new RecallError('E_SHAPE_MISMATCH', `optimizer: gradient of '${name}' has ${g.length} elements, the parameter ${p.length}`, { tensor: name, expected: p.length, actual: g.length });
    }
  }
}

function checkLr(lr: number, what: string): void {
  if (!Number.isFinite(lr) || lr < 0) throw new RecallError('E_INVALID_ARGUMENT', `${what}: learning rate must be a finite number >= 0, got ${lr}`, { field: 'lr', value: lr });
}

/** A zeroed buffer per parameter, created on first use (torch creates state lazily too). */
function buffer(store: Map<string, Float32Array>, key: string, length: number): Float32Array {
  let b = store.get(key);
  if (!b) store.set(key, (b = new Float32Array(length)));
  return b;
}

const isZero = (g: Float32Array): boolean => g.every((v) => v === 0);

/** Own step counts of parameters that were skipped at some step (exported as `step.<name>` [1]). */
function exportSteps(tensors: Map<string, Float32Array>, own: Map<string, number>, global: number): void {
  for (const [name, n] of own) if (n !== global) tensors.set(`step.${name}`, Float32Array.of(n));
}

function importSteps(what: string, state: OptimizerState, params: Params): Map<string, number> {
  const own = new Map<string, number>();
  for (const [key, t] of state.tensors) {
    if (!key.startsWith('step.')) continue;
    const name = key.slice(5);
    if (!params.has(name) || t.length !== 1) throw new RecallError('E_MISSING_TENSOR', `${what}: state tensor '${key}' belongs to no parameter`, { tensor: key });
    own.set(name, t[0]!);
  }
  return own;
}

function importBuffers(what: string, state: OptimizerState, kind: OptimizerState['kind'], prefixes: string[], params: Params): Map<string, Float32Array> {
  if (state.kind !== kind) throw new RecallError('E_INVALID_ARGUMENT', `${what}: cannot import ${state.kind} state into ${kind}`, { expected: kind, actual: state.kind });
  const out = new Map<string, Float32Array>();
  for (const [key, t] of state.tensors) {
    if (key.startsWith('step.')) continue; // importSteps
    const prefix = prefixes.find((p) => key.startsWith(`${p}.`));
    const param = prefix === undefined ? undefined : params.get(key.slice(prefix.length + 1));
    if (!param) throw new RecallError('E_MISSING_TENSOR', `${what}: state tensor '${key}' belongs to no parameter`, { tensor: key });
    if (param.length !== t.length) {
      throw new RecallError('E_SHAPE_MISMATCH', `${what}: state tensor '${key}' has ${t.length} elements, the parameter ${param.length}`, { tensor: key, expected: param.length, actual: t.length });
    }
    out.set(key, Float32Array.from(t));
  }
  return out;
}

export class AdamW implements Optimizer {
  readonly kind = 'adamw' as const;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly skipUnused: boolean;
  private steps = 0;
  private buffers = new Map<string, Float32Array>();
  /** Each parameter's own step count (differs from `steps` only after it was skipped). */
  private own = new Map<string, number>();

  constructor(settings: Omit<AdamWSettings, 'kind' | 'lr'> = {}) {
    [this.beta1, this.beta2] = settings.betas ?? [0.9, 0.999];
    this.eps = settings.eps ?? 1e-8;
    this.weightDecay = settings.weightDecay ?? 0.01;
    this.skipUnused = settings.skipUnused ?? false;
    for (const [k, v] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(v >= 0 && v < 1)) throw new RecallError('E_INVALID_ARGUMENT', `AdamW: ${k} must be in [0, 1), got ${v}`, { field: k, value: v });
    }
  }

  get stepCount(): number {
    return this.steps;
  }

  step(params: Params, grads: Params, lr: number, skip?: ReadonlySet<string>): void {
    checkLr(lr, 'AdamW');
    checkGrads(params, grads);
    const global = this.steps;
    this.steps++;
    const { beta1, beta2 } = this;
    // Python-side scalars (float64), cast to float32 where a float32 kernel receives them.
    const decay = f(1 - lr * this.weightDecay);
    const b1 = f(beta1), oneMinusB1 = f(1 - beta1), b2 = f(beta2), oneMinusB2 = f(1 - beta2);
    const eps = f(this.eps);
    for (const [name, p] of params) {
      const g = grads.get(name)!;
      const before = this.own.get(name) ?? global;
      if (skip?.has(name) || (this.skipUnused && isZero(g))) {
        this.own.set(name, before);
        continue;
      }
      const step = before + 1; // torch's per-parameter state['step']
      if (step !== this.steps || this.own.has(name)) this.own.set(name, step);
      const bias1 = 1 - beta1 ** step;
      const bias2Sqrt = f(Math.sqrt(1 - beta2 ** step));
      const negStepSize = f(-(lr / bias1));
      const m = buffer(this.buffers, `exp_avg.${name}`, p.length);
      const v = buffer(this.buffers, `exp_avg_sq.${name}`, p.length);
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        const pi = f(p[i]! * decay); // param.mul_(1 - lr * weight_decay)
        const mi = f(f(m[i]! * b1) + gi * oneMinusB1); // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        const vi = f(f(v[i]! * b2) + f(oneMinusB2 * gi) * gi); // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        const denom = f(f(f(Math.sqrt(vi)) / bias2Sqrt) + eps); // (exp_avg_sq.sqrt() / sqrt(bc2)).add_(eps)
        p[i] = f(pi + f(f(negStepSize * mi) / denom)); // param.addcdiv_(exp_avg, denom, value=-step_size)
        m[i] = mi;
        v[i] = vi;
      }
    }
  }

  exportState(): OptimizerState {
    const tensors = new Map([...this.buffers].map(([k, t]) => [k, Float32Array.from(t)]));
    exportSteps(tensors, this.own, this.steps);
    return { kind: 'adamw', step: this.steps, tensors };
  }

  importState(state: OptimizerState, params: Params): void {
    this.buffers = importBuffers('AdamW', state, 'adamw', ['exp_avg', 'exp_avg_sq'], params);
    this.own = importSteps('AdamW', state, params);
    this.steps = state.step;
  }
}

export class Sgd implements Optimizer {
  readonly kind = 'sgd' as const;
  private readonly momentum: number;
  private readonly dampening: number;
  private readonly weightDecay: number;
  private readonly nesterov: boolean;
  private steps = 0;
  private buffers = new Map<string, Float32Array>();

  constructor(settings: Omit<SgdSettings, 'kind' | 'lr'> = {}) {
    this.momentum = settings.momentum ?? 0;
    this.dampening = settings.dampening ?? 0;
    this.weightDecay = settings.weightDecay ?? 0;
    this.nesterov = settings.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      // torch refuses the same combination: Nesterov needs momentum and no dampening.
      throw new RecallError('E_INVALID_ARGUMENT', 'SGD: nesterov requires momentum > 0 and dampening 0', { field: 'nesterov' });
    }
  }

  get stepCount(): number {
    return this.steps;
  }

  step(params: Params, grads: Params, lr: number, skip?: ReadonlySet<string>): void {
    checkLr(lr, 'SGD');
    checkGrads(params, grads);
    this.steps++;
    const wd = f(this.weightDecay), mom = f(this.momentum), keep = f(1 - this.dampening), negLr = f(-lr);
    for (const [name, p] of params) {
      if (skip?.has(name)) continue;
      const g = grads.get(name)!;
      const first = !this.buffers.has(`momentum_buffer.${name}`); // torch: momentum_buffer is None
      const buf = this.momentum !== 0 ? buffer(this.buffers, `momentum_buffer.${name}`, p.length) : undefined;
      for (let i = 0; i < p.length; i++) {
        let d = g[i]!;
        if (this.weightDecay !== 0) d = f(d + wd * p[i]!); // d_p = d_p.add(param, alpha=weight_decay)
        if (buf) {
          // The first step copies d_p into the buffer (torch.clone), later ones decay it.
          const b = first ? d : f(f(buf[i]! * mom) + d * keep);
          buf[i] = b;
          d = this.nesterov ? f(d + b * mom) : b;
        }
        p[i] = f(p[i]! + d * negLr); // param.add_(d_p, alpha=-lr)
      }
    }
  }

  exportState(): OptimizerState {
    return { kind: 'sgd', step: this.steps, tensors: new Map([...this.buffers].map(([k, t]) => [k, Float32Array.from(t)])) };
  }

  importState(state: OptimizerState, params: Params): void {
    this.buffers = importBuffers('SGD', state, 'sgd', ['momentum_buffer'], params);
    this.steps = state.step;
  }
}

export function createOptimizer(settings: OptimizerSettings): Optimizer {
  checkLr(settings.lr, settings.kind);
  return settings.kind === 'adamw' ? new AdamW(settings) : new Sgd(settings);
}
