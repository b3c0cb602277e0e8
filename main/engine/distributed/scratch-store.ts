// The worker's side of a run: a small store per run on shared storage (<ns>/stores/run-<id>.db)
// holding the run and its lineage under the coordinator's run ids, so the job kinds find their
// inputs at runDir(<ns>, id) as they would locally, and whatever an attempt wrote (compression
// log rows, eval tasks scored, checkpoints beside it in runs/<id>) is there for the next attempt
// on any host. Only one attempt holds a run at a time (BullMQ's lock); one that died while
// 'running' is marked failed and resumable before the next starts.

import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runVersions } from '../experiments/ensure-run.ts';
import { insertRunVerbatim, openStore, type Store } from '../store/index.ts';
import { isProcessAlive } from '../store/recovery.ts';
import type { LineageRun, StepJob } from './job-spec.ts';

export const scratchDbFile = (workspace: string, runId: number) => join(workspace, 'stores', `run-${runId}.db`);

export type ScratchState = 'fresh' | 'resume' | 'done';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Inserts a lineage run under the coordinator's id (the store numbers rows itself; renumbered here, before anything refers to it). */
function insertLineageRun(store: Store, r: LineageRun, modelId: number, status: 'queued' | 'done'): void {
  const now = Date.now();
  const id = insertRunVerbatim(store.db, {
    kind: r.kind, name: r.name, status, modelId, config: r.config, fingerprint: r.fingerprint, seed: r.seed, versions: runVersions(),
    createdAt: now, startedAt: status === 'done' ? now : null, finishedAt: status === 'done' ? now : null, timings: {}, error: null, resumable: false, parents: [],
  });
  store.db.transaction(() => {
    if (id !== r.id) store.db.prepare('UPDATE runs SET id = ? WHERE id = ?').run(r.id, id);
    for (const p of r.parents) store.db.prepare('INSERT INTO run_parents (run_id, parent_id, role) VALUES (?, ?, ?)').run(r.id, p.id, p.role);
  }).immediate();
}

/**
 * Opens (first attempt: creates) the run's store and leaves the run ready to start: 'fresh' (never
 * ran), 'resume' (an earlier attempt left checkpoints) or 'done' (an earlier attempt finished).
 */
export async function prepareScratch(workspace: string, job: StepJob, o: { staleWaitMs?: number } = {}): Promise<ScratchState> {
  mkdirSync(join(workspace, 'stores'), { recursive: true });
  const store = openStore(scratchDbFile(workspace, job.runId), { skipRecovery: true });
  try {
    const model = store.models.getByFingerprint(job.model.fingerprint) ?? store.models.register(job.model);
    for (const r of [...job.lineage].sort((a, b) => a.id - b.id)) {
      if (!store.runs.get(r.id)) insertLineageRun(store, r, model.id, r.id === job.runId ? 'queued' : 'done');
    }
    let run = store.runs.require(job.runId);
    if (run.status === 'running') {
      // The attempt before died with its worker (kill -9, lost host). Its job process, if it is
      // on this host, stops itself when its worker's channel closes; give it time to.
      const deadline = Date.now() + (o.staleWaitMs ?? 15_000);
      while (run.ownerHost === hostname() && run.ownerPid && run.ownerPid !== process.pid && isProcessAlive(run.ownerPid) && Date.now() < deadline) {
        await sleep(200);
        run = store.runs.require(job.runId);
      }
      if (run.status === 'running') {
        if (run.ownerHost === hostname() && run.ownerPid && isProcessAlive(run.ownerPid)) process.kill(run.ownerPid, 'SIGKILL');
        store.runs.fail(job.runId, 'interrupted (its worker stopped while it ran)', { resumable: true });
      }
      run = store.runs.require(job.runId);
    }
    return run.status === 'done' ? 'done' : run.status === 'queued' ? 'fresh' : 'resume';
  } finally {
    store.close();
  }
}
