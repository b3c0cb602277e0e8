// Tests of the demo corpus recipe (native-models/recipes/demo-corpus.ts) and of the files it
// wrote to native-models/demo/. The committed files are checked twice over: they must be
// exactly what the recipe produces for seed 1234, and they are checked on their own terms
// (held-out phrasings absent from training text, one right answer per item as world.json
// has it, tokenisation as Recall's Tokenizer sees it), without the generator's bookkeeping.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Tokenizer } from '../../main/engine/models/tokenizer.ts';
import {
  checkDemoCorpus, checkHeldOut, createRng, generateDemoCorpus, heldOutPattern, mentionOf, RELATION_IDS, RELATIONS, renderQuestion,
  splitCloze, TEMPLATES, templateWords, worldFacts, type DemoCorpusOptions, type McItem, type World,
} from '../../native-models/recipes/demo-corpus.ts';

const DEMO = new URL('../../native-models/demo/', import.meta.url).pathname;
const readDemo = (p: string) => readFileSync(join(DEMO, p), 'utf8');
const jsonLines = <T>(p: string): T[] => readDemo(p).trimEnd().split('\n').map((l) => JSON.parse(l) as T);

const SMALL: Partial<DemoCorpusOptions> = {
  seed: 7,
  sizes: { regions: 4, countries: 4, rivers: 5, cities: 10, people: 30, organisations: 8, inventions: 10 },
  train: { paragraphsPerEntity: 8, questionsPerFact: 2 },
  calibration: { targetBytes: 20_000, questionShare: 0.15 },
  itemsPerTask: 60,
};

/** Whitespace the word-level decoder cannot restore: the space it leaves after a newline. */
const normaliseSpaces = (s: string) => s.replace(/ *\n */g, '\n').replace(/ +/g, ' ').trim();

