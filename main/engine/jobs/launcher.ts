// How a job process is started: behind one small interface so the Electron app can swap
// child_process.fork for utilityProcess.fork without touching the queue. From the sources the
// child is `node --import tsx job-process.ts`, with tsx resolved from this package (so it works
// whatever the caller's working directory); from a bundle, the job-process.js built beside it.

import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage } from './protocol.ts';

export interface JobChild {
  readonly pid: number | null;
  send(message: ParentMessage): void;
  onMessage(listener: (message: ChildMessage) => void): void;
  /** Called once when the process has exited (code, or the signal that ended it). */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export interface JobLauncher {
  launch(): JobChild;
}

export const JOB_PROCESS_ENTRY = fileURLToPath(new URL('./job-process.ts', import.meta.url));

/**
 * The job process entry: job-process.js beside this module when it was bundled (the Electron
 * build puts one next to main.js; it runs as plain JavaScript), else the TypeScript source
 * through tsx.
 */
export function jobProcessEntry(base: string | URL = import.meta.url): { file: string; execArgv: string[] } {
  const built = fileURLToPath(new URL('./job-process.js', base));
  if (existsSync(built)) return { file: built, execArgv: [] };
  return { file: fileURLToPath(new URL('./job-process.ts', base)), execArgv: ['--import', import.meta.resolve('tsx')] };
}

/** child_process.fork of the job entry, with an IPC channel. */
export function forkLauncher(options: { env?: NodeJS.ProcessEnv; entry?: { file: string; execArgv: string[] } } = {}): JobLauncher {
  const entry = options.entry ?? jobProcessEntry();
  return {
    launch(): JobChild {
      const child = fork(entry.file, [], {
        execPath: process.execPath,
        execArgv: entry.execArgv,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'json',
      });
      // A job's own stdout/stderr (ORT warnings...) go to the app's stderr, prefixed.
      const relay = (chunk: Buffer) => process.stderr.write(chunk.toString().replace(/^(?=.)/gm, `[job ${child.pid}] `));
      child.stdout?.on('data', relay);
      child.stderr?.on('data', relay);
      return {
        get pid() { return child.pid ?? null; },
        send: (m) => { if (child.connected) child.send(m); },
        onMessage: (l) => { child.on('message', (m) => l(m as ChildMessage)); },
        onExit: (l) => { child.once('exit', (code, signal) => l(code, signal)); },
        kill: (signal) => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); },
      };
    },
  };
}
