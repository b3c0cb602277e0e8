// `recall runs list|show|export|import|rm`: the run store from the command line, through the API.
import { resolve } from 'node:path';
import { type RunDetail, type RunSummary, unwrap } from '../contract/index.ts';
import { type Api, createApi } from '../engine/api.ts';
import { type Parsed, UsageError, optionalInt, parseFlags } from './args.ts';
import type { Output } from './output.ts';

export const RUNS_HELP = `  runs list [--kind K] [--status S] [--text T] [--limit N] [--json]
  runs show ID [--json]                 config, lineage, metrics, compression log, curve, artifacts, log
  runs export ID... --out FILE [--format bundle|csv|harness]
                                       a run with its lineage as one file (another Recall imports it)
  runs import FILE                     a bundle written by runs export
  runs rm ID [--recursive]             a run, its results and files (--recursive: what was derived from it)
`;

const when = (t: number | null) => (t === null ? '-' : new Date(t).toISOString().replace('T', ' ').slice(0, 19));
const ids = (p: Parsed, command: string) => p.positionals.slice(1).map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`runs ${command}: '${s}' is not a run id`);
  return n;
});

function listRuns(runs: RunSummary[], out: Output): void {
  out.table([
    ['id', 'kind', 'status', 'name', 'parents', 'created', 'error'],
    ...runs.map((r) => [String(r.id), r.kind, r.status + (r.resumable ? ' (resumable)' : ''), r.name, r.parents.map((x) => x.id).join(',') || '-', when(r.createdAt), r.error ?? '']),
  ], true);
}

function showRun(d: RunDetail, out: Output): void {
  out.line(`run ${d.id}: ${d.kind} '${d.name}'  ${d.status}${d.resumable ? ' (resumable)' : ''}`);
  out.line(`created ${when(d.createdAt)}  started ${when(d.startedAt)}  finished ${when(d.finishedAt)}  seed ${d.seed ?? '-'}`);
  if (d.error) out.line(`error: ${d.error}`);
  if (d.lineage.length) out.line(`lineage: ${d.lineage.map((l) => `${l.kind} ${l.id} '${l.name}' (${l.role})`).join(' <- ')}`);
  out.line(`config: ${JSON.stringify(d.config)}`);
  out.line(`folder: ${d.dir}`);
  if (d.metrics.length) {
    out.line('');
    out.table([['task', 'metric', 'value', 'stderr', 'n'], ...d.metrics.map((m) => [m.task, m.metric, m.value.toFixed(4), m.stderr?.toFixed(4) ?? '-', String(m.n ?? '-')])], true);
  }
  if (d.compressionLog.length) {
    out.line('');
    out.table([['layer', 'module', 'shape', 'bits', 'sparsity', 'loss', 'rel. error'], ...d.compressionLog.map((m) => [
      String(m.layer), m.module, `${m.rows}x${m.cols}`, String(m.bits ?? '-'), m.sparsity === null ? '-' : m.sparsity.toFixed(3), m.loss?.toPrecision(4) ?? '-', m.relError?.toExponential(2) ?? '-',
    ])], true);
  }
  if (d.curve.length) out.line(`\ntraining curve: ${d.curve.length} points, loss ${d.curve[0]!.loss?.toFixed(4)} -> ${d.curve.at(-1)!.loss?.toFixed(4)}`);
  if (d.similarityKinds.length) out.line(`similarity arrays: ${d.similarityKinds.length} (${d.similarityKinds.slice(0, 4).join(', ')}${d.similarityKinds.length > 4 ? ', ...' : ''})`);
  if (d.artifacts.length) {
    out.line('');
    out.table([['artifact', 'kind', 'bytes', 'sha256'], ...d.artifacts.map((a) => [a.path, a.kind, String(a.bytes), a.sha256.slice(0, 16)])], true);
  }
  if (d.log.length) out.line(`\nlog (last lines):\n${d.log.slice(-10).join('\n')}`);
}

async function runsSubcommand(api: Api, p: Parsed, out: Output): Promise<number> {
  const sub = p.positionals[0];
  switch (sub) {
    case 'list': {
      const limit = optionalInt(p, 'limit', 'runs list', 1);
      const runs = unwrap(await api.call('runs.list', {
        ...(typeof p.flags.kind === 'string' ? { kind: p.flags.kind as RunSummary['kind'] } : {}),
        ...(typeof p.flags.status === 'string' ? { status: p.flags.status as RunSummary['status'] } : {}),
        ...(typeof p.flags.text === 'string' ? { text: p.flags.text } : {}), ...(limit ? { limit } : {}),
      }));
      if (p.flags.json) out.json(runs);
      else if (runs.length === 0) out.line('no runs');
      else listRuns(runs, out);
      return 0;
    }
    case 'show': {
      const [id] = ids(p, 'show');
      if (id === undefined) throw new UsageError('runs show: give a run id');
      const d = unwrap(await api.call('runs.get', { runId: id }));
      if (p.flags.json) out.json(d); else showRun(d, out);
      return 0;
    }
    case 'export': {
      const runIds = ids(p, 'export');
      if (runIds.length === 0 || typeof p.flags.out !== 'string') throw new UsageError('runs export: give run ids and --out FILE');
      const format = (p.flags.format as string | undefined) ?? 'bundle';
      if (!['bundle', 'csv', 'harness'].includes(format)) throw new UsageError(`runs export: --format must be bundle, csv or harness (got '${format}')`);
      const r = unwrap(await api.call('runs.export', { runIds, out: resolve(p.flags.out), format: format as 'bundle' }));
      if (p.flags.json) out.json(r); else out.line(`wrote ${r.path} (${r.format}, ${r.runs} runs, ${r.bytes} bytes)`);
      return 0;
    }
    case 'import': {
      const file = p.positionals[1];
      if (!file) throw new UsageError('runs import: give a bundle file');
      const r = unwrap(await api.call('runs.import', { path: resolve(file) }));
      if (p.flags.json) out.json(r);
      else {
        out.line(`imported ${r.runs.filter((x) => !x.reused).length} runs (${r.runs.filter((x) => x.reused).length} already here), ${r.artifacts} artifacts`);
        for (const m of r.missingArtifacts) out.warn(`not in the bundle (too large when exported): ${m}`);
      }
      return 0;
    }
    case 'rm': {
      const runIds = ids(p, 'rm');
      if (runIds.length === 0) throw new UsageError('runs rm: give a run id');
      for (const runId of runIds) {
        const r = unwrap(await api.call('runs.delete', { runId, ...(p.flags.recursive ? { recursive: true } : {}) }));
        out.line(`deleted run${r.deleted.length > 1 ? 's' : ''} ${r.deleted.join(', ')}`);
      }
      return 0;
    }
    default:
      throw new UsageError(`runs: unknown subcommand '${sub ?? ''}' (list, show, export, import, rm)`);
  }
}

export async function runsCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    home: { type: 'string' }, kind: { type: 'string' }, status: { type: 'string' }, text: { type: 'string' }, limit: { type: 'string' },
    out: { type: 'string' }, format: { type: 'string' }, recursive: { type: 'boolean' }, json: { type: 'boolean' },
  }, 'runs');
  const api = createApi(typeof p.flags.home === 'string' ? { home: p.flags.home } : {});
  try {
    return await runsSubcommand(api, p, out);
  } finally {
    await api.close();
  }
}
