// Tokenizer tests on hand-written tokenizer.json files (test/fixtures/tokenizers/). Every
// expected id list is worked out by hand from the fixture's vocab and merge ranks; the
// derivation is in the comment above each assertion. HF `tokenizers` (Python) is not
// available here, so there is no cross-check against the Rust implementation.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isRecallError } from '../../main/engine/errors.ts';
import { Tokenizer, splitBefore } from '../../main/engine/models/tokenizer.ts';

const FIX = new URL('../fixtures/tokenizers/', import.meta.url).pathname;
const readJson = (p: string) => JSON.parse(readFileSync(join(FIX, p), 'utf8')) as Record<string, unknown>;

describe('byte-level BPE (GPT-2 / OPT style)', () => {
  const tok = Tokenizer.fromFolder(join(FIX, 'bytelevel-bpe'));

  test('merges by rank; spaces become Ġ and stay on the following word', () => {
    // "hello": h e l l o -> (h e)#0 -> (l l)#1 -> (he ll)#2 -> (hell o)#3 = hello(16)
    // " world": Ġ w o r l d -> (Ġ w)#4 -> (o r)#5 -> (Ġw or)#6 -> (l d)#7 -> (Ġwor ld)#8 = Ġworld(21)
    assert.deepEqual(tok.encode('hello world', { addSpecialTokens: false }), [16, 21]);
    // GPT-2 regex: "\s+(?!\S)" leaves the last space for " world": ["hello", " ", " world"]
    assert.deepEqual(tok.encode('hello  world', { addSpecialTokens: false }), [16, 11, 21]);
    assert.deepEqual(tok.encode('hello world!', { addSpecialTokens: false }), [16, 21, 12]);
  });

  test('non-ASCII goes through the byte-to-unicode table', () => {
    // "é" = C3 A9 -> "Ã" "©" -> merge #9 -> "Ã©"(25); "\n" = 0A -> "Ċ"(22)
    assert.deepEqual(tok.encode('é', { addSpecialTokens: false }), [25]);
    assert.deepEqual(tok.encode('hello\n', { addSpecialTokens: false }), [16, 22]);
    assert.equal(tok.decode([16, 22, 25]), 'hello\né');
  });

  test('OPT framing: the post-processor prepends </s> (id 2) as BOS', () => {
    assert.deepEqual(tok.encode('hello world'), [2, 16, 21]);
    assert.equal(tok.bosTokenId, 2);
    assert.equal(tok.eosTokenId, 2);
    assert.equal(tok.vocabSize, 26);
    assert.equal(tok.decode([2, 16, 21]), '</s>hello world');
    assert.equal(tok.decode([2, 16, 21], { skipSpecialTokens: true }), 'hello world');
    assert.equal(tok.decode([]), '');
  });

  test('encodePair moves the trailing space onto the continuation', () => {
    // whole "hello world" = [2,16,21], context "hello" = [2,16]
    assert.deepEqual(tok.encodePair('hello ', 'world'), { context: [2, 16], continuation: [21] });
    assert.deepEqual(tok.encodePair('hello', ' world!'), { context: [2, 16], continuation: [21, 12] });
    assert.deepEqual(tok.encodePair('hello', ' world', { addSpecialTokens: false }), { context: [16], continuation: [21] });
    // Empty context: the harness scores from [prefix_token_id] (BOS = </s> here).
    assert.deepEqual(tok.encodePair('', 'hello'), { context: [2], continuation: [16] });
  });

  test('encodePair takes the continuation from the whole encoding when a merge crosses the seam', () => {
    // whole "hello" = [2,16]; context "hel" = h e l -> (h e) -> he(13) l(6) = [2,13,6]; the
    // harness slices whole[3:], which is empty: reproduced, not "fixed".
    assert.deepEqual(tok.encodePair('hel', 'lo'), { context: [2, 13, 6], continuation: [] });
  });

  test('vocab.json + merges.txt (no tokenizer.json) tokenizes like the tokenizer.json', () => {
    const files = Tokenizer.fromFolder(join(FIX, 'gpt2-files'));
    for (const s of ['hello world', 'hello  world!', 'é\nhello']) assert.deepEqual(files.encode(s), tok.encode(s), s);
    // BOS from tokenizer_config add_bos_token, as GPT2Tokenizer does for OPT.
    assert.deepEqual(files.encode('hello world'), [2, 16, 21]);
    assert.equal(files.decode([16, 21]), 'hello world');
  });
});

describe('LLaMA 3 style: Split regex + ByteLevel(use_regex false), ignore_merges', () => {
  // The byte-level fixture with LLaMA 3's pre-tokenizer and a whole-word token "hel" (26)
  // that no merge produces: ignore_merges takes it straight from the vocab.
  const json = readJson('bytelevel-bpe/tokenizer.json');
  json.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  const model = json.model as { vocab: Record<string, number>; ignore_merges?: boolean };
  model.vocab.hel = 26;

  test('same pieces as GPT-2 on plain text', () => {
    const tok = Tokenizer.fromJson(json);
    assert.deepEqual(tok.encode('hello  world!', { addSpecialTokens: false }), [16, 11, 21, 12]);
  });

  test('ignore_merges: a vocab word skips BPE', () => {
    // with merges: h e l -> (h e)#0 = he(13) l(6); ignoring them: "hel" is in the vocab (26)
    assert.deepEqual(Tokenizer.fromJson(json).encode('hel', { addSpecialTokens: false }), [13, 6]);
    model.ignore_merges = true;
    assert.deepEqual(Tokenizer.fromJson(json).encode('hel', { addSpecialTokens: false }), [26]);
  });
});

