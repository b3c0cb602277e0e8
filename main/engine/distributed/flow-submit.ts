// The plan's lineage as BullMQ flows. BullMQ runs a parent job only after its children, and a
// job has one parent, while a run feeds several (a compression feeds its recoveries, evaluation
// and analysis). So each run that others wait for is the child of a small 'release' job; when
// the run completes done, the release job (on any worker) adds the waiting steps, each again as
// a flow if steps wait for it. A run that fails for good fails its release job
// (failParentOnFailure): nothing that needs it is ever queued. Job ids are fixed per run, so
// adding a step twice (a release job and the coordinator's reconciliation) queues it once.
//
//   release(r1) ── waits for ── step(r1: compress)
//        └─ adds: step(r3: eval r1), release(r2) ── waits for ── step(r2: tune r1)
//                                          └─ adds: step(r4: eval r2)

import type { FlowProducer } from 'bullmq';
import { RELEASE_QUEUE, STEP_QUEUE } from './connection.ts';
import { RELEASE_FORMAT, releaseJobId, type ReleaseJob, type RetryPolicy, type StepNode, stepJobId } from './job-spec.ts';

/** Completed jobs are kept a week (the coordinator reads their results; a resubmit replaces them). */
const KEEP = { age: 7 * 24 * 3600 };

export async function addStepNode(flow: FlowProducer, node: StepNode, policy: RetryPolicy): Promise<void> {
  const { ns, runId } = node.step;
  const stepOpts = {
    jobId: stepJobId(ns, runId), attempts: policy.attempts, backoff: { type: 'exponential' as const, delay: policy.backoffMs },
    removeOnComplete: KEEP, removeOnFail: KEEP,
  };
  if (node.dependents.length === 0) {
    await flow.add({ name: 'step', queueName: STEP_QUEUE, data: node.step, opts: stepOpts });
    return;
  }
  const release: ReleaseJob = { format: RELEASE_FORMAT, ns, runId, policy, dependents: node.dependents };
  await flow.add({
    name: 'release', queueName: RELEASE_QUEUE, data: release, opts: { jobId: releaseJobId(ns, runId), removeOnComplete: KEEP, removeOnFail: KEEP },
    children: [{ name: 'step', queueName: STEP_QUEUE, data: node.step, opts: { ...stepOpts, failParentOnFailure: true } }],
  });
}
