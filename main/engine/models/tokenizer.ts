// Recall's tokenizer: @huggingface/tokenizers (pure JS) runs the normalizer, pre-tokenizer
// and model of a tokenizer.json; this class owns what Recall's scoring depends on and the
// library leaves open: which special tokens frame a sequence (tokenizer.json post-processor,
// or transformers' LlamaTokenizerFast rule: add_bos_token / add_eos_token), the BOS id, and
// lm-evaluation-harness's context/continuation split (encodePair).
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { RecallError } from '../errors.ts';
import { forEachMetaspace, prepareTokenizerJson, readTokenizerFiles, tokenContent, type JsonObject, type TokenizerFiles } from './tokenizer-files.ts';

export interface EncodeOptions {
  /** Add the BOS/EOS framing tokens the tokenizer's config asks for (default true). */
  addSpecialTokens?: boolean;
}

export interface EncodedPair {
  context: number[];
  continuation: number[];
}

type PreTokenizerLike = { pre_tokenize_text: (text: string, options?: unknown) => string[]; tokenizers?: PreTokenizerLike[] };

// transformers' LlamaTokenizerFast (and Gemma's, CodeLlama's) rebuild the post-processor from
// add_bos_token (default true) and add_eos_token (default false), whatever tokenizer.json says.
const BOS_FLAG_CLASSES = /^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/;

export class Tokenizer {
  readonly source: string;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Number of distinct ids (model vocabulary plus added tokens). */
  readonly vocabSize: number;
  /** Ids put before / after a sequence when addSpecialTokens is true. */
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  private readonly hf: HfTokenizer;

  constructor(files: TokenizerFiles) {
    this.source = files.source;
    const { json, config } = prepareTokenizerJson(files);
    try {
      this.hf = new HfTokenizer(json, config);
    } catch (e) {
      throw new RecallError('E_TOKENIZER', `${files.source}: cannot build tokenizer (${(e as Error).message})`, { file: files.source }, { cause: e });
    }
    patchMetaspaceSplit(this.hf.pre_tokenizer as unknown as PreTokenizerLike | null, json.pre_tokenizer);
    this.vocabSize = this.hf.get_vocab(true).size;
    const frame = framingIds(json.post_processor, files.source);
    // Without tokenizer_config.json, a one-token template prefix is the BOS (LLaMA's "<s>").
    this.bosTokenId = this.specialId(config.bos_token) ?? (frame.prefix.length === 1 ? frame.prefix[0]! : null);
    this.eosTokenId = this.specialId(config.eos_token);
    if (typeof config.tokenizer_class === 'string' && BOS_FLAG_CLASSES.test(config.tokenizer_class)) {
      frame.prefix = config.add_bos_token === false || this.bosTokenId === null ? [] : [this.bosTokenId];
      frame.suffix = config.add_eos_token === true && this.eosTokenId !== null ? [this.eosTokenId] : [];
    } else if (json.post_processor === null && config.add_bos_token === true && this.bosTokenId !== null) {
      // GPT2Tokenizer's add_bos_token (OPT ships it), for folders without a post-processor.
      frame.prefix = [this.bosTokenId];
    }
    this.prefixIds = frame.prefix;
    this.suffixIds = frame.suffix;
  }

  /** Load tokenizer.json (or vocab.json + merges.txt) and tokenizer_config.json from a folder. */
  static fromFolder(dir: string): Tokenizer {
    return new Tokenizer(readTokenizerFiles(dir));
  }