describe('demo corpus recipe', () => {
  test('mulberry32 streams are reproducible and forks are independent', () => {
    const a = createRng(1), b = createRng(1);
    const xs = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(Array.from({ length: 5 }, () => b.next()), xs);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(createRng(1).fork('x').shuffle([1, 2, 3, 4, 5, 6, 7, 8]), createRng(1).fork('y').shuffle([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  test('the same seed gives the same bytes; another seed gives other text', () => {
    const a = generateDemoCorpus(SMALL), b = generateDemoCorpus(SMALL);
    assert.deepEqual([...a.files.keys()], [...b.files.keys()]);
    for (const [path, content] of a.files) assert.equal(b.files.get(path), content, path);
    assert.notEqual(generateDemoCorpus({ ...SMALL, seed: 8 }).train, a.train);
  });

  test('a small corpus passes every self-check', () => {
    assert.deepEqual(checkDemoCorpus(generateDemoCorpus(SMALL)), []);
  });

  test('the held-out check reports a held-out phrasing smuggled into training text', () => {
    const corpus = generateDemoCorpus(SMALL);
    const cloze = corpus.cloze[0]!;
    const leaked = { ...corpus, train: corpus.train + splitCloze(cloze.item.text).context + ' whatever.\n' };
    assert.ok(checkHeldOut(leaked).some((p) => p.includes(JSON.stringify(cloze.template))), 'leak not reported');
  });

  test('templates: 6+ training statements per relation, held-out sets disjoint from training, cloze ends with the value', () => {
    for (const r of RELATION_IDS) {
      const t = TEMPLATES[r];
      assert.ok(t.statements.length >= 6, `${r}: ${t.statements.length} statements`);
      assert.ok(t.questions.length >= 3 && t.heldOutQuestions.length >= 2, r);
      const seen = [...t.statements, ...t.calibration, ...t.questions];
      for (const h of [...t.heldOutQuestions, ...t.heldOutCloze]) {
        assert.ok(!seen.some((s) => heldOutPattern(h).test(s)), `${r}: ${h} matches a training template`);
      }
      for (const c of t.heldOutCloze) assert.match(c, / \{v\}$/, `${r}: ${c}`);
      if (RELATIONS[r].value === 'person') assert.equal(t.heldOutCloze.length, 0, `${r}: a person is two words, not a cloze target`);
    }
  });
});

describe('committed demo data (native-models/demo, seed 1234)', () => {
  const corpus = generateDemoCorpus({ seed: 1234 });
  const world = JSON.parse(readDemo('world.json')) as World;
  const tok = Tokenizer.fromFolder(DEMO);
  const mc = jsonLines<McItem>('tasks/demo_mc/test.jsonl');
  const cloze = jsonLines<{ text: string }>('tasks/demo_cloze/test.jsonl');

  test('every file is exactly what the recipe writes for seed 1234', () => {
    for (const [path, content] of corpus.files) assert.ok(readDemo(path) === content, `${path} differs: regenerate with native-models/recipes/demo-corpus.ts`);
  });

  test('the world: unique invented names, consistent facts', () => {
    const names = [...world.regions, ...world.rivers, ...world.countries.map((c) => c.name), ...world.cities.map((c) => c.name), ...world.organisations.map((o) => o.name),
      ...world.people.flatMap((p) => p.name.split(' ').slice(1)), ...world.inventions.map((i) => i.name.split(' ')[0]!)];
    assert.equal(new Set(names).size, names.length, 'a name is used twice');
    const reserved = templateWords();
    for (const n of names) assert.ok(/^[A-Z][a-z]{3,9}$/.test(n) && !reserved.has(n.toLowerCase()), n);
    const city = new Map(world.cities.map((c) => [c.name, c]));
    for (const c of world.countries) assert.equal(city.get(c.capital)?.country, c.name, `capital of ${c.name}`);
    for (const p of world.people) assert.ok(city.get(p.birthplace)!.founded <= p.birthYear, `${p.name} born before ${p.birthplace} existed`);
    assert.ok(world.people.length + world.cities.length + world.countries.length + world.organisations.length + world.inventions.length >= 300);
  });

  test('train.txt and calibration.txt contain no held-out phrasing', () => {
    const seen = readDemo('train.txt') + '\n' + readDemo('calibration.txt');
    for (const r of RELATION_IDS) {
      for (const h of [...TEMPLATES[r].heldOutQuestions, ...TEMPLATES[r].heldOutCloze]) assert.equal(heldOutPattern(h).exec(seen)?.[0], undefined, `${r}: ${h}`);
    }
    for (const item of mc) assert.ok(!seen.includes(item.question.stem), item.id);
  });

  test('demo_mc: ARC layout, four choices A-D, exactly one right by world.json', () => {
    // Recover each item's fact from world.json alone: the stem a held-out template gives it.
    const facts = worldFacts(world);
    const byStem = new Map<string, string[]>();
    for (const f of facts) {
      const answer = mentionOf(RELATIONS[f.relation].value, f.value);
      for (const t of TEMPLATES[f.relation].heldOutQuestions) byStem.set(renderQuestion(f, t), [...(byStem.get(renderQuestion(f, t)) ?? []), answer]);
    }
    assert.equal(mc.length, 400);
    for (const item of mc) {
      assert.deepEqual(Object.keys(item), ['id', 'question', 'answerKey']);
      assert.deepEqual(item.question.choices.map((c) => c.label), ['A', 'B', 'C', 'D'], item.id);
      const answers = byStem.get(item.question.stem);
      assert.equal(answers?.length, 1, `${item.id}: stem matches ${answers?.length ?? 0} facts`);
      const right = item.question.choices.filter((c) => c.text === answers![0]);
      assert.equal(right.length, 1, item.id);
      assert.equal(right[0]!.label, item.answerKey, item.id);
    }
  });

  test('demo_cloze: the last word is one token, never <unk>, and the fact value', () => {
    const values = new Set(worldFacts(world).map((f) => f.value));
    assert.equal(cloze.length, 400);
    for (const { text } of cloze) {
      const { context, target } = splitCloze(text);
      assert.ok(values.has(target.slice(1)), text);
      const pair = tok.encodePair(context, target);
      assert.equal(pair.continuation.length, 1, text);
      assert.equal(pair.continuation[0], tok.tokenToId(target.slice(1)), text);
      assert.ok(![...pair.context, ...pair.continuation].includes(0), `<unk> in ${text}`);
    }
  });

  test('tokenizer: specials 0-3, newline is a token, BOS framing, vocabulary covers everything', () => {
    assert.deepEqual(['<unk>', '<s>', '</s>', '<pad>', '\n'].map((t) => tok.tokenToId(t)), [0, 1, 2, 3, 4]);
    assert.equal(tok.vocabSize, corpus.vocab.size);
    assert.deepEqual(tok.prefixIds, [1]);
    const ids = tok.encode('Question: Where was X born?\nAnswer:', { addSpecialTokens: false }).map((i) => tok.idToToken(i));
    assert.deepEqual(ids, ['Question', ':', 'Where', 'was', '<unk>', 'born', '?', '\n', 'Answer', ':']);
    for (const line of [...readDemo('train.txt').split('\n').slice(0, 2000), ...readDemo('calibration.txt').split('\n').slice(0, 500)]) {
      assert.ok(!tok.encode(line).includes(0), `<unk> in ${JSON.stringify(line)}`);
    }
  });

  test('MC boundary: " " + choice after "Answer:" encodes as the choice tokens appended to the context', () => {
    for (const item of mc) {
      const context = `Question: ${item.question.stem}\nAnswer:`;
      const ctx = tok.encode(context);
      for (const c of item.question.choices) {
        const pair = tok.encodePair(context, ' ' + c.text);
        assert.deepEqual(pair.context, ctx, item.id);
        assert.deepEqual(pair.continuation, tok.encode(c.text, { addSpecialTokens: false }), `${item.id} ${c.text}`);
        assert.equal(pair.continuation.length, c.text.split(' ').length, `${item.id} ${c.text}`);
      }
    }
  });

  test('decode(encode(x)) gives x back, up to spaces around newlines', () => {
    const lines = [...readDemo('train.txt').split('\n\n').slice(0, 200), ...readDemo('calibration.txt').split('\n\n').slice(0, 50), ...mc.slice(0, 50).map((i) => `Question: ${i.question.stem}\nAnswer: ${i.question.choices[0]!.text}`), ...cloze.slice(0, 50).map((c) => c.text)];
    for (const x of lines) assert.equal(normaliseSpaces(tok.decode(tok.encode(x), { skipSpecialTokens: true })), normaliseSpaces(x));
  });
});
