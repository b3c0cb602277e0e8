// Learning-rate schedules as multipliers of the base lr, as a function of the optimizer step
// (0-based: the multiplier for step s applies to the (s+1)-th update, as torch's LambdaLR
// with transformers' schedules does, so the first warmup update runs at lr * 0).
// Formulas: transformers/optimization.py get_constant_schedule(_with_warmup),
// get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup (num_cycles = 0.5).
import { RecallError } from '../errors.ts';

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface ScheduleSettings {
  kind: ScheduleKind;
  /** Steps of linear warmup from 0 to 1 (0: none). */
  warmupSteps: number;
  /** Steps of the whole run (the linear and cosine schedules reach 0 there). */
  totalSteps: number;
  /** Cosine only: waves over the decay; 0.5 (transformers' default) is one half-cosine to 0. */
  numCycles?: number;
}

/** The lr multiplier at optimizer step `step`. */
export function lrMultiplier(s: ScheduleSettings, step: number): number {
  const { kind, warmupSteps, totalSteps } = s;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (kind === 'constant') return 1;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (kind === 'linear') return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  const cycles = s.numCycles ?? 0.5;
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
}

export function checkSchedule(s: ScheduleSettings): void {
  if (!['constant', 'linear', 'cosine'].includes(s.kind)) {
    throw new RecallError('E_INVALID_ARGUMENT', `schedule: unknown kind '${String(s.kind)}' (constant, linear or cosine)`, { field: 'schedule', value: s.kind });
  }
  for (const [field, v] of [['warmupSteps', s.warmupSteps], ['totalSteps', s.totalSteps]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RecallError('E_INVALID_ARGUMENT', `schedule: ${field} must be an integer >= 0, got ${v}`, { field, value: v });
  }
}
