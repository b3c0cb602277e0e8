// `recall cost`: extra parameters of adapters (and their ratio to LoRA on the same base) and
// inference latency for the base and base + each adapter, measured in one run.
import { measureCost } from '../engine/recover/cost.ts';
import { parseExecutionProvider } from '../engine/runtime/providers.ts';
import { optionalInt, parseFlags, requireString } from './args.ts';
import type { Output } from './output.ts';

export async function costCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    model: { type: 'string' }, adapter: { type: 'string', multiple: true }, sequences: { type: 'string' }, 'seq-len': { type: 'string' },
    repeats: { type: 'string' }, warmup: { type: 'string' }, ep: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' },
  }, 'cost');
  const r = await measureCost({
    model: requireString(p, 'model', 'cost'), adapters: (p.flags.adapter as string[] | undefined) ?? [],
    ...defined({
      sequences: optionalInt(p, 'sequences', 'cost', 1), seqLen: optionalInt(p, 'seq-len', 'cost', 1), repeats: optionalInt(p, 'repeats', 'cost', 1),
      warmup: optionalInt(p, 'warmup', 'cost', 0), threads: optionalInt(p, 'threads', 'cost', 1),
      ep: typeof p.flags.ep === 'string' ? parseExecutionProvider(p.flags.ep) : undefined,
    }),
  });
  if (p.flags.json) { out.json(r); return 0; }
  out.line(`base ${r.model}: ${r.baseParameters.toLocaleString('en-US')} parameters; LoRA reference ${r.lora.parameters.toLocaleString('en-US')} (${r.lora.source}); ${r.inputs.sequences} sequences, ${r.inputs.tokens} tokens per round`);
  out.table([
    ['model', 'extra params', 'vs LoRA', 'latency (median)', 'vs base'],
    ...r.rows.map((x) => [x.label, x.extraParameters.toLocaleString('en-US'), x.ratioToLora === null ? '-' : `${x.ratioToLora.toFixed(3)}x`, `${(x.latency * 1000).toFixed(1)} ms`, `${x.relative.toFixed(2)}x`]),
  ], true);
  return 0;
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
