// The run lifecycle, as one table. A job moves queued -> running -> done | failed | cancelled;
// a failed or cancelled run may be resumed (back to running). A queued run may be cancelled
// before it starts. Nothing leaves 'done': a finished result is never silently rewritten.

export const RUN_KINDS = ['compress', 'tune', 'eval', 'analyze', 'experiment'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const RUN_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** For each status, the statuses it may move to. */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ['running', 'cancelled'],
  running: ['done', 'failed', 'cancelled'],
  done: [],
  failed: ['running'],
  cancelled: ['running'],
};

/** The statuses from which a run may move to `to`. */
export function statusesLeadingTo(to: RunStatus): RunStatus[] {
  return RUN_STATUSES.filter((from) => RUN_TRANSITIONS[from].includes(to));
}

export function isRunKind(v: unknown): v is RunKind {
  return typeof v === 'string' && (RUN_KINDS as readonly string[]).includes(v);
}

export function isRunStatus(v: unknown): v is RunStatus {
  return typeof v === 'string' && (RUN_STATUSES as readonly string[]).includes(v);
}

/** Message text for the interrupted-run recovery (kept stable: the UI offers "resume" on it). */
export const INTERRUPTED_ERROR = 'interrupted (process ended while running)';
