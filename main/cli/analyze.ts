// `recall analyze`: per-layer attention and activation similarity of models against a base
// model on the same inputs (METHODS.md section 4), as a table, JSON, or a JSON file.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type AnalyzeModelSpec, analyzeModels } from '../engine/analysis/analyze.ts';
import { readTaskContexts, readTextExamples } from '../engine/analysis/inputs.ts';
import { readPeftAdapter } from '../engine/analysis/peft-adapter.ts';
import type { AnalysisResult, FloatArray, LayerSpreads } from '../engine/analysis/result.ts';
import { readDecoderConfig } from '../engine/models/config.ts';
import { parseExecutionProvider } from '../engine/runtime/providers.ts';
import { type Parsed, UsageError, optionalInt, parseFlags, requireString } from './args.ts';
import type { Output } from './output.ts';

const FLAGS = {
  base: { type: 'string' }, model: { type: 'string', multiple: true }, label: { type: 'string', multiple: true },
  adapter: { type: 'string', multiple: true }, task: { type: 'string' }, 'data-dir': { type: 'string', multiple: true }, texts: { type: 'string' }, limit: { type: 'string' },
  'batch-size': { type: 'string' }, 'max-tokens': { type: 'string' }, cka: { type: 'boolean' }, ep: { type: 'string' },
  threads: { type: 'string' }, 'weight-dtype': { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' },
} as const;

function list(p: Parsed, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

function modelSpecs(p: Parsed): AnalyzeModelSpec[] {
  const models = list(p, 'model'), labels = list(p, 'label'), adapters = list(p, 'adapter');
  if (models.length === 0) throw new UsageError('analyze: --model is required (repeat it to compare several models)');
  if (labels.length > 0 && labels.length !== models.length) throw new UsageError(`analyze: give one --label per --model (${models.length} models, ${labels.length} labels)`);
  if (adapters.length > 0 && adapters.length !== models.length) throw new UsageError(`analyze: give one --adapter per --model, '-' for none (${models.length} models, ${adapters.length} adapters)`);
  return models.map((dir, i) => {
    const adapterDir = adapters[i] && adapters[i] !== '-' ? adapters[i] : undefined;
    const label = labels[i] ?? (adapterDir ? `${basename(dir)}+${basename(adapterDir)}` : basename(dir));
    return { label, dir, ...(adapterDir ? { adapter: readPeftAdapter(adapterDir, readDecoderConfig(dir)) } : {}) };
  });
}

function inputTexts(p: Parsed): string[] {
  const task = p.flags.task, texts = p.flags.texts;
  if ((task === undefined) === (texts === undefined)) throw new UsageError('analyze: give exactly one of --task or --texts');
  const all = typeof task === 'string' ? readTaskContexts(task, list(p, 'data-dir')) : readTextExamples(texts as string);
  const limit = optionalInt(p, 'limit', 'analyze', 1);
  return limit === undefined ? all : all.slice(0, limit);
}

const plain = (a: FloatArray) => ({ shape: a.shape, data: Array.from(a.data, (v) => (Number.isNaN(v) ? null : v)) });

/** The result as JSON-ready values: typed arrays become { shape, data: number[] }. */
export function analysisJson(r: AnalysisResult): unknown {
  return {
    base: r.base,
    examples: r.examples,
    models: r.models.map((m) => ({
      ...m,
      perExample: { attention: plain(m.perExample.attention), activation: plain(m.perExample.activation), ...(m.perExample.cka ? { cka: plain(m.perExample.cka) } : {}) },
      maps: m.maps.map((x) => ({ ...x, map: plain(x.map) })),
    })),
    baseMaps: r.baseMaps.map((x) => ({ ...x, map: plain(x.map) })),
  };
}

const pm = (s: LayerSpreads, l: number) => `${s.mean[l]!.toFixed(4)} ± ${s.std[l]!.toFixed(4)}`;

export async function analyzeCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, FLAGS, 'analyze');
  const base = requireString(p, 'base', 'analyze');
  const texts = inputTexts(p);
  const models = modelSpecs(p);
  const wd = p.flags['weight-dtype'];
  if (wd !== undefined && wd !== 'float32' && wd !== 'float16') throw new UsageError('analyze: --weight-dtype must be float32 or float16');
  const threads = optionalInt(p, 'threads', 'analyze', 1), batchSize = optionalInt(p, 'batch-size', 'analyze', 1);
  const maxTokens = optionalInt(p, 'max-tokens', 'analyze', 1);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  let r: AnalysisResult;
  try {
    r = await analyzeModels({
      base, models, texts, cka: Boolean(p.flags.cka), signal: controller.signal, onFallback: (m) => out.warn(m),
      ...(typeof p.flags.ep === 'string' ? { ep: parseExecutionProvider(p.flags.ep) } : {}),
      ...(threads ? { threads } : {}), ...(batchSize ? { batchSize } : {}), ...(maxTokens ? { maxTokens } : {}),
      ...(wd ? { weightDtype: wd as 'float32' | 'float16' } : {}),
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  const json = analysisJson(r);
  if (typeof p.flags.out === 'string') writeFileSync(p.flags.out, `${JSON.stringify(json)}\n`);
  if (p.flags.json) {
    out.json(json);
    return 0;
  }
  out.line(`base ${base}; ${r.examples.length} examples; cosine similarity to the base per layer (mean ± std over examples)`);
  for (const m of r.models) {
    const extra = [m.promptLength ? `${m.promptLength} soft-prompt positions dropped` : '', m.prefixLength ? `${m.prefixLength} prefix positions dropped` : ''].filter(Boolean);
    out.line('');
    out.line(`${m.label} (${m.dir})${extra.length ? `: ${extra.join(', ')}` : ''}`);
    const header = ['layer', 'attention cos', 'activation cos', ...(m.cka ? ['linear CKA'] : [])];
    const rows = m.attention.mean.map((_, l) => [String(l), pm(m.attention, l), pm(m.activation, l), ...(m.cka ? [pm(m.cka, l)] : [])]);
    out.table([header, ...rows], true);
  }
  if (typeof p.flags.out === 'string') out.line(`\nwritten to ${p.flags.out}`);
  return 0;
}
