// The method x task table of an experiment: one row per evaluated variant, the primary metric of
// each task (acc for the knowledge tasks; METHODS.md section 3) with its stderr.

import type { ExperimentRow } from '../../contract/index.ts';
import { findTask, primaryMetric } from '../eval/tasks.ts';
import type { Store } from '../store/index.ts';
import type { ExperimentPlan } from './plan-experiment.ts';

export function experimentTable(store: Store, plan: ExperimentPlan): ExperimentRow[] {
  return plan.steps.filter((s) => s.kind === 'eval' && s.variant).map((s) => {
    const metrics = store.metrics.list(s.runId);
    const values: ExperimentRow['values'] = {};
    for (const task of plan.tasks) {
      const def = findTask(task);
      const metric = def ? primaryMetric(def) : 'acc';
      const m = metrics.find((x) => x.task === task && x.metric === metric);
      if (m) values[task] = { metric, value: m.value, stderr: m.stderr };
    }
    return { ...s.variant!, evalRunId: s.runId, status: store.runs.get(s.runId)?.status ?? 'failed', values };
  });
}
