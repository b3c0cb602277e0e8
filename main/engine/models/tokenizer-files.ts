// Reading a model folder's tokenizer files into the tokenizer.json form @huggingface/tokenizers
// takes, and filling the gaps between that library (0.2.0) and the Rust `tokenizers` crate
// the files are written for:
// - WordLevel has no model class there; it falls back to a lookup ("Legacy") model whose
//   unknown-token id comes from tokenizer_config, so we hand it the model's unk_token.
// - Metaspace ignores `split` (Rust default true: "▁a▁b" -> ["▁a", "▁b"]) and the older
//   `add_prefix_space: false`; tokenizer.ts patches the split, prepareTokenizerJson the flag.
// - Folders with only vocab.json + merges.txt (GPT-2 style, e.g. facebook/opt-*) get the
//   tokenizer.json that transformers' GPT2Converter would build (byte-level BPE).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError } from '../errors.ts';

export type JsonObject = Record<string, unknown>;

export interface TokenizerFiles {
  /** What the tokenizer was read from, for messages. */
  source: string;
  tokenizerJson: JsonObject;
  tokenizerConfig: JsonObject;
}

function readJsonObject(file: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RecallError('E_TOKENIZER', `${file}: not valid JSON (${(e as Error).message})`, { file }, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RecallError('E_TOKENIZER', `${file}: not a JSON object`, { file });
  return v as JsonObject;
}

/** A special token as tokenizer_config writes it: a string or an AddedToken-like object. */
export function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/** Read tokenizer.json (or vocab.json + merges.txt) and tokenizer_config.json from a folder. */
export function readTokenizerFiles(dir: string): TokenizerFiles {
  const configFile = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(configFile) ? readJsonObject(configFile) : {};
  const jsonFile = join(dir, 'tokenizer.json');
  if (existsSync(jsonFile)) return { source: jsonFile, tokenizerJson: readJsonObject(jsonFile), tokenizerConfig };
  const vocabFile = join(dir, 'vocab.json'), mergesFile = join(dir, 'merges.txt');
  if (existsSync(vocabFile) && existsSync(mergesFile)) {
    const vocab = readJsonObject(vocabFile);
    const merges = readFileSync(mergesFile, 'utf8').split('\n');
    return { source: vocabFile, tokenizerJson: byteLevelBpeJson(vocab, merges, tokenizerConfig), tokenizerConfig };
  }
  const spm = existsSync(join(dir, 'tokenizer.model')) ? ' (tokenizer.model alone, a SentencePiece file, is not supported: export tokenizer.json with transformers)' : '';
  throw new RecallError('E_TOKENIZER', `${dir}: no tokenizer.json, nor vocab.json + merges.txt${spm}`, { file: dir });
}

/** The tokenizer.json GPT2Converter builds from vocab.json + merges.txt (no post-processor: specials are ours). */
export function byteLevelBpeJson(vocab: JsonObject, mergeLines: string[], tokenizerConfig: JsonObject): JsonObject {
  const merges = mergeLines.filter((l, i) => l.trim() !== '' && !(i === 0 && l.startsWith('#version')));
  const specials = new Set<string>();
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const t = tokenContent(tokenizerConfig[key]);
    if (t !== null && typeof vocab[t] === 'number') specials.add(t);
  }
  const addPrefixSpace = tokenizerConfig.add_prefix_space === true;
  return {
    version: '1.0',
    added_tokens: [...specials].map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

/** Walk a pre_tokenizer config (and Sequence children), calling fn on each Metaspace entry. */
export function forEachMetaspace(cfg: unknown, fn: (metaspace: JsonObject, path: number[]) => void, path: number[] = []): void {
  if (typeof cfg !== 'object' || cfg === null) return;
  const c = cfg as JsonObject;
  if (c.type === 'Metaspace') fn(c, path);
  if (c.type === 'Sequence' && Array.isArray(c.pretokenizers)) c.pretokenizers.forEach((child, i) => forEachMetaspace(child, fn, [...path, i]));
}

/**
 * A copy of tokenizer.json / tokenizer_config with the fields the library needs filled in:
 * null for absent pipeline stages, the WordLevel unk_token, Metaspace's prepend scheme.
 */
export function prepareTokenizerJson(files: TokenizerFiles): { json: JsonObject; config: JsonObject } {
  const json = structuredClone(files.tokenizerJson);
  const config = structuredClone(files.tokenizerConfig);
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) json[key] ??= null;
  json.added_tokens ??= [];
  const model = json.model as JsonObject | undefined;
  if (typeof model !== 'object' || model === null) {
    throw new RecallError('E_TOKENIZER', `${files.source}: missing field 'model'`, { file: files.source, field: 'model' });
  }
  const type = model.type;
  const supported = ['BPE', 'WordLevel', 'WordPiece', 'Unigram'];
  if (typeof type === 'string' && !supported.includes(type)) {
    throw new RecallError('E_TOKENIZER', `${files.source}: model type '${type}' is not supported (supported: ${supported.join(', ')})`, { file: files.source, field: 'model.type' });
  }
  if (type === 'WordLevel') {
    // The library's lookup model reads its unknown token from the config, not the model.
    config.unk_token = model.unk_token ?? null;
  }
  forEachMetaspace(json.pre_tokenizer, (m) => {
    // Before prepend_scheme existed, add_prefix_space: false meant "never".
    if (m.prepend_scheme === undefined && m.add_prefix_space === false) m.prepend_scheme = 'never';
  });
  return { json, config };
}
