// The READMEs of the generated folder, written from the same tables the generator uses,
// so the template lists and counts they show cannot drift from the data.
import type { DemoCorpus } from './demo-corpus.ts';
import { RELATION_IDS, RELATIONS, valuesOfKind, type RelationId } from './demo-facts.ts';
import { TEMPLATES } from './demo-templates.ts';
import { PRE_TOKENIZER_PATTERN, splitWords } from './demo-tokenizer.ts';

const bytes = (s: string) => Buffer.byteLength(s);
const kb = (s: string) => `${(bytes(s) / 1024).toFixed(1)} KiB`;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const code = (xs: readonly string[]) => (xs.length === 0 ? '(none: the value is a two-word name)' : xs.map((x) => '`' + x.replaceAll('\n', '\\n') + '`').join('<br>'));

function countBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

/** 1 / number of values of the relation's kind: the greedy cloze hit rate of a uniform guess. */
function clozeChance(corpus: DemoCorpus, relation: RelationId): number {
  return 1 / valuesOfKind(corpus.world, RELATIONS[relation].value, corpus.facts).length;
}

export function renderTasksReadme(corpus: DemoCorpus): string {
  const mcBy = countBy(corpus.mc, (x) => x.fact.relation), clozeBy = countBy(corpus.cloze, (x) => x.fact.relation);
  const meanChance = corpus.cloze.reduce((s, x) => s + clozeChance(corpus, x.fact.relation), 0) / Math.max(1, corpus.cloze.length);
  const rows = RELATION_IDS.map((r) => `| ${r} | ${RELATIONS[r].value} | ${valuesOfKind(corpus.world, RELATIONS[r].value, corpus.facts).length} | ${mcBy.get(r) ?? 0} | ${clozeBy.get(r) ?? 0} | ${TEMPLATES[r].heldOutCloze.length > 0 ? pct(clozeChance(corpus, r)) : '-'} |`);
  return `# Demo knowledge tasks (generated; seed ${corpus.options.seed})

Two tasks over the facts of the demo world (\`../world.json\`), asked **only in held-out
phrasings**: templates that never occur in \`train.txt\` or \`calibration.txt\` (checked by
the generator and by \`test/native-models/demo-corpus.test.ts\`), built from words that all
occur in \`train.txt\`. A model that answers them knows the fact, not a sentence.

## demo_mc: \`demo_mc/test.jsonl\` (${corpus.mc.length} items)

ARC's JSON Lines layout: \`{"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}\`,
four choices labelled A-D. The three distractors are other values of the same kind (other
cities for a birthplace, other people for an inventor, other years for a founding year),
drawn at random; exactly one choice is the world's value.

Scored like \`arc_easy\` (METHODS.md section 3): context \`Question: {stem}\\nAnswer:\`,
continuation \`" " + choice.text\`; \`acc\` = the choice with the highest summed
log-probability is the answer, \`acc_norm\` the same after dividing by the choice's length in
characters. **Chance: 25%.**

## demo_cloze: \`demo_cloze/test.jsonl\` (${corpus.cloze.length} items)

LAMBADA's layout: \`{"text"}\`. The target is the last space-separated word, always the
fact's value (a single word and a single token); there is no final period. Scored like
\`lambada_openai\`: context = text without its last word, continuation = \`" " + last word\`;
\`acc\` = the target is the greedy (argmax) token, plus perplexity of the target.
Relations whose value is a person (two words) have no cloze items.
**Chance** for a uniform guess among the values of the target's kind is 1/|values|,
per relation below; averaged over these items it is ${pct(meanChance)}. (A model that only
learned which kind of word comes next does better than that, a model that knows the
facts much better.)

## Items per relation

| relation | value kind | values of that kind | demo_mc items | demo_cloze items | cloze chance |
|---|---|---|---|---|---|
${rows.join('\n')}

Items are a seeded sample of ${corpus.options.itemsPerTask} facts per task (of
${corpus.facts.length} facts; the cloze task samples from facts with a single-word value),
listed in world order.
`;
}

function templateTable(): string {
  const lines = ['| relation | training statements | calibration-only statements | training questions | held-out questions (demo_mc) | held-out cloze (demo_cloze) |', '|---|---|---|---|---|---|'];
  for (const r of RELATION_IDS) {
    const t = TEMPLATES[r];
    lines.push(`| ${r} | ${code(t.statements)} | ${code(t.calibration)} | ${code(t.questions)} | ${code(t.heldOutQuestions)} | ${code(t.heldOutCloze)} |`);
  }
  return lines.join('\n');
}

