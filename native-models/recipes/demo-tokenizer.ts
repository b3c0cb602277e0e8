// The demo model's tokenizer: one token per word, per punctuation mark and per newline
// (a WordLevel model over every word of the corpus and the tasks, so no task text maps to
// <unk>). Written as an HF tokenizers v1.0 tokenizer.json that both the Rust crate and
// @huggingface/tokenizers 0.2.0 (what Recall runs) read the same way:
// - pre_tokenizer Split, pattern \n|\w+|[^\w\s], invert true, behavior Removed: the pieces
//   are the matches and the whitespace between them is dropped, except "\n", which is a
//   match and so a token. The harness context ends in "\nAnswer:", and a model that
//   cannot see the line break cannot tell the question from the answer.
//   (Rust: Invert flips which spans count as delimiters, Removed drops them; the JS
//   library returns text.match(pattern) when invert is true. Same pieces.)
// - Because spaces never reach the model, " Marubel" after "Answer:" encodes to exactly the
//   token of "Marubel", which is what lm-eval's context/continuation split needs.
// - decoder: WordPiece with a prefix no token has joins tokens with spaces and cleans " ."
//   " ," " ?"; two Replace steps pull ":" and "\n" back onto the word before them.
// - TemplateProcessing puts <s> (id 1) before every sequence, as the model is trained.

/** The pre-tokenizer's pattern, also used here to count words (our text is ASCII). */
export const PRE_TOKENIZER_PATTERN = '\\n|\\w+|[^\\w\\s]';
export const SPECIAL_TOKENS = ['<unk>', '<s>', '</s>', '<pad>'] as const;

/** The pieces the tokenizer.json pre-tokenizer cuts text into. */
export function splitWords(text: string): string[] {
  return text.match(new RegExp(PRE_TOKENIZER_PATTERN, 'g')) ?? [];
}

/** Word -> id: specials 0-3, "\n" 4, then by falling count, ties in code-point order. */
export function buildVocab(texts: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    if (/[^\x20-\x7e\n]/.test(text)) throw new Error(`demo text must be printable ASCII plus newlines: ${JSON.stringify(text.match(/[^\x20-\x7e\n]/)![0])}`);
    for (const w of splitWords(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  counts.delete('\n');
  const words = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w);
  return new Map([...SPECIAL_TOKENS, '\n', ...words].map((w, i) => [w, i]));
}

export function buildTokenizerJson(vocab: ReadonlyMap<string, number>): Record<string, unknown> {
  const special = (content: string) => ({ id: vocab.get(content)!, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const bos = { SpecialToken: { id: '<s>', type_id: 0 } };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map(special),
    normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: PRE_TOKENIZER_PATTERN }, behavior: 'Removed', invert: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [vocab.get('<s>')!], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'WordPiece', prefix: '##', cleanup: true },
        { type: 'Replace', pattern: { String: ' :' }, content: ':' },
        { type: 'Replace', pattern: { String: ' \n' }, content: '\n' },
      ],
    },
    model: { type: 'WordLevel', vocab: Object.fromEntries(vocab), unk_token: '<unk>' },
  };
}

export function buildTokenizerConfig(maxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: maxLength,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: '<pad>',
    add_bos_token: true,
    clean_up_tokenization_spaces: true,
  };
}
