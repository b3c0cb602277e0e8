// How an experiment run ends, the same whether its steps ran here (run-experiment.ts) or on
// remote workers (distributed/remote-runner.ts): done when every step is done, cancelled when it
// was stopped, else failed and resumable, naming the steps that did not finish.
import type { Store } from '../store/index.ts';
import type { ExperimentPlan } from './plan-experiment.ts';

export type ExperimentEnd = 'done' | 'failed' | 'cancelled';

/** Record the end from the steps' ends (a step without one did not finish). */
export function recordExperimentEnd(store: Store, experimentId: number, plan: ExperimentPlan, ends: ReadonlyMap<string, string>, stopped: boolean): ExperimentEnd {
  const unfinished = plan.steps.filter((s) => ends.get(s.key) !== 'done');
  const status: ExperimentEnd = unfinished.length === 0 ? 'done' : stopped ? 'cancelled' : 'failed';
  if (status === 'done') store.runs.finish(experimentId);
  else if (status === 'cancelled') store.runs.cancel(experimentId, { resumable: true });
  else store.runs.fail(experimentId, `${unfinished.length} of ${plan.steps.length} steps did not finish: ${unfinished.slice(0, 5).map((s) => s.key).join(', ')}${unfinished.length > 5 ? ', ...' : ''}`, { resumable: true });
  return status;
}

/** An experiment the runner itself could not go on with: failed, resumable (unless it has already ended). */
export function recordExperimentError(store: Store, experimentId: number, err: unknown): 'failed' {
  try { store.runs.fail(experimentId, `experiment stopped: ${(err as Error).message}`, { resumable: true }); } catch { /* already ended */ }
  return 'failed';
}
