// The cost of recovery (METHODS.md 2; the paper's claim: IDP has 21x fewer extra parameters and
// 60% lower latency than LoRA): extra parameters per adapter and their ratio to LoRA on the
// same base, and inference latency on the same inputs for the base and base + each adapter
// (LoRA unmerged), measured in one process: all models loaded first, then rounds that run
// every model once in turn (so drift hits all alike); warm-up rounds dropped; median reported.
import { inspectModel } from '../models/folder.ts';
import { LanguageModel } from '../models/language-model.ts';
import type { ExecutionProvider } from '../runtime/providers.ts';
import { type Adapter, extraParameters, loraParameterCount } from './adapter.ts';
import { openAdapter } from './model-adapter.ts';

export interface CostOptions {
  model: string;
  adapters: string[];
  /** Token sequences to score (each one forward pass per round); default: seeded random tokens. */
  inputs?: number[][];
  sequences?: number;
  seqLen?: number;
  warmup?: number;
  repeats?: number;
  ep?: ExecutionProvider;
  threads?: number;
}

export interface CostRow {
  label: string;
  method: 'base' | Adapter['method'];
  dir: string | null;
  extraParameters: number;
  /** extraParameters / LoRA's on the same base (the LoRA adapter given, else r = 8 on q_proj, v_proj). */
  ratioToLora: number | null;
  /** Median seconds to score all inputs once, and every timed round. */
  latency: number;
  rounds: number[];
  /** latency / the base's latency. */
  relative: number;
}

export interface CostReport {
  model: string;
  baseParameters: number;
  lora: { parameters: number; source: string };
  inputs: { sequences: number; tokens: number };
  rows: CostRow[];
}

function randomInputs(vocab: number, count: number, len: number, bos: number | null): number[][] {
  let s = 12345;
  const next = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s >>> 8; };
  return Array.from({ length: count }, () => Array.from({ length: len }, (_, t) => (t === 0 && bos !== null ? bos : 4 + (next() % Math.max(1, vocab - 4)))));
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

export async function measureCost(o: CostOptions): Promise<CostReport> {
  const info = inspectModel(o.model);
  const session = { ...(o.ep ? { ep: o.ep } : {}), ...(o.threads ? { threads: o.threads } : {}) };
  const models: { label: string; dir: string | null; lm: LanguageModel; adapter?: Adapter }[] = [];
  try {
    models.push({ label: 'base', dir: null, lm: await LanguageModel.load(o.model, session) });
    for (const dir of o.adapters) {
      const runtime = openAdapter(dir, session);
      const a = runtime.adapter;
      const label = `base + ${a.method === 'lora' ? 'LoRA (unmerged)' : a.method === 'idp' ? 'IDP' : a.method}`;
      models.push({ label, dir, adapter: a, lm: await LanguageModel.load(o.model, { ...session, adapter: runtime }) });
    }
    const { config } = models[0]!.lm;
    const longest = Math.max(0, ...models.map((m) => (m.adapter && 'numVirtualTokens' in m.adapter ? m.adapter.numVirtualTokens : 0)));
    const seqLen = o.seqLen ?? Math.min(64, config.maxPositions - longest);
    const inputs = o.inputs ?? randomInputs(config.vocabSize, o.sequences ?? 8, seqLen, config.bosTokenId);
    const rounds = models.map(() => [] as number[]);
    const warmup = o.warmup ?? 2, repeats = o.repeats ?? 7;
    for (let r = 0; r < warmup + repeats; r++) {
      for (const [k, m] of models.entries()) {
        const t0 = performance.now();
        for (const ids of inputs) await m.lm.logprobsOfIds(ids);
        if (r >= warmup) rounds[k]!.push((performance.now() - t0) / 1000);
      }
    }
    const givenLora = models.find((m) => m.adapter?.method === 'lora');
    const lora = givenLora
      ? { parameters: extraParameters(givenLora.adapter!), source: givenLora.dir! }
      : { parameters: loraParameterCount(config, 8, ['q_proj', 'v_proj']), source: 'r = 8 on q_proj, v_proj (METHODS.md default)' };
    const baseLatency = median(rounds[0]!);
    return {
      model: o.model, baseParameters: info.parameters, lora, inputs: { sequences: inputs.length, tokens: inputs.reduce((a, x) => a + x.length, 0) },
      rows: models.map((m, k) => {
        const extra = m.adapter ? extraParameters(m.adapter) : 0;
        return { label: m.label, method: m.adapter?.method ?? 'base', dir: m.dir, extraParameters: extra, ratioToLora: m.adapter ? extra / lora.parameters : null, latency: median(rounds[k]!), rounds: rounds[k]!, relative: median(rounds[k]!) / baseLatency };
      }),
    };
  } finally {
    for (const m of models) await m.lm.release();
  }
}