  /** Build from already-parsed tokenizer.json / tokenizer_config.json objects. */
  static fromJson(tokenizerJson: JsonObject, tokenizerConfig: JsonObject = {}, source = 'tokenizer.json'): Tokenizer {
    return new Tokenizer({ source, tokenizerJson, tokenizerConfig });
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = this.hf.encode(text, { add_special_tokens: false }).ids;
    for (const id of ids) {
      // The library maps an out-of-vocabulary piece to undefined when there is no unk token.
      if (id === undefined || id === null) {
        throw new RecallError('E_TOKENIZER', `${this.source}: text ${JSON.stringify(text.slice(0, 40))} contains a piece with no id and the tokenizer has no unk_token`, { file: this.source });
      }
    }
    return options.addSpecialTokens === false ? ids : [...this.prefixIds, ...ids, ...this.suffixIds];
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** lm-evaluation-harness's prefix_token_id: BOS, or EOS when there is no BOS. */
  get prefixTokenId(): number | null {
    return this.bosTokenId ?? this.eosTokenId;
  }

  /**
   * Split context + continuation the way lm-evaluation-harness (HFLM._encode_pair) does:
   * trailing whitespace of the context moves to the continuation, the whole string and the
   * context are encoded separately, and the continuation is whole[len(context):], so its
   * tokens are those the model sees after the context even when a merge crosses the seam.
   * An empty context becomes [prefixTokenId], as the harness scores unconditional text.
   *
   * Note: the harness's HF backend encodes with add_special_tokens=False unless run with
   * add_bos_token=True; Recall's default (true) prepends BOS as the model was trained.
   */
  encodePair(context: string, continuation: string, options: EncodeOptions = {}): EncodedPair {
    if (context === '') {
      const prefix = this.prefixTokenId;
      if (prefix === null) {
        throw new RecallError('E_TOKENIZER', `${this.source}: empty context needs a BOS or EOS token, and the tokenizer has neither`, { file: this.source });
      }
      return { context: [prefix], continuation: this.encode(continuation, { addSpecialTokens: false }) };
    }
    const trimmed = context.trimEnd();
    if (trimmed.length < context.length) {
      continuation = context.slice(trimmed.length) + continuation;
      context = trimmed;
    }
    const whole = this.encode(context + continuation, options);
    const ctx = this.encode(context, options);
    return { context: ctx, continuation: whole.slice(ctx.length) };
  }

  private specialId(v: unknown): number | null {
    const t = tokenContent(v);
    return t === null ? null : this.hf.token_to_id(t) ?? null;
  }
}

/** The special ids a tokenizer.json post-processor puts around a single sequence. */
export function framingIds(pp: unknown, source: string): { prefix: number[]; suffix: number[] } {
  const none = { prefix: [] as number[], suffix: [] as number[] };
  if (typeof pp !== 'object' || pp === null) return none;
  const p = pp as JsonObject;
  switch (p.type) {
    case 'ByteLevel':
      return none;
    case 'Sequence': {
      const parts = (Array.isArray(p.processors) ? p.processors : []).map((x) => framingIds(x, source));
      return { prefix: parts.flatMap((x) => x.prefix), suffix: parts.flatMap((x) => x.suffix) };
    }
    case 'RobertaProcessing':
    case 'BertProcessing': {
      const cls = p.cls as [string, number], sep = p.sep as [string, number];
      return { prefix: [cls[1]], suffix: [sep[1]] };
    }
    case 'TemplateProcessing': {
      const specials = (p.special_tokens ?? {}) as Record<string, { ids: number[] }>;
      const out = { prefix: [] as number[], suffix: [] as number[] };
      let seenA = false;
      for (const item of (p.single ?? []) as JsonObject[]) {
        if ('Sequence' in item) {
          seenA = true;
          continue;
        }
        const name = (item.SpecialToken as { id: string } | undefined)?.id;
        const ids = name === undefined ? undefined : specials[name]?.ids;
        if (!ids) throw new RecallError('E_TOKENIZER', `${source}: post_processor template names special token '${name}' that special_tokens does not define`, { file: source, field: 'post_processor' });
        (seenA ? out.suffix : out.prefix).push(...ids);
      }
      return out;
    }
    default:
      throw new RecallError('E_TOKENIZER', `${source}: post_processor type '${String(p.type)}' is not supported`, { file: source, field: 'post_processor' });
  }
}

/**
 * Metaspace with split=true (Rust's default) cuts the text before every replacement char, so
 * BPE never merges across words; the library keeps one piece. Wrap each such instance.
 */
function patchMetaspaceSplit(root: PreTokenizerLike | null, cfg: unknown): void {
  if (!root) return;
  forEachMetaspace(cfg, (m, path) => {
    if (m.split === false) return;
    let inst: PreTokenizerLike | undefined = root;
    for (const i of path) inst = inst?.tokenizers?.[i];
    if (!inst) return;
    const replacement = typeof m.replacement === 'string' ? m.replacement : '\u2581';
    const original = inst.pre_tokenize_text.bind(inst);
    inst.pre_tokenize_text = (text, options) => original(text, options).flatMap((piece) => splitBefore(piece, replacement));
  });
}

/** "a▁▁b" -> ["a", "▁", "▁b"] (Rust SplitDelimiterBehavior::MergedWithNext). */
export function splitBefore(text: string, delimiter: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf(delimiter, 1); i !== -1; i = text.indexOf(delimiter, i + delimiter.length)) {
    out.push(text.slice(start, i));
    start = i;
  }
  out.push(text.slice(start));
  return out.filter((s) => s.length > 0);
}