describe('SentencePiece-style BPE with byte fallback (LLaMA 2 style)', () => {
  const tok = Tokenizer.fromFolder(join(FIX, 'sentencepiece-bpe'));

  test('Prepend + Replace normalizer, merges across the metaspace', () => {
    // "ab c" -> "▁ab▁c": ▁ a b ▁ c -> (▁ a)#0 -> (▁a b)#2 -> (▁ c)#3 = ▁ab(12) ▁c(13)
    assert.deepEqual(tok.encode('ab c', { addSpecialTokens: false }), [12, 13]);
    assert.deepEqual(tok.encode('ab c'), [1, 12, 13]);
    // "\n" is not a piece: byte fallback <0x0A>(3)
    assert.deepEqual(tok.encode('a\nb', { addSpecialTokens: false }), [10, 3, 8]);
  });

  test('byte fallback for unknown characters, <unk> when a byte token is missing too', () => {
    // "é" -> "▁é": ▁(6) then é = C3 A9 -> <0xC3>(4) <0xA9>(5)
    assert.deepEqual(tok.encode('é', { addSpecialTokens: false }), [6, 4, 5]);
    // "z" = 0x7A has no <0x7A> token: the whole piece becomes <unk>(0)
    assert.deepEqual(tok.encode('z', { addSpecialTokens: false }), [6, 0]);
  });

  test('decode strips the leading metaspace and fuses byte tokens', () => {
    assert.equal(tok.decode([12, 13]), 'ab c');
    assert.equal(tok.decode([6, 4, 5]), 'é');
    assert.equal(tok.decode([1, 12, 13], { skipSpecialTokens: true }), 'ab c');
  });

  test('BOS/EOS come from tokenizer_config; encodePair keeps BOS only on the context', () => {
    assert.equal(tok.bosTokenId, 1);
    assert.equal(tok.eosTokenId, 2);
    assert.deepEqual(tok.encodePair('ab ', 'c'), { context: [1, 12], continuation: [13] });
  });

  test('LlamaTokenizer add_bos_token / add_eos_token override the template, as LlamaTokenizerFast does', () => {
    const json = readJson('sentencepiece-bpe/tokenizer.json');
    const config = readJson('sentencepiece-bpe/tokenizer_config.json');
    assert.deepEqual(Tokenizer.fromJson(json, { ...config, add_bos_token: false }).encode('ab c'), [12, 13]);
    assert.deepEqual(Tokenizer.fromJson(json, { ...config, add_eos_token: true }).encode('ab c'), [1, 12, 13, 2]);
    // Without tokenizer_config, the template's <s> is the framing and the BOS.
    const bare = Tokenizer.fromJson(json);
    assert.deepEqual(bare.encode('ab c'), [1, 12, 13]);
    assert.equal(bare.bosTokenId, 1);
  });
});

describe('Metaspace pre-tokenizer', () => {
  const json = readJson('metaspace-split/tokenizer.json');

  test('split=true cuts before every ▁, so the "b ▁" merge (rank 0) never applies', () => {
    // "▁ab", "▁c" -> [12, 13]. The library alone would keep "▁ab▁c" whole and give [10, 14, 9].
    assert.deepEqual(Tokenizer.fromJson(json).encode('ab c'), [12, 13]);
  });

  test('split=false keeps one piece: ▁ a b ▁ c -> (b ▁)#0 -> (▁ a)#1 = ▁a(10) b▁(14) c(9)', () => {
    const noSplit = structuredClone(json);
    (noSplit.pre_tokenizer as Record<string, unknown>).split = false;
    assert.deepEqual(Tokenizer.fromJson(noSplit).encode('ab c'), [10, 14, 9]);
  });

  test('splitBefore keeps the delimiter with the following piece', () => {
    assert.deepEqual(splitBefore('a▁▁b', '▁'), ['a', '▁', '▁b']);
    assert.deepEqual(splitBefore('▁ab▁c', '▁'), ['▁ab', '▁c']);
  });
});

describe('WordLevel', () => {
  const tok = Tokenizer.fromFolder(join(FIX, 'wordlevel'));

  test('Lowercase + Whitespace pre-tokenizer, unknown words -> [UNK]', () => {
    assert.deepEqual(tok.encode('The cat sat.'), [1, 2, 3, 4]);
    assert.deepEqual(tok.encode('the dog'), [1, 0]);
    assert.equal(tok.bosTokenId, null);
    assert.equal(tok.decode([1, 2]), 'the cat');
  });

  test('an empty context with neither BOS nor EOS is an error naming the file', () => {
    assert.throws(() => tok.encodePair('', 'the cat'), (e) => isRecallError(e, 'E_TOKENIZER') && e.message.includes('wordlevel'));
  });
});

describe('tokenizer errors', () => {
  test('a folder without tokenizer files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recall-tok-'));
    try {
      assert.throws(() => Tokenizer.fromFolder(dir), (e) => isRecallError(e, 'E_TOKENIZER') && e.message.includes(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unsupported model type names the file and field', () => {
    const json = { ...readJson('wordlevel/tokenizer.json'), model: { type: 'Mystery', vocab: {} } };
    assert.throws(() => Tokenizer.fromJson(json, {}, 'x/tokenizer.json'), (e) => isRecallError(e, 'E_TOKENIZER') && /x\/tokenizer.json: model type 'Mystery'/.test(e.message));
  });
});
