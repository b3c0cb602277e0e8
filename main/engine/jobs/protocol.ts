// The messages between the app and a job process. One job process runs one run: the parent
// sends `start`, may send `cancel`; the child answers with progress, log lines and one `done`.
// A child that exits without `done` crashed (native crash, OOM, kill -9): the parent marks its
// run failed and resumable.

import type { JobKind } from '../../contract/index.ts';

export interface JobRequest {
  jobId: string;
  runId: number;
  kind: JobKind;
  /** The run database (<dataDir>/recall.db). */
  dbFile: string;
  dataDir: string;
  /** Continue from the run's checkpoints (compress: per layer, tune: per step, eval: per task). */
  resume: boolean;
  ep?: string;
  threads?: number;
}

export type ParentMessage = { type: 'start'; job: JobRequest } | { type: 'cancel' };

export type ChildMessage =
  | { type: 'started'; pid: number }
  | { type: 'progress'; fraction: number; stage: string; etaSeconds: number | null }
  | { type: 'log'; level: 'info' | 'warn'; line: string }
  | { type: 'done'; status: 'done' | 'failed' | 'cancelled'; error: string | null; resumable: boolean };
