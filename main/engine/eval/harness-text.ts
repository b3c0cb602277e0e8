// Text rules of lm-evaluation-harness's task code, written again in TypeScript with the
// Python semantics they depend on (str.capitalize, sorted(), string.punctuation):
// - hellaswagPreprocess: lm_eval/tasks/hellaswag/utils.py preprocess();
// - removePrefixes: lm_eval/tasks/webqs/utils.py _remove_prefixes();
// - normalizeExactMatch: the exact_match metric with ignore_case and ignore_punctuation
//   (HF evaluate's exact_match, which triviaqa/default.yaml configures; no article removal);
// - unquoteCsvField: undoes the CSV quoting that DPR/FlashRAG left on some TriviaQA questions.

/** Python's str.capitalize(): first character upper case, the rest lower case. */
export function pythonCapitalize(s: string): string {
  const [first, ...rest] = [...s];
  return first === undefined ? '' : first.toUpperCase() + rest.join('').toLowerCase();
}

/**
 * HellaSwag's preprocess: strip; " [title]" -> ". "; remove every "[...]" (non-greedy, no
 * newlines); replace double spaces by one in a single left-to-right pass (as str.replace).
 */
export function hellaswagPreprocess(text: string): string {
  let t = text.trim();
  t = t.replaceAll(' [title]', '. ');
  t = t.replace(/\[.*?\]/g, '');
  return t.replaceAll('  ', ' ');
}

/** Order of Python's sorted() on str: by code point (JS's default sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * WebQS: sort the answers, then drop every answer that has an earlier kept answer as a
 * prefix (if the prefix is greedy, the longer answer adds nothing to "any answer greedy").
 */
export function removePrefixes(answers: readonly string[]): string[] {
  const sorted = [...answers].sort(compareCodePoints);
  const kept = [sorted[0]!];
  for (const a of sorted.slice(1)) if (!a.startsWith(kept[kept.length - 1]!)) kept.push(a);
  return kept;
}

/** Python's string.punctuation. */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** exact_match with ignore_case and ignore_punctuation: lower case, ASCII punctuation removed. */
export function normalizeExactMatch(s: string): string {
  return s.toLowerCase().replace(PUNCTUATION, '');
}

/** TriviaQA exact match: the generation (leading whitespace removed) equals some alias after normalisation. */
export function matchesAnyAlias(generated: string, aliases: readonly string[]): boolean {
  const g = normalizeExactMatch(generated.trimStart());
  return aliases.some((a) => normalizeExactMatch(a) === g);
}

/**
 * `"Who wrote ""X""?"` -> `Who wrote "X"?`: a field wrapped in quotes whose inner quotes are
 * all doubled is a CSV-quoted string; anything else is returned unchanged.
 */
export function unquoteCsvField(s: string): string {
  if (s.length < 2 || !s.startsWith('"') || !s.endsWith('"')) return s;
  const inner = s.slice(1, -1);
  if (inner.replaceAll('""', '').includes('"')) return s;
  return inner.replaceAll('""', '"');
}
