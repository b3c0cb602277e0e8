// Shared set-up of the job, API and experiment tests: an API on a fresh home whose jobs run in
// real job processes, the tiny fixture model, and helpers to wait for events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Envelope, EventName, EventPayload, Params } from '../../main/contract/index.ts';
import { unwrap } from '../../main/contract/index.ts';
import { createApi, type Api } from '../../main/engine/api.ts';
import { forkLauncher } from '../../main/engine/jobs/launcher.ts';
import { fixtureDir } from '../helpers/model-fixtures.ts';

export const TINY = fixtureDir('tiny-llama');
export const CALIB = fileURLToPath(new URL('../fixtures/train/tiny-corpus.txt', import.meta.url));
/** A 2-layer model: GPTQ 3-bit on 8 calibration sequences of 32 tokens. */
export const TINY_COMPRESS: Params<'compress.start'> = { model: TINY, method: 'gptq', bits: 3, groupSize: 32, calibration: { file: CALIB, nsamples: 8, seqlen: 32 } };

export interface TestApi { api: Api; home: string; close(): Promise<void> }

/** progressDelayMs slows each progress report in the job process (to act mid-job). */
export function testApi(t: { after: (fn: () => Promise<void>) => void }, o: { progressDelayMs?: number; cancelGraceMs?: number; home?: string } = {}): TestApi {
  const home = o.home ?? mkdtempSync(join(tmpdir(), 'recall-jobs-'));
  const env = o.progressDelayMs ? { RECALL_JOB_PROGRESS_DELAY_MS: String(o.progressDelayMs) } : {};
  const api = createApi({ home, jobs: { launcher: forkLauncher({ env }), ...(o.cancelGraceMs ? { cancelGraceMs: o.cancelGraceMs } : {}) } });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await api.close();
  };
  t.after(async () => {
    await close();
    if (!o.home) rmSync(home, { recursive: true, force: true });
  });
  return { api, home, close };
}

/** Resolves with the first payload of `event` that matches. */
export function nextEvent<E extends EventName>(api: Api, event: E, match: (p: EventPayload<E>) => boolean = () => true, timeoutMs = 60_000): Promise<EventPayload<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${event} within ${timeoutMs} ms`)); }, timeoutMs);
    const off = api.on(event, (p) => {
      if (!match(p)) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}

export async function call<T>(p: Promise<Envelope<T>>): Promise<T> {
  return unwrap(await p);
}
