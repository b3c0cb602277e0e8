// The evaluation tasks, asked in held-out phrasings only.
// - demo_mc: ARC's JSON Lines layout ({id, question: {stem, choices: [{text, label}]}, answerKey}),
//   four choices A-D, the three distractors drawn from the other values of the same kind
//   (other cities for a birthplace). Scored as arc_easy: context "Question: {stem}\nAnswer:",
//   continuation " " + choice.
// - demo_cloze: LAMBADA's layout ({text}); the target is the last space-separated word,
//   always the fact's (single-word) value.
import { isSingleWordRelation, mentionOf, RELATIONS, valuesOfKind, type Fact } from './demo-facts.ts';
import type { Rng } from './demo-random.ts';
import { TEMPLATES } from './demo-templates.ts';
import { renderQuestion, renderStatement } from './demo-text.ts';
import type { World } from './demo-world.ts';

export const MC_LABELS = ['A', 'B', 'C', 'D'] as const;

export interface McItem {
  id: string;
  question: { stem: string; choices: { text: string; label: string }[] };
  answerKey: string;
}

export interface ClozeItem {
  text: string;
}

/** An item together with the fact it asks about (not written to the task file). */
export interface WithFact<T> {
  item: T;
  fact: Fact;
  template: string;
}

/** A seeded subset of the facts, in world order (all of them when count >= facts.length). */
function chooseFacts(facts: readonly Fact[], count: number, rng: Rng): Fact[] {
  if (count >= facts.length) return [...facts];
  const keep = new Set(rng.sample(facts.map((_, i) => i), count));
  return facts.filter((_, i) => keep.has(i));
}

export function buildMcItems(world: World, facts: readonly Fact[], count: number, rng: Rng): WithFact<McItem>[] {
  return chooseFacts(facts, count, rng).map((fact, n) => {
    const kind = RELATIONS[fact.relation].value;
    const pool = valuesOfKind(world, kind, facts).filter((v) => v !== fact.value);
    if (pool.length < MC_LABELS.length - 1) throw new Error(`demo_mc needs ${MC_LABELS.length} values of kind ${kind}; the world has ${pool.length + 1}`);
    const texts = rng.shuffle([fact.value, ...rng.sample(pool, MC_LABELS.length - 1)]).map((v) => mentionOf(kind, v));
    const template = rng.pick(TEMPLATES[fact.relation].heldOutQuestions);
    const item: McItem = {
      id: `demo_mc-${fact.relation}-${String(n).padStart(4, '0')}`,
      question: { stem: renderQuestion(fact, template), choices: texts.map((text, i) => ({ text, label: MC_LABELS[i]! })) },
      answerKey: MC_LABELS[texts.indexOf(mentionOf(kind, fact.value))]!,
    };
    return { item, fact, template };
  });
}

export function buildClozeItems(facts: readonly Fact[], count: number, rng: Rng): WithFact<ClozeItem>[] {
  const eligible = facts.filter((f) => isSingleWordRelation(f.relation) && TEMPLATES[f.relation].heldOutCloze.length > 0);
  return chooseFacts(eligible, count, rng).map((fact) => {
    const template = rng.pick(TEMPLATES[fact.relation].heldOutCloze);
    if (!template.endsWith('{v}')) throw new Error(`cloze template must end with the value: ${template}`);
    return { item: { text: renderStatement(fact, template) }, fact, template };
  });
}

/** lm-eval's split of a LAMBADA text: context without the last word, target " " + last word. */
export function splitCloze(text: string): { context: string; target: string } {
  const cut = text.lastIndexOf(' ');
  return { context: text.slice(0, cut), target: text.slice(cut) };
}

export function toJsonLines(items: readonly unknown[]): string {
  return items.map((x) => JSON.stringify(x)).join('\n') + '\n';
}
