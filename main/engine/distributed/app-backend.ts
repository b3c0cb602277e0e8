// The remote backend inside the app: the remote backend setting turned into a Redis target and
// shared storage, and an experiment of the app's own store run on the workers with
// RemoteExperimentRunner. Its steps show up in jobs.list and stream jobs.progress / jobs.done
// (remote: true, with the worker's name) like local jobs.

import { ApiError, type RemoteBackendSettings } from '../../contract/index.ts';
import type { ExperimentPlan } from '../experiments/plan-experiment.ts';
import type { Store } from '../store/index.ts';
import { openArtifactStore } from './artifact-store.ts';
import type { RedisTarget } from './connection.ts';
import { dataDirNamespace } from './remote-plan.ts';
import { type RemoteEvent, RemoteExperimentRunner } from './remote-runner.ts';

/** The setting as a Redis target (the password from passwordFile or RECALL_REDIS_PASSWORD, never from settings.json). */
export function remoteTarget(remote: RemoteBackendSettings): RedisTarget {
  return { url: remote.redisUrl, ...(remote.passwordFile ? { passwordFile: remote.passwordFile } : {}), ...(remote.prefix ? { prefix: remote.prefix } : {}) };
}

export interface AppRemoteOptions {
  store: Store;
  dataDir: string;
  experimentId: number;
  plan: ExperimentPlan;
  remote: RemoteBackendSettings | null | undefined;
  emit: <E extends keyof RemoteEvent>(event: E, payload: RemoteEvent[E]) => void;
  pollMs?: number;
}

export function startRemoteExperiment(o: AppRemoteOptions): RemoteExperimentRunner {
  if (!o.remote) throw new ApiError('E_BAD_ARGUMENT', 'backend: no remote backend is set (Settings: Redis URL and shared artifacts folder)', { field: 'backend' });
  return new RemoteExperimentRunner({
    store: o.store, dataDir: o.dataDir, experimentId: o.experimentId, plan: o.plan, redis: remoteTarget(o.remote),
    artifacts: openArtifactStore(o.remote.artifactsDir), ns: dataDirNamespace(o.dataDir), emit: o.emit, pollMs: o.pollMs ?? 300,
  });
}