export function renderCorpusReadme(corpus: DemoCorpus): string {
  const w = corpus.world;
  const o = corpus.options;
  const files = [...corpus.files.entries()].map(([p, c]) => `| \`${p}\` | ${kb(c)} |`).join('\n');
  const factsBy = countBy(corpus.facts, (f) => f.relation);
  const qa = corpus.facts.length * o.train.questionsPerFact;
  // A worked example from the data itself: the first demo_mc item and its right answer.
  const first = corpus.mc[0]!.item;
  const context = `Question: ${first.question.stem}\nAnswer:`;
  const answer = first.question.choices.find((c) => c.label === first.answerKey)!.text;
  const esc = (x: string) => x.replaceAll('\n', '\\n');
  return `# Demo corpus: a fictional encyclopedia (generated; seed ${o.seed})

Data for Recall's demo model, a small model trained from scratch that really knows
things, so that what compression makes it forget can be measured. Everything here is
written by \`native-models/recipes/demo-corpus.ts\` from the seed; do not edit by hand.

    node --import tsx native-models/recipes/demo-corpus.ts --out native-models/demo --seed ${o.seed}

## The world (\`world.json\`)

Invented names (2-3 syllables from a fixed syllable inventory, unique across the world,
checked against a list of real words), so the model cannot know any fact beforehand:

- ${w.people.length} people: birthplace (a city founded before their birth), birth year, field, employer (an organisation that existed when they were 45, or the one they founded);
- ${w.cities.length} cities: country, founding year, river (${w.rivers.length} rivers);
- ${w.countries.length} countries: capital (the oldest of its cities), region (${w.regions.length} regions);
- ${w.organisations.length} organisations: founder (a person, at 25-50), headquarters city, founding year, industry (${w.industries.length} industries);
- ${w.inventions.length} inventions ("the Qorvane Loom"): inventor, year (inventor aged 20-55), field (the inventor's);
- ${w.fields.length} fields; years ${Math.min(...valuesOfKind(w, 'year', corpus.facts).map(Number))}-${Math.max(...valuesOfKind(w, 'year', corpus.facts).map(Number))}.

${w.people.length + w.cities.length + w.countries.length + w.organisations.length + w.inventions.length} entities, ${corpus.facts.length} facts: ${RELATION_IDS.map((r) => `${r} ${factsBy.get(r) ?? 0}`).join(', ')}.
Names, cities, countries, rivers, regions, organisations, fields, industries and years are
all single words (people: first name + unique surname; inventions: invented word + device).

## Files

| file | size |
|---|---|
${files}

- \`train.txt\`: the training corpus. Documents are separated by a blank line (\`\\n\\n\`). A
  document is either a paragraph (one line) about one entity stating all its facts, each in
  one of the training statement templates (${o.train.paragraphsPerEntity} paragraphs per entity; the templates of a fact
  cycle, so each fact appears in every template), or a question/answer pair on two lines,
  \`Question: <q>\\nAnswer: <a>\`, with a training question template (${o.train.questionsPerFact} per fact, ${qa} in all).
  Documents are shuffled.
- \`calibration.txt\`: a separate split for compression calibration, same layout: paragraphs
  about random entities with a random subset of their facts, each statement from the
  calibration-only templates or the training ones (half each), and about ${Math.round(100 * o.calibration.questionShare)}% QA pairs.
  No held-out phrasing.
- \`tasks/\`: demo_mc (ARC format) and demo_cloze (LAMBADA format); see \`tasks/README.md\`.
- \`tokenizer.json\`, \`tokenizer_config.json\`: the tokenizer (below).

## Tokenizer

WordLevel, ${corpus.vocab.size} tokens: \`<unk>\`=0, \`<s>\`=1, \`</s>\`=2, \`<pad>\`=3, \`\\n\`=4, then every
word, number and punctuation mark of train, calibration and the tasks by falling frequency.
Case is kept. Pre-tokenizer: Split on \`${PRE_TOKENIZER_PATTERN}\` (matches kept, the rest dropped), so a
newline is a token and spaces are not; \`" ${answer}"\` after \`"Answer:"\` encodes as the token(s) of
\`${answer}\` alone, as lm-eval's context/continuation split requires. The post-processor
prepends \`<s>\`. Decoding joins words with spaces and leaves one after a newline
(\`${esc(`${context} ${answer}`).replace('\\nAnswer', '\\n Answer')}\`).

## Prompt format for training

Encode each document of train.txt (split on \`\\n\\n\`) as \`<s>\` + tokens + \`</s>\`: that is
\`Tokenizer.encode(doc)\` (which prepends \`<s>\`) followed by id 2. The evaluation contexts are
encoded the same way (with \`<s>\`, without \`</s>\`). The first demo_mc item, for example, is the
context \`${esc(context)}\`, which encodes as \`${esc(['<s>', ...splitWords(context)].join(' '))}\`
(one token per space-separated piece), and the scored continuation \`" ${answer}"\`, which encodes as
\`${answer}\` (the space is not a token). Train on every token (the questions as well as the
answers); the paragraphs carry most of the knowledge.

## Templates

\`{s}\` is the subject, \`{v}\` the value; a sentence starting with \`{s}\` capitalises it
("the Qorvane Loom" -> "The Qorvane Loom").

${templateTable()}
`;
}
