// Self-checks of a generated corpus, run by the CLI before it writes anything and by the
// tests. Each returns human-readable problems (empty when all is well), naming the item,
// template or word at fault.
import type { DemoCorpus } from './demo-corpus.ts';
import { mentionOf, RELATIONS, valuesOfKind } from './demo-facts.ts';
import { MC_LABELS, splitCloze } from './demo-tasks.ts';
import { TEMPLATES } from './demo-templates.ts';
import { splitWords } from './demo-tokenizer.ts';

/** A slot of a held-out pattern: a name of up to three words ("the Qorvane Loom"). */
const SLOT = '[A-Za-z0-9]+(?: [A-Za-z0-9]+){0,2}';
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The text a held-out template puts before the model, with any name in its slots: the
 * whole question, or a cloze sentence without its final value.
 */
export function heldOutPattern(template: string): RegExp {
  const prompt = template.endsWith(' {v}') ? template.slice(0, -' {v}'.length) : template;
  return new RegExp(prompt.split(/(\{[sv]\})/).map((part) => (part === '{s}' || part === '{v}' ? SLOT : escapeRegExp(part))).join(''), 'i');
}

/**
 * Held-out phrasings must not occur in the training or calibration text (case ignored):
 * no held-out template, filled with any names at all, and no rendered item text.
 */
export function checkHeldOut(corpus: DemoCorpus): string[] {
  const seen = (corpus.train + '\n' + corpus.calibration).toLowerCase();
  const problems: string[] = [];
  for (const [relation, t] of Object.entries(TEMPLATES)) {
    for (const template of [...t.heldOutQuestions, ...t.heldOutCloze]) {
      const hit = heldOutPattern(template).exec(seen);
      if (hit) problems.push(`${relation}: held-out template ${JSON.stringify(template)} occurs in train/calibration as ${JSON.stringify(hit[0])}`);
    }
  }
  for (const { item } of corpus.mc) {
    if (seen.includes(item.question.stem.toLowerCase())) problems.push(`${item.id}: stem occurs in train/calibration`);
  }
  for (const { item } of corpus.cloze) {
    if (seen.includes(splitCloze(item.text).context.toLowerCase())) problems.push(`cloze ${JSON.stringify(item.text)}: context occurs in train/calibration`);
  }
  return problems;
}

/**
 * Every word of the tasks and of calibration.txt occurs in train.txt, so no token the model
 * is evaluated or calibrated on has an untrained embedding.
 */
export function checkWordsTrained(corpus: DemoCorpus): string[] {
  const trained = new Set(splitWords(corpus.train));
  const task = [...corpus.mc.flatMap((x) => [x.item.question.stem, ...x.item.question.choices.map((c) => c.text)]), ...corpus.cloze.map((x) => x.item.text), 'Question: \nAnswer:'];
  const missing = (texts: string[], where: string) => [...new Set(texts.flatMap(splitWords).filter((w) => !trained.has(w)))].sort().map((w) => `${where} word ${JSON.stringify(w)} never occurs in train.txt`);
  return [...missing(task, 'task'), ...missing([corpus.calibration], 'calibration')];
}

/** Each MC item: four distinct choices A-D of the fact's value kind, exactly one of them the fact's value. */
export function checkMcItems(corpus: DemoCorpus): string[] {
  const problems: string[] = [];
  const known = new Set(corpus.facts.map((f) => `${f.relation}\t${f.subject}\t${f.value}`));
  for (const { item, fact } of corpus.mc) {
    const kind = RELATIONS[fact.relation].value;
    const allowed = new Set(valuesOfKind(corpus.world, kind, corpus.facts).map((v) => mentionOf(kind, v)));
    const texts = item.question.choices.map((c) => c.text);
    const correct = item.question.choices.filter((c) => c.text === mentionOf(kind, fact.value));
    if (!known.has(`${fact.relation}\t${fact.subject}\t${fact.value}`)) problems.push(`${item.id}: fact is not in the world`);
    if (item.question.choices.map((c) => c.label).join('') !== MC_LABELS.join('')) problems.push(`${item.id}: labels are not A-D`);
    if (new Set(texts).size !== texts.length) problems.push(`${item.id}: repeated choice`);
    if (texts.some((t) => !allowed.has(t))) problems.push(`${item.id}: a choice is not a ${kind}`);
    if (correct.length !== 1 || correct[0]!.label !== item.answerKey) problems.push(`${item.id}: answerKey ${item.answerKey} is not the one correct choice`);
  }
  return problems;
}

/** Each cloze item ends in its fact's value, one word that is one vocabulary token. */
export function checkClozeItems(corpus: DemoCorpus): string[] {
  const problems: string[] = [];
  for (const { item, fact } of corpus.cloze) {
    const target = splitCloze(item.text).target.slice(1);
    if (target !== fact.value) problems.push(`cloze ${JSON.stringify(item.text)}: last word is not the value ${fact.value}`);
    if (splitWords(target).length !== 1 || !corpus.vocab.has(target)) problems.push(`cloze ${JSON.stringify(item.text)}: target is not one token`);
  }
  return problems;
}

export function checkDemoCorpus(corpus: DemoCorpus): string[] {
  return [...checkHeldOut(corpus), ...checkWordsTrained(corpus), ...checkMcItems(corpus), ...checkClozeItems(corpus)];
}
