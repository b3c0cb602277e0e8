// `recall run SPEC`: an experiment from a JSON or YAML file, expanded into runs (finished ones
// reused), run with a live progress display, ending with the method x task table. Ctrl-C cancels
// (resumable: run the same command again, or `recall run --resume ID`).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { type ExperimentInfo, type ExperimentSpecInput, unwrap } from '../contract/index.ts';
import { type Api, createApi } from '../engine/api.ts';
import { UsageError, optionalInt, parseFlags } from './args.ts';
import type { Output } from './output.ts';
import { BACKEND_FLAGS, followRemoteExperiment } from './worker.ts';

export function readSpecFile(file: string): ExperimentSpecInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`run: cannot read ${file} (${(e as Error).message})`);
  }
  try {
    return (/\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text)) as ExperimentSpecInput;
  } catch (e) {
    throw new UsageError(`run: ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'} (${(e as Error).message})`);
  }
}

const fmtTime = (s: number | null) => (s === null ? '' : s >= 60 ? `ETA ${(s / 60).toFixed(1)} min` : `ETA ${s.toFixed(0)} s`);

/** Runs a created experiment with a live display; resolves with its final state. */
export async function followExperiment(api: Api, info: ExperimentInfo, out: Output, o: { resume?: boolean; quiet?: boolean } = {}): Promise<ExperimentInfo> {
  const tty = process.stderr.isTTY && !o.quiet;
  const total = info.steps.length;
  const labels = new Map(info.steps.map((s) => [s.runId, `${s.kind} ${s.label}`]));
  let finished = info.steps.filter((s) => s.status === 'done').length;
  const status = (line: string) => { if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`); };
  const offs = [
    api.on('jobs.progress', (p) => status(`[${finished}/${total}] ${labels.get(p.runId) ?? `run ${p.runId}`}  ${p.stage}  ${(100 * p.fraction).toFixed(0)}%  ${fmtTime(p.etaSeconds)}`)),
    api.on('jobs.done', (p) => {
      if (p.status === 'done') finished++;
      status('');
      if (tty) process.stderr.write('\r\x1b[2K');
      const mark = p.status === 'done' ? 'done' : p.status === 'cancelled' ? 'cancelled' : `FAILED: ${p.error}`;
      if (!o.quiet) out.line(`[${finished}/${total}] run ${p.runId} ${labels.get(p.runId) ?? ''}: ${mark}`);
    }),
  ];
  const ended = new Promise<void>((resolve) => {
    offs.push(api.on('runs.updated', (p) => { if (p.runId === info.runId && ['done', 'failed', 'cancelled'].includes(p.status)) resolve(); }));
  });
  const onSigint = () => {
    out.warn('cancelling the experiment (finished steps are kept; run the same command again to continue)');
    void api.call('experiments.cancel', { runId: info.runId });
  };
  process.once('SIGINT', onSigint);
  try {
    if (!o.quiet) out.line(`experiment ${info.runId} '${info.name}': ${total} steps (${info.reused} reused, ${info.resumed} to resume, ${info.created} new)`);
    unwrap(await api.call(o.resume ? 'experiments.resume' : 'experiments.run', { runId: info.runId }));
    await ended;
  } finally {
    process.off('SIGINT', onSigint);
    for (const off of offs) off();
  }
  return unwrap(await api.call('experiments.get', { runId: info.runId }));
}

export function printTable(info: ExperimentInfo, out: Output): void {
  const fmt = (v: { value: number; stderr: number | null } | undefined) => (v ? `${(100 * v.value).toFixed(1)}${v.stderr !== null ? ` ±${(100 * v.stderr).toFixed(1)}` : ''}` : '-');
  out.table([
    ['model', 'compression', 'recovery', 'seed', ...info.tasks, 'run'],
    ...info.table.map((r) => [r.model, r.compression, r.recovery, String(r.seed), ...info.tasks.map((t) => fmt(r.values[t])), String(r.evalRunId)]),
  ], true);
}

/** The experiment as JSON for --json: status, steps and the table. */
export function experimentJson(info: ExperimentInfo): unknown {
  return { runId: info.runId, name: info.name, status: info.status, tasks: info.tasks, steps: info.steps, table: info.table };
}

export async function runCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, { home: { type: 'string' }, force: { type: 'boolean' }, resume: { type: 'string' }, json: { type: 'boolean' }, ...BACKEND_FLAGS }, 'run');
  const resumeId = optionalInt(p, 'resume', 'run', 1);
  if ((p.positionals.length === 1) === (resumeId !== undefined)) throw new UsageError('run: give a spec file (JSON or YAML), or --resume EXPERIMENT_ID');
  const api = createApi(typeof p.flags.home === 'string' ? { home: p.flags.home } : {});
  try {
    let info: ExperimentInfo;
    if (resumeId !== undefined) {
      info = unwrap(await api.call('experiments.get', { runId: resumeId }));
    } else {
      info = unwrap(await api.call('experiments.create', { spec: readSpecFile(p.positionals[0]!), ...(p.flags.force ? { force: true } : {}) }));
    }
    const final = typeof p.flags.backend === 'string'
      ? await followRemoteExperiment(api, info, out, p, { quiet: Boolean(p.flags.json) })
      : await followExperiment(api, info, out, { resume: resumeId !== undefined, quiet: Boolean(p.flags.json) });
    if (p.flags.json) out.json(experimentJson(final));
    else {
      out.line('');
      printTable(final, out);
      out.line(`\nexperiment ${final.runId}: ${final.status}${final.status !== 'done' ? ` (continue with: recall run --resume ${final.runId})` : ''}`);
    }
    return final.status === 'done' ? 0 : final.status === 'cancelled' ? 130 : 1;
  } finally {
    await api.close();
  }
}
