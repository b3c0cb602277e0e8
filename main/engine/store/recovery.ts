// Crash recovery. A process killed while a run was 'running' leaves that status behind (its
// last committed state: WAL rolled back the rest). On open, such runs become 'failed' with a
// stable error and resumable=1, so the UI offers "resume" and nothing reads as still running.
//
// Another live Recall process (the desktop app while the CLI opens the same home) may own
// runs that really are running: only runs whose owner process is gone are recovered. A run
// owned by another host (a remote worker) cannot be checked from here and is left alone.

import { hostname } from 'node:os';
import type { SqliteDatabase } from './database.ts';
import { INTERRUPTED_ERROR } from './run-status.ts';

/** Whether a process id is alive on this machine (signal 0 checks without signalling). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RecoverOptions {
  host?: string;
  isAlive?: (pid: number) => boolean;
}

/** Marks interrupted runs failed and resumable; returns their ids. */
export function recoverInterruptedRuns(db: SqliteDatabase, options: RecoverOptions = {}): number[] {
  const host = options.host ?? hostname();
  const isAlive = options.isAlive ?? isProcessAlive;
  const running = db.prepare<[], { id: number; owner_pid: number | null; owner_host: string | null }>(
    "SELECT id, owner_pid, owner_host FROM runs WHERE status = 'running'",
  );
  const mark = db.prepare(
    "UPDATE runs SET status = 'failed', error = ?, resumable = 1, finished_at = ? WHERE id = ? AND status = 'running'",
  );
  const tx = db.transaction(() => {
    const orphaned = running.all().filter((r) => {
      if (r.owner_pid === null || r.owner_host === null) return true; // no owner recorded: nobody can be running it
      if (r.owner_host !== host) return false;
      return r.owner_pid !== process.pid && !isAlive(r.owner_pid);
    });
    const now = Date.now();
    for (const r of orphaned) mark.run(INTERRUPTED_ERROR, now, r.id);
    return orphaned.map((r) => r.id);
  });
  return tx.immediate();
}
