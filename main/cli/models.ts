// `recall models inspect`, `recall logprobs`, `recall generate`.
import { LanguageModel } from '../engine/models/language-model.ts';
import { inspectModel } from '../engine/models/folder.ts';
import { openAdapter } from '../engine/recover/model-adapter.ts';
import { packedGraphOptions } from '../engine/compress/packed-graph.ts';
import { parseExecutionProvider } from '../engine/runtime/providers.ts';
import { type FlagSpec, type Parsed, UsageError, optionalInt, parseFlags, requireString } from './args.ts';
import type { Output } from './output.ts';

const RUN_FLAGS: FlagSpec = {
  model: { type: 'string' }, ep: { type: 'string' }, threads: { type: 'string' },
  'weight-dtype': { type: 'string' }, json: { type: 'boolean' }, adapter: { type: 'string' }, packed: { type: 'boolean' },
};

function bytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${b.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}

async function loadFromFlags(p: Parsed, command: string, out: Output): Promise<LanguageModel> {
  const dir = requireString(p, 'model', command);
  const ep = typeof p.flags.ep === 'string' ? parseExecutionProvider(p.flags.ep) : undefined;
  const wd = p.flags['weight-dtype'];
  if (wd !== undefined && wd !== 'float32' && wd !== 'float16') throw new UsageError(`${command}: --weight-dtype must be float32 or float16`);
  const threads = optionalInt(p, 'threads', command, 1);
  const adapter = typeof p.flags.adapter === 'string' ? openAdapter(p.flags.adapter, { ...(ep ? { ep } : {}), ...(threads ? { threads } : {}) }) : undefined;
  return LanguageModel.load(dir, {
    ...(adapter ? { adapter } : {}),
    // --packed: quantized linears run as MatMulNBits on the packed codes instead of fake-quant floats.
    ...(p.flags.packed ? { graph: packedGraphOptions(dir) } : {}),
    ...(ep ? { ep } : {}), ...(threads ? { threads } : {}), ...(wd ? { weightDtype: wd as 'float32' | 'float16' } : {}),
    onFallback: (m) => out.warn(m),
  });
}

export async function modelsCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'inspect') throw new UsageError(`models: unknown subcommand '${sub ?? ''}' (expected: inspect)`);
  const p = parseFlags(rest, { json: { type: 'boolean' } }, 'models inspect');
  const dir = p.positionals[0];
  if (!dir) throw new UsageError('models inspect: give the model folder, e.g. recall models inspect ./my-model');
  const info = inspectModel(dir);
  if (p.flags.json) {
    const { config: _config, ...rest2 } = info;
    out.json(rest2);
    return 0;
  }
  out.table([
    ['folder', info.dir],
    ['architecture', `${info.architecture} (model_type ${info.modelType}, family ${info.family})`],
    ['parameters', `${info.parameters.toLocaleString('en-US')} (${(info.parameters / 1e6).toFixed(2)}M)`],
    ['dtype', `${info.dtype}${info.torchDtype ? ` (torch_dtype ${info.torchDtype})` : ''}`],
    ['layers', String(info.layers)],
    ['hidden size', String(info.hiddenSize)],
    ['heads', `${info.heads} query, ${info.kvHeads} key/value, head dim ${info.headDim}`],
    ['vocabulary', String(info.vocabSize)],
    ['context', String(info.maxPositions)],
    ['tied embeddings', info.tiedEmbeddings ? 'yes' : 'no'],
    ['memory (weights)', `${bytes(info.memory.float32)} as float32, ${bytes(info.memory.float16)} as float16`],
    ['weight files', info.weightFiles.map((f) => `${f.file} (${bytes(f.bytes)})`).join(', ')],
    ['tokenizer', info.hasTokenizer ? 'tokenizer.json' : 'none'],
  ]);
  return 0;
}

export async function logprobsCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, { ...RUN_FLAGS, text: { type: 'string' }, ids: { type: 'string' } }, 'logprobs');
  const text = p.flags.text, idsFlag = p.flags.ids;
  if ((text === undefined) === (idsFlag === undefined)) throw new UsageError('logprobs: give exactly one of --text or --ids');
  let ids: number[] | undefined;
  if (typeof idsFlag === 'string') {
    ids = idsFlag.split(',').map((s) => Number(s.trim()));
    if (ids.some((t) => !Number.isInteger(t) || t < 0)) throw new UsageError(`logprobs: --ids must be comma-separated token ids (got '${idsFlag}')`);
  }
  const lm = await loadFromFlags(p, 'logprobs', out);
  try {
    const r = ids ? await lm.logprobsOfIds(ids) : await lm.logprobsOfText(text as string);
    if (p.flags.json) {
      out.json({ tokens: r.ids, logprobs: r.logprobs, greedy: r.greedy });
      return 0;
    }
    out.line(`model ${lm.folder.dir} on ${lm.ep}; log p(token | tokens before it), and the greedy next token`);
    out.table([
      ['pos', 'id', 'token', 'logprob', 'greedy next'],
      ...r.ids.map((id, t) => [String(t), String(id), JSON.stringify(r.tokens[t]), r.logprobs[t] === null ? '-' : r.logprobs[t]!.toFixed(4), `${r.greedy[t]} ${JSON.stringify(lm.tokenizer.idToToken(r.greedy[t]!) ?? '')}`]),
    ], true);
    const lps = r.logprobs.filter((x): x is number => x !== null);
    if (lps.length) out.line(`sum ${lps.reduce((a, b) => a + b, 0).toFixed(4)}, perplexity ${Math.exp(-lps.reduce((a, b) => a + b, 0) / lps.length).toFixed(3)}`);
    return 0;
  } finally {
    await lm.release();
  }
}

export async function generateCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, { ...RUN_FLAGS, prompt: { type: 'string' }, 'max-tokens': { type: 'string' }, stop: { type: 'string', multiple: true } }, 'generate');
  const prompt = requireString(p, 'prompt', 'generate');
  const maxTokens = optionalInt(p, 'max-tokens', 'generate', 1) ?? 32;
  // "\n" typed on a shell arrives as backslash-n: accept the escapes a user means.
  const stop = ((p.flags.stop as string[] | undefined) ?? []).map((s) => s.replace(/\\n/g, '\n').replace(/\\t/g, '\t'));
  const lm = await loadFromFlags(p, 'generate', out);
  try {
    const g = await lm.generate(prompt, { maxTokens, ...(stop.length ? { stop } : {}) });
    if (p.flags.json) out.json({ prompt, text: g.text, tokens: g.tokens, stoppedBy: g.stoppedBy });
    else out.line(g.text);
    return 0;
  } finally {
    await lm.release();
  }
}
